// Running out of heap while sending. A small heap, set before weft is first used
// (this file runs in its own process), keeps it quick. The heap's allocator reuses a
// freed block only for requests of its own size class, so everything the later tests
// need is made before the heap is filled, and they run in order on the full heap.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AtomicI32, channel, codecs, configure, heapStats, oneshot, syncChannel } from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';

configure({ heapBytes: 1 << 20, maxHeapBytes: 4 << 20 });

const full = (e: unknown) => e instanceof RangeError && /heap is full/.test(e.message);
const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);

const [fillTx, fillRx] = channel<{ k: number; payload: string }>();
const [numTx, numRx] = channel<number>({ codec: codecs.f64 });
const [syncTx, syncRx] = syncChannel<unknown>(1);
const atomic = new AtomicI32(7);
const payload = 'x'.repeat(1000);
let filled = 0;

test('an unbounded channel that exhausts the heap throws RangeError, with nothing half-sent', () => {
  assert.throws(() => {
    for (;;) {
      fillTx.send({ k: filled, payload });
      filled++;
    }
  }, full);
  assert.ok(filled > 100);
});

test('fixed-width messages on a full heap: RangeError once the block is used, all sent still receivable', () => {
  let sent = 0;
  assert.throws(() => {
    for (;;) {
      numTx.send(sent + 0.5);
      sent++;
    }
  }, full);
  assert.ok(sent > 0);
  for (let k = 0; k < sent; k++) assert.equal(numRx.recv(), k + 0.5);
  assert.equal(numRx.tryRecv(), undefined);
});

test('a send that fails for memory leaves the handles in its value alone', () => {
  assert.throws(() => syncTx.send({ atomic, payload }), full);
  assert.equal(refcount(atomic.offset), 1);
  assert.equal(atomic.load(), 7);
  assert.equal(syncRx.tryRecv(), undefined);
});

test('everything sent before the heap filled is received in order; then sending works again', () => {
  for (let k = 0; k < filled; k++) assert.equal(fillRx.recv().k, k);
  assert.equal(fillRx.tryRecv(), undefined);
  fillTx.send({ k: -1, payload });
  assert.equal(fillRx.recv().k, -1);
});

test('a bounded channel too big for the heap: RangeError at creation', () => {
  assert.throws(() => syncChannel(1 << 20), (e) => e instanceof RangeError && /heap/.test(e.message));
});

test('creating and dropping many channels reuses their memory', () => {
  const before = heapStats().reserved;
  for (let k = 0; k < 100_000; k++) {
    const [tx, rx] = k % 3 === 0 ? channel<unknown>() : k % 3 === 1 ? syncChannel<unknown>(4) : oneshot<unknown>();
    const counter = new AtomicI32(k);
    tx.send({ k, counter }); // a handle in the message: its ref must be released too
    counter.close();
    tx.close();
    rx.close(); // drops the undelivered message too
  }
  assert.ok(heapStats().reserved - before < 1 << 20, `heap grew by ${heapStats().reserved - before} bytes`);
});
