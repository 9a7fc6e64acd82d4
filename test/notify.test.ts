// Notify, after tokio's tests/sync_notify.rs, in one event loop and across threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Notify, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A notified() whose settling we can observe without awaiting it. */
function watch(n: Notify): { done: () => boolean; promise: Promise<void> } {
  let settled = false;
  const promise = n.notified().then(() => {
    settled = true;
  });
  return { done: () => settled, promise };
}

describe('Notify', () => {
  test('notify_notified_one: a permit stored before notified() lets it return at once', T, async () => {
    const n = new Notify();
    n.notifyOne();
    await n.notified();
  });

  test('notified_one_notify: a waiting notified() is woken by notifyOne', T, async () => {
    const n = new Notify();
    const w = watch(n);
    await delay(10);
    assert.equal(w.done(), false);
    n.notifyOne();
    await w.promise;
  });

  test('notified_multi_notify: notifyOne wakes the oldest waiter only', T, async () => {
    const n = new Notify();
    const first = watch(n);
    const second = watch(n);
    n.notifyOne();
    await first.promise;
    await delay(10);
    assert.equal(second.done(), false);
    n.notifyOne();
    await second.promise;
  });

  test('notify_notified_multi: at most one permit is stored', T, async () => {
    const n = new Notify();
    n.notifyOne();
    n.notifyOne();
    await n.notified();
    const second = watch(n);
    await delay(10);
    assert.equal(second.done(), false);
    n.notifyOne();
    await second.promise;
  });

  test('notifyWaiters wakes every current waiter, stores no permit, and misses later ones', T, async () => {
    const n = new Notify();
    const waiters = [watch(n), watch(n), watch(n)];
    n.notifyWaiters();
    await Promise.all(waiters.map((w) => w.promise));
    const later = watch(n);
    await delay(10);
    assert.equal(later.done(), false);
    n.notifyOne();
    await later.promise;
  });

  test('notify_one_after_dropped_all: notifyOne after notifyWaiters (nobody left) stores a permit', T, async () => {
    const n = new Notify();
    const w = watch(n);
    n.notifyWaiters();
    n.notifyOne();
    await w.promise;
    await n.notified(); // the stored permit
  });

  test('across threads: a waiting thread is woken by notifyOne, and notifies back', T, async () => {
    const ping = new Notify();
    const pong = new Notify();
    const h = spawn(async (a: Notify, b: Notify) => {
      await a.notified();
      b.notifyOne();
      return 'woken';
    }, ping, pong);
    const back = pong.notified();
    await delay(20);
    ping.notifyOne();
    await back;
    assert.equal(await h.joinAsync(), 'woken');
  });

  test('ping-pong stress across threads: no lost wakeups', T, async () => {
    const rounds = 2000;
    const ping = new Notify();
    const pong = new Notify();
    const h = spawn(async (a: Notify, b: Notify, n: number) => {
      for (let k = 0; k < n; k++) {
        await a.notified();
        b.notifyOne();
      }
    }, ping, pong, rounds);
    for (let k = 0; k < rounds; k++) {
      const back = pong.notified();
      ping.notifyOne();
      await back;
    }
    await h.joinAsync();
  });

  test('many waiters in several threads: each notifyOne releases exactly one of them', T, async () => {
    const n = new Notify();
    const woken = new AtomicI32(0);
    const waiting = 12;
    const threads = [0, 1, 2].map(() => spawn(async (x: Notify, w: AtomicI32) => {
      await Promise.all([0, 1, 2, 3].map(async () => {
        await x.notified();
        w.fetchAdd(1);
      }));
    }, n, woken));
    await delay(50); // most waiters hold a ticket by now; any that do not take a permit instead
    for (let k = 1; k <= waiting; k++) {
      n.notifyOne();
      while (woken.load() < k) await delay(1);
      assert.equal(woken.load(), k);
    }
    for (const h of threads) await h.joinAsync();
    const probe = watch(n);
    await delay(10);
    assert.equal(probe.done(), false); // nothing was stored along the way
    n.notifyOne();
    await probe.promise;
  });

  test('a killed waiter does not swallow a notifyOne', T, async () => {
    const n = new Notify();
    const ready = new AtomicI32(0);
    const dying = spawn(async (x: Notify, r: AtomicI32) => {
      const p = x.notified(); // holds the first ticket
      r.store(1);
      await p;
      for (;;);
    }, n, ready);
    while (ready.load() === 0) await delay(1);
    const survivor = watch(n); // second in line
    await dying.terminate();
    n.notifyOne(); // the dead waiter's turn passes to the survivor
    await survivor.promise;
  });

  test('a waiter killed after being chosen passes its notification on', T, async () => {
    const n = new Notify();
    const ready = new AtomicI32(0);
    const dying = spawn(async (x: Notify, r: AtomicI32) => {
      const { sleep } = await import('weft');
      const p = x.notified();
      r.store(1);
      sleep(60_000); // blocked: it is notified but never gets to pick that up
      await p;
    }, n, ready);
    while (ready.load() === 0) await delay(1);
    const survivor = watch(n);
    n.notifyOne(); // chooses the first ticket: the blocked thread
    await delay(10);
    assert.equal(survivor.done(), false);
    await dying.terminate();
    await survivor.promise;
  });
});
