// A send racing the close of the last receiver (unbounded and bounded channels): every
// message either comes back to its sender in a SendError or is dropped by the
// channel at once, never left in it until the last sender goes. The messages carry
// a Sender of a second channel, so a message left behind would keep that channel
// connected: once every send has returned and the receivers are gone, the second
// channel must disconnect while every sender of the first is still open.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AtomicI32, RecvError, channel, spawn, syncChannel,
  type JoinHandle, type Receiver, type Sender, type SyncSender,
} from '../src/index.ts';
import { delay, settledLive } from './helpers/settle.ts';

type Msg = Sender<number>;
type Tx = Sender<Msg> | SyncSender<Msg>;
/** A round's work for a sending thread: the first channel's sender, and the second's to clone into messages. */
type Work = { tx: Tx; t2: Sender<number> };
/** What a sending thread hands back: its first-channel sender, still open, and how its sends went. */
type Done = { tx: Tx; sent: number; back: number };

/** How long the second channel may take to disconnect (at once when nothing is left behind). */
const DISCONNECT_MS = 10_000;


/** Seeded so that a failing run can be replayed (WEFT_SEED). */
function random(): () => number {
  let seed = Number(process.env.WEFT_SEED ?? Date.now() % 100_000);
  return () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/**
 * A sending thread: for each Work, sends clones of `t2` on `tx` until a send fails
 * (the clone then comes back in the SendError and is closed here), and hands `tx`
 * back open, so the first channel keeps its senders while the second is checked.
 */
function sendingThread(work: Receiver<Work>, done: SyncSender<Done>): JoinHandle<void> {
  return spawn(async (work: Receiver<Work>, done: SyncSender<Done>) => {
    const { SendError } = await import('weft');
    for (const { tx, t2 } of work) {
      let sent = 0;
      let back = 0;
      for (;;) {
        const c = t2.clone();
        try {
          tx.send(c);
          sent++;
        } catch (e) {
          if (!(e instanceof SendError) || e.value !== c) throw e;
          c.close(); // given back: usable, and closed here
          back++;
          break;
        }
      }
      t2.close();
      done.send({ tx, sent, back });
    }
  }, work, done);
}

/** The flavors under test: a channel of Msg and its sender type's name. */
const flavors: Array<[string, () => [Tx, Receiver<Msg>]]> = [
  ['unbounded', () => channel<Msg>()],
  ['syncChannel(1)', () => syncChannel<Msg>(1)],
  ['syncChannel(4)', () => syncChannel<Msg>(4)],
];

type Round = (k: number, flavor: string, make: () => [Tx, Receiver<Msg>]) => Promise<void>;

/**
 * `rounds` rounds over the flavors in turn, after a warm-up round on each of the first
 * `warmUp` flavors (pools and code paths allocate once): the heap must end where it began.
 */
async function roundsLeaveNothing(rounds: number, round: Round, warmUp = 1): Promise<void> {
  for (const [flavor, make] of flavors.slice(0, warmUp)) await round(-1, flavor, make);
  const before = await settledLive();
  for (let k = 0; k < rounds; k++) {
    const [flavor, make] = flavors[k % flavors.length];
    await round(k, flavor, make);
  }
  assert.equal(await settledLive(), before, 'no message block or endpoint left behind');
}

/** Rejects unless `rx2` disconnects within DISCONNECT_MS (nothing is ever sent on it). */
async function assertDisconnects(rx2: Receiver<number>, what: string): Promise<void> {
  const e = await rx2.recvAsync({ signal: AbortSignal.timeout(DISCONNECT_MS) }).then(
    (v) => new Error(`${what}: the second channel got ${v}`),
    (e: unknown) => e,
  );
  assert.ok(e instanceof RecvError, `${what}: the second channel did not disconnect (${String(e)}): a message carrying its Sender was left in the first`);
}

/**
 * Starts `n` sending threads on `[tx1, rx1]` for one round; resolves, once each send
 * loop ended, to their senders handed back (open) and the totals.
 */
function startSenders(
  n: number, tx1: Tx, t2: Sender<number>,
  works: Array<SyncSender<Work>>, done: Receiver<Done>,
): () => Promise<{ txs: Tx[]; sent: number; back: number }> {
  for (let k = 0; k < n; k++) works[k].send({ tx: tx1.clone() as Tx, t2: t2.clone() });
  tx1.close();
  t2.close();
  return async () => {
    const txs: Tx[] = [];
    let sent = 0;
    let back = 0;
    for (let k = 0; k < n; k++) {
      const d = await done.recvAsync({ signal: AbortSignal.timeout(60_000) });
      txs.push(d.tx);
      sent += d.sent;
      back += d.back;
    }
    return { txs, sent, back };
  };
}

/**
 * Long-lived sending threads, with their work and done channels (bounded: their ring
 * is allocated once, where an unbounded channel in steady use keeps a spare block
 * from its first full one on, which would count as heap growth).
 */
function senders(n: number) {
  const [doneTx, done] = syncChannel<Done>(n);
  const works: Array<SyncSender<Work>> = [];
  const threads: Array<JoinHandle<void>> = [];
  for (let k = 0; k < n; k++) {
    const [w, wr] = syncChannel<Work>(1);
    works.push(w);
    threads.push(sendingThread(wr, doneTx.clone()));
  }
  doneTx.close();
  return {
    works, done,
    async stop() {
      for (const w of works) w.close();
      for (const t of threads) {
        await t.joinAsync();
        t.close();
      }
      done.close();
    },
  };
}

test('the last receiver closing while 2-4 threads send: each message given back or dropped at once, the endpoints in them disconnect', { timeout: 240_000 }, async () => {
  const ROUNDS = Number(process.env.WEFT_ROUNDS ?? 150);
  const rand = random();
  const pool = senders(4);
  // The receiving thread takes a first channel's Receiver per round, receives a few
  // messages (so that the senders are sending), closes what it got and then the
  // Receiver. It stays alive, so nothing below comes from a thread ending.
  const [rxWork, rxWorkRx] = syncChannel<{ rx: Receiver<Msg>; take: number }>(1);
  const [closedTx, closed] = syncChannel<number>(1);
  const receiver = spawn((work: Receiver<{ rx: Receiver<Msg>; take: number }>, closed: SyncSender<number>) => {
    for (const { rx, take } of work) {
      let got = 0;
      while (got < take) {
        rx.recv().close();
        got++;
      }
      rx.close();
      closed.send(got);
    }
  }, rxWorkRx, closedTx);
  const round: Round = async (k, flavor, make) => {
    const [tx2, rx2] = channel<number>();
    const [tx1, rx1] = make();
    rxWork.send({ rx: rx1, take: Math.floor(rand() * 48) });
    const n = 2 + Math.floor(rand() * 3);
    const finished = startSenders(n, tx1, tx2, pool.works, pool.done);
    const got = await closed.recvAsync({ signal: AbortSignal.timeout(60_000) });
    const { txs, sent, back } = await finished();
    assert.equal(back, n, 'each send loop ends with one send failing, its value given back');
    assert.ok(sent >= got);
    // Every sender of the first channel is still open here.
    await assertDisconnects(rx2, `${flavor}, round ${k}`);
    for (const tx of txs) tx.close();
    rx2.close();
  };
  const started = performance.now();
  await roundsLeaveNothing(ROUNDS, round, flavors.length);
  const elapsed = performance.now() - started;
  rxWork.close();
  await receiver.joinAsync();
  receiver.close();
  closed.close();
  await pool.stop();
  if (process.env.WEFT_VERBOSE) console.log(`${ROUNDS} rounds in ${elapsed.toFixed(0)} ms`);
});

// Each kill costs a fresh worker, booted in a second or two on a loaded machine.
test('the receiving thread killed while 2-4 threads send: each message given back or dropped, the endpoints in them disconnect', { timeout: 240_000 }, async () => {
  const ROUNDS = Number(process.env.WEFT_KILL_ROUNDS ?? 9);
  const rand = random();
  const pool = senders(4);
  const round: Round = async (k, flavor, make) => {
    const [tx2, rx2] = channel<number>();
    const [tx1, rx1] = make();
    const n = new AtomicI32();
    // Killed anywhere: in recv, holding a message, closing it.
    const victim = spawn((rx: Receiver<Msg>, n: AtomicI32) => {
      n.fetchAdd(1);
      for (;;) {
        rx.recv().close();
        n.fetchAdd(1);
      }
    }, rx1, n);
    const deadline = performance.now() + 60_000;
    while (n.load() === 0) {
      assert.ok(performance.now() < deadline, 'the receiving thread did not start');
      await delay(1);
    }
    const senderCount = 2 + Math.floor(rand() * 3);
    const finished = startSenders(senderCount, tx1, tx2, pool.works, pool.done);
    const stop = 1 + Math.floor(rand() * 64);
    while (n.load() <= stop) {
      assert.ok(performance.now() < deadline, 'the receiving thread stopped receiving');
      await new Promise<void>((r) => setImmediate(r));
    }
    await victim.terminate();
    victim.close();
    n.close();
    const { txs, back } = await finished();
    assert.equal(back, senderCount, 'each send loop ends with one send failing, its value given back');
    await assertDisconnects(rx2, `${flavor}, round ${k} (killed)`);
    for (const tx of txs) tx.close();
    rx2.close();
  };
  await roundsLeaveNothing(ROUNDS, round);
  await pool.stop();
});

test('a sending thread killed while the last receiver closes: what it sent and held is dropped, the endpoints in them disconnect', { timeout: 240_000 }, async () => {
  const ROUNDS = Number(process.env.WEFT_KILL_ROUNDS ?? 9);
  const rand = random();
  const pool = senders(2);
  const round: Round = async (k, flavor, make) => {
    const [tx2, rx2] = channel<number>();
    const [tx1, rx1] = make();
    // Killed anywhere in a send: before publishing, after, or giving a value back.
    const victim = spawn((tx: Tx, t2: Sender<number>) => {
      for (;;) {
        const c = t2.clone();
        try {
          tx.send(c);
        } catch {
          c.close();
        }
      }
    }, tx1.clone() as Tx, tx2.clone());
    const first = await rx1.recvAsync({ signal: AbortSignal.timeout(60_000) });
    first.close();
    const finished = startSenders(1 + Math.floor(rand() * 2), tx1, tx2, pool.works, pool.done);
    for (let m = Math.floor(rand() * 32); m > 0; m--) (await rx1.recvAsync({ signal: AbortSignal.timeout(60_000) })).close();
    // The kill and the close race: the victim may die before, during or after the sweep.
    const killed = victim.terminate();
    if (rand() < 0.5) await new Promise<void>((r) => setImmediate(r));
    rx1.close();
    await killed;
    victim.close();
    const { txs } = await finished();
    await assertDisconnects(rx2, `${flavor}, round ${k} (a sender killed)`);
    for (const tx of txs) tx.close();
    rx2.close();
  };
  await roundsLeaveNothing(ROUNDS, round);
  await pool.stop();
});
