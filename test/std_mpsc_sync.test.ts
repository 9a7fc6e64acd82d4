// Rust's library/std/tests/sync/mpsc_sync.rs, ported test by test to weft's bounded
// channel (syncChannel; bound 0 is the rendezvous flavor). Same counts and assertions;
// Rust's `()` messages are sent as `null` so a message can be told apart from
// `recvTimeout`'s `undefined` (timed out). `trySend` answers `false` for Rust's
// TrySendError::Full and throws SendError for TrySendError::Disconnected.
//
// Not ported:
// - drop_unreceived: observes an Rc's weak count; JS has no deterministic drop of a received-never value to observe.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { channel, RecvError, type Receiver, SendError, type Sender, syncChannel, type SyncSender, spawn, TryRecvError, TrySendError, yieldNow } from '../src/index.ts';

const T = { timeout: 60_000 };
const stressFactor = (): number => Number(process.env.RUST_TEST_STRESS ?? 1);
const isSendErrorWith = (value: unknown) => (e: unknown): boolean => e instanceof SendError && e.value === value;
// Rust's TrySendError::Disconnected(value): a SendError that says which, with the value back.
const isTrySendDisconnected = (value: unknown) => (e: unknown): boolean =>
  e instanceof TrySendError && e.kind === 'Disconnected' && isSendErrorWith(value)(e);

describe('std mpsc_sync (bounded channel)', () => {
  test('smoke', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(1);
    assert.equal(rx.recv(), 1);
  });

  test('drop_full', T, () => {
    const [tx, rx] = syncChannel<{ boxed: number }>(1);
    tx.send({ boxed: 1 });
    rx.close();
    tx.close();
  });

  test('smoke_shared', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(1);
    assert.equal(rx.recv(), 1);
    const tx2 = tx.clone();
    tx2.send(1);
    assert.equal(rx.recv(), 1);
  });

  test('recv_timeout', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    assert.equal(rx.recvTimeout(1), undefined);
    tx.send(1);
    assert.equal(rx.recvTimeout(1), 1);
  });

  test('send_timeout', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    assert.equal(tx.sendTimeout(1, 1), true);
    assert.equal(tx.sendTimeout(1, 1), false);
    assert.equal(rx.tryRecv(), 1);
    assert.equal(rx.tryRecv(), undefined); // the timed-out value was not queued
  });

  test('smoke_threads', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((tx: SyncSender<number>) => tx.send(1), tx);
    assert.equal(rx.recv(), 1);
    t.join();
  });

  test('smoke_port_gone', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    rx.close();
    assert.throws(() => tx.send(1), SendError);
  });

  test('smoke_shared_port_gone2', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    rx.close();
    const tx2 = tx.clone();
    tx.close();
    assert.throws(() => tx2.send(1), SendError);
  });

  test('port_gone_concurrent', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((rx: Receiver<number>) => void rx.recv(), rx);
    for (;;) {
      try {
        tx.send(1);
      } catch (e) {
        assert.ok(e instanceof SendError);
        break;
      }
    }
    t.join();
  });

  test('port_gone_concurrent_shared', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const tx2 = tx.clone();
    const t = spawn((rx: Receiver<number>) => void rx.recv(), rx);
    for (;;) {
      try {
        tx.send(1);
        tx2.send(1);
      } catch (e) {
        assert.ok(e instanceof SendError);
        break;
      }
    }
    t.join();
  });

  test('smoke_chan_gone', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    tx.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('smoke_chan_gone_shared', T, () => {
    const [tx, rx] = syncChannel<null>(0);
    const tx2 = tx.clone();
    tx.close();
    tx2.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('chan_gone_concurrent', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((tx: SyncSender<number>) => {
      tx.send(1);
      tx.send(1);
    }, tx);
    let received = 0;
    for (;;) {
      try {
        rx.recv();
        received++;
      } catch (e) {
        assert.ok(e instanceof RecvError);
        break;
      }
    }
    assert.equal(received, 2);
    t.join();
  });

  test('stress', T, () => {
    const count = 10000;
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((tx: SyncSender<number>, count: number) => {
      for (let k = 0; k < count; k++) tx.send(1);
    }, tx, count);
    for (let k = 0; k < count; k++) assert.equal(rx.recv(), 1);
    t.join();
  });

  test('stress_recv_timeout_two_threads', T, () => {
    const count = 10000;
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((tx: SyncSender<number>, count: number) => {
      for (let k = 0; k < count; k++) tx.send(1);
    }, tx, count);
    let recvCount = 0;
    for (;;) {
      let v: number | undefined;
      try {
        v = rx.recvTimeout(1);
      } catch (e) {
        assert.ok(e instanceof RecvError);
        break;
      }
      if (v === undefined) continue;
      assert.equal(v, 1);
      recvCount++;
    }
    assert.equal(recvCount, count);
    t.join();
  });

  test('stress_recv_timeout_shared', T, () => {
    const AMT = 1000;
    const NTHREADS = 8;
    const [tx, rx] = syncChannel<number>(0);
    const [dtx, drx] = syncChannel<null>(0);
    const consumer = spawn((rx: Receiver<number>, dtx: SyncSender<null>, expected: number) => {
      let recvCount = 0;
      for (;;) {
        let v: number | undefined;
        try {
          v = rx.recvTimeout(10);
        } catch (e) {
          if ((e as Error).name !== 'RecvError') throw e;
          break;
        }
        if (v === undefined) continue;
        if (v !== 1) throw new Error(`expected 1, got ${v}`);
        recvCount++;
      }
      if (recvCount !== expected) throw new Error(`received ${recvCount}, expected ${expected}`);
      let drained = false;
      try {
        rx.tryRecv();
      } catch {
        drained = true;
      }
      if (!drained) throw new Error('tryRecv after disconnection must throw RecvError');
      dtx.send(null);
    }, rx, dtx, AMT * NTHREADS);
    const producers = Array.from({ length: NTHREADS }, () =>
      spawn((tx: SyncSender<number>, amt: number) => {
        for (let k = 0; k < amt; k++) tx.send(1);
      }, tx.clone(), AMT));
    tx.close();
    drx.recv();
    consumer.join();
    for (const p of producers) p.join();
  });

  test('stress_shared', T, () => {
    const AMT = 1000;
    const NTHREADS = 8;
    const [tx, rx] = syncChannel<number>(0);
    const [dtx, drx] = syncChannel<null>(0);
    const consumer = spawn((rx: Receiver<number>, dtx: SyncSender<null>, total: number) => {
      for (let k = 0; k < total; k++) {
        if (rx.recv() !== 1) throw new Error('expected 1');
      }
      let extra: number | undefined;
      try {
        extra = rx.tryRecv();
      } catch {
        extra = undefined; // disconnected is fine
      }
      if (extra !== undefined) throw new Error('a message too many');
      dtx.send(null);
    }, rx, dtx, AMT * NTHREADS);
    const producers = Array.from({ length: NTHREADS }, () =>
      spawn((tx: SyncSender<number>, amt: number) => {
        for (let k = 0; k < amt; k++) tx.send(1);
      }, tx.clone(), AMT));
    tx.close();
    drx.recv();
    consumer.join();
    for (const p of producers) p.join();
  });

  test('oneshot_single_thread_close_port_first', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    rx.close();
    tx.close();
  });

  test('oneshot_single_thread_close_chan_first', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    tx.close();
    rx.close();
  });

  test('oneshot_single_thread_send_port_close', T, () => {
    const [tx, rx] = syncChannel<{ boxed: number }>(0);
    rx.close();
    assert.throws(() => tx.send({ boxed: 0 }), (e) => e instanceof SendError && (e.value as { boxed: number }).boxed === 0);
  });

  test('oneshot_single_thread_recv_chan_close', T, () => {
    const res = spawn(async () => {
      const { syncChannel } = await import('weft');
      const [tx, rx] = syncChannel<number>(0);
      tx.close();
      rx.recv();
    });
    assert.throws(() => res.join(), { name: 'PanicError' });
  });

  test('oneshot_single_thread_send_then_recv', T, () => {
    const [tx, rx] = syncChannel<{ boxed: number }>(1);
    tx.send({ boxed: 10 });
    assert.equal(rx.recv().boxed, 10);
  });

  test('oneshot_single_thread_try_send_open', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    assert.equal(tx.trySend(10), true);
    assert.equal(rx.recv(), 10);
  });

  test('oneshot_single_thread_try_send_closed', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    rx.close();
    assert.throws(() => tx.trySend(10), isTrySendDisconnected(10));
  });

  test('oneshot_single_thread_try_send_closed2', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    assert.equal(tx.trySend(10), false); // full: nobody is receiving
    rx.close();
  });

  test('oneshot_single_thread_try_recv_open', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(10);
    assert.equal(rx.recv(), 10);
  });

  test('oneshot_single_thread_try_recv_closed', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    tx.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('oneshot_single_thread_try_recv_closed_with_data', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(10);
    tx.close();
    assert.equal(rx.tryRecv(), 10);
    assert.throws(() => rx.tryRecv(), RecvError);
  });

  test('oneshot_single_thread_peek_data', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    assert.equal(rx.tryRecv(), undefined);
    tx.send(10);
    assert.equal(rx.tryRecv(), 10);
  });

  test('oneshot_single_thread_peek_close', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    tx.close();
    assert.throws(() => rx.tryRecv(), RecvError);
    assert.throws(() => rx.tryRecv(), RecvError);
  });

  test('oneshot_single_thread_peek_open', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    assert.equal(rx.tryRecv(), undefined);
    tx.close();
  });

  test('oneshot_multi_task_recv_then_send', T, () => {
    const [tx, rx] = syncChannel<{ boxed: number }>(0);
    const t = spawn((rx: Receiver<{ boxed: number }>) => rx.recv().boxed, rx);
    tx.send({ boxed: 10 });
    assert.equal(t.join(), 10);
  });

  test('oneshot_multi_task_recv_then_close', T, () => {
    const [tx, rx] = syncChannel<{ boxed: number }>(0);
    const t = spawn((tx: SyncSender<{ boxed: number }>) => tx.close(), tx);
    const res = spawn((rx: Receiver<{ boxed: number }>) => rx.recv().boxed, rx);
    assert.throws(() => res.join(), { name: 'PanicError' });
    t.join();
  });

  test('oneshot_multi_thread_close_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = syncChannel<number>(0);
      const t = spawn((rx: Receiver<number>) => rx.close(), rx);
      tx.close();
      t.join();
    }
  });

  test('oneshot_multi_thread_send_close_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = syncChannel<number>(0);
      const t = spawn((rx: Receiver<number>) => rx.close(), rx);
      // Nobody ever receives: the send can only end by the receiver going away.
      assert.throws(() => spawn((tx: SyncSender<number>) => tx.send(1), tx).join(), { name: 'PanicError' });
      t.join();
    }
  });

  test('oneshot_multi_thread_recv_close_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = syncChannel<number>(0);
      const watcher = spawn(async (rx: Receiver<number>) => {
        const { spawn } = await import('weft');
        try {
          spawn((rx: Receiver<number>) => void rx.recv(), rx).join();
          return 'joined';
        } catch (e) {
          return (e as Error).name;
        }
      }, rx);
      const dropper = spawn(async (tx: SyncSender<number>) => {
        const { spawn } = await import('weft');
        spawn((tx: SyncSender<number>) => tx.close(), tx);
      }, tx);
      assert.equal(watcher.join(), 'PanicError');
      dropper.join();
    }
  });

  test('oneshot_multi_thread_send_recv_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = syncChannel<{ boxed: number }>(0);
      const t = spawn((tx: SyncSender<{ boxed: number }>) => tx.send({ boxed: 10 }), tx);
      assert.equal(rx.recv().boxed, 10);
      t.join();
    }
  });

  test('stream_send_recv_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = syncChannel<{ boxed: number }>(0);
      const [seenTx, seenRx] = channel<number>();
      const send = async function sendLink(tx: SyncSender<{ boxed: number }>, i: number): Promise<void> {
        if (i === 10) return;
        const { spawn } = await import('weft');
        tx.send({ boxed: i });
        spawn(sendLink, tx, i + 1);
      };
      const recv = async function recvLink(rx: Receiver<{ boxed: number }>, seen: Sender<number>, i: number): Promise<void> {
        if (i === 10) return;
        const { spawn } = await import('weft');
        seen.send(rx.recv().boxed);
        spawn(recvLink, rx, seen, i + 1);
      };
      spawn(send, tx, 0);
      spawn(recv, rx, seenTx, 0);
      assert.deepEqual([...seenRx], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  test('recv_a_lot', T, () => {
    const count = 10000;
    const [tx, rx] = syncChannel<null>(count);
    for (let k = 0; k < count; k++) tx.send(null);
    for (let k = 0; k < count; k++) assert.equal(rx.recv(), null);
  });

  test('shared_chan_stress', T, () => {
    const [tx, rx] = syncChannel<null>(0);
    const total = stressFactor() + 100;
    const threads = Array.from({ length: total }, () => spawn((tx: SyncSender<null>) => tx.send(null), tx.clone()));
    for (let k = 0; k < total; k++) rx.recv();
    for (const t of threads) t.join();
  });

  test('test_nested_recv_iter', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const [totalTx, totalRx] = syncChannel<number>(0);
    const t = spawn((rx: Receiver<number>, totalTx: SyncSender<number>) => {
      let acc = 0;
      for (const x of rx) acc += x;
      totalTx.send(acc);
    }, rx, totalTx);
    tx.send(3);
    tx.send(1);
    tx.send(2);
    tx.close();
    assert.equal(totalRx.recv(), 6);
    t.join();
  });

  test('test_recv_iter_break', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const [countTx, countRx] = syncChannel<number>(0);
    const t = spawn((rx: Receiver<number>, countTx: SyncSender<number>) => {
      let count = 0;
      for (const x of rx) {
        if (count >= 3) break;
        count += x;
      }
      countTx.send(count);
    }, rx, countTx);
    tx.send(2);
    tx.send(2);
    tx.send(2);
    try {
      tx.trySend(2); // the receiver may be gone already, or not waiting
    } catch (e) {
      assert.ok(e instanceof SendError);
    }
    tx.close();
    assert.equal(countRx.recv(), 4);
    t.join();
  });

  test('try_recv_states', T, () => {
    const [tx1, rx1] = syncChannel<number>(1);
    const [tx2, rx2] = syncChannel<null>(1);
    const [tx3, rx3] = syncChannel<null>(1);
    const t = spawn((rx2: Receiver<null>, tx1: SyncSender<number>, tx3: SyncSender<null>) => {
      rx2.recv();
      tx1.send(1);
      tx3.send(null);
      rx2.recv();
      tx1.close();
      tx3.send(null);
    }, rx2, tx1, tx3);
    assert.equal(rx1.tryRecv(), undefined);
    tx2.send(null);
    rx3.recv();
    assert.equal(rx1.tryRecv(), 1);
    assert.equal(rx1.tryRecv(), undefined);
    tx2.send(null);
    rx3.recv();
    assert.throws(() => rx1.tryRecv(), (e: unknown) => e instanceof TryRecvError && e.kind === 'Disconnected' && e instanceof RecvError);
    t.join();
  });

  test('destroy_upgraded_shared_port_when_sender_still_active', T, () => {
    const [tx, rx] = syncChannel<null>(0);
    const [tx2, rx2] = syncChannel<null>(0);
    const t = spawn((rx: Receiver<null>, tx2: SyncSender<null>) => {
      rx.recv();
      rx.close();
      tx2.send(null);
    }, rx, tx2);
    for (let k = 0; k < 100; k++) yieldNow(); // lets the thread block first (Rust yields 5000 times); the result does not depend on it
    const tc = tx.clone();
    tx.close();
    tc.send(null);
    rx2.recv();
    t.join();
  });

  test('send1', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((rx: Receiver<number>) => void rx.recv(), rx);
    tx.send(1);
    t.join();
  });

  test('send2', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const t = spawn((rx: Receiver<number>) => rx.close(), rx);
    assert.throws(() => tx.send(1), SendError);
    t.join();
  });

  test('send3', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    tx.send(1);
    const t = spawn((rx: Receiver<number>) => rx.close(), rx);
    assert.throws(() => tx.send(1), SendError);
    t.join();
  });

  test('send4', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const tx2 = tx.clone();
    const [done, doneRx] = channel<null>();
    const done2 = done.clone();
    const sendFails = async (tx: SyncSender<number>, value: number, done: Sender<null>) => {
      const { SendError } = await import('weft');
      try {
        tx.send(value);
      } catch (e) {
        if (!(e instanceof SendError) || e.value !== value) throw e;
        done.send(null);
        return;
      }
      throw new Error('send on a channel whose receiver was dropped succeeded');
    };
    const t1 = spawn(sendFails, tx, 1, done);
    const t2 = spawn(sendFails, tx2, 2, done2);
    rx.close();
    doneRx.recv();
    doneRx.recv();
    t1.join();
    t2.join();
  });

  test('try_send1', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    assert.equal(tx.trySend(1), false);
    rx.close();
  });

  test('try_send2', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    assert.equal(tx.trySend(1), true);
    assert.equal(tx.trySend(1), false);
    rx.close();
  });

  test('try_send3', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    assert.equal(tx.trySend(1), true);
    rx.close();
    assert.throws(() => tx.trySend(1), isTrySendDisconnected(1));
  });

  test('issue_15761', T, () => {
    const repro = (): void => {
      const [tx1, rx1] = syncChannel<null>(3);
      const [tx2, rx2] = syncChannel<null>(3);
      const t = spawn((rx1: Receiver<null>, tx2: SyncSender<null>) => {
        rx1.recv();
        if (!tx2.trySend(null)) throw new Error('trySend on an empty channel of bound 3 failed');
      }, rx1, tx2);
      assert.equal(tx1.trySend(null), true);
      rx2.recv();
      t.join();
    };
    for (let k = 0; k < 100; k++) repro();
  });
});
