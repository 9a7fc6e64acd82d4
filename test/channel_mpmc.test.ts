// Endpoints that move, multi-consumer receivers (crossbeam-channel semantics) over every
// flavor, receivers kept in a Mutex, { signal } cancellation and fairness of async
// receiving to the event loop: written the way Rust and tokio programs use channels.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  channel, codecs, Mutex, oneshot, RecvError, type Receiver, select, SendError, type Sender, spawn,
  syncChannel, type SyncSender,
} from '../src/index.ts';

type AnySender<T> = Sender<T> | SyncSender<T>;
type Make = <T>(options?: Parameters<typeof channel<T>>[0]) => [AnySender<T>, Receiver<T>];

const flavors: Array<[string, Make]> = [
  ['unbounded', (o) => channel(o)],
  ['bounded(1)', (o) => syncChannel(1, o)],
  ['bounded(8)', (o) => syncChannel(8, o)],
  ['rendezvous', (o) => syncChannel(0, o)],
];

/** Flavors that buffer two messages: single-thread tests send before receiving. */
const buffered = [flavors[0], flavors[2]];

const LONG = { timeout: 60_000 };

describe('endpoints move: the Rust idiom ends without garbage collection', () => {
  for (const [name, make] of flavors) {
    const per = name === 'rendezvous' ? 300 : 1000;
    test(`${name}: spawn(f, tx.clone()) ×4, tx.close(), for..of ends with every message`, LONG, () => {
      const [tx, rx] = make<number>({ codec: codecs.i32 });
      const threads = [];
      for (let p = 0; p < 4; p++) {
        threads.push(spawn((out: AnySender<number>, id: number, n: number) => {
          for (let i = 0; i < n; i++) out.send(id * n + i);
        }, tx.clone(), p, per));
      }
      tx.close();
      let count = 0;
      let sum = 0;
      for (const v of rx) {
        count++;
        sum += v;
      }
      const total = 4 * per;
      assert.equal(count, total);
      assert.equal(sum, (total * (total - 1)) / 2);
      for (const t of threads) t.join();
    });

    test(`${name}: the same with for await`, LONG, async () => {
      const [tx, rx] = make<number>({ codec: codecs.i32 });
      const threads = [];
      for (let p = 0; p < 4; p++) {
        threads.push(spawn((out: AnySender<number>, n: number) => {
          for (let i = 0; i < n; i++) out.send(1);
        }, tx.clone(), per));
      }
      tx.close();
      let n = 0;
      for await (const v of rx) n += v;
      assert.equal(n, 4 * per);
      for (const t of threads) await t.joinAsync();
    });
  }

  test('a moved sender throws a TypeError naming clone(); the clone keeps working', () => {
    const [tx, rx] = channel<number>();
    const t = spawn((out: Sender<number>) => out.send(1), tx);
    assert.throws(() => tx.send(2), (e) => e instanceof TypeError && /moved/.test(e.message) && /clone\(\)/.test(e.message));
    assert.throws(() => tx.clone(), TypeError);
    t.join();
    assert.equal(rx.recv(), 1);
    assert.throws(() => rx.recv(), RecvError); // the thread's sender was the last one
  });

  test('a sender stored in a Mutex moves into it and keeps the channel open while stored', () => {
    const [tx, rx] = channel<number>();
    const m = new Mutex(tx);
    assert.throws(() => tx.send(0), TypeError);
    for (let k = 1; k <= 3; k++) {
      const g = m.lock();
      g.value.send(k);
      g.unlock();
    }
    assert.deepEqual([...rx.tryIter()], [1, 2, 3]);
    assert.equal(rx.tryRecv(), undefined); // still connected: the Mutex holds a sender
  });

  test('oneshot ends move: into a thread, and the receiver into select', () => {
    const [tx, rx] = oneshot<string>();
    const [t2, r2] = oneshot<string>();
    const t = spawn((out: { send(v: string): void }) => out.send('hi'), tx);
    assert.throws(() => tx.send('again'), (e) => e instanceof TypeError && /moved/.test(e.message));
    t.join();
    const got = select([r2, rx]);
    assert.deepEqual(got, { index: 1, value: 'hi' });
    const [ptx, prx] = channel<typeof rx>();
    ptx.send(r2);
    assert.throws(() => r2.tryRecv(), TypeError);
    t2.send('moved');
    assert.equal(prx.recv().recv(), 'moved');
  });
});

describe('Receiver.clone(): multi-consumer', () => {
  test('single thread: each message goes to one receiver; RecvError once every sender is gone', () => {
    for (const [, make] of buffered) {
      const [tx, rx] = make<number>();
      const rx2 = rx.clone();
      tx.send(1);
      assert.equal(rx2.len(), 1);
      tx.send(2);
      assert.equal(rx.len(), 2);
      assert.equal(rx2.recv(), 1);
      assert.equal(rx.recv(), 2);
      assert.equal(rx.tryRecv(), undefined);
      assert.ok(rx2.isEmpty());
      tx.close();
      assert.throws(() => rx.recv(), RecvError);
      assert.throws(() => rx2.tryRecv(), RecvError);
    }
  });

  test('senders see SendError only once every receiver is gone; what is queued stays for the others', () => {
    for (const [, make] of buffered) {
      const [tx, rx] = make<number>();
      const rx2 = rx.clone();
      tx.send(1);
      rx.close();
      tx.send(2);
      assert.deepEqual([rx2.recv(), rx2.recv()], [1, 2]);
      rx2.close();
      assert.throws(() => tx.send(3), (e) => e instanceof SendError && e.value === 3);
    }
  });

  test('len() and isEmpty() tell a received undefined from an empty channel', () => {
    const [tx, rx] = channel<void>();
    assert.ok(rx.isEmpty());
    tx.send();
    tx.send();
    assert.equal(rx.len(), 2);
    assert.equal(rx.tryRecv(), undefined);
    assert.equal(rx.len(), 1);
    rx.tryRecv();
    assert.ok(rx.isEmpty());
    const [btx, brx] = syncChannel<number>(4);
    btx.send(1);
    assert.equal(brx.len(), 1);
    // Many blocks of the unbounded list.
    const [ltx, lrx] = channel<number>({ codec: codecs.i32 });
    for (let k = 0; k < 500; k++) ltx.send(k);
    for (let k = 0; k < 130; k++) lrx.recv();
    assert.equal(lrx.len(), 370);
  });

  for (const [name, make] of flavors) {
    test(`${name}: 4 producers × 3 consumers in threads, every message received exactly once`, LONG, () => {
      const per = name === 'rendezvous' ? 500 : 3000;
      const [tx, rx] = make<number>({ codec: codecs.i32 });
      const producers = [0, 1, 2, 3].map((p) =>
        spawn((out: AnySender<number>, id: number, n: number) => {
          for (let i = 0; i < n; i++) out.send(id * n + i);
        }, tx.clone(), p, per),
      );
      tx.close();
      // Two blocking consumers and one async one, in different threads.
      const consumers = [
        spawn((inbox: Receiver<number>) => {
          const got: number[] = [];
          for (const v of inbox) got.push(v);
          return got;
        }, rx.clone()),
        spawn(async (inbox: Receiver<number>) => {
          const got: number[] = [];
          for await (const v of inbox) got.push(v);
          return got;
        }, rx.clone()),
      ];
      const mine: number[] = [];
      for (const v of rx) mine.push(v);
      const all = [...mine, ...consumers.flatMap((c) => c.join())];
      for (const p of producers) p.join();
      all.sort((a, b) => a - b);
      assert.equal(all.length, 4 * per);
      for (let k = 0; k < all.length; k++) if (all[k] !== k) assert.fail(`message ${k} missing or repeated`);
    });

    test(`${name}: a consumer closing mid-stream loses no one else's messages`, LONG, async () => {
      const per = name === 'rendezvous' ? 300 : 2000;
      const [tx, rx] = make<number>({ codec: codecs.i32 });
      const producers = [0, 1].map((p) =>
        spawn((out: AnySender<number>, id: number, n: number) => {
          for (let i = 0; i < n; i++) out.send(id * n + i);
        }, tx.clone(), p, per),
      );
      tx.close();
      const quitter = spawn((inbox: Receiver<number>) => {
        const got: number[] = [];
        for (let k = 0; k < 50; k++) got.push(inbox.recv());
        inbox.close();
        return got;
      }, rx.clone());
      const [reportTx, reportRx] = channel<number>();
      const killed = spawn((inbox: Receiver<number>, report: Sender<number>) => {
        // Takes one message, says which, then hangs on until it is killed.
        report.send(inbox.recv());
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }, rx.clone(), reportTx);
      const taken = reportRx.recv();
      await killed.terminate();
      const mine: number[] = [];
      for await (const v of rx) mine.push(v);
      const all = [...mine, ...quitter.join(), taken];
      for (const p of producers) p.join();
      assert.equal(all.length, 2 * per);
      assert.equal(new Set(all).size, all.length);
    });
  }

  test('a work queue shared by workers (rx.clone() to each spawn): results collected once each', LONG, () => {
    const [jobs, queue] = channel<number>({ codec: codecs.i32 });
    const [results, done] = channel<number>({ codec: codecs.i32 });
    const workers = [0, 1, 2].map(() =>
      spawn((q: Receiver<number>, out: Sender<number>) => {
        let n = 0;
        for (const job of q) {
          out.send(job * 2);
          n++;
        }
        return n;
      }, queue.clone(), results.clone()),
    );
    queue.close();
    results.close();
    for (let k = 0; k < 5000; k++) jobs.send(k);
    jobs.close();
    let sum = 0;
    let count = 0;
    for (const r of done) {
      sum += r;
      count++;
    }
    assert.equal(count, 5000);
    assert.equal(sum, 5000 * 4999);
    assert.equal(workers.reduce((a, w) => a + w.join(), 0), 5000);
  });

  test('select over cloned receivers in several threads: every message selected once', LONG, () => {
    const [atx, arx] = channel<number>({ codec: codecs.i32 });
    const [btx, brx] = syncChannel<number>(4, { codec: codecs.i32 });
    const selectors = [0, 1].map(() =>
      spawn(async (a: Receiver<number>, b: Receiver<number>) => {
        const weft = await import('weft');
        let live = [a, b];
        const got: number[] = [];
        while (live.length > 0) {
          try {
            got.push(weft.select(live)!.value as number);
          } catch (e) {
            live = live.filter((_, k) => k !== (e as { index: number }).index);
          }
        }
        return got;
      }, arx.clone(), brx.clone()),
    );
    arx.close();
    brx.close();
    for (let k = 0; k < 2000; k++) {
      atx.send(2 * k);
      btx.send(2 * k + 1);
    }
    atx.close();
    btx.close();
    const all = selectors.flatMap((s) => s.join()).sort((x, y) => x - y);
    assert.equal(all.length, 4000);
    for (let k = 0; k < 4000; k++) if (all[k] !== k) assert.fail(`message ${k} missing or repeated`);
  });

  test('no lost wake-up: two receivers asleep in two threads, two messages, both wake', LONG, () => {
    for (const [, make] of flavors) {
      for (let round = 0; round < 20; round++) {
        const [tx, rx] = make<number>();
        const [readyTx, readyRx] = channel<void>();
        const sleepers = [0, 1].map(() =>
          spawn((inbox: Receiver<number>, ready: Sender<void>) => {
            ready.send();
            ready.close();
            return inbox.recv();
          }, rx.clone(), readyTx.clone()),
        );
        readyTx.close();
        readyRx.recv();
        readyRx.recv();
        if (tx instanceof Object && 'trySend' in tx) {
          (tx as SyncSender<number>).send(1);
          (tx as SyncSender<number>).send(2);
        } else {
          tx.send(1);
          tx.send(2);
        }
        assert.deepEqual(sleepers.map((s) => s.join()).sort(), [1, 2]);
        rx.close();
      }
    }
  });
});

test('Rust book thread pool: a Receiver in a Mutex, lock + tryRecv + unlock repeatedly', () => {
  const [tx, rx] = channel<number>();
  const m = new Mutex(rx);
  tx.send(1);
  tx.send(2);
  tx.send(3);
  const got: number[] = [];
  for (let k = 0; k < 3; k++) {
    const g = m.lock();
    got.push(g.value.tryRecv()!);
    g.unlock();
  }
  assert.deepEqual(got, [1, 2, 3]);
  tx.send(4); // still open: the Mutex holds the receiver
  const g = m.lock();
  assert.equal(g.value.recv(), 4);
  g.unlock();
});
