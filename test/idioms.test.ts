// The programs people write with Rust std, crossbeam and tokio, ported to weft as a
// Rust user would write them: the Rust book's chapter 16 (threads, move, mpsc, Mutex
// counter) and chapter 20 (a thread pool over Mutex<Receiver<Job>>), crossbeam's fan-in
// and fan-out over cloned receivers, select, cancellation with AbortSignal on every
// async wait, and threads killed mid-work. Each test checks exact results.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Barrier, channel, Condvar, type JoinHandle, Mutex, Notify, Once, OnceCell, OnceLock, PoisonError, type Receiver, RecvError, RwLock,
  selectAsync, Semaphore, SendError, type Sender, spawn, syncChannel, type SyncSender,
} from '../src/index.ts';

const T = { timeout: 60_000 };

/** A signal already aborted, with a reason we can recognise by identity. */
function aborted(): { signal: AbortSignal; reason: Error } {
  const reason = new Error('cancelled by the test');
  const c = new AbortController();
  c.abort(reason);
  return { signal: c.signal, reason };
}

/** Whether `p` settles before the event loop turns once (no thread involved). */
async function settlesNow(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

/** Rejects with `reason` (by identity), as the contract asks of an aborted wait. */
async function rejectsWith(p: Promise<unknown>, reason: unknown): Promise<void> {
  await assert.rejects(p, (e) => e === reason);
}

/** A thread that holds `m` until told; returns once it holds it. */
function holdMutex(m: Mutex<number>): { release: () => void; handle: JoinHandle<void> } {
  const [readyTx, readyRx] = channel<null>();
  const [goTx, goRx] = channel<null>();
  const handle = spawn((m: Mutex<number>, ready: Sender<null>, go: Receiver<null>) => {
    const g = m.lock();
    ready.send(null);
    go.recv();
    g.unlock();
  }, m, readyTx, goRx);
  readyRx.recv();
  return { release: () => goTx.send(null), handle };
}

describe('the Rust book, chapter 16', () => {
  test('spawned threads finish when joined', T, () => {
    const handle = spawn(() => {
      const said: number[] = [];
      for (let i = 1; i < 10; i++) said.push(i);
      return said;
    });
    const main: number[] = [];
    for (let i = 1; i < 5; i++) main.push(i);
    assert.deepEqual(handle.join(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(main, [1, 2, 3, 4]);
  });

  test('move: the thread owns the vector it was given', T, () => {
    const v = [1, 2, 3];
    const handle = spawn((v: number[]) => {
      v.push(4); // the thread's copy
      return v;
    }, v);
    assert.deepEqual(handle.join(), [1, 2, 3, 4]);
    assert.deepEqual(v, [1, 2, 3]);
  });

  test('one producer: for received in rx, in send order', T, () => {
    const [tx, rx] = channel<string>();
    const h = spawn((tx: Sender<string>) => {
      for (const val of ['hi', 'from', 'the', 'thread']) tx.send(val);
    }, tx);
    assert.deepEqual([...rx], ['hi', 'from', 'the', 'thread']);
    h.join();
  });

  test('multiple producers by cloning the transmitter', T, () => {
    const [tx, rx] = channel<string>();
    const h1 = spawn((tx: Sender<string>) => {
      for (const val of ['hi', 'from', 'the', 'thread']) tx.send(val);
    }, tx.clone());
    const h2 = spawn((tx: Sender<string>) => {
      for (const val of ['more', 'messages', 'for', 'you']) tx.send(val);
    }, tx);
    const got = [...rx];
    assert.equal(got.length, 8);
    assert.deepEqual(got.filter((s) => ['hi', 'from', 'the', 'thread'].includes(s)), ['hi', 'from', 'the', 'thread']);
    assert.deepEqual(got.filter((s) => ['more', 'messages', 'for', 'you'].includes(s)), ['more', 'messages', 'for', 'you']);
    h1.join();
    h2.join();
  });

  test('a moved transmitter is unusable, and the error names clone()', T, () => {
    const [tx, rx] = channel<number>();
    const h = spawn((tx: Sender<number>) => tx.send(1), tx);
    assert.throws(() => tx.send(2), (e) => e instanceof TypeError && /clone\(\)/.test(e.message));
    assert.deepEqual([...rx], [1]);
    h.join();
  });

  test('Mutex counter shared by ten threads', T, () => {
    const counter = new Mutex(0);
    const handles = Array.from({ length: 10 }, () => spawn((counter: Mutex<number>) => {
      using num = counter.lock();
      num.value += 1;
    }, counter));
    for (const h of handles) h.join();
    assert.equal(counter.withLock((n) => n), 10);
  });

  test('Mutex counter: 8 threads x 1000 increments, no update lost', T, () => {
    const counter = new Mutex({ n: 0 });
    const handles = Array.from({ length: 8 }, () => spawn((counter: Mutex<{ n: number }>) => {
      for (let k = 0; k < 1000; k++) counter.withLock((c) => void (c.n += 1));
    }, counter));
    for (const h of handles) h.join();
    assert.equal(counter.withLock((c) => c.n), 8000);
  });
});

describe('the Rust book, chapter 20: a thread pool', () => {
  test('workers share Mutex<Receiver<Job>>; dropping the sender shuts them down', T, () => {
    const WORKERS = 4;
    const JOBS = 200;
    const [sender, receiver] = channel<number>();
    const shared = new Mutex(receiver); // the receiver moves into the mutex
    const [resultsTx, resultsRx] = channel<[number, number, number]>();
    const workers = Array.from({ length: WORKERS }, (_, id) => spawn(
      (id: number, receiver: Mutex<Receiver<number>>, results: Sender<[number, number, number]>) => {
        let done = 0;
        for (;;) {
          let job: number;
          const g = receiver.lock();
          try {
            job = g.value.recv();
          } catch (e) {
            if ((e as Error).name !== 'RecvError') throw e;
            break; // the pool dropped its sender: shut down
          } finally {
            g.unlock();
          }
          results.send([id, job, job * job]);
          done++;
        }
        return done;
      }, id, shared, resultsTx.clone()));
    resultsTx.close();
    for (let j = 0; j < JOBS; j++) sender.send(j);
    sender.close(); // graceful shutdown
    const perWorker = workers.map((w) => w.join());
    const results = [...resultsRx];
    assert.equal(results.length, JOBS);
    assert.deepEqual(results.map(([, job]) => job).sort((a, b) => a - b), Array.from({ length: JOBS }, (_, j) => j));
    assert.ok(results.every(([, job, sq]) => sq === job * job));
    assert.equal(perWorker.reduce((a, b) => a + b, 0), JOBS);
    for (let id = 0; id < WORKERS; id++) {
      assert.equal(results.filter(([w]) => w === id).length, perWorker[id]);
    }
  });

  test('a Receiver kept in a Mutex survives many lock cycles across threads', T, () => {
    const [tx, rx] = channel<number>();
    const shared = new Mutex(rx);
    for (let k = 0; k < 100; k++) tx.send(k);
    tx.close();
    const takeTen = (m: Mutex<Receiver<number>>) => {
      const got: number[] = [];
      for (let k = 0; k < 10; k++) got.push(m.withLock((r) => r.recv()));
      return got;
    };
    const parts = Array.from({ length: 5 }, () => spawn(takeTen, shared)).map((h) => h.join());
    const rest = shared.withLock((r) => [...r]);
    for (const p of parts) assert.ok(p.every((v, k) => k === 0 || v > p[k - 1]), 'one thread sees increasing values');
    assert.deepEqual([...parts.flat(), ...rest].sort((a, b) => a - b), Array.from({ length: 100 }, (_, k) => k));
  });
});

describe('crossbeam patterns', () => {
  test('fan-out: a work queue with rx.clone() per worker, each job done once', T, () => {
    const WORKERS = 4;
    const JOBS = 1000;
    const [jobs, queue] = channel<number>();
    const [doneTx, doneRx] = channel<number>();
    const workers = Array.from({ length: WORKERS }, () => spawn((queue: Receiver<number>, done: Sender<number>) => {
      let n = 0;
      for (const job of queue) {
        done.send(job * 2);
        n++;
      }
      return n;
    }, queue.clone(), doneTx.clone()));
    queue.close();
    doneTx.close();
    for (let j = 0; j < JOBS; j++) jobs.send(j);
    jobs.close();
    const got = [...doneRx].sort((a, b) => a - b);
    assert.deepEqual(got, Array.from({ length: JOBS }, (_, j) => j * 2));
    assert.equal(workers.map((w) => w.join()).reduce((a, b) => a + b, 0), JOBS);
  });

  test('fan-in: tx.clone() per producer, consumed with for...of, order kept per producer', T, () => {
    const PRODUCERS = 6;
    const EACH = 500;
    const [tx, rx] = channel<[number, number]>();
    const producers = Array.from({ length: PRODUCERS }, (_, p) => spawn((tx: Sender<[number, number]>, p: number, each: number) => {
      for (let k = 0; k < each; k++) tx.send([p, k]);
    }, tx.clone(), p, EACH));
    tx.close(); // the channel disconnects exactly when the last producer ends
    const next = new Array<number>(PRODUCERS).fill(0);
    let total = 0;
    for (const [p, k] of rx) {
      assert.equal(k, next[p], `producer ${p} out of order`);
      next[p]++;
      total++;
    }
    assert.equal(total, PRODUCERS * EACH);
    assert.ok(next.every((n) => n === EACH));
    for (const h of producers) h.join();
  });

  test('fan-in consumed with for await, order kept per producer', T, async () => {
    const PRODUCERS = 4;
    const EACH = 300;
    const [tx, rx] = channel<[number, number]>();
    const producers = Array.from({ length: PRODUCERS }, (_, p) => spawn((tx: Sender<[number, number]>, p: number, each: number) => {
      for (let k = 0; k < each; k++) tx.send([p, k]);
    }, tx.clone(), p, EACH));
    tx.close();
    const next = new Array<number>(PRODUCERS).fill(0);
    for await (const [p, k] of rx) {
      assert.equal(k, next[p], `producer ${p} out of order`);
      next[p]++;
    }
    assert.deepEqual(next, new Array(PRODUCERS).fill(EACH));
    for (const h of producers) await h.joinAsync();
  });

  test('a pipeline: producer -> squarers (cloned receivers) -> summer', T, () => {
    const N = 300;
    const [numTx, numRx] = syncChannel<number>(8);
    const [sqTx, sqRx] = syncChannel<number>(8);
    const squarers = Array.from({ length: 3 }, () => spawn((rx: Receiver<number>, tx: SyncSender<number>) => {
      for (const n of rx) tx.send(n * n);
    }, numRx.clone(), sqTx.clone()));
    numRx.close();
    sqTx.close();
    const summer = spawn((rx: Receiver<number>) => {
      let sum = 0;
      let count = 0;
      for (const s of rx) {
        sum += s;
        count++;
      }
      return { sum, count };
    }, sqRx);
    for (let k = 1; k <= N; k++) numTx.send(k);
    numTx.close();
    for (const s of squarers) s.join();
    assert.deepEqual(summer.join(), { sum: (N * (N + 1) * (2 * N + 1)) / 6, count: N });
  });

  test('select over cloned receivers: every message taken exactly once', T, () => {
    const [aTx, aRx] = channel<number>();
    const [bTx, bRx] = channel<number>();
    const worker = async (a: Receiver<number>, b: Receiver<number>) => {
      const { select } = await import('weft');
      const live = [a, b];
      const got: number[] = [];
      while (live.length > 0) {
        try {
          got.push(select(live)!.value as number);
        } catch (e) {
          const index = (e as { index?: number }).index;
          if ((e as Error).name !== 'RecvError' || index === undefined) throw e;
          live.splice(index, 1); // that channel is disconnected and drained
        }
      }
      return got;
    };
    const workers = [spawn(worker, aRx.clone(), bRx.clone()), spawn(worker, aRx.clone(), bRx.clone())];
    aRx.close();
    bRx.close();
    for (let k = 0; k < 500; k++) {
      aTx.send(k);
      bTx.send(1000 + k);
    }
    aTx.close();
    bTx.close();
    const all = workers.flatMap((w) => w.join()).sort((x, y) => x - y);
    assert.deepEqual(all, [...Array.from({ length: 500 }, (_, k) => k), ...Array.from({ length: 500 }, (_, k) => 1000 + k)]);
  });

  test('Receiver.len() and isEmpty() tell a channel<void> message from nothing', T, () => {
    const [tx, rx] = channel<void>();
    assert.equal(rx.isEmpty(), true);
    tx.send(undefined);
    tx.send(undefined);
    assert.equal(rx.len(), 2);
    assert.equal(rx.isEmpty(), false);
    assert.equal(rx.tryRecv(), undefined);
    assert.equal(rx.len(), 1);
    rx.tryRecv();
    assert.equal(rx.isEmpty(), true);
  });

  test('cloned receivers: senders see SendError once every receiver is gone', T, () => {
    const [tx, rx] = channel<number>();
    const rx2 = rx.clone();
    rx.close();
    tx.send(1); // rx2 is still there
    assert.equal(rx2.recv(), 1);
    rx2.close();
    assert.throws(() => tx.send(2), (e) => e instanceof SendError && e.value === 2);
  });
});

describe('cancellation: an aborted async wait takes nothing', () => {
  test('recvAsync: the message goes to the next receiver', T, async () => {
    const [tx, rx] = channel<number>();
    const c = new AbortController();
    const reason = new Error('stop waiting');
    const p = rx.recvAsync({ signal: c.signal });
    c.abort(reason);
    await rejectsWith(p, reason);
    tx.send(7);
    assert.equal(await rx.recvAsync(), 7);
    const pre = aborted();
    await rejectsWith(rx.recvAsync(pre), pre.reason); // already aborted: rejects before its fast path
    tx.send(8);
    assert.equal(rx.tryRecv(), 8);
  });

  test('recvAsync on a cloned receiver: the other receiver gets the message', T, async () => {
    const [tx, rx] = channel<number>();
    const other = rx.clone();
    const c = new AbortController();
    const p = rx.recvAsync({ signal: c.signal });
    const q = other.recvAsync();
    c.abort(new Error('x'));
    await assert.rejects(p);
    tx.send(42);
    assert.equal(await q, 42);
  });

  test('sendAsync on a full channel: the value is never queued', T, async () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(1);
    const c = new AbortController();
    const reason = new Error('give up sending');
    const p = tx.sendAsync(2, { signal: c.signal });
    c.abort(reason);
    await rejectsWith(p, reason);
    assert.equal(rx.recv(), 1);
    assert.equal(rx.tryRecv(), undefined);
    tx.send(3);
    assert.equal(rx.recv(), 3);
  });

  test('selectAsync: no receiver keeps a claim', T, async () => {
    const [aTx, aRx] = channel<string>();
    const [bTx, bRx] = channel<string>();
    const c = new AbortController();
    const reason = new Error('no longer interested');
    const p = selectAsync([aRx, bRx], { signal: c.signal });
    c.abort(reason);
    await rejectsWith(p, reason);
    aTx.send('a');
    bTx.send('b');
    assert.equal(aRx.tryRecv(), 'a');
    assert.equal(bRx.tryRecv(), 'b');
    const pre = aborted();
    aTx.send('kept');
    await rejectsWith(selectAsync([aRx, bRx], pre), pre.reason);
    assert.equal(aRx.tryRecv(), 'kept');
  });

  test('lockAsync: the next waiter still gets the lock', T, async () => {
    const m = new Mutex(0);
    const holder = holdMutex(m);
    const c = new AbortController();
    const reason = new Error('lock no longer needed');
    const p = m.lockAsync({ signal: c.signal });
    const next = m.lockAsync();
    c.abort(reason);
    await rejectsWith(p, reason);
    holder.release();
    const g = await next;
    g.value = 5;
    g.unlock();
    await holder.handle.joinAsync();
    assert.equal(m.withLock((v) => v), 5);
    assert.equal(m.isPoisoned(), false);
  });

  test('readAsync and writeAsync: an aborted writer leaves no "writer waiting" behind', T, async () => {
    const l = new RwLock(1);
    const [readyTx, readyRx] = channel<null>();
    const [goTx, goRx] = channel<null>();
    const reader = spawn((l: RwLock<number>, ready: Sender<null>, go: Receiver<null>) => {
      const g = l.read();
      ready.send(null);
      go.recv();
      g.unlock();
    }, l, readyTx, goRx);
    readyRx.recv();
    const c = new AbortController();
    const reason = new Error('writer cancelled');
    const w = l.writeAsync({ signal: c.signal });
    c.abort(reason);
    await rejectsWith(w, reason);
    // With the writer gone, a new reader is not held back behind it.
    const r = l.tryRead();
    assert.ok(r, 'tryRead failed while only a reader holds the lock');
    r.unlock();
    goTx.send(null);
    await reader.joinAsync();

    const wg = l.write();
    const c2 = new AbortController();
    const reason2 = new Error('reader cancelled');
    const rp = l.readAsync({ signal: c2.signal });
    c2.abort(reason2);
    await rejectsWith(rp, reason2);
    wg.value = 2;
    wg.unlock();
    const g = await l.readAsync();
    assert.equal(g.value, 2);
    g.unlock();
    const g2 = await l.writeAsync();
    g2.unlock();
  });

  test('Condvar.waitAsync: the notification reaches the thread still waiting', T, async () => {
    const m = new Mutex(false);
    const cv = new Condvar();
    const [readyTx, readyRx] = channel<null>();
    const waiter = spawn((m: Mutex<boolean>, cv: Condvar, ready: Sender<null>) => {
      const g = m.lock();
      ready.send(null);
      while (!g.value) cv.wait(g);
      g.unlock();
      return 'woken';
    }, m, cv, readyTx);
    await readyRx.recvAsync();
    const g = await m.lockAsync(); // the waiter released the lock inside wait()
    const c = new AbortController();
    const reason = new Error('stop waiting on the condvar');
    const p = cv.waitAsync(g, { signal: c.signal });
    c.abort(reason);
    await rejectsWith(p, reason);
    // The guard is ours again after the abort.
    g.value = true;
    cv.notifyOne();
    g.unlock();
    assert.equal(await waiter.joinAsync(), 'woken');
  });

  test('acquireAsync: an aborted head of the queue does not block the next waiter', T, async () => {
    const sem = new Semaphore(0);
    const c = new AbortController();
    const reason = new Error('no permits needed');
    const big = sem.acquireAsync(2, { signal: c.signal });
    const small = sem.acquireAsync(1);
    sem.addPermits(1);
    c.abort(reason);
    await rejectsWith(big, reason);
    const permit = await small;
    assert.equal(sem.availablePermits(), 0);
    permit.release();
    assert.equal(sem.availablePermits(), 1);
  });

  test('notified: an aborted waiter does not swallow notifyOne', T, async () => {
    const n = new Notify();
    const c = new AbortController();
    const reason = new Error('stop');
    const p = n.notified({ signal: c.signal });
    const q = n.notified();
    c.abort(reason);
    await rejectsWith(p, reason);
    n.notifyOne();
    await q;
  });

  test('OnceCell.getOrInit: an aborted waiter takes nothing, an aborted initialiser leaves it empty', T, async () => {
    const cell = new OnceCell<number>();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const first = cell.getOrInit(async () => {
      await gate;
      return 1;
    });
    const c = new AbortController();
    const reason = new Error('waiter cancelled');
    const waiting = cell.getOrInit(() => 2, { signal: c.signal });
    c.abort(reason);
    await rejectsWith(waiting, reason);
    open();
    assert.equal(await first, 1);
    assert.equal(cell.get(), 1);

    const empty = new OnceCell<number>();
    const c2 = new AbortController();
    const reason2 = new Error('initialiser cancelled');
    const never = empty.getOrInit(() => new Promise<number>(() => {}), { signal: c2.signal });
    c2.abort(reason2);
    await rejectsWith(never, reason2);
    assert.equal(empty.initialized(), false);
    assert.equal(await empty.getOrInit(() => 3), 3);
  });

  test('Barrier.waitAsync: an aborted arrival is not counted', T, async () => {
    const b = new Barrier(2);
    const c = new AbortController();
    const reason = new Error('left the barrier');
    const p = b.waitAsync({ signal: c.signal });
    c.abort(reason);
    await rejectsWith(p, reason);
    const other = spawn((b: Barrier) => b.wait().isLeader, b);
    const mine = (await b.waitAsync()).isLeader;
    const theirs = await other.joinAsync();
    assert.equal(Number(mine) + Number(theirs), 1, 'exactly one leader among the two real arrivals');
  });

  test('Once.waitAsync and callOnceAsync: aborts take no run and leave the Once usable', T, async () => {
    const once = new Once();
    const c = new AbortController();
    const reason = new Error('not waiting any more');
    const waiting = once.waitAsync({ signal: c.signal });
    c.abort(reason);
    await rejectsWith(waiting, reason);
    const pre = aborted();
    let ran = false;
    await rejectsWith(once.callOnceAsync(async () => void (ran = true), pre), pre.reason);
    assert.equal(ran, false);
    assert.equal(once.isCompleted(), false);
    await once.callOnceAsync(async () => void (ran = true));
    assert.equal(ran, true);
    await once.waitAsync();
  });

  test('OnceLock.waitAsync and getOrInitAsync: an aborted caller initialises nothing', T, async () => {
    const cell = new OnceLock<string>();
    const c = new AbortController();
    const reason = new Error('gave up');
    const waiting = cell.waitAsync({ signal: c.signal });
    c.abort(reason);
    await rejectsWith(waiting, reason);
    const pre = aborted();
    await rejectsWith(cell.getOrInitAsync(async () => 'from the aborted caller', pre), pre.reason);
    assert.equal(cell.get(), undefined);
    const next = cell.waitAsync();
    assert.equal(cell.set('set later'), true);
    assert.equal(await next, 'set later');
  });

  test('joinAsync: an aborted joiner leaves the result for the next join', T, async () => {
    const [goTx, goRx] = channel<null>();
    const h = spawn((go: Receiver<null>) => {
      go.recv();
      return 'result';
    }, goRx);
    const c = new AbortController();
    const reason = new Error('stopped joining');
    const p = h.joinAsync({ signal: c.signal });
    c.abort(reason);
    goTx.send(null); // the abort came first: the joiner still rejects, and the result stays
    await rejectsWith(p, reason);
    assert.equal(await h.joinAsync(), 'result');
  });
});

/** Aborts `c` now, after a microtask, or after an event-loop turn, by turns: each races the wait differently. */
function abortSoon(c: AbortController, reason: unknown, k: number): void {
  if (k % 3 === 0) c.abort(reason);
  else if (k % 3 === 1) queueMicrotask(() => c.abort(reason));
  else setImmediate(() => c.abort(reason));
}

describe('cancellation racing the other side', () => {
  test('recvAsync aborted while a thread sends: every message arrives once, in order', T, async () => {
    const N = 2000;
    const [tx, rx] = channel<number>();
    const producer = spawn((tx: Sender<number>, n: number) => {
      for (let k = 0; k < n; k++) tx.send(k);
    }, tx, N);
    const reason = new Error('abort');
    const got: number[] = [];
    for (let k = 0; got.length < N; k++) {
      const c = new AbortController();
      const p = rx.recvAsync({ signal: c.signal });
      abortSoon(c, reason, k);
      try {
        got.push(await p);
      } catch (e) {
        if (e !== reason) throw e;
      }
    }
    assert.deepEqual(got, Array.from({ length: N }, (_, k) => k));
    await producer.joinAsync();
    await assert.rejects(rx.recvAsync(), RecvError);
  });

  test('lockAsync aborted while a thread locks and unlocks: no lock left held, no update lost', T, async () => {
    const ROUNDS = 1000;
    const m = new Mutex(0);
    const other = spawn((m: Mutex<number>, n: number) => {
      for (let k = 0; k < n; k++) {
        const g = m.lock();
        g.value += 1;
        g.unlock();
      }
    }, m, ROUNDS);
    const reason = new Error('abort');
    let mine = 0;
    for (let k = 0; k < ROUNDS; k++) {
      const c = new AbortController();
      const p = m.lockAsync({ signal: c.signal });
      abortSoon(c, reason, k);
      try {
        const g = await p;
        g.value += 1;
        g.unlock();
        mine++;
      } catch (e) {
        if (e !== reason) throw e;
      }
    }
    await other.joinAsync();
    assert.equal(m.withLock((v) => v), ROUNDS + mine);
  });

  test('acquireAsync aborted while a thread takes and returns the permit: no permit lost', T, async () => {
    const ROUNDS = 1000;
    const sem = new Semaphore(1);
    const other = spawn((sem: Semaphore, n: number) => {
      for (let k = 0; k < n; k++) sem.acquire().release();
    }, sem, ROUNDS);
    const reason = new Error('abort');
    for (let k = 0; k < ROUNDS; k++) {
      const c = new AbortController();
      const p = sem.acquireAsync(1, { signal: c.signal });
      abortSoon(c, reason, k);
      try {
        (await p).release();
      } catch (e) {
        if (e !== reason) throw e;
      }
    }
    await other.joinAsync();
    assert.equal(sem.availablePermits(), 1);
  });
});

describe('tokio Notify semantics', () => {
  test('notifyOne with nobody waiting stores exactly one permit', T, async () => {
    const n = new Notify();
    n.notifyOne();
    n.notifyOne();
    assert.equal(await settlesNow(n.notified()), true);
    const second = n.notified();
    assert.equal(await settlesNow(second), false, 'a second stored permit');
    n.notifyOne();
    await second;
  });

  test('notifyWaiters wakes the current waiters only and stores nothing', T, async () => {
    const n = new Notify();
    const a = n.notified();
    const b = n.notified();
    n.notifyWaiters();
    await Promise.all([a, b]);
    const later = n.notified();
    assert.equal(await settlesNow(later), false);
    n.notifyOne();
    await later;
  });
});

describe('threads that die', () => {
  test('a worker killed while holding a Mutex: the next lock() throws PoisonError, nobody hangs', T, async () => {
    const m = new Mutex({ balance: 100 });
    const [readyTx, readyRx] = channel<null>();
    const holder = spawn((m: Mutex<{ balance: number }>, ready: Sender<null>) => {
      const g = m.lock();
      g.value.balance -= 30; // an update the holder never finishes
      ready.send(null);
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }, m, readyTx);
    await readyRx.recvAsync();
    const blocked = spawn(async (m: Mutex<{ balance: number }>) => {
      try {
        m.lock();
        return 'locked';
      } catch (e) {
        return (e as Error).name;
      }
    }, m);
    await holder.terminate();
    assert.throws(() => holder.join(), { name: 'PanicError' });
    assert.equal(await blocked.joinAsync(), 'PoisonError');
    assert.equal(m.isPoisoned(), true);
    let err: unknown;
    try {
      m.lock();
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PoisonError);
    const g = (err as PoisonError<{ value: { balance: number }; unlock(): void }>).intoInner();
    assert.equal(g.value.balance, 100); // the dead holder's unfinished update was never written back
    g.unlock();
    m.clearPoison();
    assert.equal(m.withLock((v) => v.balance), 100);
  });

  test('a producer killed mid-stream: the consumer iteration ends, nothing out of order', T, async () => {
    const [tx, rx] = syncChannel<number>(16);
    const [readyTx, readyRx] = channel<null>();
    const producer = spawn((tx: SyncSender<number>, ready: Sender<null>) => {
      for (let i = 0; ; i++) {
        tx.send(i);
        if (i === 99) ready.send(null);
      }
    }, tx, readyTx);
    const consumer = spawn((rx: Receiver<number>) => {
      let count = 0;
      for (const v of rx) {
        if (v !== count) throw new Error(`expected ${count}, got ${v}`);
        count++;
      }
      return count;
    }, rx);
    await readyRx.recvAsync();
    await producer.terminate();
    const count = await consumer.joinAsync();
    assert.ok(count >= 100, `consumer saw ${count} messages`);
  });

  test('a receiver thread killed: blocked senders get SendError', T, async () => {
    const [tx, rx] = syncChannel<number>(0);
    const [readyTx, readyRx] = channel<null>();
    const receiver = spawn((_rx: Receiver<number>, ready: Sender<null>) => {
      ready.send(null); // holds the receiver and never receives
      for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }, rx, readyTx);
    await readyRx.recvAsync();
    const failed = assert.rejects(tx.sendAsync(1), (e) => e instanceof SendError && e.value === 1);
    await receiver.terminate();
    await failed;
  });
});
