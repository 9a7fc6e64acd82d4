// Allocator stress from a foreign worker: allocate random sizes, write a pattern
// unique to (worker, block), verify it before freeing. Overlapping blocks or a block
// handed out twice would corrupt some other block's pattern. A full heap (RangeError)
// is counted and answered by freeing. It reports once attached and waits for a
// message before starting. With `rounds: Infinity` it reports after its
// first thousand rounds and goes on until the worker is terminated.
import { parentPort, workerData } from 'node:worker_threads';
import { attach } from '../../src/index.ts';
import { alloc, free, usableSize } from '../../src/heap/alloc.ts';
import { heap } from '../../src/heap/heap.ts';

const { handle, seed, rounds, maxSize = 4000 } = workerData as {
  handle: unknown;
  seed: number;
  rounds: number;
  maxSize?: number;
};
attach(handle);
// Attached (its thread record allocated); the stress starts on the parent's word.
parentPort!.postMessage({ ready: true });
await new Promise((go) => parentPort!.once('message', go));

let s = seed;
const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
interface Held {
  p: number;
  n: number;
  tag: number;
}
const held: Held[] = [];
let errors = 0;
let full = 0;
let tag = seed * 1_000_003;

// Every byte of small blocks; a stride through large ones, plus the tag word in front.
function check(b: Held): void {
  const h = heap();
  if (b.n >= 4 && h.i32[b.p >> 2] !== b.tag) errors++;
  const step = b.n <= 256 ? 1 : 61;
  for (let k = 4; k < b.n; k += step) if (h.u8[b.p + k] !== (b.tag & 255)) return void errors++;
  if (b.n > 4 && h.u8[b.p + b.n - 1] !== (b.tag & 255)) errors++;
}

function release(): void {
  const b = held.splice(Math.floor(rand() * held.length), 1)[0];
  check(b);
  free(b.p);
}

for (let r = 0; r < rounds; r++) {
  if (r === 1000 && rounds === Infinity) parentPort!.postMessage({ errors, full, rounds: r });
  if (held.length > 0 && (rand() < 0.45 || held.length > 64)) {
    release();
    continue;
  }
  const n = 1 + Math.floor(rand() ** 3 * maxSize);
  let p: number;
  try {
    p = alloc(n, false);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    full++;
    if (held.length > 0) release();
    continue;
  }
  if (usableSize(p) < n) errors++;
  const t = tag++;
  const h = heap();
  h.u8.fill(t & 255, p, p + n);
  if (n >= 4) h.i32[p >> 2] = t;
  held.push({ p, n, tag: t });
}
for (const b of held) {
  check(b);
  free(b.p);
}
parentPort!.postMessage({ errors, full, rounds });
