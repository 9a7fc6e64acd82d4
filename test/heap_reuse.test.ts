// Freed memory serves any later size: small blocks return to whole pages, free pages
// coalesce, sizes beyond the heap are refused cleanly, and threads allocating,
// freeing and dying concurrently leave the allocator consistent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configure, heapStats, runtimeHandle, syncChannel } from '../src/index.ts';
import { alloc, free, usableSize } from '../src/heap/alloc.ts';
import { heap } from '../src/heap/heap.ts';
import type { Worker } from 'node:worker_threads';
import { firstMessage, startWorker } from './helpers/worker.ts';

const MAX = 8 << 20;
configure({ heapBytes: 256 * 1024, maxHeapBytes: MAX });

/** Allocates blocks of `size()` bytes until the heap is full; returns them. */
function flood(size: () => number): number[] {
  const blocks: number[] = [];
  for (;;) {
    let p: number;
    try {
      p = alloc(size(), false);
    } catch (e) {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /heap is full/);
      return blocks;
    }
    heap().i32[p >> 2] = blocks.length;
    blocks.push(p);
  }
}

/** The largest block alloc() can give now (binary search; each probe is freed). */
function largestBlock(): number {
  let lo = 0;
  let hi = MAX;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    let p = 0;
    try {
      p = alloc(mid, false);
    } catch {
      hi = mid - 1;
      continue;
    }
    free(p);
    lo = mid;
  }
  return lo;
}

/** Allocates, checks and frees one block of every power of two up to `largest`, then `largest`. */
function everySize(largest: number): void {
  for (let n = 1; n <= largest; n *= 2) {
    const p = alloc(n, false);
    assert.ok(usableSize(p) >= n);
    heap().u8.fill(0x5a, p, p + n);
    free(p);
  }
  const p = alloc(largest);
  assert.equal(heap().u8[p + largest - 1], 0);
  free(p);
}

test('after a flood of small blocks is freed, the whole heap serves one block', () => {
  const largest = largestBlock();
  assert.ok(largest > MAX - (256 << 10), `largest block before: ${largest}`);
  const base = heapStats();
  const blocks = flood(() => 8);
  assert.ok(blocks.length > 100_000, `only ${blocks.length} blocks fitted`);
  assert.ok(heapStats().free < 64 << 10);
  blocks.forEach((p, k) => assert.equal(heap().i32[p >> 2], k));
  for (const p of blocks) free(p);
  assert.equal(heapStats().live, base.live);
  everySize(largest);
  assert.equal(largestBlock(), largest);
  assert.equal(heapStats().live, base.live);
  assert.equal(heapStats().free, base.free);
});

test('a flood of mixed small and large blocks freed in random order coalesces again', () => {
  const largest = largestBlock();
  const base = heapStats();
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const blocks = flood(() => (rand() < 0.9 ? Math.floor(rand() * 2000) : 2000 + Math.floor(rand() * 20000)));
  const index = new Map(blocks.map((p, k) => [p, k]));
  blocks.forEach((p, k) => assert.equal(heap().i32[p >> 2], k));
  for (let k = blocks.length - 1; k > 0; k--) {
    const j = Math.floor(rand() * (k + 1));
    [blocks[k], blocks[j]] = [blocks[j], blocks[k]];
  }
  // Free half, check the rest is intact, then free the rest.
  for (const p of blocks.splice(0, blocks.length >> 1)) free(p);
  for (const p of blocks) assert.equal(heap().i32[p >> 2], index.get(p));
  for (const p of blocks) free(p);
  assert.equal(heapStats().live, base.live);
  everySize(largest);
});

test('sizes the heap can never hold throw a RangeError naming the size and the limit, and change nothing', () => {
  const before = heapStats();
  for (const n of [2 ** 31, 2 ** 32 + 8, MAX, MAX - 4096, Number.MAX_SAFE_INTEGER]) {
    assert.throws(() => alloc(n), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.ok(e.message.includes(String(n)), e.message);
      assert.match(e.message, /configure\(\{ maxHeapBytes \}\)/);
      return true;
    });
  }
  for (const n of [-1, 1.5, NaN, Infinity]) assert.throws(() => alloc(n), RangeError);
  assert.throws(() => syncChannel(2 ** 25 + 1), RangeError);
  assert.equal(heapStats().live, before.live);
  assert.equal(heapStats().reserved, before.reserved);
  const p = alloc(100);
  free(p);
});

test('freeing a foreign offset or twice throws and leaves the allocator usable', () => {
  const p = alloc(40);
  free(p);
  assert.throws(() => free(p), /double free/);
  assert.throws(() => free(3), /not a heap block/);
  assert.throws(() => free(MAX * 2), /not a heap block/);
  const q = alloc(40);
  assert.equal(q, p);
  free(q);
});

interface StressResult {
  errors: number;
  full: number;
  rounds: number;
}

/** Starts stress workers and waits until they are attached (their records allocated). */
async function stressWorkers(seeds: number[], rounds: number, maxSize: number): Promise<Worker[]> {
  const handle = runtimeHandle();
  const workers = seeds.map((seed) =>
    startWorker(new URL('./helpers/alloc_worker.ts', import.meta.url), { handle, seed, rounds, maxSize }),
  );
  await Promise.all(workers.map((w) => firstMessage(w)));
  return workers;
}

/** Lets the workers run; resolves with the first report of each. */
function go(workers: Worker[]): Promise<StressResult[]> {
  const reports = Promise.all(workers.map((w) => firstMessage<StressResult>(w)));
  for (const w of workers) w.postMessage('go');
  return reports;
}

test('threads allocating and freeing up to exhaustion never share a block', { timeout: 60_000 }, async () => {
  const workers = await stressWorkers([1, 2, 3, 4], 6000, 256 << 10);
  const largest = largestBlock();
  const base = heapStats();
  const results = await go(workers);
  await Promise.all(workers.map((w) => w.terminate()));
  assert.deepEqual(results.map((r) => r.errors), [0, 0, 0, 0]);
  // Large blocks held by four threads at once exceed the heap: the full path was taken.
  assert.ok(results.some((r) => r.full > 0), 'the heap never ran full');
  assert.equal(heapStats().live, base.live);
  everySize(largest);
});

test('threads killed in the middle of allocating leave the allocator working', { timeout: 60_000 }, async () => {
  for (let round = 0; round < 3; round++) {
    const workers = await stressWorkers([10 + round, 20 + round], Infinity, 8 << 10);
    // Each reports once after its first thousand rounds, then keeps going until killed.
    await go(workers);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  // What the killed threads held is lost, but nothing is locked or corrupt: a fresh
  // stress passes, and a flood of small blocks still becomes one large block.
  const [w] = await stressWorkers([99], 4000, 64 << 10);
  const [result] = await go([w]);
  await w.terminate();
  assert.equal(result.errors, 0);
  const base = heapStats();
  const largest = largestBlock();
  for (const p of flood(() => 24)) free(p);
  assert.equal(heapStats().live, base.live);
  assert.ok(largest >= 256 << 10, `largest block: ${largest}`);
  everySize(largest);
});
