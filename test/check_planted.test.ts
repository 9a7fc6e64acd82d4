// weft/check proves itself on planted bugs: three small protocols built from weft's
// public atomics (whose operations go through the futex seam), each with the classic
// mistake loom-style checkers exist to catch. The checker must find each one within
// its default budget, the printed seed must replay the same failure, and the correct
// version of each protocol must pass. A checker that finds nothing proves nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { model } from '../src/check/index.ts';
import { AtomicI32, spawn } from '../src/index.ts';

const T = { timeout: 120_000 };
const SOAK = process.env.WEFT_SOAK !== undefined && process.env.WEFT_SOAK !== '';
/** Schedules a correct protocol must pass. */
const PASSES = SOAK ? 2000 : 200;

/** Runs `buggy` under the default budget, expects a failure matching `kind`, and replays it from the printed seed. */
async function findAndReplay(name: string, buggy: () => void | Promise<void>, kind: RegExp): Promise<void> {
  const started = Date.now();
  let first: Error | undefined;
  try {
    const r = await model(buggy);
    assert.fail(`${name}: the checker ran ${r.schedules} schedules and found nothing`);
  } catch (e) {
    first = e as Error;
  }
  assert.match(first.message, kind);
  const m = /seed (\d+)/.exec(first.message);
  assert.ok(m, `the report names its seed: ${first.message}`);
  const seed = Number(m[1]);
  assert.match(first.message, new RegExp(`model\\(body, \\{ seed: ${seed} \\}\\)`));
  const schedule = /under schedule (\d+) of/.exec(first.message)?.[1];
  console.log(`# ${name}: found under schedule ${schedule} in ${Date.now() - started} ms, seed ${seed}`);
  // The seed replays exactly that schedule: the same failure, every time.
  for (let i = 0; i < 3; i++) {
    await assert.rejects(model(buggy, { seed }), (e: Error) => {
      assert.match(e.message, kind);
      assert.match(e.message, /replaying/);
      // The same failure (thread ids and heap offsets differ from run to run).
      const what = (m: string) => m.split(':').slice(0, 2).join(':');
      assert.equal(what(e.message), what(first.message));
      return true;
    });
  }
}

async function passes(name: string, body: () => void | Promise<void>): Promise<void> {
  const started = Date.now();
  const r = await model(body, { schedules: PASSES });
  assert.equal(r.schedules, PASSES);
  console.log(`# ${name}: ${r.schedules} schedules passed (${r.steps} steps, ${r.switches} switches) in ${Date.now() - started} ms`);
}

// --- A spin lock ---------------------------------------------------------------------

/** Two threads add one to `n` under `lock`; the lock is taken by `take`. */
function counterBody(worker: (lock: AtomicI32, n: AtomicI32) => Promise<void>): () => void {
  return () => {
    const lock = new AtomicI32(0);
    const n = new AtomicI32(0);
    const threads = [spawn(worker, lock, n), spawn(worker, lock, n)];
    for (const t of threads) t.join();
    assert.equal(n.load(), 2, 'an update was lost');
  };
}

describe('planted: a lock built from load-then-store', () => {
  test('two threads incrementing under it lose an update; the seed replays it', T, async () => {
    const buggy = counterBody(async (lock, n) => {
      const { yieldNow } = await import('weft');
      // The bug: another thread can pass the same check before this store.
      while (lock.load() !== 0) yieldNow();
      lock.store(1);
      n.store(n.load() + 1);
      lock.store(0);
    });
    await findAndReplay('load-then-store lock', buggy, /the body threw: AssertionError.*an update was lost/s);
  });

  test('the compare-exchange lock passes', T, async () => {
    await passes(
      'compare-exchange lock',
      counterBody(async (lock, n) => {
        const { yieldNow } = await import('weft');
        while (!lock.compareExchange(0, 1).ok) yieldNow();
        n.store(n.load() + 1);
        lock.store(0);
      }),
    );
  });
});

// --- A condition variable ------------------------------------------------------------

/**
 * A waiter sleeps (park) until `ready`; the notifier sets `ready` and unparks the
 * waiter if it registered. `wait` is the waiter's side.
 */
function wakeBody(wait: (ready: AtomicI32, registered: AtomicI32) => Promise<void>): () => void {
  return () => {
    const ready = new AtomicI32(0);
    const registered = new AtomicI32(0);
    const waiter = spawn(wait, ready, registered);
    ready.store(1);
    if (registered.load() === 1) waiter.thread.unpark();
    waiter.join();
  };
}

describe('planted: a condition variable that checks before registering', () => {
  test('the wake-up between the check and the registration is lost: the waiter sleeps forever', T, async () => {
    const buggy = wakeBody(async (ready, registered) => {
      const { park } = await import('weft');
      // The bug: a notify between this check and the registration finds nobody to wake.
      while (ready.load() === 0) {
        registered.store(1);
        park();
      }
    });
    await findAndReplay('check-then-register condvar', buggy, /deadlock: every thread is blocked/);
  });

  test('registering before the check passes (park keeps an early unpark as a token)', T, async () => {
    await passes(
      'register-then-check condvar',
      wakeBody(async (ready, registered) => {
        const { park } = await import('weft');
        registered.store(1);
        while (ready.load() === 0) park();
      }),
    );
  });
});

// --- A one-slot channel --------------------------------------------------------------

const EMPTY = 0, FULL = 1, CLOSED = 2;

/**
 * A one-slot channel: a sender thread sends 42 while the receiver (the body) closes
 * the channel and drains it. Every send that reports success must be received.
 */
function handoffBody(send: (state: AtomicI32, slot: AtomicI32, v: number) => boolean): () => void {
  return () => {
    const state = new AtomicI32(EMPTY);
    const slot = new AtomicI32(0);
    const sender = spawn(send, state, slot, 42);
    // close(), then take what was sent before it.
    const before = state.swap(CLOSED);
    const received = before === FULL ? slot.load() : undefined;
    const sent = sender.join();
    if (sent) assert.equal(received, 42, 'send() succeeded but the message was dropped');
  };
}

describe('planted: a channel that drops a message when close races send', () => {
  test('a send that checks for close and then publishes loses its message to a close in between', T, async () => {
    const buggy = handoffBody((state, slot, v) => {
      // The bug: close may land between this check and the publication below.
      if (state.load() === 2 /* CLOSED */) return false;
      slot.store(v);
      state.store(1 /* FULL */);
      return true;
    });
    await findAndReplay('check-then-publish channel', buggy, /the body threw: AssertionError.*the message was dropped/s);
  });

  test('publishing with one compare-exchange against close passes', T, async () => {
    await passes(
      'compare-exchange channel',
      handoffBody((state, slot, v) => {
        slot.store(v);
        return state.compareExchange(0 /* EMPTY */, 1 /* FULL */).ok;
      }),
    );
  });
});
