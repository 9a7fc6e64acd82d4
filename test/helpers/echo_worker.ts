// Attaches to the heap, says so, then sums the bytes it is pointed at.
import { parentPort, workerData } from 'node:worker_threads';
import { attach } from '../../src/index.ts';
import { heap } from '../../src/heap/heap.ts';

attach((workerData as { handle: unknown }).handle);
const u8 = heap().u8; // made now, before the heap grows
parentPort!.postMessage('attached');
parentPort!.on('message', ({ p, n }: { p: number; n: number }) => {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += u8[p + k];
  parentPort!.postMessage(sum);
});
