// A pooled worker runs one thread after another, and the next thread's owned table
// may sit in the very cell of the previous one. Handles of the earlier thread that
// are collected late must not release anything of the current thread. The finalizer
// path is driven directly (collectForTesting), so no garbage-collector timing is
// involved. This file switches the main thread's table, so it runs on its own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AtomicI32, heapStats, Mutex } from '../src/index.ts';
import { alloc, free } from '../src/heap/alloc.ts';
import { Adopt, collectForTesting, currentOwnedCell, releaseRef, retain, setOwnedCell } from '../src/heap/handle.ts';
import { heap } from '../src/heap/heap.ts';
import { newOwnedTable, ownedDrain, ownedFree } from '../src/heap/owned.ts';

const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);

/** Runs `body` as a "thread" whose owned table lives in `cell`, then ends it as the runtime does. */
function asThread<T>(cell: number, body: () => T): T {
  heap().i32[cell] = newOwnedTable();
  setOwnedCell(cell);
  try {
    return body();
  } finally {
    ownedDrain(cell, releaseRef);
    ownedFree(cell);
  }
}

test('a late finalizer of an earlier thread leaves the next thread in the same cell alone', () => {
  heap(); // the main thread's record (and table) come with the heap
  const main = currentOwnedCell();
  const cellBlock = alloc(8);
  const cell = cellBlock >> 2;
  try {
    for (let round = 0; round < 40; round++) {
      // Thread A leaves handles unclosed; the runtime releases their refs when A ends.
      const leftOpen = asThread(cell, () => [new AtomicI32(1), new Mutex(0), new AtomicI32(2)]);
      // Thread B, same cell, takes the same slots: a handle and a held lock.
      asThread(cell, () => {
        const mutex = new Mutex(round);
        const counter = new AtomicI32(7);
        const guard = mutex.lock();
        // A's handles are collected now, while B runs.
        for (const h of leftOpen.slice(0, 2)) collectForTesting(h);
        assert.equal(refcount(mutex.offset), 1);
        assert.equal(refcount(counter.offset), 1);
        assert.equal(counter.load(), 7);
        assert.equal(mutex.tryLock(), undefined); // still held by B
        assert.equal(mutex.isPoisoned(), false);
        assert.equal(guard.value, round);
        guard.unlock();
        // And A's other handle knows its thread has ended.
        assert.equal(leftOpen[2].released, true);
      });
    }
  } finally {
    setOwnedCell(main);
    free(cellBlock);
  }
});

test('a handle collected in its own thread gives its reference back', () => {
  const live = heapStats().live;
  const a = new AtomicI32(3);
  const keep = new AtomicI32(0);
  retain(a.offset);
  assert.equal(refcount(a.offset), 2);
  collectForTesting(a);
  assert.equal(refcount(a.offset), 1);
  releaseRef(a.offset);
  keep.close();
  assert.equal(heapStats().live, live);
});

test('releasing or retaining a freed object throws instead of corrupting the heap', () => {
  const a = new AtomicI32(1);
  const offset = a.offset;
  retain(offset);
  a.close();
  releaseRef(offset); // the last ref: freed
  assert.throws(() => releaseRef(offset), /already freed|released twice/);
  assert.throws(() => retain(offset), /already freed/);
  const b = new AtomicI32(5); // the allocator still works, and may reuse the block
  assert.equal(b.load(), 5);
  b.close();
});

test('Adopt tokens cannot be forged', () => {
  const forged = Object.create(Adopt.prototype) as Adopt;
  assert.equal(forged instanceof Adopt, false);
  assert.equal(new Proxy(new Adopt(64), {}) instanceof Adopt, false);
  const real = new Adopt(64);
  assert.equal(real instanceof Adopt, true);
  assert.ok(Object.isFrozen(real));
  // To a constructor a forged token is just a value: not adopted, refused as a value.
  assert.throws(() => new Mutex(forged), /instance of class Adopt is not carried/);
});
