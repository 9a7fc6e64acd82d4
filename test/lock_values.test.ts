// Lock values kept in place: numbers, booleans, null/undefined, 64-bit bigints and short
// strings live in the lock's own block, read and written without the codec. Every such
// value must come back exactly (-0, NaN, bigint limits, lone surrogates, the longest
// string kept in place and one over it), a lock's value may switch between in-place and
// stored kinds any number of times without leaking heap, handles inside stored values
// keep exact counts across those switches, and an assignment is written only at the
// unlock, as for any value.
//
// The last describe covers how a Mutex learns that its owner died: every ref to a mutex
// asks, when it is given back, whether the lock's owner has ended (mutex.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  channel, Condvar, heapStats, Mutex, RecvError, RwLock, scope, spawn, type Receiver, type Sender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';
import { IN_PLACE_CHARS } from '../src/sync/value_cell.ts';

const T = { timeout: 30_000 };

/** The heap reference count of the object behind a handle. */
const refs = (h: { offset: number }): number => Atomics.load(heap().i32, (h.offset >> 2) + 1);

/** The value of a RwLock, read under a read guard that is then released. */
function readOnce<V>(l: RwLock<V>): V {
  using r = l.read();
  return r.value;
}

/** Strict identity, telling -0 from 0 and NaN equal to itself. */
const same = (a: unknown, b: unknown): boolean => Object.is(a, b);

const longest = 'aé\uD800z😀'.padEnd(IN_PLACE_CHARS, '\uDFFF'); // lone surrogates, a pair, non-ASCII
const oneOver = longest + 'x';

/** Values kept in place, and values just past what fits (stored instead). */
const inPlace: Array<[string, unknown]> = [
  ['0', 0], ['-0', -0], ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity],
  ['MAX_VALUE', Number.MAX_VALUE], ['MIN_VALUE', Number.MIN_VALUE], ['1/3', 1 / 3], ['2**53 + 2', 2 ** 53 + 2],
  ['true', true], ['false', false], ['null', null], ['undefined', undefined],
  ['0n', 0n], ['-1n', -1n], ['i64 max', 2n ** 63n - 1n], ['i64 min', -(2n ** 63n)],
  ['empty string', ''], ['one char', 'x'], ['odd length', 'abc'], ['longest in place', longest],
];
const stored: Array<[string, unknown]> = [
  ['i64 max + 1', 2n ** 63n], ['i64 min - 1', -(2n ** 63n) - 1n], ['2**100', 2n ** 100n],
  ['one char over', oneOver], ['object', { a: [1, 2n, 'x'] }],
];

describe('lock values kept in place', () => {
  test('the string limit is what the test data assumes', () => {
    assert.equal(longest.length, IN_PLACE_CHARS);
    assert.equal(oneOver.length, IN_PLACE_CHARS + 1);
  });

  test('every in-place value (and each just past the limit) comes back exactly from Mutex and RwLock', () => {
    for (const [name, v] of [...inPlace, ...stored]) {
      const m = new Mutex<unknown>(v);
      const read = m.withLock((x) => x);
      if (typeof v === 'object' && v !== null) assert.deepEqual(read, v, name);
      else assert.ok(same(read, v), `Mutex(${name}) read back ${String(read)}`);
      const l = new RwLock<unknown>(v);
      const r = l.read();
      if (typeof v === 'object' && v !== null) assert.deepEqual(r.value, v, name);
      else assert.ok(same(r.value, v), `RwLock(${name}) read back ${String(r.value)}`);
      r.unlock();
      m.close();
      l.close();
    }
  });

  test('assigned through a guard, each value is there at the next lock; intoInner() takes it out', () => {
    const m = new Mutex<unknown>(undefined);
    const l = new RwLock<unknown>(undefined);
    for (const [name, v] of [...inPlace, ...stored]) {
      const g = m.lock();
      g.value = v;
      assert.ok(same(g.value, v), `${name}: the guard sees its own assignment`);
      g.unlock();
      const w = l.write();
      w.value = v;
      w.unlock();
      for (const got of [m.withLock((x) => x), readOnce(l)]) {
        if (typeof v === 'object' && v !== null) assert.deepEqual(got, v, name);
        else assert.ok(same(got, v), `${name}: read back ${String(got)}`);
      }
    }
    const n = new Mutex(-0);
    assert.ok(same(n.intoInner(), -0));
    const s = new RwLock(longest);
    assert.equal(s.intoInner(), longest);
  });

  test('a value switching between in-place and stored kinds leaves no block behind', () => {
    const m = new Mutex<unknown>(0);
    const l = new RwLock<unknown>(0);
    const cycle = [1.5, { big: 'x'.repeat(100) }, 'short', oneOver, 7n, 2n ** 70n, null, [1, 2, 3], true, undefined, -0];
    const round = () => {
      for (const v of cycle) {
        m.withLock(() => {}); // untouched: nothing written
        const g = m.lock();
        g.value = v;
        g.unlock();
        const w = l.write();
        w.value = v;
        w.unlock();
      }
    };
    round(); // warm-up: size-class pages are carved once
    const before = heapStats().live;
    for (let k = 0; k < 50; k++) round();
    assert.equal(heapStats().live, before);
    assert.ok(same(m.withLock((x) => x), -0));
    assert.ok(same(readOnce(l), -0));
  });

  test('in-place values allocate nothing: a million increments leave the heap as it was', () => {
    const m = new Mutex(0);
    const big = new Mutex(0n);
    const before = heapStats().live;
    for (let k = 0; k < 1_000_000; k++) {
      using g = m.lock();
      g.value++;
    }
    for (let k = 0; k < 1000; k++) {
      using g = big.lock();
      g.value += 2n ** 40n;
    }
    assert.equal(heapStats().live, before);
    assert.equal(m.withLock((v) => v), 1_000_000);
    assert.equal(big.withLock((v) => v), 1000n * 2n ** 40n);
  });

  test('an in-place assignment is written at the unlock: a thread that ends holding its guard changes nothing', () => {
    const m = new Mutex<number | string>(1);
    spawn((lock: Mutex<number | string>) => {
      lock.lock().value = 'changed'; // never unlocked
    }, m).join();
    assert.equal(m.isPoisoned(), true);
    m.clearPoison();
    assert.equal(m.withLock((v) => v), 1);
    const l = new RwLock<number | boolean>(2);
    spawn((lock: RwLock<number | boolean>) => {
      lock.write().value = true;
    }, l).join();
    assert.equal(l.isPoisoned(), true);
    l.clearPoison();
    assert.equal(readOnce(l), 2);
  });

  test('handles leave a stored value exactly at the unlock that puts an in-place value over it', () => {
    const [tx, rx] = channel<number>();
    const m = new Mutex<{ tx: Sender<number> } | number>({ tx });
    const g = m.lock();
    (g.value as { tx: Sender<number> }).tx.send(1);
    g.value = 5;
    assert.equal(g.value, 5);
    assert.equal(rx.recv(), 1);
    assert.equal(rx.tryRecv(), undefined); // still connected: the old value stays until the unlock
    g.unlock();
    assert.throws(() => rx.recv(), RecvError);
    assert.equal(m.withLock((v) => v), 5);
  });

  test('a handle keeps its count across in-place and stored switches', () => {
    const inner = new Mutex('x');
    const base = refs(inner);
    const m = new Mutex<unknown>(inner);
    assert.equal(refs(inner), base + 1);
    for (let k = 0; k < 20; k++) {
      const g = m.lock();
      const h = g.value as Mutex<string>;
      assert.equal(refs(inner), base + 2); // the block's ref and the guard's borrow
      g.value = k; // in place over the stored handle: the handle leaves at the unlock
      g.value = { h, k }; // and back into a stored value before it: the block's ref is carried
      g.unlock();
      assert.equal(refs(inner), base + 1);
      m.withLock((v) => assert.equal((v as { h: Mutex<string> }).h.withLock((s) => s), 'x'));
      const back = m.lock();
      back.value = (back.value as { h: Mutex<string> }).h;
      back.unlock();
    }
    m.withLock((v) => assert.equal((v as Mutex<string>).withLock((s) => s), 'x'));
    const g = m.lock();
    g.value = 0;
    g.unlock();
    assert.equal(refs(inner), base);
    m.close();
  });

  test('Condvar: a waiter\'s in-place assignment is written before it sleeps', T, () => {
    const m = new Mutex<string>('idle');
    const cv = new Condvar();
    scope((s) => {
      s.spawn((lock: Mutex<string>, c: Condvar) => {
        const g = lock.lock();
        g.value = 'waiting';
        c.waitWhile(g, (v) => v !== 'go');
        g.value = 'done';
        g.unlock();
      }, m, cv);
      for (;;) {
        const g = m.lock();
        if (g.value === 'waiting') {
          g.value = 'go';
          g.unlock();
          cv.notifyAll();
          break;
        }
        g.unlock();
      }
    });
    assert.equal(m.withLock((v) => v), 'done');
  });

  test('threads incrementing a Mutex<number> and a Mutex<bigint> lose nothing', T, () => {
    const n = new Mutex(0);
    const b = new Mutex(0n);
    const s = new Mutex('');
    scope((sc) => {
      for (let t = 0; t < 3; t++) {
        sc.spawn((a: Mutex<number>, c: Mutex<bigint>, str: Mutex<string>, id: number) => {
          for (let k = 0; k < 2000; k++) {
            {
              using g = a.lock();
              g.value++;
            }
            {
              using g = c.lock();
              g.value += 3n;
            }
            if (k % 200 === 0) {
              using g = str.lock();
              g.value = (g.value + String(id)).slice(-8);
            }
          }
        }, n, b, s, t);
      }
    });
    assert.equal(n.withLock((v) => v), 6000);
    assert.equal(b.withLock((v) => v), 18000n);
    assert.equal(s.withLock((v) => v).length, 8);
  });

  test('RwLock: readers see in place what a downgraded writer wrote', T, () => {
    const l = new RwLock<number | string>(0);
    const w = l.write();
    w.value = 'v1';
    const r = w.downgrade();
    assert.equal(r.value, 'v1');
    const seen = spawn((lock: RwLock<number | string>) => {
      using g = lock.read();
      return g.value;
    }, l).join();
    assert.equal(seen, 'v1');
    r.unlock();
  });
});

describe('Mutex owner died, seen through the refs of the mutex', () => {
  const handleModule = new URL('../src/heap/handle.ts', import.meta.url).href;

  test('a guard leaked with its handle collected: the lock is still poisoned and released when the thread ends', T, () => {
    const m = new Mutex(0);
    const base = refs(m);
    spawn(async (lock: Mutex<number>, url: string) => {
      const { collectForTesting } = await import(url);
      const g = lock.lock();
      g.value = 1; // never unlocked, so never written
      collectForTesting(lock); // what the finalizer does once the handle and its guard are garbage
    }, m, handleModule).join();
    assert.equal(m.isPoisoned(), true);
    m.clearPoison();
    const g = m.tryLock();
    assert.ok(g !== undefined, 'the lock was released');
    assert.equal(g.value, 0);
    g.unlock();
    assert.equal(refs(m), base);
  });

  test('closing a second handle while holding the lock through the first leaves the count exact and the lock held', T, () => {
    const m = new Mutex(0);
    const base = refs(m);
    const [tx, rx] = channel<Mutex<number>>();
    tx.send(m); // two messages: two handles of the mutex in the thread
    tx.send(m);
    tx.close();
    spawn((inbox: Receiver<Mutex<number>>) => {
      const a = inbox.recv();
      const b = inbox.recv();
      const g = a.lock();
      b.close();
      if (a.tryLock() !== undefined) throw new Error('the lock was released by a close');
      g.value = 5;
      g.unlock();
    }, rx).join();
    assert.equal(m.isPoisoned(), false);
    assert.equal(m.withLock((v) => v), 5);
    assert.equal(refs(m), base);
  });

  test('a handle closed while its own guard holds the lock is closed at the unlock; a thread ending meanwhile poisons', T, () => {
    const m = new Mutex('a');
    const base = refs(m);
    spawn((lock: Mutex<string>) => {
      const g = lock.lock();
      lock.close(); // deferred: the guard still holds the lock through it
      g.value = 'b';
      g.unlock();
    }, m).join();
    assert.equal(m.withLock((v) => v), 'b');
    spawn((lock: Mutex<string>) => {
      lock.lock().value = 'c';
      lock.close();
    }, m).join();
    assert.equal(m.isPoisoned(), true);
    assert.equal(refs(m), base);
  });
});
