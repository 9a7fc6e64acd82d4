// Two of these increment one counter under a bare compare-and-swap spin lock on a
// SharedArrayBuffer: the least a hand-written lock costs, as the baseline for
// weft's contended Mutex. The counter is a plain (non-atomic) read and write, so
// a broken lock would lose increments, which the parent checks.

import { workerData } from 'node:worker_threads';
import { parent } from '../worker.ts';

const words = new Int32Array(workerData.buffer as SharedArrayBuffer); // [lock, counter]
const control = parent();

control.on('message', (n: number) => {
  for (let k = 0; k < n; k++) {
    while (Atomics.compareExchange(words, 0, 0, 1) !== 0);
    words[1]++;
    Atomics.store(words, 0, 0);
  }
  control.postMessage(n);
});
control.postMessage('ready');
