// Channels: semantics of the three flavors, then cross-thread behaviour ported from
// Rust's std mpsc tests (library/std/tests/sync/mpsc.rs, mpsc_sync.rs) and
// crossbeam-channel's tests (list.rs, array.rs, zero.rs), in our own words.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AtomicI32, channel, codecs, RecvError, type Receiver, SendError, type Sender, sleep, spawn, syncChannel,
  type SyncSender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';

const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);

type AnySender<T> = Sender<T> | SyncSender<T>;
type Make = <T>(options?: Parameters<typeof channel<T>>[0]) => [AnySender<T>, Receiver<T>];

/** Flavors that buffer: messages can be sent before anyone receives. */
const buffered: Array<[string, Make]> = [
  ['unbounded', (o) => channel(o)],
  ['bounded(8)', (o) => syncChannel(8, o)],
];
const all: Array<[string, Make]> = [...buffered, ['rendezvous', (o) => syncChannel(0, o)]];

describe('single thread', () => {
  for (const [name, make] of buffered) {
    describe(name, () => {
      test('messages arrive in order, each once', () => {
        const [tx, rx] = make<unknown>();
        const sent = [1, 'two', { three: [3] }, null, -0, 2n ** 70n];
        for (const m of sent) tx.send(m);
        const got = sent.map(() => rx.recv());
        assert.deepEqual(got, sent);
        assert.ok(Object.is(got[4], -0));
        assert.equal(rx.tryRecv(), undefined);
      });

      test('try_recv states: empty, a message, empty, then disconnected', () => {
        const [tx, rx] = make<number>();
        assert.equal(rx.tryRecv(), undefined);
        tx.send(7);
        assert.equal(rx.tryRecv(), 7);
        assert.equal(rx.tryRecv(), undefined);
        tx.close();
        assert.throws(() => rx.tryRecv(), RecvError);
      });

      test('closing every sender: recv drains, then throws RecvError; iteration ends', () => {
        const [tx, rx] = make<number>();
        const tx2 = tx.clone();
        tx.send(1);
        tx2.send(2);
        tx.close();
        tx2.send(3);
        tx2[Symbol.dispose]();
        assert.deepEqual([...rx], [1, 2, 3]);
        assert.throws(() => rx.recv(), (e) => e instanceof RecvError && /every sender is gone/.test(e.message));
        assert.deepEqual([...rx.tryIter()], []);
      });

      test('closing the receiver: send throws SendError carrying the value', () => {
        const [tx, rx] = make<{ n: number }>();
        rx.close();
        const value = { n: 1 };
        assert.throws(() => tx.send(value), (e) => e instanceof SendError && e.value === value);
      });

      test('recvTimeout: undefined on timeout, the message when there is one, RangeError when negative', () => {
        const [tx, rx] = make<number>();
        assert.equal(rx.recvTimeout(10), undefined);
        assert.equal(rx.recvTimeout(0), undefined);
        tx.send(5);
        assert.equal(rx.recvTimeout(1000), 5);
        assert.throws(() => rx.recvTimeout(-1), RangeError);
        assert.throws(() => rx.recvTimeout(Number.NaN), RangeError);
        tx.close();
        assert.throws(() => rx.recvTimeout(10), RecvError);
      });

      test('tryIter yields what is ready now', () => {
        const [tx, rx] = make<number>();
        tx.send(1);
        tx.send(2);
        assert.deepEqual([...rx.tryIter()], [1, 2]);
        tx.send(3);
        assert.deepEqual([...rx.tryIter()], [3]);
      });

      test('an unencodable value throws TypeError naming the path; nothing is sent', () => {
        const [tx, rx] = make<unknown>();
        assert.throws(() => tx.send({ a: [1, () => 2] }), (e) => e instanceof TypeError && /\.a\[1\]/.test(e.message));
        assert.throws(() => tx.send(Symbol('s')), TypeError);
        tx.send('after');
        assert.equal(rx.recv(), 'after');
        assert.equal(rx.tryRecv(), undefined);
      });

      test('fixed-width codecs carry numbers in place and reject others before sending', () => {
        const [tx, rx] = make<number>({ codec: codecs.f64 });
        for (const x of [0.5, -0, Number.NaN, Infinity, -1e308]) tx.send(x);
        for (const x of [0.5, -0, Number.NaN, Infinity, -1e308]) assert.ok(Object.is(rx.recv(), x));
        assert.throws(() => tx.send('1' as unknown as number), TypeError);
        const [ti, ri] = make<number>({ codec: codecs.i32 });
        ti.send(-(2 ** 31));
        assert.throws(() => ti.send(1.5), TypeError);
        assert.throws(() => ti.send(2 ** 31), TypeError);
        ti.send(2 ** 31 - 1);
        assert.deepEqual([ri.recv(), ri.recv(), ri.tryRecv()], [-(2 ** 31), 2 ** 31 - 1, undefined]);
      });

      test('json, bytes and utf8 codecs; messages bigger than a slot', () => {
        const [tj, rj] = make<unknown>({ codec: codecs.json });
        tj.send({ a: [1, 'x'] });
        assert.deepEqual(rj.recv(), { a: [1, 'x'] });
        const [tb, rb] = make<Uint8Array>({ codec: codecs.bytes });
        const big = new Uint8Array(10_000).map((_, k) => k);
        tb.send(big);
        tb.send(new Uint8Array([1, 2]));
        assert.deepEqual(rb.recv(), big);
        assert.deepEqual(rb.recv(), new Uint8Array([1, 2]));
        const [tu, ru] = make<string>({ codec: codecs.utf8 });
        tu.send('héllo'.repeat(100));
        assert.equal(ru.recv(), 'héllo'.repeat(100));
      });

      test('use after close throws TypeError; close is idempotent', () => {
        const [tx, rx] = make<number>();
        tx.close();
        tx.close();
        assert.throws(() => tx.send(1), (e) => e instanceof TypeError && /closed/.test(e.message));
        assert.throws(() => tx.clone(), TypeError);
        rx.close();
        assert.throws(() => rx.recv(), TypeError);
        assert.throws(() => rx.tryRecv(), TypeError);
      });

      test('unreceived messages release the handles they carry when the receiver closes', () => {
        const [tx, rx] = make<unknown>();
        const a = new AtomicI32(1);
        tx.send({ a });
        tx.send([a, a]);
        assert.equal(refcount(a.offset), 3);
        rx.close();
        assert.equal(refcount(a.offset), 1);
        tx.close();
      });
    });
  }

  test('unbounded: a sender keeps sending past many blocks; memory is reused', () => {
    const [tx, rx] = channel<number>({ codec: codecs.i32 });
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 1000; k++) tx.send(k);
      for (let k = 0; k < 1000; k++) assert.equal(rx.recv(), k);
    }
    tx.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('bounded: trySend is false when full, true once there is room; sendTimeout gives up', () => {
    const [tx, rx] = syncChannel<number>(2);
    assert.equal(tx.trySend(1), true);
    assert.equal(tx.trySend(2), true);
    assert.equal(tx.trySend(3), false);
    assert.equal(tx.sendTimeout(3, 10), false);
    assert.equal(rx.recv(), 1);
    assert.equal(tx.trySend(3), true);
    assert.deepEqual([rx.recv(), rx.recv(), rx.tryRecv()], [2, 3, undefined]);
    assert.throws(() => tx.sendTimeout(1, -5), RangeError);
    rx.close();
    assert.throws(() => tx.trySend(4), (e) => e instanceof SendError && e.value === 4);
  });

  test('bounded: a full trySend leaves handles in the value untouched', () => {
    const [tx, rx] = syncChannel<unknown>(1);
    tx.send(0);
    const [, inner] = channel<number>();
    assert.equal(tx.trySend({ inner }), false);
    assert.equal(inner.tryRecv(), undefined); // still usable here: it was not moved
    rx.close();
  });

  test('rendezvous: trySend is false with no receiver waiting; sendTimeout gives the value back', () => {
    const [tx, rx] = syncChannel<number>(0);
    assert.equal(tx.trySend(1), false);
    assert.equal(tx.sendTimeout(1, 10), false);
    assert.equal(rx.tryRecv(), undefined);
    rx.close();
    assert.throws(() => tx.send(2), (e) => e instanceof SendError && e.value === 2);
  });

  test('syncChannel validates the bound; options.codec is checked', () => {
    assert.throws(() => syncChannel(-1), RangeError);
    assert.throws(() => syncChannel(1.5), RangeError);
    assert.throws(() => syncChannel('2' as unknown as number), TypeError);
    assert.throws(() => channel({ codec: {} as never }), TypeError);
  });

  test('a receiver sent in a message moves: the old handle throws, the new one receives', () => {
    const [tx, rx] = channel<number>();
    const [ptx, prx] = channel<Receiver<number>>();
    ptx.send(rx);
    assert.throws(() => rx.recv(), (e) => e instanceof TypeError && /moved/.test(e.message));
    const moved = prx.recv();
    tx.send(9);
    assert.equal(moved.recv(), 9);
  });

  test('a sender sent in a message moves: the old handle throws and names clone()', () => {
    const [tx, rx] = channel<number>();
    const [ptx, prx] = channel<Sender<number>>();
    ptx.send(tx);
    assert.throws(() => tx.send(1), (e) => e instanceof TypeError && /moved/.test(e.message) && /clone\(\)/.test(e.message));
    tx.close(); // a moved handle has nothing to give back: a no-op
    const moved = prx.recv();
    moved.send(2);
    assert.equal(rx.recv(), 2);
    moved.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('a sync sender moves too, and gives back the permits it held for itself', () => {
    const [tx, rx] = syncChannel<number>(2, { codec: codecs.i32 });
    tx.send(1); // a sole sender keeps the free permits in its handle
    const [ptx, prx] = channel<SyncSender<number>>();
    ptx.send(tx);
    const moved = prx.recv();
    assert.equal(moved.trySend(2), true);
    assert.equal(moved.trySend(3), false);
    assert.deepEqual([rx.recv(), rx.recv()], [1, 2]);
    moved.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('recvAsync and the async iterator', async () => {
    const [tx, rx] = channel<number>();
    const pending = rx.recvAsync();
    setTimeout(() => {
      tx.send(1);
      tx.send(2);
      tx.close();
    }, 5);
    assert.equal(await pending, 1);
    const rest: number[] = [];
    for await (const m of rx) rest.push(m);
    assert.deepEqual(rest, [2]);
    await assert.rejects(rx.recvAsync(), RecvError);
  });

  test('for await: break ends that loop only, a later loop gets the rest, and a disconnected iterator stays done', async () => {
    const [tx, rx] = channel<number>();
    for (let k = 0; k < 5; k++) tx.send(k);
    const first: number[] = [];
    for await (const m of rx) {
      first.push(m);
      if (m === 1) break;
    }
    const it = rx[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { done: false, value: 2 });
    setTimeout(() => {
      tx.send(5);
      tx.close();
    }, 5);
    const rest: number[] = [];
    for await (const m of rx) rest.push(m);
    assert.deepEqual([first, rest], [[0, 1], [3, 4, 5]]);
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    assert.deepEqual(await it.next(), { done: true, value: undefined });
    const ended = rx[Symbol.asyncIterator]();
    assert.deepEqual(await ended.return?.(), { done: true, value: undefined });
  });
});

describe('across threads', () => {
  // Each side parks often and wakes the other: a side that has just woken the other and
  // sees no progress parks without spinning, so this is where a lost wake would hang.
  for (const cap of [1, 2, 8]) {
    test(`syncChannel(${cap}): sender and receiver that pause at random wake each other, nothing lost or reordered`, { timeout: 120_000 }, () => {
      const n = 20_000;
      const [tx, rx] = syncChannel<number>(cap, { codec: codecs.i32 });
      // A pause of up to 0.2 ms (longer than a waiter spins) every eighth message or so, from a
      // seeded generator on each side.
      const pause = (seed: number) => {
        let s = seed;
        return (): void => {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          if ((s & 7) !== 0) return;
          const until = performance.now() + ((s >>> 8) % 200) / 1000;
          while (performance.now() < until);
        };
      };
      const producer = spawn((out: SyncSender<number>, count: number, seed: number) => {
        let s = seed;
        for (let k = 0; k < count; k++) {
          out.send(k);
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          if ((s & 7) === 0) for (const until = performance.now() + ((s >>> 8) % 200) / 1000; performance.now() < until; );
        }
      }, tx, n, 7);
      const wait = pause(11);
      for (let k = 0; k < n; k++) {
        assert.equal(rx.recv(), k);
        wait();
      }
      producer.join();
      assert.throws(() => rx.recv(), RecvError);
    });
  }

  for (const [name, make] of all) {
    describe(name, () => {
      test('stress_shared: 8 producers, exact count', () => {
        // A rendezvous hands each message over with wakes on both sides: fewer of them.
        const n = name === 'rendezvous' ? 1000 : 10_000;
        const [tx, rx] = make<number>({ codec: codecs.i32 });
        // Rust's idiom: each thread gets a clone, this thread closes its own sender, and
        // the channel disconnects exactly when the last producer ends.
        const producers = Array.from({ length: 8 }, () =>
          spawn((out: AnySender<number>, count: number) => {
            for (let k = 0; k < count; k++) out.send(1);
          }, tx.clone(), n),
        );
        tx.close();
        let sum = 0;
        for (const m of rx) sum += m;
        for (const p of producers) p.join();
        assert.equal(sum, 8 * n);
      });

      test('port_gone_concurrent: a sender fails once the receiver thread closed it', () => {
        const [tx, rx] = make<number>();
        const receiver = spawn((inbox: Receiver<number>) => {
          inbox.recv();
          inbox.close();
        }, rx);
        let sent = 0;
        assert.throws(() => {
          for (;;) {
            tx.send(1);
            sent++;
          }
        }, SendError);
        receiver.join();
        assert.ok(sent >= 1);
      });

      test('chan_gone_concurrent: the receiver gets what was sent, then RecvError', () => {
        const [tx, rx] = make<number>();
        const sender = spawn((out: AnySender<number>) => {
          out.send(1);
          out.send(2);
        }, tx);
        tx.close();
        assert.deepEqual([rx.recv(), rx.recv()], [1, 2]);
        assert.throws(() => rx.recv(), RecvError);
        sender.join();
      });

      test('disconnecting wakes a blocked receiver', () => {
        const [tx, rx] = make<number>();
        const receiver = spawn(async (inbox: Receiver<number>) => {
          try {
            inbox.recv();
            return 'received';
          } catch (e) {
            return (e as Error).name;
          }
        }, rx);
        sleep(50);
        tx.close();
        assert.equal(receiver.join(), 'RecvError');
      });

      test('stress_recv_timeout_two_threads: every message arrives through timed receives', () => {
        const [tx, rx] = make<number>({ codec: codecs.i32 });
        const sender = spawn(async (out: AnySender<number>) => {
          const weft = await import('weft');
          for (let k = 0; k < 2000; k++) {
            if (k % 500 === 0) weft.sleep(2);
            out.send(k);
          }
        }, tx);
        tx.close();
        let next = 0;
        for (;;) {
          let m: number | undefined;
          try {
            m = rx.recvTimeout(1);
          } catch (e) {
            assert.ok(e instanceof RecvError);
            break;
          }
          if (m !== undefined) assert.equal(m, next++);
        }
        assert.equal(next, 2000);
        sender.join();
      });
    });
  }

  test('4 producers × 100k messages: per-sender order holds, nothing lost or repeated', () => {
    const [tx, rx] = channel<number>({ codec: codecs.f64 });
    const n = 100_000;
    const producers = [0, 1, 2, 3].map((p) =>
      spawn((out: Sender<number>, id: number, count: number) => {
        for (let k = 0; k < count; k++) out.send(id * 1e6 + k);
      }, tx.clone(), p, n),
    );
    tx.close();
    const next = [0, 0, 0, 0];
    for (const m of rx) {
      const id = Math.floor(m / 1e6);
      assert.equal(m - id * 1e6, next[id]);
      next[id]++;
    }
    assert.deepEqual(next, [n, n, n, n]);
    for (const p of producers) p.join();
  });

  test('stress_recv_timeout_shared: 8 senders, one receiver with a timeout', () => {
    const [tx, rx] = syncChannel<number>(16, { codec: codecs.i32 });
    const senders = Array.from({ length: 8 }, () =>
      spawn((out: SyncSender<number>) => {
        for (let k = 0; k < 1000; k++) out.send(1);
      }, tx.clone()),
    );
    tx.close();
    let count = 0;
    for (;;) {
      try {
        if (rx.recvTimeout(1) !== undefined) count++;
      } catch {
        break;
      }
    }
    assert.equal(count, 8000);
    for (const s of senders) s.join();
  });

  test('recvTimeout racing a sender clone in another thread (std issue 39364)', () => {
    const [tx, rx] = channel<void>();
    const t = spawn(async (out: Sender<void>) => {
      (await import('weft')).sleep(60);
      out.clone().close();
      return out;
    }, tx);
    tx.close();
    assert.equal(rx.recvTimeout(100), undefined);
    const back = t.join();
    // The thread's record keeps a copy of its result (for later joins) until the
    // JoinHandle is closed: that copy is a sender too.
    t.close();
    assert.equal(rx.recvTimeout(50), undefined);
    back.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('try_recv state sequence driven by another thread', () => {
    const [tx, rx] = channel<number>();
    const [goTx, goRx] = channel<void>();
    const [doneTx, doneRx] = channel<void>();
    const t = spawn((out: Sender<number>, go: Receiver<void>, done: Sender<void>) => {
      go.recv();
      out.send(1);
      done.send();
      go.recv();
      out.close();
      done.send();
    }, tx, goRx, doneTx);
    tx.close();
    assert.equal(rx.tryRecv(), undefined);
    goTx.send();
    doneRx.recv();
    assert.equal(rx.tryRecv(), 1);
    assert.equal(rx.tryRecv(), undefined);
    goTx.send();
    doneRx.recv();
    assert.throws(() => rx.tryRecv(), RecvError);
    t.join();
  });

  test('send4: two senders blocked on a rendezvous both fail when the receiver closes', () => {
    const [tx, rx] = syncChannel<number>(0);
    const started = new AtomicI32(0);
    const senders = [1, 2].map((v) =>
      spawn((out: SyncSender<number>, value: number, s: AtomicI32) => {
        s.fetchAdd(1);
        try {
          out.send(value);
          return 'sent';
        } catch (e) {
          return `${(e as Error).name}:${(e as { value?: number }).value}`;
        }
      }, tx.clone(), v, started),
    );
    while (started.load() < 2) sleep(1);
    sleep(50);
    rx.close();
    assert.deepEqual(senders.map((s) => s.join()).sort(), ['SendError:1', 'SendError:2']);
  });

  test('rendezvous: send returns only once the receiver took the value', () => {
    const [tx, rx] = syncChannel<number>(0);
    const done = new AtomicI32(0);
    const t = spawn((out: SyncSender<number>, d: AtomicI32) => {
      out.send(42);
      d.store(1);
    }, tx, done);
    sleep(50);
    assert.equal(done.load(), 0);
    assert.equal(rx.recv(), 42);
    t.join();
    assert.equal(done.load(), 1);
  });

  test('rendezvous: trySend succeeds while a receiver waits (std issue 15761)', () => {
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((inbox: Receiver<number>) => {
      let sum = 0;
      for (let k = 0; k < 20; k++) sum += inbox.recv();
      return sum;
    }, rx);
    for (let k = 1; k <= 20; k++) while (!tx.trySend(k));
    assert.equal(t.join(), 210);
  });

  test('disconnecting wakes a sender blocked on a full channel', () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(0);
    const t = spawn((out: SyncSender<number>) => {
      try {
        out.send(1);
        return 'sent';
      } catch (e) {
        return (e as Error).name;
      }
    }, tx);
    sleep(50);
    rx.close();
    assert.equal(t.join(), 'SendError');
  });

  test('linearizable: a receiving thread always finds the message it just sent', () => {
    const [tx, rx] = channel<number>({ codec: codecs.i32 });
    const noise = [0, 1].map(() =>
      spawn((out: Sender<number>) => {
        try {
          for (let k = 0; k < 20_000; k++) out.send(0);
        } catch (e) {
          if ((e as Error).name !== 'SendError') throw e; // the owner finished first
        }
      }, tx.clone()),
    );
    const owner = spawn((inbox: Receiver<number>, out: Sender<number>) => {
      for (let k = 0; k < 20_000; k++) {
        out.send(1);
        if (inbox.tryRecv() === undefined) return `missed at ${k}`;
      }
      return 'ok';
    }, rx, tx);
    assert.equal(owner.join(), 'ok');
    for (const n of noise) n.join();
  });

  test('a producer killed mid-stream disconnects cleanly: the receiver drains, then RecvError', async () => {
    const [tx, rx] = channel<number>({ codec: codecs.f64 });
    const producer = spawn((out: Sender<number>) => {
      for (let k = 0; ; k++) out.send(k);
    }, tx);
    tx.close();
    let next = 0;
    while (next < 10_000) assert.equal(rx.recv(), next++);
    await producer.terminate();
    for (;;) {
      let m: number;
      try {
        m = rx.recv();
      } catch (e) {
        assert.ok(e instanceof RecvError);
        break;
      }
      assert.equal(m, next++);
    }
    assert.throws(() => producer.join(), /terminated/);
  });

  test('handles sent through a channel work on the other side', () => {
    const [tx, rx] = channel<{ counter: AtomicI32; reply: Sender<string> }>();
    const [replyTx, replyRx] = channel<string>();
    const counter = new AtomicI32(0);
    const t = spawn((inbox: Receiver<{ counter: AtomicI32; reply: Sender<string> }>) => {
      for (const { counter: c, reply } of inbox) {
        c.fetchAdd(1);
        reply.send(`count ${c.load()}`);
        reply.close();
        c.close();
      }
    }, rx);
    tx.send({ counter, reply: replyTx.clone() });
    tx.send({ counter, reply: replyTx }); // the last one moves
    replyTx.close(); // a no-op: it moved
    tx.close();
    assert.deepEqual([replyRx.recv(), replyRx.recv()], ['count 1', 'count 2']);
    assert.throws(() => replyRx.recv(), RecvError);
    t.join();
    assert.equal(counter.load(), 2);
    assert.equal(refcount(counter.offset), 1);
  });

  test('a receiver moved to another thread receives there; messages can be large', () => {
    const [tx, rx] = channel<string>();
    const t = spawn((inbox: Receiver<string>) => [...inbox].join(''), rx);
    for (let k = 0; k < 100; k++) tx.send(String(k % 10).repeat(1000));
    tx.close();
    assert.equal(t.join().length, 100_000);
  });

  test('sendAsync waits for room without blocking the event loop', async () => {
    const [tx, rx] = syncChannel<number>(1);
    await tx.sendAsync(1);
    let sent = false;
    const pending = tx.sendAsync(2).then(() => (sent = true));
    for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r)); // the event loop turns
    assert.equal(sent, false);
    const t = spawn((inbox: Receiver<number>) => [inbox.recv(), inbox.recv()], rx);
    await pending;
    assert.deepEqual(await t.joinAsync(), [1, 2]);
  });
});
