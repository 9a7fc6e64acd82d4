// A refused set gives the value back, as Rust's OnceLock::set returns Err(value) and
// tokio's OnceCell::set returns SetError carrying it: the endpoints inside it (a
// Sender, a Receiver, a JoinHandle) are usable again in the caller's own objects,
// counted at once, so their channels disconnect when the caller closes them; shared
// primitives inside keep only their own refs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AtomicI32, LazyLock, Mutex, OnceCell, OnceLock, RecvError, SendError, SetError, channel, configure, heapStats, spawn,
  type Receiver, type Sender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';
import { settledLive } from './helpers/settle.ts';

// A small heap (set before weft is first used; this file runs in its own process), so
// the last test can fill it quickly.
configure({ heapBytes: 1 << 20, maxHeapBytes: 4 << 20 });

const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);


/** `tx` works again, and once it is closed `rx` (its channel's only other end) sees the disconnect. */
function assertSenderBack(tx: Sender<number>, rx: Receiver<number>): void {
  assert.equal(tx.released, false);
  tx.send(2);
  assert.equal(rx.recv(), 2);
  tx.close();
  assert.throws(() => rx.recv(), RecvError);
  rx.close();
}

const isSetError = (kind: SetError['kind'], value: unknown) => (e: unknown) =>
  e instanceof SetError && e.kind === kind && e.value === value;

test('OnceLock.set refused (already set): false, the Sender in the value still the caller\'s', () => {
  const live = heapStats().live;
  const [tx, rx] = channel<number>();
  const cell = new OnceLock<unknown>();
  assert.equal(cell.set(1), true);
  assert.equal(cell.set({ tx }), false);
  assertSenderBack(tx, rx);
  cell.close();
  assert.equal(heapStats().live, live);
});

test('OnceLock.tryInsert refused: the rejected value is the caller\'s own, its endpoints usable', () => {
  const [tx, rx] = channel<number>();
  const cell = new OnceLock<unknown>(1);
  const value = { tx };
  const r = cell.tryInsert(value);
  assert.equal(r.ok, false);
  assert.equal(r.value, 1);
  assert.equal(!r.ok && r.rejected, value);
  assertSenderBack(tx, rx);
  cell.close();
});

test('OnceCell.set refused (already set): SetError carries the caller\'s value, its Sender usable', () => {
  const live = heapStats().live;
  const [tx, rx] = channel<number>();
  const cell = new OnceCell<unknown>();
  cell.set(1);
  const value = { tx };
  assert.throws(() => cell.set(value), isSetError('AlreadyInitialized', value));
  assertSenderBack(tx, rx);
  cell.close();
  assert.equal(heapStats().live, live);
});

// OnceCell.set encodes its value before it claims the cell. Encoding forces a LazyLock in
// the value, which runs user code: here that code sets the cell first, so the outer set
// loses the claim after its value's endpoints were moved into the encoded block, exactly
// as a set losing to another thread does.
test('OnceCell.set losing the claim after encoding: the endpoints it moved come back, shared refs are released', async () => {
  const warm = spawn(() => 0); // the first thread's runtime state is allocated once
  await warm.joinAsync();
  warm.close();
  const live = await settledLive();
  const cell = new OnceCell<unknown>();
  const [tx, rx] = channel<number>();
  const [tx2, rx2] = channel<number>();
  const h = spawn(() => 7);
  const m = new Mutex(5);
  const lazy = new LazyLock(() => {
    cell.set('first');
    return 0;
  });
  const mutexRefs = refcount(m.offset);
  const lazyRefs = refcount(lazy.offset);
  const value = { tx, nested: [{ rx: rx2, h }], m, lazy };
  assert.throws(() => cell.set(value), isSetError('AlreadyInitialized', value));
  assert.equal(cell.get(), 'first');
  assert.equal(refcount(m.offset), mutexRefs, 'the ref the encoding took on the Mutex is released at once');
  assert.equal(refcount(lazy.offset), lazyRefs, 'and the one on the LazyLock');
  assertSenderBack(tx, rx);
  assert.equal(rx2.released, false);
  tx2.send(3);
  assert.equal(rx2.recv(), 3);
  rx2.close();
  assert.throws(() => tx2.send(4), SendError, 'the Receiver given back was the only one: closing it disconnects');
  tx2.close();
  assert.equal(h.join(), 7);
  h.close();
  m.close();
  lazy.close();
  cell.close();
  assert.equal(await settledLive(), live);
});

const ROUNDS = Number(process.env.WEFT_SOAK ? 5_000 : 300);

type Cell = OnceLock<{ tx: Sender<number>; id: number }> | OnceCell<{ tx: Sender<number>; id: number }>;

/**
 * Two threads race set() of a value holding a fresh Sender of their own, one cell per
 * round; each checks that its Sender either went into the cell (and works from there) or
 * is still its own (works, and closing it disconnects its channel). Returns who won each round.
 */
async function race(cells: Cell[]): Promise<[boolean[], boolean[]]> {
  const go = new AtomicI32(0);
  const racer = (id: number) =>
    spawn(async (cells: Cell[], go: AtomicI32, id: number) => {
      const weft = await import('weft');
      const won: boolean[] = [];
      for (let k = 0; k < cells.length; k++) {
        const cell = cells[k];
        const [tx, rx] = weft.channel<number>();
        // Both threads call set() together: spin until both arrived (the partner may be
        // descheduled on a loaded machine, hence the bound).
        go.fetchAdd(1);
        const deadline = Date.now() + 20_000;
        while (go.load() < 2 * (k + 1)) if (Date.now() > deadline) throw new Error(`round ${k}: partner never came`);
        const value = { tx, id };
        let ok = true;
        if (cell instanceof weft.OnceLock) ok = cell.set(value);
        else {
          try {
            cell.set(value);
          } catch (e) {
            if (!(e instanceof weft.SetError) || e.value !== value) throw e;
            ok = false;
          }
        }
        won.push(ok);
        if (ok) {
          if (!tx.released) throw new Error(`round ${k}: a stored Sender was not moved`);
          cell.get()!.tx.send(k); // the stored Sender works, from the cell
        } else {
          tx.send(k); // refused: the caller's own Sender, usable
          tx.close();
        }
        if (rx.recv() !== k) throw new Error(`round ${k}: wrong message`);
        if (!ok) {
          try {
            rx.recv();
            throw new Error(`round ${k}: a refused set's Sender, closed, left its channel connected`);
          } catch (e) {
            if (!(e instanceof weft.RecvError)) throw e;
          }
        }
        rx.close();
      }
      return won;
    }, cells, go, id);
  const a = racer(1);
  const b = racer(2);
  const [ra, rb] = await Promise.allSettled([a.joinAsync(), b.joinAsync()]);
  a.close();
  b.close();
  go.close();
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  // The partner's own failure says more than "partner never came".
  const failed = [ra, rb].filter((r) => r.status === 'rejected').map((r) => r.reason as Error);
  throw failed.find((e) => !/partner never came/.test(e.message)) ?? failed[0];
}

/** Runs `cells` (one per round) through race(), after a warm-up race on fresh cells. Returns heap growth. */
async function raceFromWarm(make: () => Cell): Promise<number> {
  // A warm-up race: both racers' workers and code paths allocate once, and the tables
  // of handles of this thread and of the racers' workers grow to hold ROUNDS cells and
  // their values (a table keeps its size).
  const warm = Array.from({ length: ROUNDS }, make);
  assertOneWinner(warm, await race(warm));
  for (const c of warm) c.close();
  const before = await settledLive();
  const cells = Array.from({ length: ROUNDS }, make);
  assertOneWinner(cells, await race(cells));
  for (const c of cells) c.close();
  return (await settledLive()) - before;
}

function assertOneWinner(cells: Cell[], [a, b]: [boolean[], boolean[]]): void {
  for (let k = 0; k < cells.length; k++) {
    assert.notEqual(a[k], b[k], `round ${k}: exactly one set() stored its value`);
    assert.equal(cells[k].get()?.id, a[k] ? 1 : 2, `round ${k}: the cell holds the winner's value`);
  }
}

test('two threads racing OnceLock.set with Senders: one stored, the other\'s Sender usable by its thread; heap back', { timeout: 120_000 }, async () => {
  const grown = await raceFromWarm(() => new OnceLock<{ tx: Sender<number>; id: number }>());
  assert.equal(grown, 0, 'no value block or endpoint left behind');
});

test('two threads racing OnceCell.set with Senders: one stored, SetError gives the other its value back; heap back', { timeout: 120_000 }, async () => {
  const grown = await raceFromWarm(() => new OnceCell<{ tx: Sender<number>; id: number }>());
  assert.equal(grown, 0, 'no value block or endpoint left behind');
});

// The allocator reuses a freed block only for requests of its own size class (here the
// same for a value { tx } and a new cell). So: fill the heap, use up the blocks of that
// class, then free one from a value. A new cell's value is then stored in it, and the
// cell itself finds no room (its block, or a slot in this thread's table of handles,
// which cannot grow); the value given back frees that block for the next attempt.
test('a new OnceLock / OnceCell refused for a full heap gives its value back: RangeError, the Sender usable', () => {
  const full = (e: unknown) => e instanceof RangeError && /heap is full/.test(e.message);
  const [tx, rx] = channel<number>();
  // Values shaped like { tx }, to free one block each when the heap is full (their
  // channel stays alive meanwhile, so that block is all that is freed).
  const [spareTx, spareRx] = channel<number>();
  const spares = [new Mutex<unknown>({ tx: spareTx.clone() }), new Mutex<unknown>({ tx: spareTx.clone() })];
  const freeOne = () => {
    const g = spares.pop()!.lock();
    g.value = 1; // in place now: its { tx } block is freed at the unlock
    g.unlock();
  };
  // This thread's table of handles grows now, large enough that filling the heap
  // below runs out of blocks before it runs out of slots.
  for (const a of Array.from({ length: 8000 }, () => new AtomicI32())) a.close();
  const [fillTx, fillRx] = channel<string>();
  const payload = 'x'.repeat(1000);
  let filled = 0;
  assert.throws(() => {
    for (;;) {
      fillTx.send(payload);
      filled++;
    }
  }, full);
  // What could not be allocated: a cell's block (a few bytes) or a bigger table (kilobytes).
  const failed = (e: unknown): number => (full(e) ? Number((e as Error).message.match(/allocate (\d+) bytes/)?.[1]) : NaN);
  const refused = (e: unknown) => failed(e) <= 32;
  const cells: Array<{ close(): void }> = [];
  assert.throws(() => {
    for (;;) cells.push(new OnceLock(), new OnceCell());
  }, refused);

  // The cell's own block finds no room.
  freeOne();
  assert.throws(() => new OnceLock({ tx }), refused);
  assert.equal(tx.released, false, 'the Sender stays the caller\'s');
  assert.throws(() => new OnceCell({ tx }), refused);
  assert.equal(tx.released, false, 'the Sender stays the caller\'s');

  // The cell's slot finds no room: blocks for the value and the cell, and a table
  // filled up with clones (which take a slot and no block).
  freeOne();
  const clones: Array<{ close(): void }> = [];
  assert.throws(() => {
    for (;;) clones.push(spareTx.clone());
  }, full);
  assert.throws(() => new OnceLock({ tx }), (e) => failed(e) > 1024);
  assert.equal(tx.released, false, 'the Sender stays the caller\'s, back in the slot its value held');

  for (const c of [...clones, ...cells, ...spares]) c.close();
  spareTx.close();
  spareRx.close();
  for (let k = 0; k < filled; k++) fillRx.recv();
  fillTx.close();
  fillRx.close();
  assertSenderBack(tx, rx);
});
