import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Mutex, PoisonError, scope, sleep, spawn, type MutexGuard } from '../src/index.ts';

describe('Mutex', () => {
  test('smoke: lock, change, unlock; the value persists, in place too', () => {
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

  test('tryLock is undefined while the lock is held', () => {
    const m = new Mutex(0);
    const g = m.lock();
    assert.equal(m.tryLock(), undefined);
    g.unlock();
    const h = m.tryLock();
    assert.ok(h);
    h.unlock();
  });

  test('lots and lots: 4 threads × 100k increments give the exact total', () => {
    const m = new Mutex(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((lock: Mutex<number>, n: number) => {
          for (let i = 0; i < n; i++) {
            const g = lock.lock();
            g.value++;
            g.unlock();
          }
        }, m, 100_000);
      }
    });
    assert.equal(m.withLock((v) => v), 400_000);
  });

  test('a throw inside withLock poisons it; lock then throws PoisonError holding the lock', () => {
    const m = new Mutex({ ok: true });
    assert.throws(() => m.withLock(() => {
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
    assert.deepEqual(g.value, { ok: true });
    assert.equal(m.tryLock(), undefined); // the PoisonError's guard holds it
    g.unlock();
    m.clearPoison();
    assert.equal(m.isPoisoned(), false);
    assert.deepEqual(m.withLock((v) => v), { ok: true });
  });

  test('a thread killed while holding the lock poisons it and wakes the blocked waiter', async () => {
    const m = new Mutex(7);
    const holding = new AtomicI32(0);
    const holder = spawn((lock: Mutex<number>, flag: AtomicI32) => {
      lock.withLock(() => {
        flag.store(1);
        for (;;);
      });
    }, m, holding);
    while (holding.load() === 0) sleep(1);
    const waiter = spawn(async (lock: Mutex<number>) => {
      const { PoisonError } = await import('weft');
      try {
        lock.lock().unlock();
        return 'not poisoned';
      } catch (e) {
        if (!(e instanceof PoisonError)) throw e;
        const g = e.intoInner() as { value: number; unlock(): void };
        const v = g.value;
        g.unlock();
        return `poisoned, value ${v}`;
      }
    }, m);
    sleep(50); // let the waiter block in lock()
    await holder.terminate();
    assert.equal(await waiter.joinAsync(), 'poisoned, value 7');
    assert.equal(m.isPoisoned(), true);
  });

  test('a thread that ends while holding a guard poisons and releases the lock', () => {
    const m = new Mutex(0);
    spawn((lock: Mutex<number>) => {
      lock.lock().value = 99; // never unlocked
    }, m).join();
    assert.equal(m.isPoisoned(), true);
    assert.throws(() => m.lock(), (e: PoisonError<MutexGuard<number>>) => {
      e.guard.unlock();
      return true;
    });
  });

  test('lockAsync waits without blocking the event loop', async () => {
    const m = new Mutex('a');
    const g = m.lock();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    setTimeout(() => {
      g.value = 'b';
      g.unlock();
    }, 30);
    const h = await m.lockAsync();
    clearInterval(timer);
    assert.ok(ticks > 0);
    assert.equal(h.value, 'b');
    h.unlock();
  });

  test('lockAsync across threads: exact total', async () => {
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

  test('handles live in the value and refer to the same objects', () => {
    const m = new Mutex({ counter: new AtomicI32(0) });
    spawn((lock: Mutex<{ counter: AtomicI32 }>) => lock.withLock((v) => v.counter.fetchAdd(5)), m).join();
    assert.equal(m.withLock((v) => v.counter.load()), 5);
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
});
