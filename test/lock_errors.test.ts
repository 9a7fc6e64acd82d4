// Mutex and RwLock: error paths that must leave no lock taken, self-deadlock errors,
// { signal } cancellation, closing a handle while it is in use, intoInner, downgrade.
// Ports of Rust std's library/std/tests/sync/{mutex,rwlock}.rs where they apply.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Mutex, PanicError, PoisonError, RwLock, scope, sleep, spawn, type MutexGuard } from '../src/index.ts';
import type { RwLockWriteGuard } from '../src/sync/rwlock.ts';

const T = { timeout: 30_000 };
const tick = () => new Promise((r) => setTimeout(r, 1));

/** Settles to 'pending' if `p` has not settled after a few turns of the event loop. */
async function state(p: Promise<unknown>): Promise<string> {
  const pending = Symbol('pending');
  const r = await Promise.race([p.then(() => 'resolved', () => 'rejected'), tick().then(() => tick()).then(() => pending)]);
  return r === pending ? 'pending' : (r as string);
}

function poison<T>(m: Mutex<T>): void {
  assert.throws(() => m.withLock(() => {
    throw new Error('panic');
  }), /panic/);
  assert.equal(m.isPoisoned(), true);
}

describe('Mutex: no throw leaves it locked', () => {
  test('withLock on a poisoned mutex throws PoisonError and releases it (poison_test_panics)', () => {
    const m = new Mutex(1);
    poison(m);
    for (let k = 0; k < 3; k++) assert.throws(() => m.withLock((v) => v), PoisonError); // no deadlock
    // Free: tryLock takes it and reports the poison, its guard holding the lock.
    assert.throws(() => m.tryLock(), (e: unknown) => e instanceof PoisonError && (e.guard.unlock(), true));
    m.clearPoison();
    assert.equal(m.withLock((v) => v), 1);
  });

  test('the PoisonError of lock() holds the lock until its guard unlocks', () => {
    const m = new Mutex(1);
    poison(m);
    const e = (() => {
      try {
        m.lock();
      } catch (x) {
        return x as PoisonError<MutexGuard<number>>;
      }
      assert.fail('not poisoned');
    })();
    assert.equal(m.tryLock(), undefined);
    e.intoInner().unlock();
    assert.throws(() => m.tryLock(), (x: unknown) => x instanceof PoisonError && (x.guard.unlock(), true));
  });

  test('access in unwind: a thread that relocks in a finally while throwing leaves it unpoisoned (test_mutex_arc_access_in_unwind)', T, () => {
    const m = new Mutex(1);
    const h = spawn((lock: Mutex<number>) => {
      try {
        throw new Error('unwinding');
      } finally {
        const g = lock.lock();
        g.value += 1;
        g.unlock();
      }
    }, m);
    assert.throws(() => h.join(), PanicError);
    assert.equal(m.isPoisoned(), false);
    assert.equal(m.withLock((v) => v), 2);
  });

  test('lock() while this thread holds it through lockAsync() is an Error, not a deadlock', async () => {
    const m = new Mutex();
    const g = await m.lockAsync();
    assert.throws(() => m.lock(), { name: 'Error', message: /already holds the lock/ });
    assert.equal(m.tryLock(), undefined);
    g.unlock();
    m.lock().unlock();
  });

  test('lockAsync: two tasks of one thread take turns (not a deadlock)', T, async () => {
    const m = new Mutex(0);
    const task = async () => {
      for (let k = 0; k < 20; k++) {
        const g = await m.lockAsync();
        const v = g.value;
        await tick();
        g.value = v + 1;
        g.unlock();
      }
    };
    await Promise.all([task(), task()]);
    assert.equal(m.withLock((v) => v), 40);
  });
});

describe('Mutex: cancellation', () => {
  test('3 async waiters, the middle one aborted: two unlocks reach the other two', T, async () => {
    const m = new Mutex(0);
    const g = m.lock();
    const ac = new AbortController();
    const a = m.lockAsync();
    const b = m.lockAsync({ signal: ac.signal });
    const c = m.lockAsync();
    await tick();
    ac.abort(new Error('stop b'));
    await assert.rejects(b, /stop b/);
    g.unlock();
    const first = await Promise.race([a, c]);
    first.value++;
    first.unlock();
    const [ga, gc] = await Promise.all([a, c]);
    const second = ga === first ? gc : ga;
    second.value++;
    second.unlock();
    assert.equal(m.withLock((v) => v), 2);
  });

  test('an aborted signal rejects before taking a free lock; bad options are TypeErrors', async () => {
    const m = new Mutex();
    const ac = new AbortController();
    ac.abort(new RangeError('already'));
    await assert.rejects(m.lockAsync({ signal: ac.signal }), RangeError);
    m.lock().unlock(); // nothing was taken
    await assert.rejects(m.lockAsync({ signal: 1 as unknown as AbortSignal }), TypeError);
    await assert.rejects(m.lockAsync('x' as unknown as {}), /got the string 'x'/);
  });

  test('abort while a thread holds it; the holder\'s unlock then reaches a blocked thread', T, async () => {
    const m = new Mutex(0);
    const g = m.lock();
    const ac = new AbortController();
    const aborted = m.lockAsync({ signal: ac.signal });
    const entered = new AtomicI32(0);
    const other = spawn((lock: Mutex<number>, e: AtomicI32) => {
      e.store(1);
      const h = lock.lock();
      h.value = 7;
      h.unlock();
    }, m, entered);
    while (entered.load() === 0) sleep(1);
    ac.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    g.unlock();
    await other.joinAsync();
    assert.equal(m.withLock((v) => v), 7);
  });
});

describe('Mutex: closing the handle while it is in use', () => {
  test('a pending lockAsync on a handle closed meanwhile rejects; no freed block is touched', T, async () => {
    const m = new Mutex(1);
    const g = m.lock();
    const p = m.lockAsync();
    m.close();
    assert.throws(() => m.lock(), /closed/);
    g.value = 2; // the object outlives the close while the guard holds it
    g.unlock();
    await assert.rejects(p, { name: 'TypeError', message: /closed while lockAsync/ });
    // The block is free now; whatever reuses it starts clean.
    const next = new RwLock(0);
    const w = next.tryWrite();
    assert.ok(w);
    w.unlock();
    const m2 = new Mutex(3);
    assert.equal(m2.withLock((v) => v), 3);
  });
});

describe('Mutex.intoInner', () => {
  test('returns the value and closes the handle (test_into_inner)', () => {
    const m = new Mutex({ n: 10 });
    assert.deepEqual(m.intoInner(), { n: 10 });
    assert.throws(() => m.lock(), /closed/);
  });

  test('on a poisoned mutex: PoisonError whose intoInner() is the value (test_into_inner_poison)', T, () => {
    const m = new Mutex({ n: 10 });
    assert.throws(() => spawn((lock: Mutex<{ n: number }>) => {
      lock.withLock(() => {
        throw new Error('test panic in inner thread to poison mutex');
      });
    }, m).join(), PanicError);
    assert.equal(m.isPoisoned(), true);
    try {
      m.intoInner();
      assert.fail('expected PoisonError');
    } catch (e) {
      assert.ok(e instanceof PoisonError);
      assert.deepEqual(e.intoInner(), { n: 10 });
    }
    assert.throws(() => m.lock(), /closed/);
  });

  test('other handles of the mutex find it empty', T, () => {
    const m = new Mutex('v');
    const go = new AtomicI32(0);
    const other = spawn((lock: Mutex<string>, start: AtomicI32) => {
      while (start.load() === 0);
      const g = lock.lock();
      const v = g.value;
      g.unlock();
      return v === undefined ? 'empty' : v;
    }, m, go);
    assert.equal(m.intoInner(), 'v');
    go.store(1);
    assert.equal(other.join(), 'empty');
  });
});

describe('RwLock: no throw leaves it locked, self-deadlock is an error', () => {
  test('write while holding a read or the write, read while holding the write: Error', () => {
    const l = new RwLock(0);
    const r = l.read();
    assert.throws(() => l.write(), { name: 'Error', message: /already holds a read lock/ });
    const r2 = l.read(); // a second read with no writer waiting is fine
    r2.unlock();
    r.unlock();
    const w = l.write();
    assert.throws(() => l.write(), /already holds the write lock/);
    assert.throws(() => l.read(), /already holds the write lock/);
    assert.equal(l.tryRead(), undefined);
    w.unlock();
    l.write().unlock();
    l.read().unlock();
  });

  test('read while holding a read and a writer of another thread waits: Error', T, () => {
    const l = new RwLock(0);
    const r = l.read();
    const waiting = new AtomicI32(0);
    const writer = spawn((lock: RwLock<number>, w: AtomicI32) => {
      w.store(1);
      const g = lock.write();
      g.value = 1;
      g.unlock();
    }, l, waiting);
    while (waiting.load() === 0) sleep(1);
    // Wait until the writer is queued: then a new reader is refused.
    for (let k = 0; k < 1000; k++) {
      const t = l.tryRead();
      if (t === undefined) break;
      t.unlock();
      sleep(1);
    }
    assert.throws(() => l.read(), /writers go first/);
    r.unlock();
    writer.join();
    assert.equal(l.read().value, 1);
  });

  test('access in unwind (test_rw_arc_access_in_unwind)', T, () => {
    const l = new RwLock(1);
    assert.throws(() => spawn((lock: RwLock<number>) => {
      try {
        throw new Error('unwinding');
      } finally {
        const w = lock.write();
        w.value += 1;
        w.unlock();
      }
    }, l).join(), PanicError);
    assert.equal(l.isPoisoned(), false);
    assert.equal(l.read().value, 2);
  });
});

describe('RwLock: cancellation and close', () => {
  test('abort the middle of three async writers; two unlocks reach the others', T, async () => {
    const l = new RwLock(0);
    const w = l.write();
    const ac = new AbortController();
    const a = l.writeAsync();
    const b = l.writeAsync({ signal: ac.signal });
    const c = l.writeAsync();
    await tick();
    ac.abort(new Error('stop'));
    await assert.rejects(b, /stop/);
    w.unlock();
    const first = await Promise.race([a, c]);
    first.value++;
    first.unlock();
    const [ga, gc] = await Promise.all([a, c]);
    const second = ga === first ? gc : ga;
    second.value++;
    second.unlock();
    assert.equal(l.read().value, 2);
  });

  test('a writer aborted just after an unlock woke it passes the wake on to queued readers', T, async () => {
    const l = new RwLock(5);
    const w = l.write();
    const ac = new AbortController();
    const writer = l.writeAsync({ signal: ac.signal });
    await tick();
    const reader = l.readAsync();
    await tick();
    w.unlock(); // wakes the writer alone; the readers wait for it
    ac.abort(); // before the writer runs
    await assert.rejects(writer, { name: 'AbortError' });
    const r = await reader;
    assert.equal(r.value, 5);
    r.unlock();
    l.write().unlock();
  });

  test('an aborted readAsync takes nothing; a writer gets in after', T, async () => {
    const l = new RwLock(0);
    const w = l.write();
    const ac = new AbortController();
    const r = l.readAsync({ signal: ac.signal });
    await tick();
    ac.abort();
    await assert.rejects(r, { name: 'AbortError' });
    w.unlock();
    assert.equal(await state(l.writeAsync().then((g) => g.unlock())), 'resolved');
  });

  test('a pending writeAsync on a handle closed meanwhile never touches the freed block', T, async () => {
    const l = new RwLock(1);
    const r = l.read();
    const p = l.writeAsync();
    l.close();
    r.unlock();
    await assert.rejects(p, /closed while writeAsync/);
    const next = new RwLock(2); // may reuse the block
    const g = next.tryWrite();
    assert.ok(g, 'a fresh lock is free');
    g.unlock();
    assert.equal(next.read().value, 2);
  });
});

describe('RwLock: intoInner and downgrade', () => {
  test('intoInner returns the value and closes; poisoned: PoisonError with the value', T, () => {
    const a = new RwLock({ n: 10 });
    assert.deepEqual(a.intoInner(), { n: 10 });
    assert.throws(() => a.read(), /closed/);
    const b = new RwLock({ n: 10 });
    assert.throws(() => spawn((l: RwLock<{ n: number }>) => {
      l.write();
      throw new Error('poison');
    }, b).join(), PanicError);
    try {
      b.intoInner();
      assert.fail('expected PoisonError');
    } catch (e) {
      assert.ok(e instanceof PoisonError);
      assert.deepEqual(e.intoInner(), { n: 10 });
    }
  });

  test('downgrade keeps the written value and lets no writer in between (test_downgrade_observe)', T, () => {
    const l = new RwLock(0);
    const writers = 4;
    const rounds = 50;
    scope((s) => {
      for (let t = 0; t < writers; t++) {
        s.spawn((lock: RwLock<number>, n: number) => {
          for (let k = 0; k < n; k++) {
            const w = lock.write();
            w.value = w.value + 1;
            w.unlock();
          }
        }, l, rounds);
      }
      for (let k = 0; k < rounds; k++) {
        const w = l.write();
        w.value -= 1000; // a mark that no other writer may change before we read it back
        const marked = w.value;
        const r = w.downgrade();
        assert.equal(r.value, marked);
        assert.throws(() => w.value, /after unlock/);
        assert.equal(l.tryWrite(), undefined);
        r.unlock();
        const w2 = l.write();
        w2.value = w2.value + 1000;
        w2.unlock();
      }
    });
    assert.equal(l.read().value, writers * rounds);
  });

  test('downgrade lets readers in beside it', T, () => {
    const l = new RwLock('x');
    const w = l.write();
    w.value = 'y';
    const r = w.downgrade();
    assert.equal(spawn((lock: RwLock<string>) => {
      const g = lock.read();
      const v = g.value;
      g.unlock();
      return v;
    }, l).join(), 'y');
    assert.throws(() => l.write(), /already holds a read lock/);
    r.unlock();
    l.write().unlock();
  });

  test('a downgrade whose value cannot be written back throws with the write lock still held', () => {
    const l = new RwLock<unknown>(1);
    const w = l.write() as RwLockWriteGuard<unknown>;
    w.value = () => 1;
    assert.throws(() => w.downgrade(), TypeError);
    assert.equal(l.tryRead(), undefined);
    assert.equal(w.value, 1);
    w.unlock();
    assert.equal(l.read().value, 1);
  });
});
