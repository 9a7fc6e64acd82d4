// Mutex, after Rust's library/std/tests/sync/mutex.rs, with real threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heapStats, PanicError, scope, sleep, spawn } from '../src/index.ts';
import { AtomicI32 } from '../src/sync/atomic.ts';
import { Mutex, type MutexGuard } from '../src/sync/mutex.ts';
import { PoisonError } from '../src/sync/poison.ts';

/** Takes the lock of a poisoned mutex: the value behind it, then releases it. */
function recover<T>(m: Mutex<T>): T {
  try {
    m.lock().unlock();
  } catch (e) {
    assert.ok(e instanceof PoisonError);
    const g = (e as PoisonError<MutexGuard<T>>).intoInner();
    const v = g.value;
    g.unlock();
    return v;
  }
  assert.fail('the mutex is not poisoned');
}

describe('Mutex', () => {
  test('smoke: lock, change, unlock; the value persists, in-place changes too', () => {
    const m = new Mutex({ n: 1, xs: [1] });
    {
      using g = m.lock();
      g.value.n = 2;
      g.value.xs.push(2);
    }
    const g = m.lock();
    assert.deepEqual(g.value, { n: 2, xs: [1, 2] });
    g.value = { n: 3, xs: [] };
    g.unlock();
    g.unlock(); // idempotent
    assert.throws(() => g.value, /after unlock/);
    assert.deepEqual(m.withLock((v) => v), { n: 3, xs: [] });
  });

  test('Mutex<undefined> is a plain lock', () => {
    const m = new Mutex();
    const g = m.lock();
    assert.equal(g.value, undefined);
    g.unlock();
    assert.equal(m.withLock((v) => v), undefined);
  });

  test('tryLock is undefined while the lock is held, here or in another thread', () => {
    const m = new Mutex(0);
    const g = m.lock();
    assert.equal(m.tryLock(), undefined);
    assert.equal(spawn((lock: Mutex<number>) => lock.tryLock() === undefined, m).join(), true);
    g.unlock();
    const h = m.tryLock();
    assert.ok(h);
    h.unlock();
  });

  test('lots and lots: 4 threads × 100k increments give the exact total', () => {
    const m = new Mutex({ n: 0 });
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((lock: Mutex<{ n: number }>, n: number, viaGuard: boolean) => {
          for (let i = 0; i < n; i++) {
            if (viaGuard) {
              const g = lock.lock();
              g.value = { n: g.value.n + 1 };
              g.unlock();
            } else {
              lock.withLock((v) => void v.n++);
            }
          }
        }, m, 100_000, t % 2 === 0);
      }
    });
    assert.equal(m.withLock((v) => v.n), 400_000);
  });

  test('withLock persists in-place changes of an object value across threads', () => {
    const m = new Mutex({ hits: 0, by: [] as number[] });
    scope((s) => {
      for (let t = 0; t < 2; t++) {
        s.spawn((lock: Mutex<{ hits: number; by: number[] }>, id: number) => {
          for (let i = 0; i < 500; i++) {
            lock.withLock((v) => {
              v.hits++;
              if (i === 0) v.by.push(id);
            });
          }
        }, m, t);
      }
    });
    const v = m.withLock((x) => x);
    assert.equal(v.hits, 1000);
    assert.deepEqual(v.by.sort(), [0, 1]);
  });

  test('a throw inside withLock poisons it; lock then throws PoisonError holding the lock', () => {
    const m = new Mutex({ ok: true });
    assert.throws(() => m.withLock((v) => {
      v.ok = false; // dropped: the panic's changes are not written back
      throw new Error('boom');
    }), /boom/);
    assert.equal(m.isPoisoned(), true);
    let err: unknown;
    try {
      m.lock();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PoisonError);
    const g = (err as PoisonError<MutexGuard<{ ok: boolean }>>).intoInner();
    assert.equal(g, (err as PoisonError<MutexGuard<{ ok: boolean }>>).guard);
    assert.deepEqual(g.value, { ok: true });
    assert.equal(m.tryLock(), undefined); // the PoisonError's guard holds it
    g.value = { ok: false };
    g.unlock();
    assert.equal(m.isPoisoned(), true); // unlocking a recovered guard does not heal it
    m.clearPoison();
    assert.equal(m.isPoisoned(), false);
    assert.deepEqual(m.withLock((v) => v), { ok: false });
  });

  test('a thread that throws while holding the lock poisons it; the value is reachable', () => {
    const m = new Mutex(1);
    const h = spawn((lock: Mutex<number>) => {
      const g = lock.lock();
      g.value = 2;
      g.unlock();
      lock.lock();
      throw new Error('panic with the lock held');
    }, m);
    assert.throws(() => h.join(), PanicError);
    assert.equal(m.isPoisoned(), true);
    assert.equal(recover(m), 2);
  });

  test('a thread that returns while holding a guard poisons and releases the lock', () => {
    const m = new Mutex(0);
    spawn((lock: Mutex<number>) => {
      lock.lock().value = 99; // never unlocked: the change is not written back
    }, m).join();
    assert.equal(m.isPoisoned(), true);
    assert.equal(recover(m), 0);
  });

  test('a thread killed inside withLock poisons it and wakes every blocked waiter', { timeout: 30_000 }, async () => {
    const m = new Mutex(7);
    const holding = new AtomicI32(0);
    const holder = spawn((lock: Mutex<number>, flag: AtomicI32) => {
      lock.withLock(() => {
        flag.store(1);
        for (;;);
      });
    }, m, holding);
    while (holding.load() === 0) sleep(1);

    const started = new AtomicI32(0);
    const waiters = [0, 1].map(() => spawn(async (lock: Mutex<number>, count: AtomicI32) => {
      const { PoisonError } = await import('weft');
      count.fetchAdd(1);
      try {
        lock.lock().unlock();
        return 'not poisoned';
      } catch (e) {
        if (!(e instanceof PoisonError)) throw e;
        const g = e.intoInner() as MutexGuard<number>;
        const v = g.value;
        g.unlock();
        return `poisoned, value ${v}`;
      }
    }, m, started));
    const mainWaiter = m.lockAsync().then(
      (g) => (g.unlock(), 'not poisoned'),
      (e: PoisonError<MutexGuard<number>>) => {
        const v = e.guard.value;
        e.guard.unlock();
        return `poisoned, value ${v}`;
      },
    );
    while (started.load() < 2) sleep(1);
    sleep(20); // let them block in lock(); if one is late, it still meets the poison
    await holder.terminate();
    for (const w of waiters) assert.equal(await w.joinAsync(), 'poisoned, value 7');
    assert.equal(await mainWaiter, 'poisoned, value 7');
    assert.equal(m.isPoisoned(), true);
  });

  test('lockAsync waits for another thread without blocking the event loop', { timeout: 30_000 }, async () => {
    const m = new Mutex('a');
    const flag = new AtomicI32(0);
    const holder = spawn(async (lock: Mutex<string>, f: AtomicI32) => {
      const { sleep } = await import('weft');
      const g = lock.lock();
      f.store(1);
      // Released once the main thread's timer runs; a bound keeps a failure from hanging.
      for (let k = 0; k < 10_000 && f.load() !== 2; k++) sleep(1);
      g.value = f.load() === 2 ? 'released by the timer' : 'gave up';
      g.unlock();
    }, m, flag);
    while (flag.load() === 0) sleep(1);
    const waiting = m.lockAsync();
    setTimeout(() => flag.store(2), 5);
    const g = await waiting;
    assert.equal(g.value, 'released by the timer');
    g.unlock();
    await holder.joinAsync();
  });

  test('lockAsync across threads: exact total', { timeout: 30_000 }, async () => {
    const m = new Mutex(0);
    const hs = [0, 1].map(() => spawn(async (lock: Mutex<number>) => {
      for (let i = 0; i < 2000; i++) {
        const g = await lock.lockAsync();
        g.value++;
        g.unlock();
      }
    }, m));
    for (let i = 0; i < 2000; i++) {
      const g = await m.lockAsync();
      g.value++;
      g.unlock();
    }
    await Promise.all(hs.map((h) => h.joinAsync()));
    assert.equal(m.withLock((v) => v), 6000);
  });

  test('locking again in the thread that holds it throws instead of deadlocking', () => {
    const m = new Mutex();
    const g = m.lock();
    assert.throws(() => m.lock(), /already holds the lock/);
    g.unlock();
    m.lock().unlock();
  });

  test('handles live in the value and refer to the same objects (nested mutex)', () => {
    const inner = new Mutex(0);
    const m = new Mutex({ inner, counter: new AtomicI32(0) });
    spawn((lock: Mutex<{ inner: Mutex<number>; counter: AtomicI32 }>) => {
      lock.withLock((v) => {
        v.counter.fetchAdd(5);
        const g = v.inner.lock();
        g.value = 1;
        g.unlock();
      });
    }, m).join();
    assert.equal(m.withLock((v) => v.counter.load()), 5);
    assert.equal(inner.withLock((v) => v), 1);
  });

  test('an unsendable value is refused on unlock; the lock is released and the old value kept', () => {
    const m = new Mutex<unknown>(1);
    const g = m.lock();
    g.value = { f: () => 1 };
    assert.throws(() => g.unlock(), { name: 'TypeError', message: /value\.f/ });
    assert.equal(m.withLock((v) => v), 1);
    assert.throws(() => new Mutex(Symbol('x')), TypeError);
  });

  test('guards cannot be sent to another thread', () => {
    const m = new Mutex(1);
    const g = m.lock();
    assert.throws(() => spawn((x: unknown) => x, g), TypeError);
    g.unlock();
  });

  test('dropping the last handle frees the stored value', () => {
    const before = heapStats().live;
    const m = new Mutex({ text: 'x'.repeat(20_000) });
    assert.ok(heapStats().live - before > 20_000);
    m.close();
    assert.ok(heapStats().live - before < 1_000);
    assert.throws(() => m.lock(), /closed/);
  });
});
