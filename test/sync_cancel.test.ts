// `{ signal }` on the async waits of Once, OnceLock, OnceCell, Semaphore, Barrier and
// Notify: an abort rejects with signal.reason and leaves no trace (tokio's cancel
// safety). Each test checks the state after the abort by what a later caller sees.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Barrier, heapStats, Notify, Once, OnceCell, OnceLock, Semaphore, spawn } from '../src/index.ts';

const T = { timeout: 60_000 };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reason = () => new Error('cancelled');
const isReason = (r: Error) => (e: unknown) => e === r;

describe('{ signal } on async waits', () => {
  test('an already aborted signal rejects before any fast path, and bad options are TypeErrors', T, async () => {
    const r = reason();
    const signal = AbortSignal.abort(r);
    const once = new Once();
    once.callOnce(() => {});
    await assert.rejects(once.waitAsync({ signal }), isReason(r));
    await assert.rejects(once.callOnceAsync(async () => {}, { signal }), isReason(r));
    const lock = new OnceLock(1);
    await assert.rejects(lock.waitAsync({ signal }), isReason(r));
    const sem = new Semaphore(1);
    await assert.rejects(sem.acquireAsync(1, { signal }), isReason(r));
    assert.equal(sem.availablePermits(), 1);
    const n = new Notify();
    n.notifyOne();
    await assert.rejects(n.notified({ signal }), isReason(r));
    await n.notified(); // the stored permit is still there
    await assert.rejects(new Barrier(1).waitAsync({ signal }), isReason(r));
    await assert.rejects(new OnceCell(1).getOrInit(() => 2, { signal }), isReason(r));
    await assert.rejects(sem.acquireAsync(1, { signal: 5 } as unknown as { signal: AbortSignal }), TypeError);
    await assert.rejects(n.notified(null as unknown as {}), TypeError);
  });

  test('Once: a callOnceAsync waiting for another run can be aborted; the run and other waiters go on', T, async () => {
    const once = new Once();
    const inside = new AtomicI32(0);
    const go = new AtomicI32(0);
    const runner = spawn((o: Once, i: AtomicI32, g: AtomicI32) => o.callOnce(() => {
      i.store(1);
      while (g.load() === 0);
    }), once, inside, go);
    while (inside.load() === 0) await delay(1);
    const ac = new AbortController();
    const r = reason();
    let ran = false;
    const aborted = once.callOnceAsync(async () => void (ran = true), { signal: ac.signal });
    const waitAbort = new AbortController();
    const aborted2 = once.waitAsync({ signal: waitAbort.signal });
    const stays = once.waitAsync();
    await delay(10);
    ac.abort(r);
    waitAbort.abort(r);
    await assert.rejects(aborted, isReason(r));
    await assert.rejects(aborted2, isReason(r));
    go.store(1);
    await runner.joinAsync();
    await stays;
    assert.equal(ran, false);
    assert.equal(once.isCompleted(), true);
  });

  test('OnceLock: getOrInitAsync and waitAsync abort while another thread initialises', T, async () => {
    const cell = new OnceLock<string>();
    const inside = new AtomicI32(0);
    const go = new AtomicI32(0);
    const runner = spawn((c: OnceLock<string>, i: AtomicI32, g: AtomicI32) => c.getOrInit(() => {
      i.store(1);
      while (g.load() === 0);
      return 'theirs';
    }), cell, inside, go);
    while (inside.load() === 0) await delay(1);
    const ac = new AbortController();
    const r = reason();
    const a = cell.getOrInitAsync(async () => 'mine', { signal: ac.signal });
    const b = cell.waitAsync({ signal: ac.signal });
    await delay(5);
    ac.abort(r);
    await assert.rejects(a, isReason(r));
    await assert.rejects(b, isReason(r));
    go.store(1);
    assert.equal(await runner.joinAsync(), 'theirs');
    assert.equal(await cell.waitAsync(), 'theirs');
  });

  test('OnceCell cancel safety: aborting the initialiser empties the cell; a waiter runs its own init', T, async () => {
    const cell = new OnceCell<string>();
    const ac = new AbortController();
    const r = reason();
    let finishSlow!: (v: string) => void;
    const slow = cell.getOrInit(() => new Promise<string>((res) => (finishSlow = res)), { signal: ac.signal });
    const waiter = cell.getOrInit(() => 'waiter');
    await delay(5);
    assert.throws(() => cell.set('x'), /being initialised/);
    ac.abort(r);
    await assert.rejects(slow, isReason(r));
    assert.equal(await waiter, 'waiter');
    finishSlow('too late'); // the abandoned init's result is discarded
    await delay(5);
    assert.equal(cell.get(), 'waiter');
  });

  test('OnceCell: Promise.race with a timeout no longer leaves the cell initialising forever', T, async () => {
    const cell = new OnceCell<number>();
    const never = () => new Promise<number>(() => {});
    // AbortSignal.timeout's timer does not keep the process alive; a plain timer does.
    const timeout = new AbortController();
    setTimeout(() => timeout.abort(new Error('timed out')), 10);
    await assert.rejects(cell.getOrInit(never, { signal: timeout.signal }), /timed out/);
    assert.equal(cell.initialized(), false);
    assert.equal(await cell.getOrInit(() => 7), 7);
    // A waiter aborted behind a live initialiser leaves; the initialiser completes.
    const other = new OnceCell<number>();
    let finish!: (v: number) => void;
    const init = other.getOrInit(() => new Promise<number>((res) => (finish = res)));
    const ac = new AbortController();
    const w = other.getOrTryInit(async () => 0, { signal: ac.signal });
    ac.abort(reason());
    await assert.rejects(w, /cancelled/);
    finish(3);
    assert.equal(await init, 3);
  });

  test('OnceCell: an init aborted in another thread lets this thread\'s waiter run its own', T, async () => {
    const cell = new OnceCell<string>();
    const started = new AtomicI32(0);
    const h = spawn(async (c: OnceCell<string>, s: AtomicI32) => {
      const ac = new AbortController();
      const p = c.getOrInit(() => {
        s.store(1);
        return new Promise<string>(() => {});
      }, { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 20));
      ac.abort(new Error('gave up'));
      return p.then(() => 'resolved', (e: Error) => e.message);
    }, cell, started);
    while (started.load() === 0) await delay(1);
    const mine = cell.getOrInit(() => 'main');
    assert.equal(await h.joinAsync(), 'gave up');
    assert.equal(await mine, 'main');
  });

  test('Semaphore: an aborted queued acquirer gives its turn on; permits are conserved', T, async () => {
    const sem = new Semaphore(1);
    const held = sem.tryAcquire()!;
    const ac = new AbortController();
    const first = sem.acquireAsync(1, { signal: ac.signal }); // first in line
    const second = sem.acquireAsync(1);
    await delay(5);
    ac.abort(reason());
    await assert.rejects(first, /cancelled/);
    held.release();
    const p = await second; // the line moved past the aborted ticket
    assert.equal(sem.availablePermits(), 0);
    p.release();
    assert.equal(sem.availablePermits(), 1);
    // A lone waiter cancelling in a loop (acquire with a timeout) leaves the line clear.
    const empty = new Semaphore(0);
    for (let k = 0; k < 200; k++) {
      const c = new AbortController();
      const w = empty.acquireAsync(1, { signal: c.signal });
      c.abort(reason());
      await assert.rejects(w, /cancelled/);
    }
    empty.addPermits(1);
    const got = empty.tryAcquire(); // no queue is left: the fast path works
    assert.ok(got);
    got.release();
  });

  test('Semaphore stress: aborts racing releases across threads never lose or mint permits', T, async () => {
    const permits = 2;
    const sem = new Semaphore(permits);
    const worker = spawn(async (s: Semaphore, rounds: number) => {
      for (let k = 0; k < rounds; k++) {
        const p = k % 3 === 0 ? s.acquire() : await s.acquireAsync();
        if (k % 2 === 0) await new Promise((r) => setTimeout(r, 0));
        p.release();
      }
    }, sem, 300);
    let acquired = 0;
    let aborted = 0;
    for (let k = 0; k < 300; k++) {
      const ac = new AbortController();
      const w = sem.acquireAsync(1 + (k % permits), { signal: ac.signal });
      const when = k % 4;
      if (when === 0) ac.abort(reason());
      else if (when === 1) queueMicrotask(() => ac.abort(reason()));
      else setTimeout(() => ac.abort(reason()), when === 2 ? 0 : 1);
      try {
        const p = await w;
        acquired++;
        p.release();
      } catch (e) {
        assert.match((e as Error).message, /cancelled/);
        aborted++;
      }
    }
    await worker.joinAsync();
    assert.equal(acquired + aborted, 300);
    assert.equal(sem.availablePermits(), permits);
    assert.ok(sem.tryAcquire(permits)); // nobody is left in line
  });

  test('Barrier: an aborted arrival is withdrawn; the generation still needs n live callers', T, async () => {
    const b = new Barrier(2);
    const ac = new AbortController();
    const gone = b.waitAsync({ signal: ac.signal });
    ac.abort(reason());
    await assert.rejects(gone, /cancelled/);
    let passed = false;
    const one = b.waitAsync().then((r) => {
      passed = true;
      return r;
    });
    await delay(10);
    assert.equal(passed, false); // the withdrawn arrival does not count
    const two = await b.waitAsync();
    const leaders = [await one, two].filter((r) => r.isLeader).length;
    assert.equal(leaders, 1);
  });

  test('Barrier: an abort after the generation completed resolves normally', T, async () => {
    const b = new Barrier(2);
    const ac = new AbortController();
    const first = b.waitAsync({ signal: ac.signal });
    const second = b.waitAsync(); // completes the generation: first is released
    ac.abort(reason()); // too late: the release came first
    assert.deepEqual([(await first).isLeader, (await second).isLeader], [false, true]);
  });

  test('Barrier stress: threads meet while an event-loop caller arrives and aborts at random', T, async () => {
    const b = new Barrier(2);
    const rounds = 150;
    const peer = spawn((x: Barrier, n: number) => {
      for (let k = 0; k < n; k++) x.wait();
    }, b, rounds);
    let met = 0;
    for (let k = 0; met < rounds; k++) {
      const ac = new AbortController();
      const w = b.waitAsync({ signal: ac.signal });
      if (k % 3 === 0) ac.abort(reason());
      else if (k % 3 === 1) setTimeout(() => ac.abort(reason()), 0);
      try {
        await w;
        met++;
      } catch {
        // withdrawn: the peer is still waiting for a partner
      }
    }
    await peer.joinAsync();
    // Every generation had exactly two live arrivals: the barrier is empty again.
    const probe = new AbortController();
    const p = b.waitAsync({ signal: probe.signal });
    await delay(5);
    probe.abort(reason());
    await assert.rejects(p, /cancelled/);
  });

  test('Notify: an aborted waiter gives its place up; a notifyOne that chose it passes on', T, async () => {
    const n = new Notify();
    const ac = new AbortController();
    const first = n.notified({ signal: ac.signal });
    let secondDone = false;
    const second = n.notified().then(() => void (secondDone = true));
    ac.abort(reason());
    await assert.rejects(first, /cancelled/);
    n.notifyOne(); // skips the aborted ticket
    await second;
    assert.equal(secondDone, true);

    // Chosen by notifyOne, then aborted before it could return: the next waiter gets it.
    const m = new Notify();
    const ac2 = new AbortController();
    const chosen = m.notified({ signal: ac2.signal });
    const next = m.notified();
    m.notifyOne();
    ac2.abort(reason()); // same tick: the abort wins the race in chosen's promise
    await chosen.then(() => undefined, () => undefined);
    m.notifyOne();
    await next; // woken by one of the two notifications
    // Exactly one notification is left over, as a stored permit or not at all: never two.
    const extra = await Promise.race([m.notified().then(() => 1), delay(20).then(() => 0)]);
    const third = await Promise.race([m.notified().then(() => 1), delay(20).then(() => 0)]);
    assert.ok(extra + third <= 1);
    m.notifyWaiters(); // settles the probes still waiting (a pending wait keeps the process alive)
  });

  test('Notify: a lone waiter cancelling in a loop leaves no dead tickets behind', T, async () => {
    const n = new Notify();
    const before = heapStats().live;
    for (let k = 0; k < 500; k++) {
      const ac = new AbortController();
      const w = n.notified({ signal: ac.signal });
      ac.abort(reason());
      await assert.rejects(w, /cancelled/);
    }
    // No node was left on the dead list (500 would be 12 KB).
    assert.ok(heapStats().live - before < 2048, `live heap grew by ${heapStats().live - before} bytes`);
    let woken = false;
    const w = n.notified().then(() => void (woken = true));
    n.notifyOne(); // goes straight to the live waiter
    await w;
    assert.equal(woken, true);
    // No permit was stored by skipping: the next waiter sleeps.
    const probe = await Promise.race([n.notified().then(() => 'woken'), delay(20).then(() => 'sleeping')]);
    assert.equal(probe, 'sleeping');
    n.notifyWaiters(); // settles the probe (a pending wait keeps the process alive)
  });

  test('Notify stress: notifications are conserved while waiters abort at random (many behind a live one)', T, async () => {
    const n = new Notify();
    const woken = new AtomicI32(0);
    const notifier = spawn(async (x: Notify, w: AtomicI32, total: number) => {
      for (let k = 0; k < total; k++) {
        x.notifyOne();
        while (w.load() <= k) await new Promise((r) => setTimeout(r, 0));
      }
    }, n, woken, 100);
    // One live waiter at a time consumes each notification; cancelled waiters come and go around it.
    let cancelled = 0;
    const live = (async () => {
      for (let k = 0; k < 100; k++) {
        await n.notified();
        woken.fetchAdd(1);
      }
    })();
    for (let k = 0; k < 400; k++) {
      const ac = new AbortController();
      const w = n.notified({ signal: ac.signal });
      if (k % 2 === 0) ac.abort(reason());
      else setTimeout(() => ac.abort(reason()), k % 5);
      await w.then(
        () => {
          // This waiter took a notification meant for someone: hand it to the live waiter.
          n.notifyOne();
        },
        () => void cancelled++,
      );
    }
    await live;
    await notifier.joinAsync();
    assert.equal(woken.load(), 100);
    assert.ok(cancelled > 0);
  });
});
