// sharedArray(): typed arrays in the shared heap, passed by handle. What is checked is
// what a user relies on: the same memory in every thread (a write in a thread is read
// in main, without any copy), zero-filled memory, reference counting that returns the
// memory exactly when the last handle goes, views that survive heap growth, and a
// clear refusal of bad input that allocates nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  channel, heapStats, Mutex, scope, sharedArray, SharedArray, spawn, type Receiver, type Sender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';

const T = { timeout: 60_000 };

/** The heap reference count of the object behind a handle. */
const refs = (h: { offset: number }): number => Atomics.load(heap().i32, (h.offset >> 2) + 1);

const TYPES = [
  Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array,
  Int8Array, Uint8Array, Uint8ClampedArray, BigInt64Array, BigUint64Array,
] as const;

describe('sharedArray', () => {
  test('every supported type: right class, length, zero-filled, in the heap buffer', T, () => {
    for (const type of TYPES) {
      using s = sharedArray(type as typeof Float64Array, 1000);
      const a = s.array;
      assert.ok(a instanceof type, type.name);
      assert.equal(a.length, 1000);
      assert.equal(s.length, 1000);
      assert.equal(a.buffer, heap().sab, `${type.name} views the shared heap`);
      assert.equal(a.byteOffset % 8, 0, `${type.name} is 8-aligned`);
      assert.ok(a.every((x: number | bigint) => x == 0), `${type.name} is zero-filled`);
    }
  });

  test('reused memory is zero-filled too', T, () => {
    const first = sharedArray(Uint8Array, 3000);
    first.array.fill(0xab);
    const offset = first.offset;
    first.close();
    // Same size: the allocator hands the freed pages out again.
    const again = sharedArray(Uint8Array, 3000);
    try {
      assert.equal(again.offset, offset, 'the freed block is reused');
      assert.ok(again.array.every((x) => x === 0));
    } finally {
      again.close();
    }
  });

  test('a length of zero is allowed', T, () => {
    using s = sharedArray(Float64Array, 0);
    assert.equal(s.array.length, 0);
  });

  test('views stay valid as the heap grows', T, () => {
    // Runs before the 400 MB test below, while the heap is still small.
    using s = sharedArray(Int32Array, 64);
    s.array[5] = 5;
    const before = heap().sab.byteLength;
    // Enough live memory to make the buffer grow past its size now.
    const filler = sharedArray(Uint8Array, before + (1 << 20));
    try {
      assert.ok(heap().sab.byteLength > before, 'the heap grew');
      assert.equal(s.array[5], 5);
      const h = spawn((a: SharedArray<Int32Array>, f: SharedArray<Uint8Array>) => {
        a.array[6] = 6;
        f.array[f.length - 1] = 1;
        return a.array[5];
      }, s, filler);
      assert.equal(h.join(), 5);
      assert.equal(s.array[6], 6);
      assert.equal(filler.array[filler.length - 1], 1);
    } finally {
      filler.close();
    }
  });

  test('a thread writes, main reads: one memory, not a copy', T, () => {
    using s = sharedArray(Float64Array, 1024);
    s.array[7] = 1.5;
    const h = spawn((sa: SharedArray<Float64Array>) => {
      const a = sa.array;
      const seen = a[7];
      for (let k = 0; k < a.length; k++) a[k] = k * 2;
      return seen;
    }, s);
    assert.equal(h.join(), 1.5, 'the thread saw what main wrote before the spawn');
    for (let k = 0; k < 1024; k++) assert.equal(s.array[k], k * 2);
  });

  test('threads sum disjoint slices of one array in place (Atomics for the total)', T, () => {
    const n = 100_000;
    using data = sharedArray(Float64Array, n);
    for (let k = 0; k < n; k++) data.array[k] = k;
    using total = sharedArray(BigInt64Array, 1);
    const parts = 4;
    scope((sc) => {
      for (let p = 0; p < parts; p++) {
        sc.spawn((d: SharedArray<Float64Array>, t: SharedArray<BigInt64Array>, from: number, to: number) => {
          let sum = 0;
          const a = d.array;
          for (let k = from; k < to; k++) sum += a[k];
          Atomics.add(t.array, 0, BigInt(sum));
        }, data, total, (p * n) / parts, ((p + 1) * n) / parts);
      }
    });
    assert.equal(total.array[0], BigInt((n * (n - 1)) / 2));
  });

  test('Atomics on an Int32Array from many threads count exactly', T, () => {
    using counter = sharedArray(Int32Array, 2);
    scope((sc) => {
      for (let t = 0; t < 6; t++) {
        sc.spawn((c: SharedArray<Int32Array>) => {
          for (let k = 0; k < 10_000; k++) Atomics.add(c.array, 1, 1);
        }, counter);
      }
    });
    assert.equal(counter.array[1], 60_000);
    assert.equal(counter.array[0], 0, 'neighbouring element untouched');
  });

  test('a 400 MB Float64Array passes to a thread in microseconds and moves no bytes', T, () => {
    const n = 50_000_000; // 400 MB
    const big = sharedArray(Float64Array, n);
    try {
      big.array[n - 1] = 3;
      const [toThread, inThread] = channel<SharedArray<Float64Array>>();
      const [ackTx, ack] = channel<number>();
      const h = spawn((rx: Receiver<SharedArray<Float64Array>>, back: Sender<number>) => {
        using a = rx.recv();
        back.send(a.array[a.length - 1]);
        a.array[0] = 42;
        a.array[a.length - 1] = 43;
        back.send(0);
      }, inThread, ackTx);
      const liveBefore = heapStats().live;
      const t0 = performance.now();
      toThread.send(big);
      const sendMs = performance.now() - t0;
      const liveAfter = heapStats().live;
      assert.equal(ack.recv(), 3, 'the thread reads what main wrote');
      assert.equal(ack.recv(), 0);
      h.join();
      // Copying 400 MB takes hundreds of ms; passing a handle is a few words.
      assert.ok(sendMs < 20, `send took ${sendMs.toFixed(3)} ms`);
      assert.ok(liveAfter - liveBefore < 64 * 1024, `the message took ${liveAfter - liveBefore} bytes of heap`);
      assert.equal(big.array[0], 42);
      assert.equal(big.array[n - 1], 43);
      toThread.close();
    } finally {
      big.close();
    }
  });

  test('refcounted: the memory stays while any thread holds a handle and returns with the last one', T, () => {
    const n = 1 << 20; // 8 MB
    const s = sharedArray(Float64Array, n);
    const [goTx, go] = channel<void>();
    const [readyTx, ready] = channel<void>();
    const h = spawn((sa: SharedArray<Float64Array>, wait: Receiver<void>, say: Sender<void>) => {
      say.send();
      wait.recv();
      const a = sa.array;
      for (let k = 0; k < a.length; k++) a[k] = 9;
      return a[a.length - 1];
    }, s, go, readyTx);
    ready.recv();
    assert.equal(refs(s), 2, 'main and the thread each hold one');
    const liveWithArray = heapStats().live;
    const offset = s.offset;
    s.close();
    assert.throws(() => s.array, /SharedArray is closed/);
    assert.equal(Atomics.load(heap().i32, (offset >> 2) + 1), 1, 'the thread still holds it');
    goTx.send();
    assert.equal(h.join(), 9, 'the thread used it after main closed its handle');
    // The thread's handle was released when it ended: the 8 MB are back.
    assert.ok(liveWithArray - heapStats().live >= n * 8, `freed ${liveWithArray - heapStats().live} bytes`);
  });

  test('the same object through a Mutex value, a channel and back', T, () => {
    using s = sharedArray(Uint16Array, 16);
    const m = new Mutex(s);
    const [tx, rx] = channel<SharedArray<Uint16Array>>();
    const h = spawn((lock: Mutex<SharedArray<Uint16Array>>, back: Sender<SharedArray<Uint16Array>>) => {
      const sa = lock.withLock((v) => {
        v.array[3] = 333;
        return v.offset;
      });
      lock.withLock((v) => back.send(v));
      return sa;
    }, m, tx);
    assert.equal(h.join(), s.offset, 'one object: the same offset in every thread');
    using echoed = rx.recv();
    assert.equal(echoed.offset, s.offset);
    echoed.array[4] = 444;
    assert.equal(s.array[3], 333);
    assert.equal(s.array[4], 444);
    assert.equal(m.withLock((v) => v.array[3]), 333);
  });

  test('close() is idempotent and a closed array refuses use; `using` closes', T, () => {
    const s = sharedArray(Int8Array, 4);
    s.close();
    s.close();
    assert.throws(() => s.array, TypeError);
    let kept: SharedArray<Int8Array>;
    {
      using t = sharedArray(Int8Array, 4);
      kept = t;
    }
    assert.throws(() => kept.array, /closed/);
  });

  test('bad type: TypeError naming what was given, nothing allocated', T, () => {
    heapStats();
    const live = heapStats().live;
    class Sub extends Float64Array {}
    const bad: unknown[] = [Array, DataView, ArrayBuffer, Sub, undefined, null, 'Float64Array', {}, () => 0];
    for (const type of bad) {
      assert.throws(
        () => sharedArray(type as typeof Float64Array, 8),
        (e: unknown) => e instanceof TypeError && /sharedArray\(\): type must be one of Float64Array/.test(e.message),
        String(type),
      );
    }
    assert.throws(() => sharedArray(Sub, 1), /got the constructor Sub/);
    assert.throws(() => sharedArray(null as never, 1), /got null/);
    assert.equal(heapStats().live, live);
  });

  test('bad length: RangeError naming the length, nothing allocated', T, () => {
    const live = heapStats().live;
    for (const length of [-1, 1.5, NaN, Infinity, -Infinity, '3', undefined, 10n]) {
      assert.throws(
        () => sharedArray(Float64Array, length as number),
        (e: unknown) => e instanceof RangeError && /sharedArray\(\): length must be a non-negative integer/.test(e.message),
        String(length),
      );
    }
    assert.throws(() => sharedArray(Float64Array, 2 ** 40), /more than the heap can ever hold.*maxHeapBytes/);
    assert.throws(() => sharedArray(Uint8Array, 2 ** 31), RangeError);
    assert.equal(heapStats().live, live);
  });

  test('cannot be constructed directly', T, () => {
    assert.throws(() => new (SharedArray as unknown as new (x: unknown) => unknown)({ offset: 8 }), TypeError);
  });
});
