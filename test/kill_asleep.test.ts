// Waiters killed while they wait: a thread blocked in RwLock.write() or Condvar.wait()
// and killed (JoinHandle.terminate()) must leave no waiting count behind, and must
// not take with it a wake meant for a live waiter. Each check that could hang is
// bounded: live waiters wait with a timeout and report whether they were woken.
//
// Rounds per random test: WEFT_KILL_ROUNDS, else a number that keeps the file under a
// minute on a loaded machine (every kill costs a fresh worker).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AtomicI32, channel, Condvar, Mutex, RwLock, spawn, type JoinHandle, type MutexGuard, type Receiver, type Sender,
} from '../src/index.ts';

const ROUNDS = Number(process.env.WEFT_KILL_ROUNDS ?? 6);
const T = { timeout: 60_000 };

const SEED = Number(process.env.WEFT_SEED ?? Date.now() % 100_000);
let seed = SEED;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const tick = () => new Promise<void>((r) => setImmediate(r));
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const show = (h: object): string => String(h);

/** Polls until `done()`; fails after `ms` (with `state()`, if given) instead of hanging. */
async function until(done: () => boolean, what: string, ms = 10_000, state?: () => string): Promise<void> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) assert.fail(`timed out waiting until ${what} (WEFT_SEED=${SEED})${state ? `: ${state()}` : ''}`);
    await delay(1); // not setImmediate: a busy main thread would slow the threads it waits for
  }
}

/** Resolves with `p`, or fails the test after `ms` (what hung is named) instead of hanging. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms (WEFT_SEED=${SEED})`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Locks `m` even if a killed thread poisoned it. */
function lockAnyway<T>(m: Mutex<T>): MutexGuard<T> {
  try {
    return m.lock();
  } catch (e) {
    if (!(e instanceof Error && e.name === 'PoisonError')) throw e;
    return (e as unknown as { intoInner(): MutexGuard<T> }).intoInner();
  }
}

async function kill(h: JoinHandle<unknown>): Promise<void> {
  await h.terminate();
  h.close();
}

/**
 * A thread that waits on `cv` for the rounds sent to it: for round r it locks `m`, says
 * it waits (ready = r), and waits until the value is r, at most 10 s (spurious wakes and
 * a poisoned mutex tolerated); result is then r if it was woken, -r if it waited until
 * its deadline (even if the value had changed by then: the wake did not reach it).
 * One thread for every round: each kill already costs a fresh worker.
 */
class LiveWaiter {
  readonly ready = new AtomicI32();
  readonly result = new AtomicI32();
  readonly #tx: Sender<number>;
  readonly #h: JoinHandle<void>;

  constructor(m: Mutex<number>, cv: Condvar) {
    const [tx, rx] = channel<number>();
    this.#tx = tx;
    this.#h = spawn((m: Mutex<number>, cv: Condvar, rx: Receiver<number>, ready: AtomicI32, result: AtomicI32) => {
      const isPoison = (e: unknown) => e instanceof Error && e.name === 'PoisonError';
      for (const r of rx) {
        const end = Date.now() + 10_000;
        let g: MutexGuard<number>;
        try {
          g = m.lock();
        } catch (e) {
          if (!isPoison(e)) throw e;
          g = (e as { intoInner(): MutexGuard<number> }).intoInner();
        }
        ready.store(r);
        let timedOut = false;
        while (g.value !== r && !timedOut) {
          try {
            timedOut = cv.waitTimeout(g, Math.max(0, end - Date.now())).timedOut;
          } catch (e) {
            if (!isPoison(e)) throw e; // the guard holds the lock again
          }
        }
        // At its deadline a wait reports no timeout if the sequence moved meanwhile (a
        // notify came but its wake did not reach this thread): that is a timeout here.
        result.store(timedOut || Date.now() >= end ? -r : r);
        g.unlock();
      }
    }, m, cv, rx, this.ready, this.result);
  }

  /** Starts round r; resolves once the thread holds the mutex on its way into wait(). */
  async start(r: number): Promise<void> {
    this.#tx.send(r);
    await until(() => this.ready.load() === r, `the live waiter waits in round ${r}`);
  }

  /** How round r ended for it. */
  async outcome(r: number): Promise<'woken' | 'timed out'> {
    await until(() => Math.abs(this.result.load()) === r, `the live waiter ends round ${r}`, 20_000);
    return this.result.load() === r ? 'woken' : 'timed out';
  }

  async close(): Promise<void> {
    this.#tx.close();
    await this.#h.joinAsync();
    this.#h.close();
    this.ready.close();
    this.result.close();
  }
}

/** A waiter that never returns: it waits on `cv` forever, counting itself in `ready` first. */
function spawnVictimWaiter(m: Mutex<number>, cv: Condvar, ready: AtomicI32): JoinHandle<unknown> {
  return spawn((m: Mutex<number>, cv: Condvar, ready: AtomicI32) => {
    const g = m.lock();
    ready.fetchAdd(1);
    cv.waitWhile(g, () => true);
  }, m, cv, ready);
}

describe('Condvar: a waiter killed inside wait()', T, () => {
  // The victim waits first, the live waiter second. The main thread holds the mutex from
  // before the kill until both the kill and the notifyOne are done, so the victim cannot
  // have returned from wait() (it would need the mutex): whichever of the two the
  // notifyOne picks, the live waiter must end up woken.
  for (const order of ['kill, then notifyOne', 'notifyOne, then kill', 'kill racing notifyOne'] as const) {
    test(`two waiters, one killed: ${order}; one notifyOne wakes the live one`, async () => {
      const m = new Mutex(0);
      const cv = new Condvar();
      const live = new LiveWaiter(m, cv);
      const rounds = order === 'kill racing notifyOne' ? ROUNDS : 2;
      for (let r = 1; r <= rounds; r++) {
        const waiting = new AtomicI32();
        const victim = spawnVictimWaiter(m, cv, waiting);
        await until(() => waiting.load() === 1, 'the victim waits');
        await live.start(r);
        // Time to fall asleep, so that the notifyOne's futex wake goes to the victim, the
        // first asleep (what makes a lost wake show); what is asserted holds either way.
        await delay(20);
        const g = m.lock(); // both are inside wait(): each released the mutex there
        assert.equal(show(cv), 'Condvar<2 waiters>');
        g.value = r;
        if (order === 'kill, then notifyOne') {
          await kill(victim);
          cv.notifyOne();
        } else if (order === 'notifyOne, then kill') {
          cv.notifyOne(); // the futex wakes in order: most likely the victim, now waiting for the mutex
          await kill(victim);
        } else {
          const killed = kill(victim);
          for (let k = Math.floor(rand() * 4); k > 0; k--) await tick();
          if (rand() < 0.5) await delay(rand() * 2);
          cv.notifyOne();
          await killed;
        }
        g.unlock();
        assert.equal(await live.outcome(r), 'woken', `round ${r} (WEFT_SEED=${SEED})`);
        assert.equal(show(cv), 'Condvar', 'no waiter is left counted');
        waiting.close();
      }
      await live.close();
      m.close();
      cv.close();
    });
  }

  test('a waiter killed at a random point of its wait loop leaves no count; the next waiter is woken', async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const live = new LiveWaiter(m, cv);
    for (let r = 1; r <= ROUNDS; r++) {
      const n = new AtomicI32();
      const victim = spawn((m: Mutex<number>, cv: Condvar, n: AtomicI32, ms: number) => {
        for (;;) {
          let g: MutexGuard<number>;
          try {
            g = m.lock();
          } catch (e) {
            g = (e as { intoInner(): MutexGuard<number> }).intoInner();
          }
          n.fetchAdd(1);
          try {
            cv.waitTimeout(g, ms); // killed before, in or after its sleep, or relocking
          } catch (e) {
            if (!(e instanceof Error && e.name === 'PoisonError')) throw e; // the guard holds the lock again
          }
          g.unlock();
        }
      }, m, cv, n, rand() < 0.5 ? 0.01 : 1);
      await until(() => n.load() >= 1 + Math.floor(rand() * 20), 'the victim loops');
      if (rand() < 0.5) await delay(rand() * 3);
      await kill(victim);
      assert.equal(show(cv), 'Condvar', `round ${r}: the killed waiter is counted out (WEFT_SEED=${SEED})`);
      await live.start(r);
      const g = lockAnyway(m); // the victim may have died holding it
      m.clearPoison();
      g.value = r;
      g.unlock();
      cv.notifyOne();
      assert.equal(await live.outcome(r), 'woken', `round ${r} (WEFT_SEED=${SEED})`);
      assert.equal(show(cv), 'Condvar');
      n.close();
    }
    await live.close();
    m.close();
    cv.close();
  });

  test('an async waiter killed while it waits is counted out too', async () => {
    const m = new Mutex(0);
    const cv = new Condvar();
    const waiting = new AtomicI32();
    const victim = spawn(async (m: Mutex<number>, cv: Condvar, waiting: AtomicI32) => {
      const g = await m.lockAsync();
      waiting.fetchAdd(1);
      await cv.waitWhileAsync(g, () => true);
    }, m, cv, waiting);
    await until(() => waiting.load() === 1, 'the async victim waits');
    m.lock().unlock(); // it released the mutex inside waitWhileAsync()
    assert.equal(show(cv), 'Condvar<1 waiter>');
    await kill(victim);
    assert.equal(show(cv), 'Condvar');
    m.close();
    cv.close();
    waiting.close();
  });
});

describe('RwLock: a writer killed while it waits', T, () => {
  for (const call of ['write()', 'writeAsync()'] as const) {
    test(`a writer blocked in ${call} behind a read guard is killed: no writer is left waiting`, async () => {
      const l = new RwLock(0);
      const r = l.read();
      const writer = call === 'write()'
        ? spawn((l: RwLock<number>) => {
          const g = l.write();
          g.value = 1;
          g.unlock();
        }, l)
        : spawn(async (l: RwLock<number>) => {
          const g = await l.writeAsync();
          g.value = 1;
          g.unlock();
        }, l);
      await until(() => show(l) === 'RwLock<read-locked, poisoned=false, 1 writer waiting>', 'the writer waits');
      assert.equal(l.tryRead(), undefined, 'a new reader queues behind the waiting writer');
      await delay(rand() * 5); // most likely asleep by now; anywhere in its wait is fine
      await kill(writer);
      // Nobody waits for the lock any more: a new reader gets in beside the held guard.
      assert.equal(show(l), 'RwLock<readable, poisoned=false> { value: 0 }');
      const r2 = l.tryRead();
      assert.ok(r2, 'a new reader is not kept out by the dead writer');
      r2.unlock();
      r.unlock();
      // Readers and writers work as before, from other threads too.
      const h = spawn((l: RwLock<number>) => {
        const g = l.write();
        g.value = 2;
        g.unlock();
        return l.read().value;
      }, l);
      assert.equal(await within(h.joinAsync(), 10_000, 'a writer after the kill'), 2);
      h.close();
      const w = l.tryWrite();
      assert.ok(w);
      w.unlock();
      assert.equal(show(l), 'RwLock<readable, poisoned=false> { value: 2 }');
      l.close();
    });
  }

  test('two writers wait behind a read guard, one is killed: the other still waits, then gets the lock', async () => {
    const l = new RwLock('start');
    const r = l.read();
    const writer = (l: RwLock<string>, name: string) => {
      const g = l.write();
      g.value = name;
      g.unlock();
    };
    // Started together: either may be the first asleep.
    const [victim, live] = rand() < 0.5
      ? [spawn(writer, l, 'victim'), spawn(writer, l, 'live')]
      : [spawn(writer, l, 'live'), spawn(writer, l, 'victim')].reverse();
    await until(() => show(l) === 'RwLock<read-locked, poisoned=false, 2 writers waiting>', 'both writers wait');
    await delay(rand() * 5);
    await kill(victim);
    assert.equal(show(l), 'RwLock<read-locked, poisoned=false, 1 writer waiting>');
    assert.equal(l.tryRead(), undefined, 'readers still queue behind the live writer');
    r.unlock();
    await within(live.joinAsync(), 10_000, 'the live writer');
    live.close();
    assert.equal(show(l), 'RwLock<readable, poisoned=false> { value: "live" }');
    l.close();
  });

  test('a read unlock racing the kill of the writer it wakes: the other writer still gets the lock', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const l = new RwLock('start');
      const r = l.read();
      const writer = (l: RwLock<string>, name: string) => {
        let g;
        try {
          g = l.write();
        } catch (e) {
          if (!(e instanceof Error && e.name === 'PoisonError')) throw e;
          g = (e as unknown as { intoInner(): ReturnType<typeof l.write> }).intoInner(); // the victim died holding it
        }
        g.value = name;
        g.unlock();
      };
      // The victim waits first, so the unlock's wake (futex order) most likely goes to it.
      const victim = spawn(writer, l, 'victim');
      await until(() => show(l).endsWith(', 1 writer waiting>'), 'the victim waits', 10_000, () => show(l));
      const live = spawn(writer, l, 'live');
      await until(() => show(l).endsWith(', 2 writers waiting>'), 'both writers wait', 10_000, () => show(l));
      await delay(20); // time to fall asleep (what makes a lost wake show); what is asserted holds either way
      const killed = kill(victim);
      for (let k = Math.floor(rand() * 4); k > 0; k--) await tick();
      if (rand() < 0.5) await delay(rand() * 2);
      r.unlock();
      await killed;
      await within(live.joinAsync(), 10_000, `round ${round}: the live writer`);
      live.close();
      l.clearPoison();
      assert.equal(show(l), 'RwLock<readable, poisoned=false> { value: "live" }', `round ${round}`);
      l.close();
    }
  });

  test('a writer killed at a random point while it contends leaves no writer waiting', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const l = new RwLock(0);
      const n = new AtomicI32();
      const stop = new AtomicI32();
      const victim = spawn((l: RwLock<number>, n: AtomicI32) => {
        for (;;) {
          const g = l.write();
          g.value = g.value + 1;
          g.unlock();
          n.fetchAdd(1);
        }
      }, l, n);
      // Readers and a writer keep the lock busy, so the victim mostly waits in write().
      const contender = spawn((l: RwLock<number>, stop: AtomicI32) => {
        const take = <G>(f: () => G): G => {
          try {
            return f();
          } catch (e) {
            if (!(e instanceof Error && e.name === 'PoisonError')) throw e;
            return (e as unknown as { intoInner(): G }).intoInner();
          }
        };
        for (let k = 0; stop.load() === 0; k++) {
          if (k % 3 === 0) {
            const g = take(() => l.write());
            g.value = g.value + 1;
            g.unlock();
          } else take(() => l.read()).unlock();
        }
      }, l, stop);
      await until(() => n.load() >= 1 + Math.floor(rand() * 20), 'the victim writes');
      if (rand() < 0.5) await delay(rand() * 3);
      await kill(victim);
      stop.store(1);
      await within(contender.joinAsync(), 10_000, `round ${round}: the contender`);
      contender.close();
      l.clearPoison(); // the victim may have died holding the write lock
      assert.match(show(l), /^RwLock<readable, poisoned=false> \{ value: \d+ \}$/, `round ${round}: nobody left waiting`);
      const w = l.tryWrite();
      assert.ok(w, `round ${round}: the write lock is free`);
      w.unlock();
      l.close();
      n.close();
      stop.close();
    }
  });
});
