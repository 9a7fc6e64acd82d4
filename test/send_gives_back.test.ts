// A send that fails gives the value back, as Rust's SendTimeoutError::Timeout(t),
// TrySendError::Full(t) and SendError(t) do: the endpoints inside it (a Sender, a
// Receiver, a JoinHandle moved into the message) are usable again in the caller's own
// objects, counted at once, so the channels they belong to disconnect when the caller
// closes them, not when its thread ends; shared primitives inside lose the ref the
// encoding took for the message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AtomicI32, Mutex, RecvError, RecvTimeoutError, SendError, TrySendError, channel, heapStats, oneshot, spawn, syncChannel,
  type JoinHandle, type Receiver, type Sender, type SyncSender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';
import { settledLive } from './helpers/settle.ts';

const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);


/** `tx` works again, and once it is closed `rx` (its channel's only other end) sees the disconnect. */
function assertSenderBack(tx: Sender<number>, rx: Receiver<number>): void {
  tx.send(1);
  assert.equal(rx.recv(), 1);
  tx.close();
  assert.throws(() => rx.recv(), RecvError);
  rx.close();
}

test('rendezvous sendTimeout that times out gives a Sender back: usable, and its channel disconnects when it is closed', () => {
  const live = heapStats().live;
  const [tx2, rx2] = channel<number>();
  const [stx, srx] = syncChannel<Sender<number>>(0);
  assert.equal(stx.sendTimeout(tx2, 10), false);
  assert.equal(tx2.released, false);
  assertSenderBack(tx2, rx2);
  stx.close();
  srx.close();
  assert.equal(heapStats().live, live);
});

test('rendezvous trySend with no receiver waiting: false, the Sender still the caller\'s', () => {
  const [tx2, rx2] = channel<number>();
  const [stx, srx] = syncChannel<{ tx: Sender<number> }>(0);
  assert.equal(stx.trySend({ tx: tx2 }), false);
  assertSenderBack(tx2, rx2);
  stx.close();
  srx.close();
});

test('rendezvous trySend offered to a receiver that does not take it: withdrawn, the Sender back', async () => {
  const [tx2, rx2] = channel<number>();
  const [stx, srx] = syncChannel<{ tx: Sender<number> }>(0);
  // A receiver waiting in this thread's event loop counts as waiting, so trySend offers;
  // it cannot take the offer while trySend blocks this thread, so trySend withdraws it.
  const abort = new AbortController();
  const waiting = srx.recvAsync({ signal: abort.signal });
  assert.equal(stx.trySend({ tx: tx2 }), false);
  abort.abort();
  await assert.rejects(waiting, (e) => e === abort.signal.reason);
  assertSenderBack(tx2, rx2);
  stx.close();
  srx.close();
});

test('a Receiver, a Mutex and a JoinHandle inside an object come back; the Mutex keeps only its own refs', () => {
  const [txD, rxD] = channel<number>();
  const m = new Mutex(5);
  const h = spawn(() => 7);
  const refs = refcount(m.offset);
  const [stx, srx] = syncChannel<unknown>(0);
  const value = { rx: rxD, nested: [{ m }], h };
  assert.equal(stx.sendTimeout(value, 5), false);
  assert.equal(refcount(m.offset), refs, 'the ref the message took on the Mutex is released at once');
  assert.equal(rxD.released, false);
  assert.equal(h.released, false);
  txD.send(3);
  assert.equal(rxD.recv(), 3);
  rxD.close();
  assert.throws(() => txD.send(4), SendError, 'the Receiver given back was the only one: closing it disconnects');
  txD.close();
  assert.equal(m.withLock((v) => v), 5);
  assert.equal(h.join(), 7);
  h.close();
  m.close();
  stx.close();
  srx.close();
});

test('rendezvous sendAsync to a receiver closed while the offer waits: SendError carries the caller\'s value, its Sender usable', async () => {
  const [tx2, rx2] = channel<number>();
  const [stx, srx] = syncChannel<{ tx: Sender<number> }>(0);
  const value = { tx: tx2 };
  const sending = stx.sendAsync(value); // offered at once: the offer now holds tx2's ref
  assert.equal(tx2.released, true);
  srx.close();
  const e = await sending.then(() => undefined, (e: unknown) => e);
  assert.ok(e instanceof SendError);
  assert.equal(e.value, value);
  assertSenderBack(tx2, rx2);
  stx.close();
});

test('rendezvous sendAsync aborted while offered: rejects with the reason, the Sender back', async () => {
  const [tx2, rx2] = channel<number>();
  const [stx, srx] = syncChannel<Sender<number>>(0);
  const abort = new AbortController();
  const sending = stx.sendAsync(tx2, { signal: abort.signal });
  abort.abort();
  await assert.rejects(sending, (e) => e === abort.signal.reason);
  assertSenderBack(tx2, rx2);
  stx.close();
  srx.close();
});

test('sends to a closed receiver on every flavor: SendError / TrySendError carry the caller\'s value, its Sender usable', () => {
  const cases: Array<[string, (v: { tx: Sender<number> }) => void]> = [];
  const [u, ur] = channel<{ tx: Sender<number> }>();
  ur.close();
  const senders: Array<{ close(): void }> = [u];
  cases.push(['unbounded send', (v) => u.send(v)]);
  for (const bound of [0, 1]) {
    const [s, sr] = syncChannel<{ tx: Sender<number> }>(bound);
    sr.close();
    senders.push(s);
    cases.push([`syncChannel(${bound}) send`, (v) => s.send(v)]);
    cases.push([`syncChannel(${bound}) trySend`, (v) => s.trySend(v)]);
    cases.push([`syncChannel(${bound}) sendTimeout`, (v) => s.sendTimeout(v, 5)]);
  }
  const [o, or] = oneshot<{ tx: Sender<number> }>();
  or.close();
  cases.push(['oneshot send', (v) => o.send(v)]);
  for (const [name, send] of cases) {
    const [tx2, rx2] = channel<number>();
    const value = { tx: tx2 };
    assert.throws(() => send(value), (e) => e instanceof SendError && e.value === value, name);
    if (name.endsWith('trySend')) assert.throws(() => send(value), TrySendError);
    assertSenderBack(tx2, rx2);
  }
  for (const s of senders) s.close();
});

test('rendezvous sendTimeout of endpoints racing recvTimeout: each delivered once or back with the sender; disconnects exact', { timeout: 120_000 }, async () => {
  const ROUNDS = Number(process.env.WEFT_SOAK ? 20_000 : 1_500);
  const warm = spawn(() => 0);
  await warm.joinAsync();
  warm.close();
  const liveBefore = await settledLive();
  const [txC, rxC] = channel<number>();
  const [txD, rxD] = channel<number>();
  const m = new Mutex(0);
  const mutexRefs = refcount(m.offset);
  const [out, inbox] = syncChannel<{ tx: Sender<number>; rx: Receiver<number>; m: Mutex<number> }>(0);
  const [doneTx, doneRx] = channel<void>();
  // The receiver waits as briefly as the sender offers, so offers are taken, withdrawn,
  // or both at once. It closes what it gets at once, and stays alive until told, so the
  // disconnects below cannot come from its thread ending.
  const receiver = spawn((inbox: Receiver<{ tx: Sender<number>; rx: Receiver<number>; m: Mutex<number> }>, done: Receiver<void>) => {
    let got = 0;
    for (;;) {
      let msg;
      try {
        msg = inbox.recvTimeout(0.02);
      } catch {
        break; // the sender is done and gone
      }
      if (msg === undefined) continue;
      msg.tx.send(1); // a delivered Sender works
      msg.tx.close();
      msg.rx.close();
      msg.m.withLock((v) => v);
      msg.m.close();
      got++;
    }
    inbox.close();
    done.recv();
    return got;
  }, inbox, doneRx);
  let delivered = 0;
  const started = performance.now();
  for (let k = 0; k < ROUNDS; k++) {
    const msg = { tx: txC.clone(), rx: rxD.clone(), m };
    if (out.sendTimeout(msg, (k % 3) * 0.02)) {
      delivered++;
      assert.equal(msg.tx.released, true);
      continue;
    }
    // Back with the sender: both endpoints usable here, then closed here.
    msg.tx.send(2);
    msg.tx.close();
    assert.equal(msg.rx.tryRecv(), undefined);
    msg.rx.close();
  }
  const elapsed = performance.now() - started;
  out.close();
  txC.close();
  // Every clone of C's Sender was closed by whoever holds it: C disconnects now.
  let ones = 0;
  let twos = 0;
  for (;;) {
    let v: number | undefined;
    try {
      v = rxC.recvTimeout(10_000);
    } catch (e) {
      assert.ok(e instanceof RecvTimeoutError && e.kind === 'Disconnected');
      break;
    }
    assert.notEqual(v, undefined, 'C did not disconnect: a Sender clone is still held somewhere');
    if (v === 1) ones++;
    else twos++;
  }
  assert.equal(ones, delivered, 'every offer counted as sent arrived once, and only those');
  assert.equal(twos, ROUNDS - delivered, 'every offer counted as not sent came back');
  // Every clone of D's Receiver is closed too: D's sender sees it gone.
  rxD.close();
  assert.throws(() => txD.send(0), SendError);
  assert.equal(refcount(m.offset), mutexRefs, 'the Mutex keeps only its own refs');
  doneTx.send();
  assert.equal(await receiver.joinAsync(), delivered);
  receiver.close();
  doneTx.close();
  txD.close();
  rxC.close();
  m.close();
  assert.equal(await settledLive(), liveBefore, 'no message block or endpoint left behind');
  if (process.env.WEFT_VERBOSE) console.log(`${delivered} of ${ROUNDS} delivered, ${elapsed.toFixed(0)} ms`);
});

// Each kill costs a fresh worker, booted in a second or two on a loaded machine.
test('a sender killed while it offers and withdraws endpoints leaks none and releases each once', { timeout: process.env.WEFT_SOAK ? 1_200_000 : 120_000 }, async () => {
  const ROUNDS = Number(process.env.WEFT_SOAK ? 200 : 8);
  let seed = Number(process.env.WEFT_SEED ?? Date.now() % 100_000);
  const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const round = async () => {
    const [txC, rxC] = channel<number>();
    const [out, inbox] = syncChannel<{ tx: Sender<number> }>(0);
    const n = new AtomicI32();
    const victim: JoinHandle<void> = spawn((out: SyncSender<{ tx: Sender<number> }>, c: Sender<number>, n: AtomicI32) => {
      for (;;) {
        const msg = { tx: c.clone() };
        if (!out.sendTimeout(msg, 0.01)) msg.tx.close();
        n.fetchAdd(1);
      }
    }, out, txC, n);
    // Take some offers here, so the victim's offers are taken, withdrawn or both at once
    // when it dies.
    const stop = 1 + Math.floor(rand() * 200);
    while (n.load() < stop) {
      const msg = inbox.tryRecv();
      if (msg) msg.tx.close();
      await new Promise<void>((r) => setImmediate(r));
    }
    await victim.terminate();
    victim.close();
    // An offer the victim left behind is taken like any other (then the channel is
    // disconnected: its only sender died).
    try {
      inbox.tryRecv()?.tx.close();
    } catch (e) {
      assert.ok(e instanceof RecvError);
    }
    inbox.close();
    // Every clone of C's Sender is released exactly once: C disconnects (a double release
    // would throw in the runtime or break a count).
    const check = spawn((rx: Receiver<number>) => {
      try {
        return rx.recvTimeout(10_000) === undefined ? 'still connected after 10 s' : 'a message';
      } catch (e) {
        return (e as { kind?: string }).kind === 'Disconnected' ? 'disconnected' : String(e);
      }
    }, rxC);
    assert.equal(await check.joinAsync(), 'disconnected');
    check.close();
    n.close();
  };
  await round(); // warm-up: pools and code paths allocate once
  const before = await settledLive();
  for (let k = 0; k < ROUNDS; k++) await round();
  assert.equal(await settledLive(), before, 'no message block or endpoint left behind');
});
