// Channel members from Rust's std::sync::mpsc that complete the contract's surface:
// recv_deadline, Receiver::iter, and the error enums TryRecvError, RecvTimeoutError and
// TrySendError (Rust's doc examples and mpsc tests, same counts). The everyday answers
// stay the contract's (undefined for Empty/Timeout, false for Full); the Disconnected
// variants are thrown as these subclasses of RecvError / SendError.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  channel, oneshot, RecvError, RecvTimeoutError, type Receiver, SendError, type Sender, spawn, syncChannel,
  type SyncSender, TryRecvError, TrySendError,
} from '../src/index.ts';

const T = { timeout: 30_000 };

describe('Receiver.recvDeadline (Rust recv_deadline)', () => {
  test('doc example: a message sent by another thread arrives before the deadline', T, () => {
    const [send, recv] = channel<string>();
    const h = spawn((send: Sender<string>) => send.send('a'), send);
    assert.equal(recv.recvDeadline(performance.now() + 10_000), 'a');
    h.join();
  });

  test('doc example: a sender that sends only later leaves the deadline to pass (Timeout)', T, () => {
    const [send, recv] = channel<string>();
    const [goTx, goRx] = channel<null>();
    // The sender waits for our word instead of sleeping, so the timeout is certain.
    const h = spawn((send: Sender<string>, go: Receiver<null>) => {
      go.recv();
      send.send('a');
    }, send, goRx);
    const deadline = performance.now() + 40;
    assert.equal(recv.recvDeadline(deadline), undefined);
    assert.ok(performance.now() >= deadline, 'returned before its deadline');
    goTx.send(null);
    assert.equal(recv.recvDeadline(performance.now() + 10_000), 'a');
    h.join();
  });

  test('a deadline in the past still takes a ready message, and times out at once on an empty channel', T, () => {
    const [tx, rx] = channel<number>();
    const past = performance.now() - 1000;
    const t0 = performance.now();
    assert.equal(rx.recvDeadline(past), undefined);
    assert.ok(performance.now() - t0 < 1000);
    tx.send(7);
    assert.equal(rx.recvDeadline(past), 7);
    assert.equal(rx.recvDeadline(performance.now() + 5), undefined);
  });

  test('disconnection: drains, then throws RecvTimeoutError of kind Disconnected (a RecvError)', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(1);
    tx.close();
    assert.equal(rx.recvDeadline(performance.now() + 10_000), 1);
    assert.throws(() => rx.recvDeadline(performance.now() + 10_000), (e: unknown) =>
      e instanceof RecvTimeoutError && e instanceof RecvError && e.kind === 'Disconnected' && e.name === 'RecvError');
  });

  test('a blocked recvDeadline is woken by the last sender going away', T, () => {
    const [tx, rx] = syncChannel<number>(0);
    const h = spawn((tx: SyncSender<number>) => tx.close(), tx);
    assert.throws(() => rx.recvDeadline(performance.now() + 20_000), RecvTimeoutError);
    h.join();
  });

  test('bad deadlines are named; nothing is taken', T, () => {
    const [tx, rx] = channel<number>();
    tx.send(1);
    assert.throws(() => rx.recvDeadline('10' as never), (e: Error) =>
      e instanceof TypeError && /recvDeadline\(deadline\)/.test(e.message) && /the string '10'/.test(e.message));
    assert.throws(() => rx.recvDeadline(NaN), RangeError);
    assert.throws(() => rx.recvDeadline(undefined as never), TypeError);
    assert.equal(rx.tryRecv(), 1);
  });

  test('oneshot receivers have it too', T, () => {
    const [tx, rx] = oneshot<number>();
    assert.equal(rx.recvDeadline(performance.now() + 5), undefined);
    tx.send(3);
    assert.equal(rx.recvDeadline(performance.now() + 10_000), 3);
  });
});

describe('Receiver.iter() (Rust Receiver::iter)', () => {
  test('doc example: three messages, then None once the sender is gone', T, () => {
    const [send, recv] = channel<number>();
    const h = spawn((send: Sender<number>) => {
      send.send(1);
      send.send(2);
      send.send(3);
    }, send);
    const iter = recv.iter();
    assert.deepEqual(iter.next(), { done: false, value: 1 });
    assert.deepEqual(iter.next(), { done: false, value: 2 });
    assert.deepEqual(iter.next(), { done: false, value: 3 });
    assert.equal(iter.next().done, true);
    h.join();
  });

  test('test_recv_iter_break: a for…of over iter() that breaks ends the receiving there', T, () => {
    const [tx, rx] = channel<number>();
    const [countTx, countRx] = channel<number>();
    const t = spawn((rx: Receiver<number>, countTx: Sender<number>) => {
      let count = 0;
      for (const x of rx.iter()) {
        if (count >= 3) break;
        count += x;
      }
      countTx.send(count);
    }, rx, countTx);
    tx.send(2);
    tx.send(2);
    tx.send(2);
    try {
      tx.send(2); // the receiver may be gone already
    } catch (e) {
      if (!(e instanceof SendError)) throw e;
    }
    tx.close();
    assert.equal(countRx.recv(), 4);
    t.join();
  });

  test('many senders: iter() ends only when the last one is gone (each message once)', T, () => {
    const N = 4, M = 500;
    const [tx, rx] = channel<number>();
    const hs = Array.from({ length: N }, (_, k) => spawn((tx: Sender<number>, base: number, m: number) => {
      for (let j = 0; j < m; j++) tx.send(base + j);
    }, tx.clone(), k * M, M));
    tx.close();
    const seen = [...rx.iter()].sort((a, b) => a - b);
    assert.deepEqual(seen, Array.from({ length: N * M }, (_, k) => k));
    for (const h of hs) h.join();
  });
});

describe('TryRecvError (Rust mpsc tests)', () => {
  test('oneshot_single_thread_try_recv_closed: Disconnected', T, () => {
    const [tx, rx] = channel<number>();
    tx.close();
    assert.throws(() => rx.tryRecv(), (e: unknown) =>
      e instanceof TryRecvError && e.kind === 'Disconnected' && e instanceof RecvError && e.name === 'RecvError');
  });

  test('a oneshot whose sender closed: TryRecvError Disconnected', T, () => {
    const [tx, rx] = oneshot<number>();
    assert.equal(rx.tryRecv(), undefined);
    tx.close();
    assert.throws(() => rx.tryRecv(), TryRecvError);
  });

  test('the variants a user builds: messages as Rust prints them', () => {
    assert.equal(new TryRecvError('Empty').message, 'receiving on an empty channel');
    assert.equal(new TryRecvError('Empty').kind, 'Empty');
    assert.equal(new RecvTimeoutError('Timeout').message, 'timed out waiting on channel');
    assert.match(new TryRecvError('Disconnected').message, /closed channel/);
    const full = new TrySendError('Full', 5);
    assert.equal(full.message, 'sending on a full channel');
    assert.equal(full.value, 5);
    assert.ok(full instanceof SendError);
  });
});

describe('RecvTimeoutError (Rust mpsc tests)', () => {
  test('recv_timeout: Timeout is undefined, then Ok', T, () => {
    const [tx, rx] = channel<number>();
    assert.equal(rx.recvTimeout(1), undefined);
    tx.send(1);
    assert.equal(rx.recvTimeout(1), 1);
  });

  test('recv_timeout on a disconnected channel: Disconnected', T, () => {
    const [tx, rx] = channel<number>();
    tx.close();
    assert.throws(() => rx.recvTimeout(1000), (e: unknown) =>
      e instanceof RecvTimeoutError && e.kind === 'Disconnected' && e instanceof RecvError);
  });

  // Rust's durations (100 ms timeout, 200 ms pauses) scaled down to 1 and 2 ms.
  test('stress_recv_timeout_two_threads: every message arrives, timeouts included', T, () => {
    const [tx, rx] = channel<number>();
    const STRESS = 100;
    const h = spawn(async (tx: Sender<number>, n: number) => {
      const { sleep } = await import('weft');
      for (let k = 0; k < n; k++) {
        if (k % 2 === 0) sleep(2);
        tx.send(1);
      }
    }, tx, STRESS);
    let recv = 0;
    let timeouts = 0;
    for (;;) {
      let n: number | undefined;
      try {
        n = rx.recvTimeout(1);
      } catch (e) {
        if (!(e instanceof RecvTimeoutError && e.kind === 'Disconnected')) throw e;
        break;
      }
      if (n === undefined) timeouts++;
      else {
        assert.equal(n, 1);
        recv++;
      }
    }
    assert.equal(recv, STRESS);
    assert.ok(timeouts > 0);
    h.join();
  });
});

describe('TrySendError (Rust mpsc_sync tests)', () => {
  test('the value comes back usable: a Sender in a message is not moved by a Full or Disconnected trySend', T, () => {
    const [inner, innerRx] = channel<string>();
    for (const bound of [1, 0]) {
      const [tx, rx] = syncChannel<{ reply: Sender<string> }>(bound);
      if (bound === 1) assert.equal(tx.trySend({ reply: inner.clone() }), true);
      const msg = { reply: inner };
      assert.equal(tx.trySend(msg), false); // Full: nothing moved
      msg.reply.send(`full ${bound}`);
      rx.close();
      let back: { reply: Sender<string> } | undefined;
      assert.throws(() => tx.trySend(msg), (e: unknown) => {
        if (!(e instanceof TrySendError)) return false;
        back = e.value as { reply: Sender<string> };
        return e.kind === 'Disconnected';
      });
      back!.reply.send(`disconnected ${bound}`); // still ours, still usable
    }
    assert.deepEqual([...innerRx.tryIter()], ['full 1', 'disconnected 1', 'full 0', 'disconnected 0']);
  });

  test('send() still throws a plain SendError (the contract), not the trySend variant', T, () => {
    const [tx, rx] = syncChannel<number>(1);
    rx.close();
    assert.throws(() => tx.send(4), (e: unknown) => e instanceof SendError && !(e instanceof TrySendError) && e.value === 4);
  });
});
