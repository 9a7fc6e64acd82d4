// AtomicWaker, after tokio's tests (tokio/src/sync/tests/atomic_waker.rs and its loom
// model) with threads for tasks: register-then-check-then-wait against set-then-wake,
// by brute force across threads, plus the cross-thread parts tokio has no need for
// (handles passed to threads, killed threads, async waits on the main thread).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { AtomicI32, AtomicWaker, Barrier, channel, current, sleep, spawn, type JoinHandle, type Receiver } from '../src/index.ts';

const SOAK = process.env.WEFT_SOAK !== undefined && process.env.WEFT_SOAK !== '';
const T = { timeout: 60_000 };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `flag` holds `value` (the flag is set by another thread; the sleep only spaces the polls). */
function until(flag: AtomicI32, value = 1): void {
  while (flag.load() < value) sleep(1);
}

/**
 * Joins `h`, failing with `what` if it has not finished within `ms` (then kills it):
 * a lost wake-up or a stuck state shows as a thread that never ends.
 */
async function joinWithin<R>(h: JoinHandle<R>, ms: number, what: () => string): Promise<R> {
  const joined = h.joinAsync();
  joined.catch(() => {}); // settled by the kill below if we give up on it
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()} (no end within ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([joined, late]);
  } finally {
    clearTimeout(timer);
    if (!h.isFinished()) await h.terminate();
  }
}

describe('AtomicWaker in one thread', () => {
  test('basic_usage: register, then wake: the next wait returns at once and consumes the wake-up', T, () => {
    const w = new AtomicWaker();
    w.register();
    w.wake();
    assert.equal(w.wait(0), true);
    assert.equal(w.wait(10), false); // consumed: nothing left
    w.close();
  });

  test('wake before register is kept (once) for the next register-then-wait', T, () => {
    const w = new AtomicWaker();
    w.wake();
    w.wake(); // wake-ups coalesce: one is stored, not two
    w.register();
    assert.equal(w.wait(0), true);
    w.register();
    assert.equal(w.wait(10), false);
    // And once a registration was woken, a further wake with nobody registered is stored again.
    w.register();
    w.wake();
    w.wake();
    assert.equal(w.wait(0), true);
    w.register();
    assert.equal(w.wait(0), true);
    w.close();
  });

  test('a wake-up no wait consumed is carried over by a second register()', T, () => {
    // tokio: a task woken and then registered again is still woken. Here: register,
    // wake (which takes the registration), register again, and the wait still returns.
    const w = new AtomicWaker();
    w.register();
    w.wake();
    w.register();
    assert.equal(w.wait(0), true);
    assert.equal(w.wait(5), false);
  });

  test('wait(ms) times out with false and keeps the registration for a later wake', T, () => {
    const w = new AtomicWaker();
    w.register();
    const t0 = performance.now();
    assert.equal(w.wait(30), false);
    assert.ok(performance.now() - t0 >= 25, `wait(30) returned after ${performance.now() - t0} ms`);
    assert.equal(w.wait(0), false);
    spawn((x: AtomicWaker) => x.wake(), w).join();
    assert.equal(w.wait(10_000), true);
  });

  test('take() returns the registered thread and removes it; a wake then is stored instead', T, () => {
    const w = new AtomicWaker();
    assert.equal(w.take(), undefined);
    w.register();
    const t = w.take();
    assert.equal(t?.id, current().id);
    assert.equal(w.take(), undefined);
    w.wake(); // nobody registered: stored, not delivered to the taken registration
    assert.equal(w.wait(10), false);
    w.register(); // the stored wake-up is the next registrant's
    assert.equal(w.wait(0), true);
  });

  test('bad input is a clear error and leaves the waker usable', T, async () => {
    const w = new AtomicWaker();
    assert.throws(() => w.wait(), { name: 'TypeError', message: /AtomicWaker\.wait\(\).*never registered.*register\(\) first/ });
    await assert.rejects(w.waitAsync(), { name: 'TypeError', message: /AtomicWaker\.waitAsync\(\).*never registered/ });
    w.register();
    assert.throws(() => w.wait(-1), { name: 'RangeError', message: /AtomicWaker\.wait\(\).*non-negative.*got -1/ });
    assert.throws(() => w.wait(NaN), { name: 'RangeError', message: /AtomicWaker\.wait\(\).*got NaN/ });
    assert.throws(() => w.wait('5' as unknown as number), { name: 'TypeError', message: /AtomicWaker\.wait\(\).*the string '5'/ });
    await assert.rejects(w.waitAsync(5 as never), { name: 'TypeError', message: /AtomicWaker\.waitAsync\(\).*options must be an object/ });
    await assert.rejects(w.waitAsync({ signal: 'now' as never }), { name: 'TypeError', message: /options\.signal must be an AbortSignal/ });
    assert.throws(() => new (AtomicWaker as unknown as new (x: unknown) => AtomicWaker)(3), {
      name: 'TypeError',
      message: /new AtomicWaker\(\) takes no arguments, got number 3/,
    });
    w.wake();
    assert.equal(w.wait(0), true); // the failed calls changed nothing
    w.close();
    assert.throws(() => w.register(), { name: 'TypeError', message: /AtomicWaker is closed/ });
    assert.throws(() => w.wake(), { name: 'TypeError', message: /AtomicWaker is closed/ });
  });

  test('async waits of one thread on two wakers are woken each by its own waker only', T, async () => {
    const a = new AtomicWaker();
    const b = new AtomicWaker();
    a.register();
    b.register();
    let aDone = false;
    const pa = a.waitAsync().then(() => (aDone = true));
    const pb = b.waitAsync();
    await joinWithin(spawn((x: AtomicWaker) => x.wake(), b), 20_000, () => 'waking b');
    await pb;
    await delay(20);
    assert.equal(aDone, false);
    await joinWithin(spawn((x: AtomicWaker) => x.wake(), a), 20_000, () => 'waking a');
    await pa;
  });
});

describe('AtomicWaker across threads', () => {
  test('waitAsync on the main thread is woken from a worker', T, async () => {
    const w = new AtomicWaker();
    for (let round = 0; round < 5; round++) {
      w.register();
      const waiting = w.waitAsync();
      const h = spawn(async (x: AtomicWaker) => {
        const { sleep } = await import('weft');
        sleep(5); // most likely the main thread is asleep by now
        x.wake();
      }, w);
      await waiting;
      await h.joinAsync();
    }
  });

  test('waitAsync aborted by its signal rejects with the reason and leaves the waker usable', T, async () => {
    const w = new AtomicWaker();
    w.register();
    const ac = new AbortController();
    const aborted = w.waitAsync({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error('gave up')), 20);
    await assert.rejects(aborted, /gave up/);
    // Already aborted: rejects at once, taking nothing.
    await assert.rejects(w.waitAsync({ signal: AbortSignal.abort(new Error('early')) }), /early/);
    // The registration stays: a worker's wake reaches the next wait.
    const waiting = w.waitAsync({ signal: new AbortController().signal });
    await joinWithin(spawn((x: AtomicWaker) => x.wake(), w), 20_000, () => 'waking');
    await waiting;
    // And the waker still serves other threads.
    const ready = new AtomicI32(0);
    const h = spawn((x: AtomicWaker, r: AtomicI32) => {
      x.register();
      r.store(1);
      return x.wait(20_000);
    }, w, ready);
    until(ready);
    w.wake();
    assert.equal(await joinWithin(h, 30_000, () => 'the registered thread was not woken'), true);
  });

  test('take() returns the registered thread, and a later wake does not wake it', T, async () => {
    const w = new AtomicWaker();
    const ready = new AtomicI32(0);
    const h = spawn((x: AtomicWaker, r: AtomicI32) => {
      x.register();
      r.store(1);
      return x.wait(300); // no wake may reach it: it was taken
    }, w, ready);
    until(ready);
    const t = w.take();
    assert.equal(t?.id, h.thread.id);
    w.wake();
    assert.equal(await joinWithin(h, 30_000, () => 'the taken thread'), false);
    w.register(); // the wake found nobody registered: it is the next registrant's
    assert.equal(w.wait(0), true);
  });

  test('the handle passes to spawn and through a channel and works there', T, async () => {
    const w = new AtomicWaker();
    const flag = new AtomicI32(0);
    const [tx, rx] = channel<AtomicWaker>();
    tx.send(w);
    const h = spawn((r: Receiver<AtomicWaker>, f: AtomicI32) => {
      const x = r.recv(); // the same waker, reached through a message
      let sleeps = 0;
      for (;;) {
        x.register();
        if (f.load() === 1) return sleeps;
        x.wait();
        sleeps++;
      }
    }, rx, flag);
    sleep(20);
    flag.store(1);
    w.wake();
    const sleeps = await joinWithin(h, 30_000, () => 'the waiting thread');
    assert.ok(sleeps <= 2, `woken ${sleeps} times`);
    tx.close();
  });

  test('set flag; wake() against register(); check flag; wait(): no wake-up is lost', T, async () => {
    // The producer publishes items one by one (set; wake) in bursts of random length,
    // then waits for the consumer to catch up; the consumer registers, checks, and
    // sleeps when it has nothing. Both sides wait through a waker of their own, so a
    // wake lost at the end of a burst stalls both for good, and one lost inside a burst
    // stalls the consumer until the next item. Bursts of one make it a ping-pong.
    const N = SOAK ? 2_000_000 : 200_000;
    const toConsumer = new AtomicWaker();
    const toProducer = new AtomicWaker();
    const sent = new AtomicI32(0);
    const taken = new AtomicI32(0);
    const consumer = spawn((w: AtomicWaker, back: AtomicWaker, sent: AtomicI32, taken: AtomicI32, n: number) => {
      let waits = 0, spurious = 0;
      for (let seen = 0; seen < n; ) {
        w.register();
        const s = sent.load();
        if (s !== seen) {
          seen = s;
          taken.store(seen);
          back.wake();
          continue;
        }
        w.wait();
        waits++;
        if (sent.load() === seen) spurious++;
      }
      return { waits, spurious };
    }, toConsumer, toProducer, sent, taken, N);
    const producer = spawn((w: AtomicWaker, back: AtomicWaker, sent: AtomicI32, taken: AtomicI32, n: number) => {
      let waits = 0, bursts = 0;
      let x = 0x9e3779b9 | 0;
      for (let i = 1, left = 0; i <= n; i++) {
        sent.store(i);
        w.wake();
        if (--left > 0 && i < n) continue;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        left = (x & 3) === 0 ? 1 : 1 + ((x >>> 2) & 63);
        bursts++;
        for (;;) {
          back.register();
          if (taken.load() === i) break;
          back.wait();
          waits++;
        }
      }
      return { waits, bursts };
    }, toConsumer, toProducer, sent, taken, N);
    const progress = () => `lost wake-up: the consumer took ${taken.load()} of ${N}, the producer sent ${sent.load()}`;
    const budget = SOAK ? 600_000 : 50_000;
    const [c, p] = await Promise.all([joinWithin(consumer, budget, progress), joinWithin(producer, budget, progress)]);
    assert.equal(taken.load(), N); // the last wake of every burst was seen: none lost
    // The race was run: both sides slept and were woken many times.
    assert.ok(c.waits > 100 && p.waits > 100, `consumer slept ${c.waits} times, producer ${p.waits} (${p.bursts} bursts)`);
    assert.ok(c.spurious <= c.waits);
  });

  test('concurrent register() from several threads is serialised: one wake wakes the last in only', T, async () => {
    const K = 4;
    const w = new AtomicWaker();
    // First hammer it: K threads register in a loop while a thread wakes and the main
    // thread takes; every registration taken belongs to one of them, and nothing sticks.
    const R = SOAK ? 200_000 : 20_000;
    const stop = new AtomicI32(0);
    const gate = new Barrier(K + 1);
    const hammers = Array.from({ length: K }, () =>
      spawn((x: AtomicWaker, g: Barrier, r: number) => {
        g.wait();
        for (let k = 0; k < r; k++) x.register();
      }, w, gate, R));
    const waker = spawn((x: AtomicWaker, s: AtomicI32, g: Barrier) => {
      g.wait();
      let wakes = 0;
      while (s.load() === 0) {
        x.wake();
        wakes++;
      }
      return wakes;
    }, w, stop, gate);
    const ids = new Set(hammers.map((h) => h.thread.id));
    const done = Promise.all(hammers.map((h) => joinWithin(h, 40_000, () => 'a register() loop is stuck')));
    let finished = false;
    void done.then(() => (finished = true), () => (finished = true));
    while (!finished) {
      const t = w.take();
      if (t !== undefined) {
        assert.ok(ids.has(t.id), `take() returned thread ${t.id}, not one that registered`);
        t.close();
      }
      await delay(0);
    }
    await done;
    stop.store(1);
    await joinWithin(waker, 20_000, () => 'the wake() loop is stuck');
    // A wake that found nobody registered may be stored: claim it, and leave nobody registered.
    w.register();
    w.wait(0);
    assert.equal(w.take()?.id, current().id);

    // Then one round: K threads register at once and sleep. take() names one of them
    // (the last in); the wake that follows finds nobody registered, so nobody wakes.
    const registered = new AtomicI32(0);
    const start = new Barrier(K);
    const sleepers = Array.from({ length: K }, () =>
      spawn((x: AtomicWaker, b: Barrier, reg: AtomicI32) => {
        b.wait();
        x.register();
        reg.fetchAdd(1);
        return x.wait(300);
      }, w, start, registered));
    until(registered, K);
    const last = w.take();
    assert.ok(last !== undefined && sleepers.some((h) => h.thread.id === last.id), `take() returned ${last?.id}`);
    w.wake();
    const outcomes = await Promise.all(sleepers.map((h) => joinWithin(h, 30_000, () => 'a sleeper')));
    assert.deepEqual(outcomes, Array(K).fill(false));
    w.register(); // the stored wake-up
    assert.equal(w.wait(0), true);
  });

  test('one wake wakes only the thread that registered last', T, async () => {
    const K = 4;
    const w = new AtomicWaker();
    const registered = new AtomicI32(0);
    const start = new Barrier(K);
    const sleepers = Array.from({ length: K }, () =>
      spawn((x: AtomicWaker, b: Barrier, reg: AtomicI32) => {
        b.wait();
        x.register();
        reg.fetchAdd(1);
        return x.wait(400);
      }, w, start, registered));
    until(registered, K);
    w.wake();
    const outcomes = await Promise.all(sleepers.map((h) => joinWithin(h, 30_000, () => 'a sleeper')));
    assert.equal(outcomes.filter((o) => o).length, 1, `woken: ${outcomes}`);
    assert.equal(w.take(), undefined); // the wake took the registration
  });

  test('a thread killed while registered and waiting leaves the waker usable by another thread', T, async () => {
    const w = new AtomicWaker();
    for (let round = 0; round < 3; round++) {
      const ready = new AtomicI32(0);
      const victim = spawn((x: AtomicWaker, r: AtomicI32) => {
        x.register();
        r.store(1);
        x.wait();
      }, w, ready);
      until(ready);
      if (round > 0) sleep(5); // asleep in wait() (round 0: maybe still on its way there)
      await victim.terminate();
      if (round === 2) w.wake(); // the dead thread's registration: it wakes nobody
      const ok = new AtomicI32(0);
      const next = spawn((x: AtomicWaker, r: AtomicI32) => {
        x.register();
        r.store(1);
        return x.wait(20_000);
      }, w, ok);
      until(ok);
      w.wake();
      assert.equal(await joinWithin(next, 30_000, () => `round ${round}: the next thread was not woken`), true);
    }
  });

  test('threads killed at random inside register() and wake() loops never leave the waker stuck', T, async () => {
    const w = new AtomicWaker();
    const rounds = SOAK ? 40 : 6;
    for (let round = 0; round < rounds; round++) {
      const running = new AtomicI32(0);
      const registrar = spawn((x: AtomicWaker, r: AtomicI32) => {
        r.fetchAdd(1);
        for (;;) x.register();
      }, w, running);
      const waker = spawn((x: AtomicWaker, r: AtomicI32) => {
        r.fetchAdd(1);
        for (;;) x.wake();
      }, w, running);
      until(running, 2);
      sleep(Math.random() * 3);
      await Promise.all([registrar.terminate(), waker.terminate()]);
      // A thread of its own registers, takes, registers and wakes itself: each step
      // passes through the windows the killed threads were in.
      const probe = spawn((x: AtomicWaker) => {
        x.register();
        const self = x.take()?.id;
        x.register();
        x.wake();
        return { self, woke: x.wait(0), again: x.wait(0) };
      }, w);
      const got = await joinWithin(probe, 30_000, () => `round ${round}: the waker is stuck`);
      assert.deepEqual(got, { self: probe.thread.id, woke: true, again: false });
    }
  });
});

describe('AtomicWaker in a user-made primitive', () => {
  test('examples/ring_buffer.ts moves a million numbers through an SPSC ring and checks their sum', T, () => {
    const example = fileURLToPath(new URL('../examples/ring_buffer.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions=weft-source', '--import', 'tsx', example], {
      encoding: 'utf8',
      timeout: 50_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ring buffer: 1000000 numbers through 1024 slots in \d+ ms .*sum 249999750000 is right\n$/);
  });
});
