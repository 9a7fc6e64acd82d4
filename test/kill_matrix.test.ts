// The kill matrix: a thread killed at a random instruction of any primitive's
// operations must never leave another thread stuck, and must lose, duplicate or
// reorder no message. Each scenario runs a victim thread in a tight loop over one
// primitive, kills it (JoinHandle.terminate(), or process.exit() inside it) after a
// random delay, then proves the primitive still works from other threads. A check
// that does not finish within a generous bound is counted as a deadlock and its
// thread is killed, so a regression fails the test instead of hanging it.
//
// Rounds per scenario: WEFT_KILL_ROUNDS, or 1000 with WEFT_SOAK set, else a small
// number that keeps CI short (every kill costs a fresh worker).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  AtomicI32, Condvar, Mutex, Notify, Once, OnceCell, RwLock, Semaphore, channel, spawn, syncChannel,
  type JoinHandle, type Receiver, type Sender, type SyncSender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';
import { recordField, R_STATE, State } from '../src/thread/record.ts';
import { load } from '../src/wait/futex.ts';
import { delay, settledLive } from './helpers/settle.ts';

const ROUNDS = Number(process.env.WEFT_KILL_ROUNDS ?? (process.env.WEFT_SOAK ? 1000 : 8));
const CHECK_MS = 10_000; // from the checker's start: its work takes microseconds, this bounds a stuck one
const BOOT_MS = 120_000;

const SEED = Number(process.env.WEFT_SEED ?? Date.now() % 100_000);
let seed = SEED;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const tick = () => new Promise<void>((r) => setImmediate(r));

interface Tally {
  rounds: number;
  deadlocks: number;
  lost: number;
  leakedBytes: number;
}
const tallies = new Map<string, Tally>();
after(() => {
  const rows = [...tallies].map(([name, t]) => `  ${name.padEnd(34)} ${String(t.rounds).padStart(5)} rounds  deadlocks ${t.deadlocks}  lost/dup/reordered ${t.lost}  heap delta ${t.leakedBytes} B`);
  console.log(`kill matrix (WEFT_SEED=${SEED}, slowest check ${slowestCheckMs.toFixed(0)} ms):\n${rows.join('\n')}`);
});

/**
 * Waits until `counter` shows the victim has done at least `n` iterations. A victim that
 * ended first (it threw before its loop) fails the test with its panic, not a hang.
 */
async function started(counter: AtomicI32, n: number, ...victims: JoinHandle<unknown>[]): Promise<void> {
  while (counter.load() < n) {
    for (const victim of victims) {
      if (victim.isFinished()) {
        const how = await victim.joinAsync().then((v) => `returned ${String(v)}`, (e: Error) => e.message);
        assert.fail(`a victim ended before the count reached ${n}: ${how}`);
      }
    }
    await tick();
  }
}

/** Kills the victim after a random number of its iterations plus a random delay. */
async function kill(victim: JoinHandle<unknown>, counter: AtomicI32): Promise<void> {
  await started(counter, 1 + Math.floor(rand() * 50), victim);
  if (rand() < 0.5) await delay(rand() * 2);
  await victim.terminate();
  victim.close();
}

/** The slowest check of the run, from its thread's start (boot excluded) to its end. */
let slowestCheckMs = 0;

/**
 * Joins a checker thread; a check that does not finish within CHECK_MS of its start is a
 * deadlock (the checker is killed). The clock starts when the thread runs: after a kill
 * the checker may wait for a fresh worker, whose boot on a loaded machine can take
 * seconds and proves nothing about the primitive. A boot that never ends is a failure of
 * its own (BOOT_MS).
 */
async function finishes<T>(h: JoinHandle<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  const state = recordField(h.offset, R_STATE);
  for (const bootBy = Date.now() + BOOT_MS; load(heap().i32, state) === State.Pending; await delay(1)) {
    assert.ok(Date.now() < bootBy, `a checker thread did not start within ${BOOT_MS} ms`);
  }
  const startedAt = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), CHECK_MS)));
  const r = await Promise.race([h.joinAsync().then((value) => ({ value })), late]);
  clearTimeout(timer);
  if (r === 'late') await h.terminate();
  else slowestCheckMs = Math.max(slowestCheckMs, performance.now() - startedAt);
  h.close();
  return r === 'late' ? { ok: false } : { ok: true, value: r.value };
}

/** Receives once from `rx` in a thread: every sender must be gone (RecvError), or the round counts as lost or deadlocked. */
async function expectDisconnect(rx: Receiver<number>, t: Tally): Promise<void> {
  const r = await finishes(spawn((rx: Receiver<number>) => {
    try {
      rx.recv();
      return 'message';
    } catch (e) {
      return (e as Error).name;
    }
  }, rx));
  if (!r.ok) t.deadlocks++;
  else if (r.value !== 'RecvError') t.lost++;
}


/** Runs `round` ROUNDS times; asserts no deadlock, nothing lost, and no heap growth across the scenario (nothing leaked). */
async function scenario(name: string, round: (t: Tally) => Promise<void>): Promise<Tally> {
  const t: Tally = { rounds: 0, deadlocks: 0, lost: 0, leakedBytes: 0 };
  tallies.set(name, t);
  await round(t); // warm-up: code paths and pools allocate once
  const before = await settledLive();
  let after = before;
  for (let k = 0; k < ROUNDS; k++) {
    await round(t);
    t.rounds++;
    // Quiet between rounds too: rounds run back to back keep more workers booting at
    // once, and each worker's wake word stays allocated for the next (signal.ts).
    after = await settledLive();
    if (t.rounds % 100 === 0) console.log(`  … ${name}: ${t.rounds} rounds, deadlocks ${t.deadlocks}, lost ${t.lost}, heap delta ${after - before} B`);
  }
  t.leakedBytes = after - before;
  assert.equal(t.deadlocks, 0, `${name}: ${t.deadlocks} deadlocks in ${t.rounds} rounds`);
  assert.equal(t.lost, 0, `${name}: ${t.lost} rounds lost, duplicated or reordered messages`);
  assert.equal(t.leakedBytes, 0, `${name}: the heap grew by ${t.leakedBytes} bytes over ${t.rounds} rounds`);
  return t;
}


describe('kill matrix: a thread killed anywhere leaves nobody stuck', { timeout: 75_000 * Math.max(8, ROUNDS) }, () => {
  test('Mutex lock/unlock loop', async () => {
    await scenario('Mutex lock/unlock', async (t) => {
      const m = new Mutex(0);
      const n = new AtomicI32();
      const victim = spawn((m: Mutex<number>, n: AtomicI32) => {
        for (;;) {
          const g = m.lock();
          g.value = g.value + 1;
          g.unlock();
          n.fetchAdd(1);
        }
      }, m, n);
      await kill(victim, n);
      const check = spawn((m: Mutex<number>) => {
        let guard;
        try {
          guard = m.lock();
        } catch (e) {
          if (!(e instanceof Error && e.name === 'PoisonError')) throw e;
          guard = (e as unknown as { intoInner(): { value: number; unlock(): void } }).intoInner();
        }
        const v = guard.value;
        guard.unlock();
        return v;
      }, m);
      const r = await finishes(check);
      if (!r.ok) t.deadlocks++;
      else if (r.value < n.load()) t.lost++; // every counted iteration wrote its increment
      m.close();
      n.close();
    });
  });

  test('Mutex held by several threads killed at once', async () => {
    await scenario('Mutex, 4 lockers killed together', async (t) => {
      const m = new Mutex(0);
      const n = new AtomicI32();
      const victims = Array.from({ length: 4 }, () => spawn((m: Mutex<number>, n: AtomicI32) => {
        for (;;) {
          let g;
          try {
            g = m.lock();
          } catch (e) {
            g = (e as { intoInner(): { value: number; unlock(): void } }).intoInner();
          }
          g.value = g.value + 1;
          g.unlock();
          n.fetchAdd(1);
        }
      }, m, n));
      await started(n, 1 + Math.floor(rand() * 100), ...victims);
      await Promise.all(victims.map((v) => v.terminate()));
      for (const v of victims) v.close();
      const r = await finishes(spawn((m: Mutex<number>) => {
        try {
          m.lock().unlock();
        } catch (e) {
          (e as { intoInner(): { unlock(): void } }).intoInner().unlock();
        }
      }, m));
      if (!r.ok) t.deadlocks++;
      m.close();
      n.close();
    });
  });

  test('RwLock write loop', async () => {
    await scenario('RwLock write', async (t) => {
      const l = new RwLock(0);
      const n = new AtomicI32();
      const victim = spawn((l: RwLock<number>, n: AtomicI32) => {
        for (;;) {
          const g = l.write();
          g.value = g.value + 1;
          g.unlock();
          n.fetchAdd(1);
        }
      }, l, n);
      await kill(victim, n);
      const r = await finishes(spawn((l: RwLock<number>) => {
        for (const take of [() => l.read(), () => l.write()]) {
          try {
            take().unlock();
          } catch (e) {
            if (!(e instanceof Error && e.name === 'PoisonError')) throw e;
            (e as unknown as { intoInner(): { unlock(): void } }).intoInner().unlock();
          }
        }
      }, l));
      if (!r.ok) t.deadlocks++;
      l.close();
      n.close();
    });
  });

  test('RwLock read loop', async () => {
    await scenario('RwLock read', async (t) => {
      const l = new RwLock(0);
      const n = new AtomicI32();
      const victim = spawn((l: RwLock<number>, n: AtomicI32) => {
        for (;;) {
          l.read().unlock();
          n.fetchAdd(1);
        }
      }, l, n);
      await kill(victim, n);
      // Readers do not poison: the write lock must simply be free again.
      const r = await finishes(spawn((l: RwLock<number>) => {
        const g = l.write();
        g.value = 7;
        g.unlock();
      }, l));
      if (!r.ok) t.deadlocks++;
      l.close();
      n.close();
    });
  });

  test('Semaphore acquire/release loop', async () => {
    await scenario('Semaphore acquire/release', async (t) => {
      const s = new Semaphore(2);
      const n = new AtomicI32();
      const victim = spawn((s: Semaphore, n: AtomicI32) => {
        for (let k = 0; ; k++) {
          s.acquire(1 + (k & 1)).release();
          n.fetchAdd(1);
        }
      }, s, n);
      await kill(victim, n);
      // Every permit the victim held is returned: all 2 can be taken.
      const r = await finishes(spawn((s: Semaphore) => {
        s.acquire(2).release();
        return s.availablePermits();
      }, s));
      if (!r.ok) t.deadlocks++;
      else if (r.value !== 2) t.lost++;
      s[Symbol.dispose](); // close() closes the semaphore (tokio); disposing gives the handle back
      n.close();
    });
  });

  test('Once.callOnce killed while running', async () => {
    await scenario('Once.callOnce', async (t) => {
      const once = new Once();
      const n = new AtomicI32();
      const victim = spawn((once: Once, n: AtomicI32) => {
        n.fetchAdd(1);
        once.callOnce(() => {
          for (let k = 0; k < 1e6; k++) if (k % 1000 === 0) n.fetchAdd(1);
          for (;;) n.fetchAdd(1); // killed while RUNNING if not before
        });
      }, once, n);
      await kill(victim, n);
      // The Once is poisoned (or never started): callOnceForce runs, callOnce never hangs.
      const r = await finishes(spawn((once: Once) => {
        let poisoned = false;
        once.callOnceForce((s) => {
          poisoned = s.isPoisoned;
        });
        return { poisoned, done: once.isCompleted() };
      }, once));
      if (!r.ok) t.deadlocks++;
      else assert.equal(r.value.done, true);
      once.close();
      n.close();
    });
  });

  test('OnceCell set/getOrInit/get/take loop', async () => {
    await scenario('OnceCell set/init/get/take', async (t) => {
      const cell = new OnceCell<number[]>();
      const n = new AtomicI32();
      const victim = spawn(async (cell: OnceCell<number[]>, n: AtomicI32) => {
        for (let k = 0; ; k++) {
          switch (k % 4) {
            case 0: await cell.getOrInit(() => [k]); break;
            case 1: cell.get(); break;
            case 2: cell.take(); break;
            default: try { cell.set([k]); } catch { /* full */ }
          }
          n.fetchAdd(1);
        }
      }, cell, n);
      await kill(victim, n);
      // The cell is EMPTY or READY (never left INITIALIZING), with no reader counted in.
      const check = spawn(async (cell: OnceCell<number[]>) => {
        cell.take();
        const v = await cell.getOrInit(() => [-1]);
        return v[0] === -1 && cell.get()?.[0] === -1;
      }, cell);
      const r = await finishes(check);
      if (!r.ok) t.deadlocks++;
      else if (!r.value) t.lost++;
      cell.close();
      n.close();
    });
  });

  test('Mutex holding a Sender, rewritten in a loop', async () => {
    await scenario('Mutex<Sender> rewritten', async (t) => {
      const [tx, rx] = channel<number>();
      const m = new Mutex<{ out: Sender<number>; k: number }>({ out: tx, k: 0 });
      const n = new AtomicI32();
      // Each write-back replaces the stored Sender with a clone of it (the old one is
      // dropped) or keeps it as it is: refs move between blocks on every iteration.
      const victim = spawn((m: Mutex<{ out: Sender<number>; k: number }>, n: AtomicI32) => {
        for (let k = 0; ; k++) {
          const g = m.lock();
          g.value = { out: k % 2 === 0 ? g.value.out.clone() : g.value.out, k };
          g.unlock();
          n.fetchAdd(1);
        }
      }, m, n);
      await kill(victim, n);
      // Emptying the Mutex drops the one Sender left: the receiver must see the disconnect.
      const check = spawn((m: Mutex<{ out: Sender<number>; k: number } | undefined>, rx: Receiver<number>) => {
        let g;
        try {
          g = m.lock();
        } catch (e) {
          g = (e as unknown as { intoInner(): { value: unknown; unlock(): void } }).intoInner();
        }
        g.value = undefined;
        g.unlock();
        try {
          rx.recv();
          return 'message';
        } catch (e) {
          return (e as Error).name;
        }
      }, m as Mutex<{ out: Sender<number>; k: number } | undefined>, rx);
      const r = await finishes(check);
      if (!r.ok) t.deadlocks++;
      else if (r.value !== 'RecvError') t.lost++;
      m.close();
      n.close();
    });
  });

  test('constructors and drops in a loop, one holding a Sender', async () => {
    await scenario('constructors', async (t) => {
      const [tx, rx] = channel<number>();
      const n = new AtomicI32();
      // A kill inside a constructor (or channel()) must leave the object unmade or owned by
      // the thread (so freed with it), and a Sender moved into a new Mutex released with it.
      const victim = spawn(async (tx: Sender<number>, n: AtomicI32) => {
        const w = await import('weft');
        for (let k = 0; ; k++) {
          new w.Mutex({ out: tx.clone(), k }).close();
          new w.Mutex(k).close();
          new w.RwLock([k]).close();
          new w.OnceCell([k]).close();
          new w.OnceLock<number>().close();
          new w.Condvar().close();
          new w.Once().close();
          new w.Barrier(2).close();
          new w.Semaphore(1)[Symbol.dispose]();
          new w.AtomicI32(k).close();
          for (const [s, r] of [w.channel(), w.syncChannel(1), w.syncChannel(0), w.oneshot()]) {
            s.close();
            r.close();
          }
          n.fetchAdd(1);
        }
      }, tx.clone(), n);
      tx.close();
      await kill(victim, n);
      await expectDisconnect(rx, t);
      n.close();
    });
  });

  test('Condvar waiter killed', async () => {
    await scenario('Condvar wait', async (t) => {
      const m = new Mutex(0);
      const cv = new Condvar();
      const n = new AtomicI32();
      const victim = spawn((m: Mutex<number>, cv: Condvar, n: AtomicI32) => {
        for (;;) {
          const g = m.lock();
          n.fetchAdd(1);
          cv.waitTimeout(g, 0.01);
          g.unlock();
        }
      }, m, cv, n);
      await kill(victim, n);
      const r = await finishes(spawn((m: Mutex<number>, cv: Condvar) => {
        try {
          m.lock().unlock();
        } catch (e) {
          (e as { intoInner(): { unlock(): void } }).intoInner().unlock();
        }
        cv.notifyAll();
      }, m, cv));
      if (!r.ok) t.deadlocks++;
      m.close();
      cv.close();
      n.close();
    });
  });

  for (const bound of [0, 1, 8]) {
    test(`syncChannel(${bound}): one of two senders killed`, async () => {
      await scenario(`syncChannel(${bound}), sender killed`, async (t) => {
        const [tx, rx] = syncChannel<number>(bound);
        const n = new AtomicI32();
        const victim = spawn((tx: SyncSender<number>, n: AtomicI32) => {
          for (let k = 0; ; k++) {
            tx.send(-1);
            n.fetchAdd(1);
          }
        }, tx.clone(), n);
        const survivor = spawn((tx: SyncSender<number>) => {
          for (let k = 0; k < 300; k++) tx.send(k);
        }, tx.clone());
        tx.close();
        const receiver = spawn((rx: Receiver<number>) => {
          let next = 0;
          let bad = 0;
          for (const v of rx) {
            if (v === -1) continue;
            if (v !== next) bad++;
            next = v + 1;
          }
          return { next, bad };
        }, rx);
        await kill(victim, n);
        const r = await finishes(receiver);
        if (!r.ok) t.deadlocks++;
        else if (r.value.bad !== 0 || r.value.next !== 300) t.lost++;
        // The survivor ends normally, or with SendError if a deadlocked receiver was killed.
        await survivor.joinAsync().catch(() => {});
        survivor.close();
        n.close();
      });
    });
  }

  for (const flavor of ['unbounded', 'bounded(4)'] as const) {
    test(`${flavor}: a thread cloning, sending and closing senders is killed`, async () => {
      await scenario(`${flavor} clone/send/close`, async (t) => {
        const [tx, rx] = flavor === 'unbounded' ? channel<number>() : syncChannel<number>(4);
        const n = new AtomicI32();
        const receiver = spawn((rx: Receiver<number>) => {
          let count = 0;
          for (const _ of rx) count++;
          return count;
        }, rx);
        const victim = spawn((tx: Sender<number> | SyncSender<number>, n: AtomicI32) => {
          for (;;) {
            const c = tx.clone();
            c.send(1);
            c.close();
            n.fetchAdd(1);
          }
        }, tx.clone(), n);
        tx.close();
        await kill(victim, n);
        // Every sender is gone: the receiver's iteration ends, having seen each counted send.
        const r = await finishes(receiver);
        if (!r.ok) t.deadlocks++;
        else if (r.value < n.load()) t.lost++;
        n.close();
      });
    });
  }

  // Messages that carry endpoints: a relay receiving Senders of channel C and sending
  // them on is killed. Every Sender it had in hand (being decoded, or encoded and not yet
  // published) must still be released, so C's receiver sees the disconnect, and every
  // message block freed: the heap must come back to where it was.
  for (const bound of [undefined, 2, 0]) {
    const flavor = bound === undefined ? 'unbounded' : `syncChannel(${bound})`;
    test(`${flavor}: a relay of Senders is killed; no endpoint or message leaks`, async () => {
      await scenario(`${flavor} relay of Senders`, async (t) => {
        const open = () => (bound === undefined ? channel<Sender<number>>() : syncChannel<Sender<number>>(bound));
        const [inTx, inRx] = open();
        const [outTx, outRx] = open();
        const [txC, rxC] = channel<number>();
        const n = new AtomicI32();
        const victim = spawn((inbox: Receiver<Sender<number>>, outbox: Sender<Sender<number>> | SyncSender<Sender<number>>, n: AtomicI32) => {
          for (;;) {
            const s = inbox.recv();
            n.fetchAdd(1);
            outbox.send(s);
          }
        }, inRx, outTx, n);
        // Hands the Senders back to the relay until it is gone, then lets go of all it has.
        const pump = spawn((inbox: Sender<Sender<number>> | SyncSender<Sender<number>>, outbox: Receiver<Sender<number>>) => {
          for (const s of outbox) {
            try {
              inbox.send(s);
            } catch (e) {
              (e as { value: Sender<number> }).value.close();
              break;
            }
          }
        }, inTx.clone(), outRx);
        // Three Senders in flight; one through rendezvous channels, where a second would
        // let the pump and the main thread both wait to offer while the relay waits for
        // the pump (a cycle of rendezvous, stuck in Rust too).
        for (let k = 0; k < (bound === 0 ? 1 : 3); k++) inTx.send(txC.clone());
        inTx.close();
        txC.close();
        await kill(victim, n);
        await expectDisconnect(rxC, t);
        const p = await finishes(pump);
        if (!p.ok) t.deadlocks++;
        n.close();
      });
    });
  }

  test('Notify: a waiter killed does not swallow notifyOne', async () => {
    await scenario('Notify waiter killed', async (t) => {
      const notify = new Notify();
      const n = new AtomicI32();
      const victim = spawn(async (notify: Notify, n: AtomicI32) => {
        for (;;) {
          n.fetchAdd(1);
          await notify.notified();
        }
      }, notify, n);
      await started(n, 1, victim);
      const waiter = spawn(async (notify: Notify) => {
        await notify.notified();
      }, notify);
      if (rand() < 0.5) notify.notifyOne(); // may serve the victim just before it dies
      await victim.terminate();
      victim.close();
      notify.notifyOne();
      notify.notifyOne();
      const r = await finishes(waiter);
      if (!r.ok) t.deadlocks++;
      notify.close();
      n.close();
    });
  });

  test('process.exit() inside a thread holding a Mutex', async () => {
    await scenario('Mutex, process.exit() while held', async (t) => {
      const m = new Mutex(0);
      const n = new AtomicI32();
      const victim = spawn((m: Mutex<number>, n: AtomicI32, stop: number) => {
        for (let k = 0; ; k++) {
          const g = m.lock();
          n.fetchAdd(1);
          if (k === stop) process.exit(3);
          g.unlock();
        }
      }, m, n, Math.floor(rand() * 20));
      await victim.joinAsync().catch(() => {});
      victim.close();
      const r = await finishes(spawn((m: Mutex<number>) => {
        try {
          m.lock().unlock();
          return false;
        } catch (e) {
          (e as { intoInner(): { unlock(): void } }).intoInner().unlock();
          return true;
        }
      }, m));
      if (!r.ok) t.deadlocks++;
      else assert.equal(r.value, true, 'a lock held at process.exit() is poisoned');
      m.close();
      n.close();
    });
  });
});
