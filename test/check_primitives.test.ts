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
  AtomicI32, AtomicWaker, Barrier, channel, Condvar, Mutex, Notify, Once, OnceCell, OnceLock, oneshot,
  PoisonError, RecvError, RwLock, select, Semaphore, SendError, spawn, syncChannel, type Receiver,
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
