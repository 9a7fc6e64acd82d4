import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AcquireError, AtomicI32, Barrier, Notify, OnceCell, Semaphore, SetError, scope, sleep, spawn,
} from '../src/index.ts';

describe('OnceCell (tokio)', () => {
  test('set, get, take, and SetError kinds', async () => {
    const cell = new OnceCell<number>();
    assert.equal(cell.get(), undefined);
    assert.equal(cell.initialized(), false);
    cell.set(1);
    assert.throws(() => cell.set(2), (e: SetError) => e instanceof SetError && e.kind === 'AlreadyInitialized');
    assert.equal(cell.get(), 1);
    assert.equal(cell.take(), 1);
    assert.equal(cell.take(), undefined);
    const slow = cell.getOrInit(() => new Promise<number>((r) => setTimeout(() => r(3), 20)));
    assert.throws(() => cell.set(4), (e: SetError) => e.kind === 'Initializing');
    assert.equal(await slow, 3);
  });

  test('concurrent getOrInit in one event loop runs one init', async () => {
    const cell = new OnceCell<string>();
    let runs = 0;
    const init = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
      return 'v';
    };
    assert.deepEqual(await Promise.all([cell.getOrInit(init), cell.getOrInit(init), cell.getOrInit(init)]), ['v', 'v', 'v']);
    assert.equal(runs, 1);
  });

  test('a rejected init leaves it empty and the next waiter runs its own', async () => {
    const cell = new OnceCell<number>();
    const first = cell.getOrTryInit(async () => {
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('first failed');
    });
    const second = cell.getOrTryInit(async () => 2);
    await assert.rejects(first, /first failed/);
    assert.equal(await second, 2);
  });

  test('across threads: one init, every thread gets the value', async () => {
    const cell = new OnceCell<number>();
    const inits = new AtomicI32(0);
    const hs = [1, 2, 3].map((k) => spawn(async (c: OnceCell<number>, n: AtomicI32, me: number) =>
      c.getOrInit(async () => {
        n.fetchAdd(1);
        await new Promise((r) => setTimeout(r, 20));
        return me;
      }), cell, inits, k));
    const got = await Promise.all(hs.map((h) => h.joinAsync()));
    assert.equal(inits.load(), 1);
    assert.equal(new Set(got).size, 1);
  });

  test('a thread killed while initialising leaves it empty for the next', async () => {
    const cell = new OnceCell<number>();
    const inside = new AtomicI32(0);
    const h = spawn(async (c: OnceCell<number>, f: AtomicI32) => c.getOrInit(() => {
      f.store(1);
      for (;;);
    }), cell, inside);
    while (inside.load() === 0) sleep(1);
    const waiting = cell.getOrInit(async () => 9);
    await h.terminate();
    assert.equal(await waiting, 9);
  });
});

describe('Notify (tokio)', () => {
  test('notifyOne before notified() stores one permit', async () => {
    const n = new Notify();
    n.notifyOne();
    n.notifyOne();
    await n.notified(); // the permit
    let woke = false;
    const p = n.notified().then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(woke, false); // only one permit was stored
    n.notifyOne();
    await p;
  });

  test('notifyWaiters wakes current waiters only and stores nothing', async () => {
    const n = new Notify();
    const a = n.notified();
    const b = n.notified();
    n.notifyWaiters();
    await Promise.all([a, b]);
    let late = false;
    const c = n.notified().then(() => (late = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(late, false);
    n.notifyOne();
    await c;
  });

  test('across threads: a waiting thread is woken by notifyOne', async () => {
    const n = new Notify();
    const h = spawn(async (x: Notify) => {
      await x.notified();
      return 'woken';
    }, n);
    sleep(30);
    n.notifyOne();
    assert.equal(await h.joinAsync(), 'woken');
  });
});

describe('Barrier', () => {
  test('exactly one leader per generation, reusable', () => {
    const barrier = new Barrier(4);
    const leaders = new AtomicI32(0);
    const passed = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((b: Barrier, l: AtomicI32, p: AtomicI32) => {
          for (let round = 0; round < 50; round++) {
            if (b.wait().isLeader) l.fetchAdd(1);
            p.fetchAdd(1);
          }
        }, barrier, leaders, passed);
      }
    });
    assert.equal(leaders.load(), 50);
    assert.equal(passed.load(), 200);
  });

  test('nobody passes before all arrived; waitAsync', async () => {
    const barrier = new Barrier(2);
    const h = spawn(async (b: Barrier) => {
      (await import('weft')).sleep(30);
      return b.wait().isLeader;
    }, barrier);
    const mine = await barrier.waitAsync();
    const theirs = await h.joinAsync();
    assert.equal(Number(mine.isLeader) + Number(theirs), 1);
    assert.throws(() => new Barrier(-1), RangeError);
  });
});

describe('Semaphore', () => {
  test('acquire, tryAcquire, release, addPermits', () => {
    const s = new Semaphore(2);
    const a = s.acquire();
    const b = s.tryAcquire(1)!;
    assert.equal(s.tryAcquire(), undefined);
    assert.equal(s.availablePermits(), 0);
    a.release();
    a.release(); // idempotent
    assert.equal(s.availablePermits(), 1);
    {
      using c = s.acquire();
      assert.equal(s.availablePermits(), 0);
      void c;
    }
    b.release();
    s.addPermits(3);
    assert.equal(s.availablePermits(), 5);
    assert.throws(() => s.acquire(-1), RangeError);
  });

  test('never more holders than permits (stress)', () => {
    const sem = new Semaphore(2);
    const inside = new AtomicI32(0);
    const worst = new AtomicI32(0);
    scope((sc) => {
      for (let t = 0; t < 5; t++) {
        sc.spawn((s: Semaphore, c: AtomicI32, w: AtomicI32) => {
          for (let k = 0; k < 300; k++) {
            const p = s.acquire();
            const now = c.fetchAdd(1) + 1;
            if (now > w.load()) w.store(now);
            c.fetchSub(1);
            p.release();
          }
        }, sem, inside, worst);
      }
    });
    assert.ok(worst.load() <= 2 && worst.load() >= 1);
    assert.equal(sem.availablePermits(), 2);
  });

  test('FIFO: a large acquire is served before later small ones', async () => {
    const sem = new Semaphore(0);
    const order: string[] = [];
    const big = sem.acquireAsync(3).then((p) => {
      order.push('big');
      return p;
    });
    const small = sem.acquireAsync(1).then((p) => {
      order.push('small');
      return p;
    });
    sem.addPermits(1); // not enough for the head: the small one must not jump the line
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, []);
    sem.addPermits(3);
    (await big).release();
    (await small).release();
    assert.deepEqual(order, ['big', 'small']);
  });

  test('close() fails waiting and later acquires', async () => {
    const sem = new Semaphore(0);
    const waiting = sem.acquireAsync();
    const blocked = spawn((s: Semaphore) => {
      try {
        s.acquire();
        return 'acquired';
      } catch (e) {
        return (e as Error).name;
      }
    }, sem);
    sleep(30);
    sem.close();
    await assert.rejects(waiting, AcquireError);
    assert.equal(await blocked.joinAsync(), 'AcquireError');
    assert.throws(() => sem.tryAcquire(), AcquireError);
  });

  test('a thread that dies holding permits or waiting in line leaves nobody stuck', async () => {
    const sem = new Semaphore(1);
    const flag = new AtomicI32(0);
    const holder = spawn((s: Semaphore, f: AtomicI32) => {
      s.acquire();
      f.store(1);
      for (;;);
    }, sem, flag);
    while (flag.load() === 0) sleep(1);
    const queued = spawn((s: Semaphore) => {
      s.acquire();
      for (;;);
    }, sem);
    sleep(30);
    const last = sem.acquireAsync(); // behind the queued thread
    await holder.terminate(); // its permit comes back: the queued thread takes it
    sleep(30);
    await queued.terminate(); // it held the permit now: it comes back again
    (await last).release();
    assert.equal(sem.availablePermits(), 1);
  });

  test('a thread killed while queued gives up its turn', async () => {
    const sem = new Semaphore(0);
    const dead = spawn((s: Semaphore) => void s.acquire(), sem);
    sleep(50); // it holds the first ticket
    const next = sem.acquireAsync(); // second in line
    await dead.terminate();
    sem.addPermits(1);
    (await next).release();
    assert.equal(sem.availablePermits(), 1);
  });
});
