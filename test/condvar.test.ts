// Condvar, after Rust's library/std/tests/sync/condvar.rs, with real threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heapStats, scope, sleep, spawn } from '../src/index.ts';
import { AtomicI32 } from '../src/sync/atomic.ts';
import { Condvar } from '../src/sync/condvar.ts';
import { Mutex, type MutexGuard } from '../src/sync/mutex.ts';
import { PoisonError } from '../src/sync/poison.ts';

const T = { timeout: 30_000 };

describe('Condvar', () => {
  test('smoke: notifying with nobody waiting is harmless', () => {
    const cv = new Condvar();
    cv.notifyOne();
    cv.notifyAll();
  });

  test('notifyOne wakes a waiter that then sees the change', () => {
    const m = new Mutex(false);
    const cv = new Condvar();
    const started = new AtomicI32(0);
    const h = spawn((lock: Mutex<boolean>, c: Condvar, s: AtomicI32) => {
      const g = lock.lock();
      s.store(1);
      while (!g.value) c.wait(g);
      g.unlock();
      return 'woken';
    }, m, cv, started);
    while (started.load() === 0) sleep(1);
    const g = m.lock(); // the waiter has released it: it is inside wait()
    g.value = true;
    g.unlock();
    cv.notifyOne();
    assert.equal(h.join(), 'woken');
  });

  test('notifyAll wakes every waiter (waitWhile)', () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const waiting = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((lock: Mutex<number>, c: Condvar, w: AtomicI32) => {
          const g = lock.lock();
          w.fetchAdd(1);
          c.waitWhile(g, (v) => v === 0);
          g.value++;
          g.unlock();
        }, m, cv, waiting);
      }
      while (waiting.load() < 4) sleep(1);
      const g = m.lock(); // every waiter has released the lock inside waitWhile()
      g.value = 1;
      g.unlock();
      cv.notifyAll();
    });
    assert.equal(m.withLock((v) => v), 5);
  });

  test('waitTimeout times out without a notify; bad timeouts are RangeErrors', () => {
    const m = new Mutex();
    const cv = new Condvar();
    const g = m.lock();
    assert.deepEqual(cv.waitTimeout(g, 10), { timedOut: true });
    assert.deepEqual(cv.waitTimeout(g, 0), { timedOut: true });
    assert.throws(() => cv.waitTimeout(g, -1), RangeError);
    assert.throws(() => cv.waitTimeout(g, NaN), RangeError);
    assert.equal(m.tryLock(), undefined); // still held after every return
    g.unlock();
  });

  test('waitTimeout reports a notify that comes in time', () => {
    const m = new Mutex(false);
    const cv = new Condvar();
    const g = m.lock();
    const h = spawn((lock: Mutex<boolean>, c: Condvar) => {
      const g = lock.lock(); // ours once the main thread waits
      g.value = true;
      g.unlock();
      c.notifyOne();
    }, m, cv);
    let r = { timedOut: false };
    while (!g.value) r = cv.waitTimeout(g, 60_000); // spurious wakes may come first
    assert.equal(r.timedOut, false);
    g.unlock();
    h.join();
  });

  test('the guard writes its value back before waiting and reads it afresh after', () => {
    const m = new Mutex({ phase: 'start' });
    const cv = new Condvar();
    const h = spawn((lock: Mutex<{ phase: string }>, c: Condvar) => {
      const g = lock.lock();
      g.value.phase = 'waiting'; // in place: must be visible to the other thread during the wait
      c.waitWhile(g, (v) => v.phase !== 'go');
      const seen = g.value.phase;
      g.value = { phase: 'done' };
      g.unlock();
      return seen;
    }, m, cv);
    for (let seen = ''; seen !== 'waiting'; sleep(1)) seen = m.withLock((v) => v.phase);
    m.withLock((v) => void (v.phase = 'go'));
    cv.notifyAll();
    assert.equal(h.join(), 'go');
    assert.deepEqual(m.withLock((v) => v), { phase: 'done' });
  });

  test('waiting on a guard that is not held throws TypeError', () => {
    const m = new Mutex();
    const cv = new Condvar();
    const g = m.lock();
    g.unlock();
    assert.throws(() => cv.waitTimeout(g, 0), TypeError);
    assert.throws(() => cv.wait({ value: undefined, unlock() {}, [Symbol.dispose]() {} }), TypeError);
  });

  test('a mutex poisoned during the wait: wait throws PoisonError holding the lock', () => {
    const m = new Mutex(1);
    const cv = new Condvar();
    const g = m.lock();
    const h = spawn((lock: Mutex<number>, c: Condvar) => {
      lock.lock();
      c.notifyAll();
      throw new Error('panic with the lock held');
    }, m, cv);
    let err: unknown;
    try {
      for (;;) cv.wait(g); // until the relock meets the poison
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PoisonError);
    assert.equal((err as PoisonError<MutexGuard<number>>).guard, g);
    assert.equal(g.value, 1); // held again
    assert.equal(m.tryLock(), undefined);
    g.unlock();
    assert.throws(() => h.join());
  });

  // The stress tests wait with joinAsync, so that a lost wakeup fails by the test's
  // timeout instead of hanging the run.
  test('no lost wakeups: two threads hand a token back and forth 5000 times', { timeout: 60_000 }, async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const hs = [0, 1].map((parity) => spawn((lock: Mutex<number>, c: Condvar, p: number) => {
      for (let i = 0; i < 5000; i++) {
        const g = lock.lock();
        c.waitWhile(g, (v) => v % 2 !== p);
        g.value++;
        g.unlock();
        c.notifyOne(); // one waiter at most: a lost notify would leave it asleep
      }
    }, m, cv, parity));
    for (const h of hs) await h.joinAsync();
    assert.equal(m.withLock((v) => v), 10_000);
  });

  test('no lost wakeups: producers and consumers with notifyOne', { timeout: 60_000 }, async () => {
    type Queue = { items: number; taken: number };
    const m = new Mutex<Queue>({ items: 0, taken: 0 });
    const cv = new Condvar();
    const perThread = 3000;
    const hs = [0, 1].flatMap(() => [
      spawn((lock: Mutex<Queue>, c: Condvar, n: number) => {
        for (let i = 0; i < n; i++) {
          lock.withLock((v) => void v.items++);
          c.notifyOne();
        }
      }, m, cv, perThread),
      spawn((lock: Mutex<Queue>, c: Condvar, n: number) => {
        for (let i = 0; i < n; i++) {
          const g = lock.lock();
          c.waitWhile(g, (v) => v.items === 0);
          g.value.items--;
          g.value.taken++;
          g.unlock();
        }
      }, m, cv, perThread),
    ]);
    for (const h of hs) await h.joinAsync();
    assert.deepEqual(m.withLock((v) => v), { items: 0, taken: 2 * perThread });
  });

  test('timeouts racing notifies: every handoff happens', { timeout: 60_000 }, async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const hs = [0, 1].map((parity) => spawn((lock: Mutex<number>, c: Condvar, p: number) => {
      for (let k = 0; k < 2000; k++) {
        const g = lock.lock();
        while (g.value % 2 !== p) c.waitTimeout(g, (k + p) % 3); // 0-2 ms: expiring around the notify
        g.value++;
        g.unlock();
        c.notifyOne();
      }
    }, m, cv, parity));
    for (const h of hs) await h.joinAsync();
    assert.equal(m.withLock((v) => v), 4000);
  });

  test('waitAsync keeps the event loop running and relocks', { timeout: 30_000 }, async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const timerRan = new AtomicI32(0);
    const h = spawn(async (lock: Mutex<number>, c: Condvar, flag: AtomicI32) => {
      const { sleep } = await import('weft');
      // Starts once the main thread's timer has run; a bound keeps a failure from hanging.
      for (let k = 0; k < 10_000 && flag.load() === 0; k++) sleep(1);
      for (let i = 0; i < 200; i++) {
        const g = lock.lock();
        g.value++;
        g.unlock();
        c.notifyAll();
      }
      return flag.load() === 1;
    }, m, cv, timerRan);
    const g = await m.lockAsync();
    setTimeout(() => timerRan.store(1), 5);
    while (g.value < 200) await cv.waitAsync(g);
    assert.equal(g.value, 200);
    g.unlock();
    assert.equal(await h.joinAsync(), true);
  });
});

describe('Condvar: construction, timed and predicate waits, cancellation, error paths', () => {
  test('new Condvar(mutex) is a TypeError saying what it takes; nothing is allocated', () => {
    const m = new Mutex(0);
    const live = heapStats().live;
    assert.throws(() => new Condvar(m as never), { name: 'TypeError', message: /takes no arguments, got a Mutex.*wait\(guard\)/ });
    assert.throws(() => new Condvar('2' as never), /got the string '2'/);
    assert.equal(heapStats().live, live);
    // The mutex's memory was not adopted: it still works alone.
    assert.equal(m.withLock((v) => v), 0);
  });

  test('notify_all wakes all 10 waiters (condvar.rs notify_all)', T, () => {
    const N = 10;
    const m = new Mutex(0);
    const cv = new Condvar();
    const done = new Mutex(0);
    scope((s) => {
      for (let t = 0; t < N; t++) {
        s.spawn((lock: Mutex<number>, c: Condvar, d: Mutex<number>) => {
          const g = lock.lock();
          g.value++;
          // Tell the main thread that all are in. notifyAll: a notifyOne could wake one of
          // the other waiters instead, and the main thread would wait forever.
          if (g.value === 10) c.notifyAll();
          while (g.value !== 0) c.wait(g);
          g.unlock();
          const h = d.lock();
          h.value++;
          h.unlock();
        }, m, cv, done);
      }
      const g = m.lock();
      while (g.value !== N) cv.wait(g);
      g.value = 0;
      cv.notifyAll();
      g.unlock();
    });
    assert.equal(done.withLock((v) => v), N);
  });

  test('waitTimeoutWhile: instant satisfy, timing out with the condition true, woken in time', T, () => {
    const m = new Mutex(false);
    const cv = new Condvar();
    const g = m.lock();
    // wait_timeout_while_instant_satisfy: the condition is false already, even with 0 ms
    assert.deepEqual(cv.waitTimeoutWhile(g, 0, () => false), { timedOut: false });
    // wait_timeout_while_wait: nobody notifies
    assert.deepEqual(cv.waitTimeoutWhile(g, 10, () => true), { timedOut: true });
    assert.equal(g.value, false); // the lock is held again
    g.unlock();
    // wait_timeout_while_wake
    const started = new AtomicI32(0);
    const h = spawn((lock: Mutex<boolean>, c: Condvar, s: AtomicI32) => {
      const k = lock.lock();
      s.store(1);
      const r = c.waitTimeoutWhile(k, 60_000, (v) => !v);
      const v = k.value;
      k.unlock();
      return { ...r, v };
    }, m, cv, started);
    while (started.load() === 0) sleep(1);
    const k = m.lock();
    k.value = true;
    k.unlock();
    cv.notifyOne();
    assert.deepEqual(h.join(), { timedOut: false, v: true });
    assert.throws(() => cv.waitTimeoutWhile(m.lock(), -1, () => true), RangeError);
  });

  test('waitAsync aborted: the guard is valid again, no waiter is left counted, the next notify reaches another waiter', T, async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const ac = new AbortController();
    const g1 = await m.lockAsync();
    const w1 = cv.waitAsync(g1, { signal: ac.signal });
    const g2 = await m.lockAsync();
    const w2 = cv.waitAsync(g2);
    ac.abort(new Error('cancelled'));
    await assert.rejects(w1, /cancelled/);
    assert.equal(g1.value, 0); // relocked: the guard works
    g1.value = 1;
    g1.unlock();
    cv.notifyOne(); // reaches the waiter that stayed
    await w2;
    assert.equal(g2.value, 1);
    g2.unlock();
  });

  test('waitAsync with an aborted signal rejects before releasing the lock', async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const g = m.lock();
    await assert.rejects(cv.waitAsync(g, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    g.value = 2; // still held
    g.unlock();
    assert.equal(m.withLock((v) => v), 2);
  });

  test('waitWhileAsync and waitTimeoutAsync / waitTimeoutWhileAsync', T, async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const g = await m.lockAsync();
    assert.deepEqual(await cv.waitTimeoutAsync(g, 5), { timedOut: true });
    assert.deepEqual(await cv.waitTimeoutWhileAsync(g, 5, (v) => v === 0), { timedOut: true });
    g.unlock();
    const h = spawn((lock: Mutex<number>, c: Condvar) => {
      for (let k = 1; k <= 3; k++) {
        const x = lock.lock();
        x.value = k;
        x.unlock();
        c.notifyAll();
      }
    }, m, cv);
    const w = await m.lockAsync();
    await cv.waitWhileAsync(w, (v) => v < 3);
    assert.equal(w.value, 3);
    w.unlock();
    await h.joinAsync();
    const ac = new AbortController();
    const x = await m.lockAsync();
    const waiting = cv.waitWhileAsync(x, () => true, { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await assert.rejects(waiting, { name: 'AbortError' });
    x.unlock();
  });

  test('a value that cannot be written back: wait throws TypeError with the lock still held', () => {
    const m = new Mutex<unknown>(1);
    const cv = new Condvar();
    const g = m.lock();
    g.value = { f: () => 1 };
    assert.throws(() => cv.waitTimeout(g as MutexGuard<unknown>, 1), TypeError);
    assert.equal(m.tryLock(), undefined); // still ours
    assert.equal(g.value, 1); // the old value
    g.unlock();
  });

  test('a guard used by two waits at once, or after unlock, is a TypeError; a throwing condition keeps the lock', async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const g = m.lock();
    const w = cv.waitAsync(g);
    assert.throws(() => cv.wait(g), /Condvar wait on it is in progress/);
    cv.notifyAll();
    await w;
    assert.throws(() => cv.waitWhile(g, () => {
      throw new Error('cond');
    }), /cond/);
    g.value = 5; // still held
    g.unlock();
    assert.throws(() => cv.wait(g), /after unlock/);
    assert.throws(() => cv.waitWhile(m.lock(), 'x' as never), TypeError);
  });

  test('closing the condvar during an async wait does not free it under the waiter', T, async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const other = spawn(async (c: Condvar, lock: Mutex<number>) => {
      const { sleep } = await import('weft');
      for (let k = 0; k < 10_000; k++) {
        const g = lock.lock();
        const v = g.value;
        g.unlock();
        if (v === 1) break;
        c.notifyAll(); // until the main thread's wait has seen one
        sleep(1);
      }
    }, cv, m);
    const g = await m.lockAsync();
    const w = cv.waitAsync(g);
    cv.close();
    await w;
    g.value = 1;
    g.unlock();
    await other.joinAsync();
  });
});
