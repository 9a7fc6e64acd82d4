// Entry of every worker weft starts: the supervisor, or a pooled worker that waits to
// be given one thread. Importing the package index here (the same module a thread's
// own `import('weft')` resolves to) keeps one weft instance per thread.

import { parentPort, workerData } from 'node:worker_threads';
import { attachHeap } from '../heap/heap.ts';
import '../index.ts';
import { setCurrentRecord } from './current.ts';
import { newRecord, recordField, R_STATE, State } from './record.ts';
import { runThread } from './run.ts';
import { runSupervisor } from './supervisor.ts';
import { store } from '../wait/futex.ts';

const { role, sab } = workerData as { role: 'supervisor' | 'thread'; sab: SharedArrayBuffer };
const h = attachHeap(sab);

if (role === 'supervisor') {
  const r = newRecord();
  store(h.i32, recordField(r, R_STATE), State.Running);
  setCurrentRecord(r);
  void runSupervisor(sab);
} else {
  parentPort!.once('message', (record: number) => {
    // A thread ends when its function settles, not when its event loop drains.
    void runThread(record).finally(() => process.exit(0));
  });
  parentPort!.postMessage('ready');
}
