// Child process for the keep-alive test. The notifier is an unref'd worker, so
// nothing but the pending async wait can keep this process running.
import { Worker } from 'node:worker_threads';
import { waitAsync } from '../../src/wait/futex.ts';

const mode = process.argv[2];
const v = new Int32Array(new SharedArrayBuffer(4));
if (mode === 'notify') {
  const w = new Worker(
    `const { workerData: v } = require('node:worker_threads');
     setTimeout(() => { Atomics.store(v, 0, 1); Atomics.notify(v, 0); }, 300);`,
    { eval: true, workerData: v },
  );
  w.unref();
}
void waitAsync(v, 0, 0, mode === 'timeout' ? 200 : undefined).then((r) => console.log(`woken: ${r}`));
