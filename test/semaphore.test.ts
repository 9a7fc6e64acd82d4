// Semaphore, after tokio's tests/sync_semaphore.rs, in one event loop and across threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AcquireError, AtomicI32, Permit, scope, Semaphore, sleep, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Semaphore', () => {
  test('no_permits and try_acquire', T, () => {
    assert.equal(new Semaphore(0).tryAcquire(), undefined);
    const sem = new Semaphore(1);
    const p1 = sem.tryAcquire();
    assert.ok(p1 instanceof Permit);
    assert.equal(sem.tryAcquire(), undefined);
    p1.release();
    p1.release(); // idempotent
    assert.equal(sem.availablePermits(), 1);
    {
      using p3 = sem.tryAcquire()!;
      assert.equal(sem.availablePermits(), 0);
      void p3;
    }
    assert.equal(sem.availablePermits(), 1);
  });

  test('acquire: a thread blocked in acquire() gets the permit when it is released', T, () => {
    const sem = new Semaphore(1);
    const p1 = sem.tryAcquire()!;
    const h = spawn((s: Semaphore) => {
      const p = s.acquire();
      p.release();
      return 'acquired';
    }, sem);
    sleep(20);
    p1.release();
    assert.equal(h.join(), 'acquired');
    assert.equal(sem.availablePermits(), 1);
  });

  test('add_permits wakes a waiter; acquire(n) takes n at once', T, async () => {
    const sem = new Semaphore(0);
    const waiting = sem.acquireAsync(3);
    sem.addPermits(2);
    await delay(10);
    assert.equal(sem.availablePermits(), 2);
    sem.addPermits(1);
    const p = await waiting;
    assert.equal(sem.availablePermits(), 0);
    p.release();
    assert.equal(sem.availablePermits(), 3);
  });

  test('add_max_amount_permits, and more than the maximum is a RangeError', T, () => {
    const s = new Semaphore(0);
    s.addPermits(Semaphore.MAX_PERMITS);
    assert.equal(s.availablePermits(), Semaphore.MAX_PERMITS);
    assert.throws(() => new Semaphore(1).addPermits(Semaphore.MAX_PERMITS), RangeError);
    const t = new Semaphore(Semaphore.MAX_PERMITS - 1);
    t.addPermits(1);
    assert.throws(() => t.addPermits(1), RangeError);
    assert.throws(() => new Semaphore(Semaphore.MAX_PERMITS + 1), RangeError);
  });

  test('bad counts: RangeError for negative or fractional, TypeError for non-numbers', T, async () => {
    const sem = new Semaphore(1);
    for (const bad of [-1, 1.5, NaN, Infinity]) {
      assert.throws(() => new Semaphore(bad), RangeError);
      assert.throws(() => sem.tryAcquire(bad), RangeError);
      assert.throws(() => sem.acquire(bad), RangeError);
      assert.throws(() => sem.addPermits(bad), RangeError);
      await assert.rejects(sem.acquireAsync(bad), RangeError);
    }
    assert.throws(() => sem.acquire('1' as unknown as number), TypeError);
    assert.throws(() => new Semaphore(undefined as unknown as number), TypeError);
    assert.equal(sem.availablePermits(), 1);
  });

  test('stress_test: many acquirers in several threads; never more holders than permits', T, () => {
    const permits = 3;
    const sem = new Semaphore(permits);
    const holders = new AtomicI32(0);
    const worst = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 6; t++) {
        s.spawn(async (sm: Semaphore, h: AtomicI32, w: AtomicI32, me: number) => {
          for (let k = 0; k < 200; k++) {
            const p = (me + k) % 2 === 0 ? sm.acquire() : await sm.acquireAsync();
            const now = h.fetchAdd(1) + 1;
            for (let seen = w.load(); now > seen && !w.compareExchange(seen, now).ok; seen = w.load());
            h.fetchSub(1);
            p.release();
          }
        }, sem, holders, worst, t);
      }
    });
    assert.ok(worst.load() <= permits, `${worst.load()} holders at once`);
    assert.equal(sem.availablePermits(), permits);
    const all = [1, 2, 3].map(() => sem.tryAcquire());
    assert.ok(all.every((p) => p !== undefined));
    assert.equal(sem.tryAcquire(), undefined);
  });

  test('FIFO: a large acquire is served before later small ones', T, async () => {
    const sem = new Semaphore(2);
    const held = sem.tryAcquire(2)!;
    const order: string[] = [];
    const big = sem.acquireAsync(2).then((p) => {
      order.push('big');
      return p;
    });
    await delay(5);
    const smalls = [1, 2, 3].map((k) => sem.acquireAsync(1).then((p) => {
      order.push(`small${k}`);
      p.release();
    }));
    assert.equal(sem.tryAcquire(1), undefined); // someone is queued: no barging
    held.release();
    (await big).release();
    await Promise.all(smalls);
    assert.deepEqual(order, ['big', 'small1', 'small2', 'small3']);
    assert.equal(sem.availablePermits(), 2);
  });

  test('FIFO across threads: a thread asking for all permits is not starved by small acquirers', T, () => {
    const sem = new Semaphore(4);
    const stop = new AtomicI32(0);
    const gotAll = scope((s) => {
      for (let t = 0; t < 3; t++) {
        s.spawn((sm: Semaphore, halt: AtomicI32) => {
          while (halt.load() === 0) sm.acquire(1).release();
        }, sem, stop);
      }
      sleep(10);
      const big = s.spawn((sm: Semaphore) => {
        const p = sm.acquire(4);
        p.release();
        return true;
      }, sem);
      const ok = big.join();
      stop.store(1);
      return ok;
    });
    assert.equal(gotAll, true);
  });

  test('close(): waiting and later acquires fail with AcquireError; held permits stay valid', T, async () => {
    const sem = new Semaphore(1);
    const held = sem.tryAcquire()!;
    const waiting = sem.acquireAsync();
    const blocked = spawn((s: Semaphore) => {
      try {
        s.acquire();
        return 'acquired';
      } catch (e) {
        return (e as Error).name;
      }
    }, sem);
    await delay(20);
    assert.equal(sem.isClosed(), false);
    sem.close();
    assert.equal(sem.isClosed(), true);
    assert.equal(spawn((s: Semaphore) => s.isClosed(), sem).join(), true); // closed for every thread
    await assert.rejects(waiting, AcquireError);
    assert.equal(await blocked.joinAsync(), 'AcquireError');
    assert.throws(() => sem.acquire(), AcquireError);
    assert.throws(() => sem.tryAcquire(), AcquireError);
    await assert.rejects(sem.acquireAsync(), AcquireError);
    held.release();
    assert.equal(sem.availablePermits(), 1);
  });

  test('a permit sent to another thread moves there and is released there', T, () => {
    const sem = new Semaphore(1);
    const p = sem.tryAcquire()!;
    spawn((permit: Permit) => permit.release(), p).join();
    assert.equal(sem.availablePermits(), 1);
    assert.throws(() => spawn((permit: Permit) => permit.release(), p), TypeError); // moved away already
  });

  test('a thread that dies holding permits or waiting in line leaves nobody stuck', T, async () => {
    const sem = new Semaphore(1);
    const flag = new AtomicI32(0);
    const holder = spawn((s: Semaphore, f: AtomicI32) => {
      s.acquire();
      f.store(1);
      for (;;);
    }, sem, flag);
    while (flag.load() === 0) await delay(1);
    const queued = spawn((s: Semaphore, f: AtomicI32) => {
      s.acquire();
      f.store(2);
      for (;;);
    }, sem, flag);
    await delay(20);
    const last = sem.acquireAsync(); // behind the queued thread
    await holder.terminate(); // its permit comes back: the queued thread takes it
    while (flag.load() !== 2) await delay(1);
    await queued.terminate(); // it held the permit now: it comes back again
    (await last).release();
    assert.equal(sem.availablePermits(), 1);
  });

  test('a thread killed while queued gives up its turn', T, async () => {
    const sem = new Semaphore(0);
    const dead = spawn((s: Semaphore) => void s.acquire(), sem);
    await delay(30); // it holds the first ticket
    const next = sem.acquireAsync(); // second in line
    await dead.terminate();
    sem.addPermits(1);
    (await next).release();
    assert.equal(sem.availablePermits(), 1);
  });

  test('threads killed anywhere in acquire/release loops lose no permit and leave no ticket behind', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 10; round++) {
      const sem = new Semaphore(3);
      const rand = () => Math.random() * 2;
      const done = new AtomicI32(0);
      // Small and large acquires in a line: kills land in the fast path, in a queued
      // wait, at the served ticket's take and in release.
      const victims = [1, 2, 3].map((n) => spawn((s: Semaphore, d: AtomicI32, n: number) => {
        for (;;) {
          s.acquire(n).release();
          d.fetchAdd(1);
        }
      }, sem, done, n));
      while (done.load() < 10 + round * 25) await delay(rand());
      await Promise.all(victims.map((v) => v.terminate()));
      // Every permit came back and the line moves: the largest acquire is served at once.
      (await sem.acquireAsync(3)).release();
      assert.equal(sem.availablePermits(), 3);
      sem.close();
      done.close();
    }
  });
});
