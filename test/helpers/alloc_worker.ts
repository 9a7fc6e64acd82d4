// Allocator stress from a foreign worker: allocate random sizes, write a pattern
// unique to (worker, block), verify it before freeing. Overlapping blocks or a block
// handed out twice would corrupt some other block's pattern.
import { parentPort, workerData } from 'node:worker_threads';
import { attach } from '../../src/index.ts';
import { alloc, free, usableSize } from '../../src/heap/alloc.ts';
import { heap } from '../../src/heap/heap.ts';

const { handle, seed, rounds } = workerData as { handle: unknown; seed: number; rounds: number };
attach(handle);

let s = seed;
const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
const held: Array<{ p: number; n: number; tag: number }> = [];
let errors = 0;
let tag = seed * 1_000_003;

function check(b: { p: number; n: number; tag: number }): void {
  const u8 = heap().u8;
  for (let k = 0; k < b.n; k++) if (u8[b.p + k] !== ((b.tag + k) & 255)) { errors++; return; }
}

for (let r = 0; r < rounds; r++) {
  if (held.length > 0 && (rand() < 0.45 || held.length > 64)) {
    const b = held.splice(Math.floor(rand() * held.length), 1)[0];
    check(b);
    free(b.p);
  } else {
    const n = 1 + Math.floor(rand() ** 3 * 4000);
    const p = alloc(n, false);
    if (usableSize(p) < n) errors++;
    const t = tag++;
    const u8 = heap().u8;
    for (let k = 0; k < n; k++) u8[p + k] = (t + k) & 255;
    held.push({ p, n, tag: t });
  }
}
for (const b of held) {
  check(b);
  free(b.p);
}
parentPort!.postMessage({ errors });
