import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configure, heapStats, runtimeHandle } from '../src/index.ts';
import { alloc, free, usableSize } from '../src/heap/alloc.ts';
import { heap } from '../src/heap/heap.ts';
import { firstMessage, startWorker } from './helpers/worker.ts';

// A small heap, so that growth and exhaustion are reached quickly.
configure({ heapBytes: 64 * 1024, maxHeapBytes: 48 * 1024 * 1024 });

test('configure() after first use is refused', () => {
  heap();
  assert.throws(() => configure({ heapBytes: 1 << 20 }), /before weft is first used/);
});

test('freed blocks are reused by the next allocation of their size class', () => {
  const a = alloc(100);
  free(a);
  const b = alloc(90);
  assert.equal(b, a);
  free(b);
  assert.throws(() => free(b), /double free/);
});

test('allocations are zeroed, aligned, and as large as asked', () => {
  for (const n of [0, 1, 7, 8, 9, 100, 1000, 5000, 70000]) {
    const p = alloc(n);
    assert.equal(p % 8, 0);
    assert.ok(usableSize(p) >= n);
    assert.ok(heap().u8.subarray(p, p + n).every((b) => b === 0));
    heap().u8.fill(0xab, p, p + n);
    free(p);
  }
});

test('several workers allocating and freeing concurrently never share a block', async () => {
  const handle = runtimeHandle();
  const workers = [1, 2, 3, 4].map((seed) =>
    startWorker(new URL('./helpers/alloc_worker.ts', import.meta.url), { handle, seed, rounds: 20000 }),
  );
  await Promise.all(workers.map((w) => firstMessage(w))); // attached
  const results = Promise.all(workers.map((w) => firstMessage<{ errors: number }>(w)));
  for (const w of workers) w.postMessage('go');
  const reports = await results;
  await Promise.all(workers.map((w) => w.terminate()));
  assert.deepEqual(reports.map((r) => r.errors), [0, 0, 0, 0]);
});

test('growth of the heap is seen by every thread', async () => {
  const before = heapStats().byteLength;
  const w = startWorker(new URL('./helpers/echo_worker.ts', import.meta.url), { handle: runtimeHandle() });
  await firstMessage(w); // attached, with views made before the growth below
  const p = alloc(before * 2); // beyond the current end: the buffer must grow
  assert.ok(heapStats().byteLength > before);
  heap().u8.fill(7, p, p + 1000);
  w.postMessage({ p, n: 1000 });
  const sum = await firstMessage<number>(w);
  assert.equal(sum, 7000);
  await w.terminate();
  free(p);
});

test('an exhausted heap throws RangeError, loses nothing, and stays usable', () => {
  const blocks: number[] = [];
  const chunk = 1024 * 1024;
  let error: unknown;
  try {
    for (;;) {
      const p = alloc(chunk, false);
      heap().u8.fill(blocks.length & 255, p, p + chunk);
      blocks.push(p);
    }
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof RangeError);
  assert.match(error.message, /heap is full/);
  assert.match(error.message, /maxHeapBytes/);
  assert.ok(blocks.length > 10);
  blocks.forEach((p, k) => assert.equal(heap().u8[p + chunk - 1], k & 255));
  for (const p of blocks.splice(0, 4)) free(p);
  const again = alloc(chunk); // fits in what was freed
  free(again);
  // Once no fresh memory is left, a smaller size is served from a freed larger block.
  const filler: number[] = [];
  assert.throws(() => {
    for (;;) filler.push(alloc(100, false));
  }, RangeError);
  free(blocks.pop()!);
  const small = alloc(100);
  free(small);
  filler.forEach(free);
  for (const p of blocks) free(p);
  free(alloc(64));
});
