// Rust's library/std/tests/sync/mpsc.rs, ported test by test to weft's unbounded
// channel. Same counts and assertions; Rust's `()` messages are sent as `null` so a
// message can be told apart from `recvTimeout`'s `undefined` (timed out).
//
// Dropping an endpoint is close(). Every test of the file applies; none is skipped.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { channel, RecvError, type Receiver, SendError, type Sender, sleep, spawn, TryRecvError, yieldNow } from '../src/index.ts';

const T = { timeout: 60_000 };
const stressFactor = (): number => Number(process.env.RUST_TEST_STRESS ?? 1);
const isRecvError = (e: unknown): boolean => e instanceof RecvError;
// Rust's TryRecvError::Disconnected: a RecvError that says which.
const isTryRecvDisconnected = (e: unknown): boolean => e instanceof TryRecvError && e.kind === 'Disconnected' && e instanceof RecvError;

describe('std mpsc (unbounded channel)', () => {
  test('smoke', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(1);
    assert.equal(rx.recv(), 1);
  });

  test('drop_full', T, () => {
    const [tx, rx] = channel<{ boxed: number }>();
    tx.send({ boxed: 1 });
    rx.close(); // the queued message is dropped with the channel
    tx.close();
  });

  test('drop_full_shared', T, () => {
    const [tx, rx] = channel<{ boxed: number }>();
    tx.clone().close();
    tx.clone().close();
    tx.send({ boxed: 1 });
    rx.close();
    tx.close();
  });

  test('smoke_shared', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(1);
    assert.equal(rx.recv(), 1);
    const tx2 = tx.clone();
    tx2.send(1);
    assert.equal(rx.recv(), 1);
  });

  test('smoke_threads', T, () => {
    const [tx, rx] = channel<number>();
    const t = spawn((tx: Sender<number>) => tx.send(1), tx);
    assert.equal(rx.recv(), 1);
    t.join();
  });

  test('smoke_port_gone', T, () => {
    const [tx, rx] = channel<number>();
    rx.close();
    assert.throws(() => tx.send(1), SendError);
  });

  test('smoke_shared_port_gone', T, () => {
    const [tx, rx] = channel<number>();
    rx.close();
    assert.throws(() => tx.send(1), SendError);
  });

  test('smoke_shared_port_gone2', T, () => {
    const [tx, rx] = channel<number>();
    rx.close();
    const tx2 = tx.clone();
    tx.close();
    assert.throws(() => tx2.send(1), SendError);
  });

  test('port_gone_concurrent', T, () => {
    const [tx, rx] = channel<number>();
    const t = spawn((rx: Receiver<number>) => void rx.recv(), rx);
    // The receiver goes away when its thread ends: sending must start failing then.
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
    const [tx, rx] = channel<number>();
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
    const [tx, rx] = channel<number>();
    tx.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('smoke_chan_gone_shared', T, () => {
    const [tx, rx] = channel<null>();
    const tx2 = tx.clone();
    tx.close();
    tx2.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('chan_gone_concurrent', T, () => {
    const [tx, rx] = channel<number>();
    const t = spawn((tx: Sender<number>) => {
      tx.send(1);
      tx.send(1);
    }, tx);
    let received = 0;
    for (;;) {
      try {
        rx.recv();
        received++;
      } catch (e) {
        assert.ok(isRecvError(e));
        break;
      }
    }
    assert.equal(received, 2);
    t.join();
  });

  test('stress', T, () => {
    const count = 10000;
    const [tx, rx] = channel<number>();
    const t = spawn((tx: Sender<number>, count: number) => {
      for (let k = 0; k < count; k++) tx.send(1);
    }, tx, count);
    for (let k = 0; k < count; k++) assert.equal(rx.recv(), 1);
    t.join();
  });

  test('stress_shared', T, () => {
    const AMT = 10000;
    const NTHREADS = 8;
    const [tx, rx] = channel<number>();
    const t = spawn((rx: Receiver<number>, total: number) => {
      for (let k = 0; k < total; k++) {
        if (rx.recv() !== 1) throw new Error('expected 1');
      }
      // Empty or disconnected are both fine; a message would be one too many.
      let extra: number | undefined;
      try {
        extra = rx.tryRecv();
      } catch {
        extra = undefined;
      }
      if (extra !== undefined) throw new Error('a message too many');
    }, rx, AMT * NTHREADS);
    const producers = Array.from({ length: NTHREADS }, () =>
      spawn((tx: Sender<number>, amt: number) => {
        for (let k = 0; k < amt; k++) tx.send(1);
      }, tx.clone(), AMT));
    tx.close();
    t.join();
    for (const p of producers) p.join();
  });

  test('send_from_outside_runtime', T, () => {
    const [tx1, rx1] = channel<null>();
    const [tx2, rx2] = channel<number>();
    const t1 = spawn((tx1: Sender<null>, rx2: Receiver<number>) => {
      tx1.send(null);
      for (let k = 0; k < 40; k++) {
        if (rx2.recv() !== 1) throw new Error('expected 1');
      }
    }, tx1, rx2);
    rx1.recv();
    const t2 = spawn((tx2: Sender<number>) => {
      for (let k = 0; k < 40; k++) tx2.send(1);
    }, tx2);
    t1.join();
    t2.join();
  });

  test('recv_from_outside_runtime', T, () => {
    const [tx, rx] = channel<number>();
    const t = spawn((rx: Receiver<number>) => {
      for (let k = 0; k < 40; k++) {
        if (rx.recv() !== 1) throw new Error('expected 1');
      }
    }, rx);
    for (let k = 0; k < 40; k++) tx.send(1);
    t.join();
  });

  test('no_runtime', T, () => {
    const [tx1, rx1] = channel<number>();
    const [tx2, rx2] = channel<number>();
    const t1 = spawn((rx1: Receiver<number>, tx2: Sender<number>) => {
      if (rx1.recv() !== 1) throw new Error('expected 1');
      tx2.send(2);
    }, rx1, tx2);
    const t2 = spawn((tx1: Sender<number>, rx2: Receiver<number>) => {
      tx1.send(1);
      return rx2.recv();
    }, tx1, rx2);
    t1.join();
    assert.equal(t2.join(), 2);
  });

  test('oneshot_single_thread_close_port_first', T, () => {
    const [tx, rx] = channel<number>();
    rx.close();
    tx.close();
  });

  test('oneshot_single_thread_close_chan_first', T, () => {
    const [tx, rx] = channel<number>();
    tx.close();
    rx.close();
  });

  test('oneshot_single_thread_send_port_close', T, () => {
    const [tx, rx] = channel<{ boxed: number }>();
    rx.close();
    assert.throws(() => tx.send({ boxed: 0 }), (e) => e instanceof SendError && (e.value as { boxed: number }).boxed === 0);
  });

  test('oneshot_single_thread_recv_chan_close', T, () => {
    const res = spawn(async () => {
      const { channel } = await import('weft');
      const [tx, rx] = channel<number>();
      tx.close();
      rx.recv();
    });
    assert.throws(() => res.join(), { name: 'PanicError' });
  });

  test('oneshot_single_thread_send_then_recv', T, () => {
    const [tx, rx] = channel<{ boxed: number }>();
    tx.send({ boxed: 10 });
    assert.equal(rx.recv().boxed, 10);
  });

  test('oneshot_single_thread_try_send_open', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(10);
    assert.equal(rx.recv(), 10);
  });

  test('oneshot_single_thread_try_send_closed', T, () => {
    const [tx, rx] = channel<number>();
    rx.close();
    assert.throws(() => tx.send(10), (e) => e instanceof SendError && e.value === 10);
  });

  test('oneshot_single_thread_try_recv_open', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(10);
    assert.equal(rx.recv(), 10);
  });

  test('oneshot_single_thread_try_recv_closed', T, () => {
    const [tx, rx] = channel<number>();
    tx.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('oneshot_single_thread_peek_data', T, () => {
    const [tx, rx] = channel<number>();
    assert.equal(rx.tryRecv(), undefined);
    tx.send(10);
    assert.equal(rx.tryRecv(), 10);
  });

  test('oneshot_single_thread_peek_close', T, () => {
    const [tx, rx] = channel<number>();
    tx.close();
    assert.throws(() => rx.tryRecv(), RecvError);
    assert.throws(() => rx.tryRecv(), RecvError);
  });

  test('oneshot_single_thread_peek_open', T, () => {
    const [tx, rx] = channel<number>();
    assert.equal(rx.tryRecv(), undefined);
    tx.close();
  });

  test('oneshot_multi_task_recv_then_send', T, () => {
    const [tx, rx] = channel<{ boxed: number }>();
    const t = spawn((rx: Receiver<{ boxed: number }>) => rx.recv().boxed, rx);
    tx.send({ boxed: 10 });
    assert.equal(t.join(), 10);
  });

  test('oneshot_multi_task_recv_then_close', T, () => {
    const [tx, rx] = channel<{ boxed: number }>();
    const t = spawn((tx: Sender<{ boxed: number }>) => tx.close(), tx);
    const res = spawn((rx: Receiver<{ boxed: number }>) => rx.recv().boxed, rx);
    assert.throws(() => res.join(), { name: 'PanicError' });
    t.join();
  });

  test('oneshot_multi_thread_close_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = channel<number>();
      const t = spawn((rx: Receiver<number>) => rx.close(), rx);
      tx.close();
      t.join();
    }
  });

  test('oneshot_multi_thread_send_close_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = channel<number>();
      const t = spawn((rx: Receiver<number>) => rx.close(), rx);
      // The send races the receiver's close: either outcome is fine, nothing may hang.
      try {
        spawn((tx: Sender<number>) => tx.send(1), tx).join();
      } catch (e) {
        assert.equal((e as Error).name, 'PanicError');
      }
      t.join();
    }
  });

  test('oneshot_multi_thread_recv_close_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = channel<number>();
      const watcher = spawn(async (rx: Receiver<number>) => {
        const { spawn } = await import('weft');
        try {
          spawn((rx: Receiver<number>) => void rx.recv(), rx).join();
          return 'joined';
        } catch (e) {
          return (e as Error).name;
        }
      }, rx);
      const dropper = spawn(async (tx: Sender<number>) => {
        const { spawn } = await import('weft');
        spawn((tx: Sender<number>) => tx.close(), tx);
      }, tx);
      assert.equal(watcher.join(), 'PanicError');
      dropper.join();
    }
  });

  test('oneshot_multi_thread_send_recv_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = channel<{ boxed: number }>();
      const t = spawn((tx: Sender<{ boxed: number }>) => tx.send({ boxed: 10 }), tx);
      assert.equal(rx.recv().boxed, 10);
      t.join();
    }
  });

  test('stream_send_recv_stress', T, () => {
    for (let k = 0; k < stressFactor(); k++) {
      const [tx, rx] = channel<{ boxed: number }>();
      // What each receiving thread got, in the order the chain of threads received it.
      const [seenTx, seenRx] = channel<number>();
      // Each link sends (or receives) message i, then hands the endpoint to a new thread for i + 1.
      const send = async function sendLink(tx: Sender<{ boxed: number }>, i: number): Promise<void> {
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

  test('oneshot_single_thread_recv_timeout', T, () => {
    const [tx, rx] = channel<null>();
    tx.send(null);
    assert.equal(rx.recvTimeout(1), null);
    assert.equal(rx.recvTimeout(1), undefined);
    tx.send(null);
    assert.equal(rx.recvTimeout(1), null);
  });

  test('stress_recv_timeout_two_threads', T, () => {
    const [tx, rx] = channel<number>();
    const stress = stressFactor() + 50;
    const timeout = 5;
    const t = spawn(async (tx: Sender<number>, stress: number, timeout: number) => {
      const { sleep } = await import('weft');
      for (let i = 0; i < stress; i++) {
        if (i % 2 === 0) sleep(timeout * 2);
        tx.send(1);
      }
    }, tx, stress, timeout);
    let recvCount = 0;
    for (;;) {
      let n: number | undefined;
      try {
        n = rx.recvTimeout(timeout);
      } catch (e) {
        assert.ok(isRecvError(e));
        break;
      }
      if (n === undefined) continue;
      assert.equal(n, 1);
      recvCount++;
    }
    assert.equal(recvCount, stress);
    t.join();
  });

  test('recv_timeout_upgrade', T, () => {
    const [tx, rx] = channel<null>();
    const timeout = 1;
    const txClone = tx.clone();
    const start = performance.now();
    assert.equal(rx.recvTimeout(timeout), undefined);
    assert.ok(performance.now() >= start + timeout, 'recvTimeout returned before its timeout');
    txClone.close();
    tx.close();
  });

  test('stress_recv_timeout_shared', T, () => {
    const [tx, rx] = channel<number>();
    const stress = stressFactor() + 100;
    const threads = [];
    for (let i = 0; i < stress; i++) {
      threads.push(spawn(async (tx: Sender<number>, i: number) => {
        const { sleep } = await import('weft');
        sleep(i * 10);
        tx.send(1);
      }, tx.clone(), i));
    }
    tx.close();
    let recvCount = 0;
    for (;;) {
      let n: number | undefined;
      try {
        n = rx.recvTimeout(10);
      } catch (e) {
        assert.ok(isRecvError(e));
        break;
      }
      if (n === undefined) continue;
      assert.equal(n, 1);
      recvCount++;
    }
    assert.equal(recvCount, stress);
    for (const t of threads) t.join();
  });

  test('very_long_recv_timeout_wont_panic', T, () => {
    const [tx, rx] = channel<null>();
    const joinHandle = spawn((rx: Receiver<null>) => rx.recvTimeout(Number.MAX_SAFE_INTEGER), rx);
    sleep(100); // lets the thread reach its wait; the result does not depend on it
    tx.send(null);
    assert.equal(joinHandle.join(), null);
  });

  test('recv_a_lot', T, () => {
    const count = 10000;
    const [tx, rx] = channel<null>();
    for (let k = 0; k < count; k++) tx.send(null);
    for (let k = 0; k < count; k++) assert.equal(rx.recv(), null);
  });

  test('shared_recv_timeout', T, () => {
    const [tx, rx] = channel<null>();
    const total = 5;
    const threads = Array.from({ length: total }, () => spawn((tx: Sender<null>) => tx.send(null), tx.clone()));
    for (let k = 0; k < total; k++) rx.recv();
    assert.equal(rx.recvTimeout(1), undefined);
    tx.send(null);
    assert.equal(rx.recvTimeout(1), null);
    for (const t of threads) t.join();
  });

  test('shared_chan_stress', T, () => {
    const [tx, rx] = channel<null>();
    const total = stressFactor() + 100;
    const threads = Array.from({ length: total }, () => spawn((tx: Sender<null>) => tx.send(null), tx.clone()));
    for (let k = 0; k < total; k++) rx.recv();
    for (const t of threads) t.join();
  });

  test('test_nested_recv_iter', T, () => {
    const [tx, rx] = channel<number>();
    const [totalTx, totalRx] = channel<number>();
    const t = spawn((rx: Receiver<number>, totalTx: Sender<number>) => {
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
    const [tx, rx] = channel<number>();
    const [countTx, countRx] = channel<number>();
    const t = spawn((rx: Receiver<number>, countTx: Sender<number>) => {
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
      tx.send(2); // may find the receiver gone already
    } catch (e) {
      assert.ok(e instanceof SendError);
    }
    tx.close();
    assert.equal(countRx.recv(), 4);
    t.join();
  });

  test('test_recv_try_iter', T, () => {
    const [requestTx, requestRx] = channel<null>();
    const [responseTx, responseRx] = channel<number>();
    // Request numbers until they add up to 6.
    const t = spawn((requestTx: Sender<null>, responseRx: Receiver<number>) => {
      let count = 0;
      for (;;) {
        for (const x of responseRx.tryIter()) {
          count += x;
          if (count === 6) return count;
        }
        requestTx.send(null);
      }
    }, requestTx, responseRx);
    for (const _ of requestRx) {
      try {
        responseTx.send(2);
      } catch (e) {
        assert.ok(e instanceof SendError);
        break;
      }
    }
    assert.equal(t.join(), 6);
  });

  test('test_recv_into_iter_owned', T, () => {
    const iter = (() => {
      const [tx, rx] = channel<number>();
      tx.send(1);
      tx.send(2);
      tx.close(); // the sender goes out of scope with the block
      return rx[Symbol.iterator]();
    })();
    assert.equal(iter.next().value, 1);
    assert.equal(iter.next().value, 2);
    assert.equal(iter.next().done, true);
  });

  test('test_recv_into_iter_borrowed', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(1);
    tx.send(2);
    tx.close();
    const iter = rx[Symbol.iterator]();
    assert.equal(iter.next().value, 1);
    assert.equal(iter.next().value, 2);
    assert.equal(iter.next().done, true);
  });

  test('try_recv_states', T, () => {
    const [tx1, rx1] = channel<number>();
    const [tx2, rx2] = channel<null>();
    const [tx3, rx3] = channel<null>();
    const t = spawn((rx2: Receiver<null>, tx1: Sender<number>, tx3: Sender<null>) => {
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
    assert.throws(() => rx1.tryRecv(), isTryRecvDisconnected);
    t.join();
  });

  test('destroy_upgraded_shared_port_when_sender_still_active', T, () => {
    const [tx, rx] = channel<null>();
    const [tx2, rx2] = channel<null>();
    const t = spawn((rx: Receiver<null>, tx2: Sender<null>) => {
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

  test('issue_32114', T, () => {
    const [tx, rx] = channel<number>();
    rx.close();
    assert.throws(() => tx.send(123), SendError);
    assert.throws(() => tx.send(123), (e) => e instanceof SendError && e.value === 123);
  });

  test('issue_39364', T, () => {
    const [tx, rx] = channel<null>();
    const t = spawn(async (tx: Sender<null>) => {
      const { sleep } = await import('weft');
      sleep(300);
      tx.clone().close();
      return tx; // handed back to the caller, still connected
    }, tx);
    assert.equal(rx.recvTimeout(500), undefined);
    const kept = t.join();
    assert.equal(rx.recvTimeout(500), undefined); // still connected: a timeout, not RecvError
    kept.close();
    assert.throws(() => rx.recv(), RecvError);
  });
});
