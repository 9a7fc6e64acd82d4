// weft's own protocols under weft/check: for each primitive and channel flavor, a
// small body with its invariant asserted, run under many schedules of its threads
// (random walk and PCT in turn). A lost wake-up shows as a deadlock or a thread left
// blocked, a broken invariant as the body throwing; either fails with the seed that
// replays it. The explored schedule counts are printed per primitive. Budgets are
// small here (the whole file in well under a minute); WEFT_SOAK=1 runs ten times more.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { model } from '../src/check/index.ts';
import {
  AtomicI32, AtomicU64, AtomicWaker, Barrier, channel, Condvar, LazyLock, Mutex, Notify, Once, OnceCell, OnceLock, oneshot,
  PoisonError, RecvError, RwLock, select, Semaphore, SendError, spawn, syncChannel, yieldNow, type Receiver,
} from '../src/index.ts';

const SOAK = process.env.WEFT_SOAK !== undefined && process.env.WEFT_SOAK !== '';
const T = { timeout: 120_000 };
/** Schedules per body: small bodies explore well in a hundred or two. */
const N = SOAK ? 4000 : 400;

async function check(name: string, body: () => void | Promise<void>, schedules = N): Promise<void> {
  const started = Date.now();
  const r = await model(body, { schedules });
  assert.equal(r.schedules, schedules);
  console.log(`# ${name}: ${r.schedules} schedules explored (${r.steps} steps, ${r.switches} switches) in ${Date.now() - started} ms`);
}

describe('Mutex under the model', () => {
  test('no increment is lost between two threads and the main thread', T, async () => {
    await check('Mutex increments', () => {
      const m = new Mutex(0);
      const add = (m: Mutex<number>) => {
        const g = m.lock();
        g.value++;
        g.unlock();
      };
      const threads = [spawn(add, m), spawn(add, m)];
      m.withLock((v) => v); // contends too
      for (const t of threads) t.join();
      assert.equal(m.withLock((v) => v), 2);
    });
  });

  test('a throw inside withLock poisons it; the other thread still gets in through PoisonError', T, async () => {
    await check('Mutex poisoning', () => {
      const m = new Mutex(0);
      const thrower = spawn((m: Mutex<number>) => {
        try {
          m.withLock(() => {
            throw new Error('boom');
          });
        } catch {
          // the lock is released, poisoned
        }
      }, m);
      const adder = spawn(async (m: Mutex<number>) => {
        const { PoisonError } = await import('weft');
        let g;
        try {
          g = m.lock();
        } catch (e) {
          if (!(e instanceof PoisonError)) throw e;
          g = (e as InstanceType<typeof PoisonError<typeof g>>).intoInner();
        }
        g!.value++;
        g!.unlock();
      }, m);
      thrower.join();
      adder.join();
      assert.equal(m.isPoisoned(), true);
      assert.throws(
        () => m.lock(),
        (e: unknown) => e instanceof PoisonError && (e.intoInner() as { unlock(): void }).unlock() === undefined,
      );
      m.clearPoison();
      assert.equal(m.withLock((v) => v), 1);
    });
  });

  test('a thread that ends holding the lock: it is poisoned and released, the waiter gets in', T, async () => {
    await check('Mutex owner died', () => {
      const m = new Mutex(0);
      const leaker = spawn((m: Mutex<number>) => {
        const g = m.lock();
        g.value = 5; // never unlocked: the thread's end releases it, poisoned
        void g;
      }, m);
      const waiter = spawn(async (m: Mutex<number>) => {
        const { PoisonError } = await import('weft');
        try {
          m.lock().unlock();
          return 'clean';
        } catch (e) {
          if (!(e instanceof PoisonError)) throw e;
          (e as { intoInner(): { unlock(): void } }).intoInner().unlock();
          return 'poisoned';
        }
      }, m);
      leaker.join();
      const seen = waiter.join();
      // The waiter got in either before the leaker (clean) or after its end (poisoned).
      assert.ok(seen === 'clean' || seen === 'poisoned');
      assert.equal(m.isPoisoned(), true);
    });
  });
});

describe('RwLock under the model', () => {
  test('readers never see a half-done write; a writer and two readers all finish', T, async () => {
    await check('RwLock readers and writer', () => {
      const l = new RwLock({ a: 0, b: 0 });
      const reader = (l: RwLock<{ a: number; b: number }>) => {
        const g = l.read();
        const { a, b } = g.value;
        g.unlock();
        if (a !== b) throw new Error(`torn read ${a}/${b}`);
        return a;
      };
      const readers = [spawn(reader, l), spawn(reader, l)];
      const g = l.write();
      g.value = { a: 1, b: 1 };
      g.unlock();
      for (const r of readers) assert.ok([0, 1].includes(r.join() as number));
      const end = l.read();
      assert.deepEqual(end.value, { a: 1, b: 1 });
      end.unlock();
    });
  });

  test('two writers and a reader: writes are serialised', T, async () => {
    await check('RwLock writers', () => {
      const l = new RwLock(0);
      const writer = (l: RwLock<number>) => {
        const g = l.write();
        g.value++;
        g.unlock();
      };
      const ws = [spawn(writer, l), spawn(writer, l)];
      const r = l.read();
      assert.ok(r.value >= 0 && r.value <= 2);
      r.unlock();
      for (const w of ws) w.join();
      const end = l.read();
      assert.equal(end.value, 2);
      end.unlock();
    });
  });
});

describe('Condvar under the model', () => {
  test('no lost wake-up: waitWhile returns once the flag is set and notified', T, async () => {
    await check('Condvar notifyOne', () => {
      const m = new Mutex(false);
      const cv = new Condvar();
      const waiter = spawn((m: Mutex<boolean>, cv: Condvar) => {
        const g = m.lock();
        cv.waitWhile(g, (ready) => !ready);
        g.unlock();
      }, m, cv);
      const g = m.lock();
      g.value = true;
      g.unlock();
      cv.notifyOne();
      waiter.join();
    });
  });

  test('notifyAll wakes both waiters', T, async () => {
    await check('Condvar notifyAll', () => {
      const m = new Mutex(false);
      const cv = new Condvar();
      const wait = (m: Mutex<boolean>, cv: Condvar) => {
        const g = m.lock();
        cv.waitWhile(g, (ready) => !ready);
        g.unlock();
      };
      const ws = [spawn(wait, m, cv), spawn(wait, m, cv)];
      m.withLock(() => {});
      const g = m.lock();
      g.value = true;
      g.unlock();
      cv.notifyAll();
      for (const w of ws) w.join();
    });
  });

  test('a timeout racing the notify: timedOut is reported exactly when the flag is still unset', T, async () => {
    await check('Condvar timeout vs notify', () => {
      const m = new Mutex(false);
      const cv = new Condvar();
      const waiter = spawn((m: Mutex<boolean>, cv: Condvar) => {
        const g = m.lock();
        const r = cv.waitTimeoutWhile(g, 5, (ready) => !ready);
        const ready = g.value;
        g.unlock();
        if (r.timedOut === ready) throw new Error(`timedOut ${r.timedOut} with the flag ${ready}`);
        return r.timedOut;
      }, m, cv);
      m.withLock(() => {});
      const g = m.lock();
      g.value = true;
      g.unlock();
      cv.notifyOne();
      waiter.join();
    });
  });
});

describe('Once, OnceLock, OnceCell under the model', () => {
  test('Once: two racing callOnce run the closure once, both return completed', T, async () => {
    await check('Once', () => {
      const once = new Once();
      const runs = new AtomicI32(0);
      const call = (once: Once, runs: AtomicI32) => {
        once.callOnce(() => void runs.fetchAdd(1));
        if (!once.isCompleted()) throw new Error('callOnce returned before completion');
      };
      const ts = [spawn(call, once, runs), spawn(call, once, runs)];
      for (const t of ts) t.join();
      assert.equal(runs.load(), 1);
    });
  });

  test('OnceLock: racing getOrInit agree on one value, initialised once', T, async () => {
    await check('OnceLock', () => {
      const cell = new OnceLock<number>();
      const runs = new AtomicI32(0);
      const get = (cell: OnceLock<number>, runs: AtomicI32, mine: number) => cell.getOrInit(() => (runs.fetchAdd(1), mine));
      const ts = [spawn(get, cell, runs, 1), spawn(get, cell, runs, 2)];
      const values = ts.map((t) => t.join());
      assert.equal(runs.load(), 1);
      assert.equal(values[0], values[1]);
      assert.equal(cell.get(), values[0]);
    });
  });

  test('OnceCell: async getOrInit from two threads runs one init', T, async () => {
    await check('OnceCell', async () => {
      const cell = new OnceCell<number>();
      const runs = new AtomicI32(0);
      const get = async (cell: OnceCell<number>, runs: AtomicI32, mine: number) =>
        cell.getOrInit(async () => (runs.fetchAdd(1), mine));
      const ts = [spawn(get, cell, runs, 1), spawn(get, cell, runs, 2)];
      const values = await Promise.all(ts.map((t) => t.joinAsync()));
      assert.equal(runs.load(), 1);
      assert.equal(values[0], values[1]);
    });
  });
});

describe('Semaphore, Barrier, Notify, AtomicWaker under the model', () => {
  test('Semaphore(1): at most one holder at a time, and every permit comes back', T, async () => {
    await check('Semaphore', () => {
      const sem = new Semaphore(1);
      const inside = new AtomicI32(0);
      const work = (sem: Semaphore, inside: AtomicI32) => {
        const p = sem.acquire();
        if (inside.fetchAdd(1) !== 0) throw new Error('two holders of one permit');
        inside.fetchSub(1);
        p.release();
      };
      const ts = [spawn(work, sem, inside), spawn(work, sem, inside)];
      work(sem, inside);
      for (const t of ts) t.join();
      assert.equal(sem.availablePermits(), 1);
    });
  });

  test('Barrier reused for two rounds: one leader per round, no thread runs ahead', T, async () => {
    await check('Barrier reuse', () => {
      const b = new Barrier(2);
      const round = [new AtomicI32(0), new AtomicI32(0)] as const;
      const leaders = new AtomicI32(0);
      const go = (b: Barrier, r0: AtomicI32, r1: AtomicI32, leaders: AtomicI32) => {
        r0.fetchAdd(1);
        if (b.wait().isLeader) leaders.fetchAdd(1);
        if (r0.load() !== 2) throw new Error('passed the first barrier early');
        r1.fetchAdd(1);
        if (b.wait().isLeader) leaders.fetchAdd(1);
        if (r1.load() !== 2) throw new Error('passed the second barrier early');
      };
      const t = spawn(go, b, round[0], round[1], leaders);
      go(b, round[0], round[1], leaders);
      t.join();
      assert.equal(leaders.load(), 2);
    });
  });

  test('Notify: a notifyOne racing notified() is never lost (stored as a permit)', T, async () => {
    await check('Notify', async () => {
      const n = new Notify();
      const t = spawn(async (n: Notify) => {
        await n.notified();
      }, n);
      n.notifyOne();
      await t.joinAsync();
    });
  });

  test('AtomicWaker: register, check, wait against set, wake: the waiter always wakes', T, async () => {
    await check('AtomicWaker', () => {
      const waker = new AtomicWaker();
      const flag = new AtomicI32(0);
      const t = spawn((waker: AtomicWaker, flag: AtomicI32) => {
        for (;;) {
          waker.register();
          if (flag.load() === 1) return;
          waker.wait();
        }
      }, waker, flag);
      flag.store(1);
      waker.wake();
      t.join();
    });
  });
});

describe('channels under the model', () => {
  const flavors = [
    ['unbounded', () => channel<number>()],
    ['bounded(1)', () => syncChannel<number>(1)],
    ['rendezvous', () => syncChannel<number>(0)],
  ] as const;

  for (const [name, make] of flavors) {
    test(`${name}: messages arrive in order, then the sender's end disconnects`, T, async () => {
      await check(`channel ${name} send/recv`, () => {
        const [tx, rx] = make();
        const t = spawn((tx: { send(v: number): void }) => {
          tx.send(1);
          tx.send(2);
        }, tx);
        assert.equal(rx.recv(), 1);
        assert.equal(rx.recv(), 2);
        assert.throws(() => rx.recv(), RecvError); // the sender's thread ended: disconnected
        t.join();
      });
    });

    test(`${name}: the receiver closing races a send: it fails with its value or was taken first`, T, async () => {
      await check(`channel ${name} close vs send`, () => {
        const [tx, rx] = make();
        const t = spawn(async (tx: { send(v: number): void }) => {
          const { SendError } = await import('weft');
          try {
            tx.send(7);
            return 'sent';
          } catch (e) {
            if (!(e instanceof SendError) || e.value !== 7) throw e;
            return 'refused';
          }
        }, tx);
        const got = name === 'rendezvous' ? undefined : rx.tryRecv();
        rx.close();
        const outcome = t.join();
        if (got === 7) assert.equal(outcome, 'sent');
      });
    });
  }

  test('oneshot: the value or the disconnect, never both, never neither', T, async () => {
    await check('oneshot', () => {
      const [tx, rx] = oneshot<number>();
      const t = spawn((tx: { send(v: number): void }, send: boolean) => {
        if (send) tx.send(3);
      }, tx, true);
      assert.equal(rx.recv(), 3);
      t.join();
    });
  });

  test('select over two channels gets each message once', T, async () => {
    await check('select', () => {
      const [a, ra] = channel<number>();
      const [b, rb] = channel<number>();
      const send = (tx: { send(v: number): void }, v: number) => tx.send(v);
      const ts = [spawn(send, a, 1), spawn(send, b, 2)];
      // The first message from either; then the other channel's (the first channel's
      // sender may be gone by then: select would report that disconnect as ready).
      const first = select([ra, rb] as Receiver<unknown>[])!;
      const second = (first.index === 0 ? rb : ra).recv();
      assert.deepEqual([first.value as number, second].sort(), [1, 2]);
      for (const t of ts) t.join();
    });
  });

  test('MPMC: two senders, two receivers: each message is received exactly once', T, async () => {
    await check('MPMC', () => {
      const [tx, rx] = channel<number>();
      const send = (tx: { send(v: number): void }, v: number) => tx.send(v);
      const drain = (rx: Receiver<number>) => [...rx];
      const senders = [spawn(send, tx.clone(), 1), spawn(send, tx, 2)];
      const receivers = [spawn(drain, rx.clone()), spawn(drain, rx)];
      for (const s of senders) s.join();
      const got = receivers.flatMap((r) => r.join() as number[]).sort();
      assert.deepEqual(got, [1, 2]);
    });
  });

  test('a receiver that ends disconnects: the sender sees SendError with its value', T, async () => {
    await check('channel receiver gone', () => {
      const [tx, rx] = channel<number>();
      const t = spawn((rx: Receiver<number>) => rx.recv(), rx);
      tx.send(1);
      assert.equal(t.join(), 1);
      assert.throws(() => tx.send(2), (e: unknown) => e instanceof SendError && e.value === 2);
    });
  });
});

describe('LazyLock, OnceLock.getOrTryInit and tryInsert under the model', () => {
  // A LazyLock travels forced (its init cannot cross threads), so a LazyLock that several
  // threads reach is a static: shared(key, () => new LazyLock(init)) in every thread,
  // which is getOrInit on the key's OnceLock. The bodies use a OnceLock of their own, as
  // shared() keys are process-wide and never removed.
  test('a LazyLock static forced from three threads runs its initialiser once; all see one value', T, async () => {
    await check('LazyLock static', () => {
      const statics = new OnceLock<LazyLock<number[]>>();
      const runs = new AtomicI32(0);
      const force = async (statics: OnceLock<LazyLock<number[]>>, runs: AtomicI32, mine: number) => {
        const { LazyLock } = await import('weft');
        const table = statics.getOrInit(() => new LazyLock(() => (runs.fetchAdd(1), [mine, mine * 10])));
        const value = table.value;
        if (table.get() !== value) throw new Error('get() disagrees with value');
        return value;
      };
      const ts = [spawn(force, statics, runs, 1), spawn(force, statics, runs, 2)];
      const here = statics.getOrInit(() => new LazyLock(() => (runs.fetchAdd(1), [3, 30]))).value;
      const values = [here, ...ts.map((t) => t.join() as number[])];
      assert.equal(runs.load(), 1);
      assert.ok([1, 2, 3].includes(here[0]!) && here[1] === here[0]! * 10);
      for (const v of values) assert.deepEqual(v, here);
    });
  });

  test('a throwing LazyLock initialiser poisons its LazyLock and publishes nothing; another static init wins', T, async () => {
    await check('LazyLock poisoning', () => {
      const statics = new OnceLock<LazyLock<number>>();
      const runs = new AtomicI32(0);
      const bad = spawn(async (statics: OnceLock<LazyLock<number>>) => {
        const { LazyLock, PoisonError } = await import('weft');
        let mine: InstanceType<typeof LazyLock<number>> | undefined;
        try {
          return statics.getOrInit(() => (mine = new LazyLock<number>(() => {
            throw new Error('init failed');
          }))).value; // another thread's static came first: its value
        } catch (e) {
          if (!(e instanceof Error) || e.message !== 'init failed') throw e;
        }
        // Poisoned: every later force throws PoisonError, get() finds nothing.
        try {
          mine!.force();
          throw new Error('forced a poisoned LazyLock');
        } catch (e) {
          if (!(e instanceof PoisonError)) throw e;
        }
        if (mine!.get() !== undefined) throw new Error('a poisoned LazyLock has a value');
        return 'failed';
      }, statics);
      const other = spawn(async (statics: OnceLock<LazyLock<number>>, runs: AtomicI32) => {
        const { LazyLock } = await import('weft');
        return statics.getOrInit(() => new LazyLock(() => (runs.fetchAdd(1), 7))).value;
      }, statics, runs);
      // The failed static stays unset (OnceLock semantics), so a good initialiser always wins.
      assert.equal(statics.getOrInit(() => new LazyLock(() => (runs.fetchAdd(1), 7))).value, 7);
      assert.equal(other.join(), 7);
      assert.ok([7, 'failed'].includes(bad.join() as number | string));
      assert.equal(runs.load(), 1);
    });
  });

  test('getOrTryInit failing, getOrTryInit succeeding and tryInsert race: one value wins, once', T, async () => {
    await check('OnceLock getOrTryInit/tryInsert', () => {
      const cell = new OnceLock<number>();
      const runs = new AtomicI32(0);
      const tries = new AtomicI32(0);
      const failing = spawn((cell: OnceLock<number>, tries: AtomicI32) => {
        try {
          return cell.getOrTryInit(() => {
            tries.fetchAdd(1);
            throw new Error('not yet');
          });
        } catch (e) {
          if (!(e instanceof Error) || e.message !== 'not yet') throw e;
          return 'failed';
        }
      }, cell, tries);
      const trying = spawn((cell: OnceLock<number>, runs: AtomicI32) => cell.getOrTryInit(() => (runs.fetchAdd(1), 2)), cell, runs);
      const r = cell.tryInsert(3);
      const v = cell.get();
      assert.ok(v === 2 || v === 3);
      assert.equal(r.value, v);
      assert.equal(r.ok, v === 3);
      if (!r.ok) assert.equal(r.rejected, 3);
      assert.equal(trying.join(), v);
      // The failing initialiser ran only if it claimed the empty cell, and then it threw.
      assert.equal(failing.join(), tries.load() === 1 ? 'failed' : v);
      assert.equal(runs.load() + (r.ok ? 1 : 0), 1);
    });
  });
});

describe('fairness: RwLock writer preference, FIFO Semaphore', () => {
  test('RwLock: once a writer waits behind a reader, new readers queue behind the writer', T, async () => {
    await check('RwLock writer preference', () => {
      const l = new RwLock(0);
      const released = new AtomicI32(0);
      const held = l.read();
      const writer = spawn((l: RwLock<number>) => {
        const g = l.write();
        g.value = 1;
        g.unlock();
      }, l);
      // A stream of new readers gets in until the writer waits; from then on none does
      // (the writer is never starved while the first reader holds).
      for (let g; (g = l.tryRead()) !== undefined; ) {
        assert.equal(g.value, 0);
        g.unlock();
        yieldNow();
      }
      assert.equal(l.tryRead(), undefined);
      const late = spawn((l: RwLock<number>, released: AtomicI32) => {
        const g = l.read();
        const v = g.value;
        // Seeing the old value is fine only once the first reader let go (the woken
        // writer and a new reader then race, as in Rust's futex RwLock).
        if (v === 0 && released.load() === 0) throw new Error('a new reader got in ahead of the waiting writer');
        g.unlock();
        return v;
      }, l, released);
      assert.equal(l.tryRead(), undefined);
      released.store(1);
      held.unlock();
      writer.join();
      assert.ok([0, 1].includes(late.join() as number));
      const end = l.read();
      assert.equal(end.value, 1);
      end.unlock();
    });
  });

  test('Semaphore: a queued acquire(2) is not overtaken by a later acquire(1), though a permit is free', T, async () => {
    await check('Semaphore FIFO', () => {
      const sem = new Semaphore(2);
      const order = new AtomicI32(0);
      const take = (sem: Semaphore, order: AtomicI32, n: number) => {
        const p = sem.acquire(n);
        const at = order.fetchAdd(1);
        p.release();
        return at;
      };
      const mine = sem.acquire(1);
      const big = spawn(take, sem, order, 2);
      // Small acquires get the free permit until the big one queues; from then on none does.
      for (let p; (p = sem.tryAcquire(1)) !== undefined; ) {
        p.release();
        yieldNow();
      }
      assert.equal(sem.availablePermits(), 1);
      const small = spawn(take, sem, order, 1);
      mine.release();
      assert.equal(big.join(), 0);
      assert.equal(small.join(), 1);
      assert.equal(sem.availablePermits(), 2);
    });
  });
});

describe('Barrier(3), AtomicU64 under the model', () => {
  test('Barrier(3) reused for two rounds: one leader per round, nobody passes a round early', T, async () => {
    await check('Barrier(3) reuse', () => {
      const b = new Barrier(3);
      const a = [new AtomicI32(0), new AtomicI32(0)] as const;
      const l = [new AtomicI32(0), new AtomicI32(0)] as const;
      const go = (b: Barrier, a0: AtomicI32, a1: AtomicI32, l0: AtomicI32, l1: AtomicI32) => {
        a0.fetchAdd(1);
        if (b.wait().isLeader) l0.fetchAdd(1);
        if (a0.load() !== 3) throw new Error('passed the first round early');
        a1.fetchAdd(1);
        if (b.wait().isLeader) l1.fetchAdd(1);
        if (a1.load() !== 3) throw new Error('passed the second round early');
        // Everyone counted its first-round leadership before arriving again.
        if (l0.load() !== 1) throw new Error(`${l0.load()} leaders in the first round`);
      };
      const ts = [spawn(go, b, a[0], a[1], l[0], l[1]), spawn(go, b, a[0], a[1], l[0], l[1])];
      go(b, a[0], a[1], l[0], l[1]);
      for (const t of ts) t.join();
      assert.equal(l[1].load(), 1);
    });
  });

  test('AtomicU64.fetchMax from three threads: the largest (unsigned) value wins; each sees a value held', T, async () => {
    await check('AtomicU64 fetchMax', () => {
      const x = new AtomicU64(5);
      const top = 2n ** 63n + 1n; // negative as a signed word: compared unsigned
      const max = (x: AtomicU64, v: bigint) => x.fetchMax(v);
      const ts = [spawn(max, x, top), spawn(max, x, 2n ** 32n)];
      const here = x.fetchMax(3n);
      const olds = [here, ...ts.map((t) => t.join() as bigint)];
      assert.equal(x.load(), top);
      for (const old of olds) assert.ok([5n, 2n ** 32n, top].includes(old), `fetchMax returned ${old}`);
      assert.ok(olds[1]! < top); // the thread storing the maximum found something smaller
    });
  });

  test('AtomicU64.fetchUpdate racing up to u64::MAX: no update lost or doubled', T, async () => {
    await check('AtomicU64 fetchUpdate', () => {
      const MAX = 2n ** 64n - 1n;
      const x = new AtomicU64(MAX - 2n);
      const bump = (x: AtomicU64, max: bigint) => {
        const seen: (bigint | string)[] = [];
        for (let k = 0; k < 2; k++) {
          const r = x.fetchUpdate((v) => (v === max ? undefined : v + 1n));
          seen.push(r.ok ? r.value : `full at ${r.value}`);
        }
        return seen;
      };
      const ts = [spawn(bump, x, MAX), spawn(bump, x, MAX)];
      const all = [...bump(x, MAX), ...ts.flatMap((t) => t.join() as (bigint | string)[])];
      assert.equal(x.load(), MAX);
      // Two updates fit: each from a different value; every other call found it full.
      const done = (all.filter((v) => typeof v === 'bigint') as bigint[]).sort((p, q) => (p < q ? -1 : 1));
      assert.deepEqual(done, [MAX - 2n, MAX - 1n]);
      assert.equal(all.filter((v) => v === `full at ${MAX}`).length, 4);
    });
  });
});
