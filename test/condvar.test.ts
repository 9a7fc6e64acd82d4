import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Condvar, Mutex, scope, sleep, spawn } from '../src/index.ts';

describe('Condvar', () => {
  test('notifyOne wakes a waiter that then sees the change', () => {
    const m = new Mutex(false);
    const cv = new Condvar();
    const h = spawn((lock: Mutex<boolean>, c: Condvar) => {
      const g = lock.lock();
      while (!g.value) c.wait(g);
      g.unlock();
      return 'woken';
    }, m, cv);
    sleep(20);
    m.withLock(() => {});
    const g = m.lock();
    g.value = true;
    g.unlock();
    cv.notifyOne();
    assert.equal(h.join(), 'woken');
  });

  test('notifyAll wakes every waiter', () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const waiting = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((lock: Mutex<number>, c: Condvar, w: AtomicI32) => {
          const g = lock.lock();
          w.fetchAdd(1);
          c.waitWhile(g, (v) => v === 0);
          g.unlock();
        }, m, cv, waiting);
      }
      while (waiting.load() < 4) sleep(1);
      const g = m.lock(); // every waiter is inside wait() once it released the lock
      g.value = 1;
      g.unlock();
      cv.notifyAll();
    });
  });

  test('waitTimeout times out without a notify, and reports a notify in time', () => {
    const m = new Mutex();
    const cv = new Condvar();
    const g = m.lock();
    assert.deepEqual(cv.waitTimeout(g, 20), { timedOut: true });
    assert.throws(() => cv.waitTimeout(g, -1), RangeError);
    const h = spawn(async (c: Condvar) => {
      (await import('weft')).sleep(20);
      c.notifyOne();
    }, cv);
    let r = cv.waitTimeout(g, 10_000);
    while (r.timedOut) r = cv.waitTimeout(g, 10_000);
    assert.equal(r.timedOut, false);
    g.unlock();
    h.join();
  });

  test('no lost wakeups: two threads hand a token back and forth 5000 times', () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    scope((s) => {
      for (const parity of [0, 1]) {
        s.spawn((lock: Mutex<number>, c: Condvar, p: number) => {
          for (let i = 0; i < 5000; i++) {
            const g = lock.lock();
            c.waitWhile(g, (v) => v % 2 !== p);
            g.value++;
            g.unlock();
            c.notifyAll();
          }
        }, m, cv, parity);
      }
    });
    assert.equal(m.withLock((v) => v), 10_000);
  });

  test('timeouts racing notifies: every handoff happens, nothing hangs', () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const rounds = 2000;
    scope((s) => {
      s.spawn((lock: Mutex<number>, c: Condvar, n: number) => {
        for (let k = 0; k < n; k++) {
          const g = lock.lock();
          while (g.value % 2 === 0) c.waitTimeout(g, k % 3); // 0-2 ms: expiring around the notify
          g.value++;
          g.unlock();
          c.notifyOne();
        }
      }, m, cv, rounds);
      for (let k = 0; k < rounds; k++) {
        const g = m.lock();
        while (g.value % 2 === 1) cv.waitTimeout(g, k % 2);
        g.value++;
        g.unlock();
        cv.notifyOne();
      }
    });
    assert.equal(m.withLock((v) => v), 2 * rounds);
  });

  test('waitAsync keeps the event loop running and relocks', async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const h = spawn(async (lock: Mutex<number>, c: Condvar) => {
      (await import('weft')).sleep(30);
      lock.withLock(() => {});
      const g = lock.lock();
      g.value = 1;
      g.unlock();
      c.notifyAll();
    }, m, cv);
    const g = await m.lockAsync();
    while (g.value === 0) await cv.waitAsync(g);
    assert.equal(g.value, 1);
    g.unlock();
    await h.joinAsync();
  });
});
