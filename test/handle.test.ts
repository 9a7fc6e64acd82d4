import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AtomicI32, AtomicI64, codecs, heapStats, runtimeHandle, syncChannel } from '../src/index.ts';
import { cloneHandle, cloneRef, currentOwnedCell, releaseRef, Role } from '../src/heap/handle.ts';
import { newOwnedTable, ownedAdd, ownedDrain, ownedFree, ownedRefs } from '../src/heap/owned.ts';
import { loadValue, storeValue, dropValue } from '../src/codec/stored.ts';
import { alloc, free } from '../src/heap/alloc.ts';
import { heap } from '../src/heap/heap.ts';
import { firstMessage, startWorker } from './helpers/worker.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);

test('a handle encoded, sent to a worker and decoded refers to the same object', async () => {
  const counter = new AtomicI32(5);
  const stored = storeValue(codecs.structured, { counter, label: 'x' });
  assert.equal(refcount(counter.offset), 2); // this handle + the stored message
  const w = startWorker(new URL('./helpers/handle_worker.ts', import.meta.url), { handle: runtimeHandle(), stored });
  const seen = await firstMessage<{ offset: number; before: number }>(w);
  await w.terminate();
  assert.equal(seen.offset, counter.offset);
  assert.equal(seen.before, 5);
  assert.equal(counter.load(), 6); // the worker's fetchAdd landed on our object
  assert.equal(refcount(counter.offset), 1); // the worker closed the handle it adopted
  const size = counter.offset;
  counter.close();
  // The object is gone, and its block is handed out again.
  const again = alloc(8 + 8);
  assert.equal(again, size);
  free(again);
});

test('reading a stored value without taking it gives each reader its own count', () => {
  const a = new AtomicI64(-3n);
  const p = storeValue(codecs.structured, [a, a]);
  const [x, y] = loadValue(codecs.structured, p, false) as AtomicI64[];
  assert.equal(x, y); // one handle per object within one decode
  assert.equal(x.load(), -3n);
  assert.equal(refcount(a.offset), 3);
  x.close();
  dropValue(p);
  assert.equal(refcount(a.offset), 1);
  a.close();
});

test('a closed handle refuses use and close is idempotent', () => {
  const a = new AtomicI32(1);
  a.close();
  a.close();
  assert.throws(() => storeValue(codecs.structured, a), /AtomicI32 is closed/);
});

test('creating and dropping a million handles does not grow the heap by more than 1 MiB', () => {
  const before = heapStats().reserved;
  for (let k = 0; k < 1_000_000; k++) {
    const a = new AtomicI32(k);
    a.close();
  }
  using b = new AtomicI32(0);
  for (let k = 0; k < 1000; k++) {
    using c = new AtomicI32(k); // released by Symbol.dispose
    b.fetchAdd(c.load() & 1);
  }
  assert.equal(b.load(), 500);
  assert.ok(heapStats().reserved - before < 1 << 20, `heap grew by ${heapStats().reserved - before} bytes`);
});

test('handles dropped without close() are released by the garbage collector', async () => {
  const live = () => heapStats().live;
  const collect = async () => {
    for (let round = 0; round < 20; round++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const drop = () => {
    for (let k = 0; k < 10000; k++) new AtomicI32(k);
  };
  drop(); // the first round also grows this thread's owned table, which stays
  await collect();
  const base = live();
  drop();
  assert.ok(live() - base >= 10000 * 16);
  await collect();
  assert.ok(live() - base <= 1024, `still live: ${live() - base} bytes`);
});

test('cloneHandle records the new ref once, and gives it back if the handle is not built', () => {
  const a = new AtomicI32(1);
  const cell = currentOwnedCell();
  const entries = ownedRefs(cell).length;
  const b = cloneHandle(a.offset) as AtomicI32;
  assert.equal(refcount(a.offset), 2);
  assert.equal(ownedRefs(cell).length, entries + 1); // the constructor adopted the entry
  b.fetchAdd(1);
  assert.equal(a.load(), 2);
  b.close();
  assert.equal(refcount(a.offset), 1);
  assert.equal(ownedRefs(cell).length, entries);
  assert.throws(() => cloneHandle(a.offset, () => {
    throw new RangeError('not built');
  }), RangeError);
  assert.equal(refcount(a.offset), 1);
  assert.equal(ownedRefs(cell).length, entries);
  a.close();
});

test('a dead thread\'s claim is released before the sender ref that keeps its channel alive', () => {
  const cellBlock = alloc(8);
  const cell = cellBlock >> 2;
  heap().i32[cell] = newOwnedTable();
  const live = heapStats().live;
  const [tx, rx] = syncChannel<number>(1);
  const p = tx.offset;
  rx.close();
  // A table like that of a sender killed mid-send, the claim in the lower slot: the
  // drain must give the permit back while the channel still exists, then drop it.
  cloneRef(p + Role.Sender);
  tx.close();
  ownedAdd(cell, p + Role.Claim);
  ownedAdd(cell, p + Role.Sender);
  ownedDrain(cell, releaseRef);
  assert.deepEqual(ownedRefs(cell), []);
  assert.equal(heapStats().live, live); // the channel was dropped by its last ref
  ownedFree(cell);
  free(cellBlock);
});
