// A pool task's handle is a JoinHandle (API.md: `ThreadPool.spawn` returns
// `JoinHandle<Awaited<R>>`): code written for thread handles takes it unchanged, its
// `thread` is the pool thread that runs the task, and what it cannot do (travel to
// another thread) fails with a TypeError that loses nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AtomicI32, channel, JoinHandle, PanicError, spawn, syncChannel, TaskHandle, ThreadPool,
  type Receiver, type Sender,
} from '../src/index.ts';

const T = { timeout: 60_000 };

/** Written for threads: sums what every handle returns. */
async function total(handles: Array<JoinHandle<number>>): Promise<number> {
  let sum = 0;
  for (const h of handles) sum += await h.joinAsync();
  return sum;
}

describe('a pool task is joined through JoinHandle', () => {
  test('code written for thread JoinHandles joins pool tasks and threads alike', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const handles: Array<JoinHandle<number>> = [];
    for (let k = 1; k <= 8; k++) {
      handles.push(k % 2 === 0 ? pool.spawn((k: number) => k * k, k) : spawn((k: number) => k * k, k));
    }
    assert.ok(handles.every((h) => h instanceof JoinHandle));
    assert.ok(handles.filter((h) => h instanceof TaskHandle).length === 4, 'the even ones are pool tasks');
    assert.equal(await total(handles), (8 * 9 * 17) / 6);
  });

  test('a throwing task reaches join() as PanicError, as a thread would', T, () => {
    const pool = new ThreadPool({ threads: 1, name: 'crunch' });
    try {
      const h: JoinHandle<never> = pool.spawn(() => {
        throw new RangeError('bad input');
      });
      assert.throws(() => h.join(), (e: unknown) => {
        assert.ok(e instanceof PanicError, 'a PanicError');
        assert.match(e.message, /thread 'crunch-0' panicked: RangeError: bad input/);
        assert.equal(e.threadName, 'crunch-0');
        return true;
      });
      assert.equal(h.isFinished(), true);
      assert.throws(() => h.join(), /already joined/);
    } finally {
      void pool.close();
    }
  });

  test('thread is the pool thread running the task, and stays known after the join', T, async () => {
    await using pool = new ThreadPool({ threads: 1, name: 'pooled' });
    const [started, onStarted] = channel<number>();
    const [release, gate] = syncChannel<null>(0);
    const running = pool.spawn((started: Sender<number>, gate: Receiver<null>) => {
      started.send(1);
      gate.recv();
      return 'done';
    }, started, gate);
    const queued = pool.spawn(() => 7);
    onStarted.recv();
    assert.equal(running.thread.name, 'pooled-0');
    assert.notEqual(running.thread.id, 1, 'not the main thread');
    assert.throws(() => queued.thread, (e: unknown) => e instanceof TypeError && /queued; no pool thread runs it yet/.test(e.message));
    release.send(null);
    assert.equal(await running.joinAsync(), 'done');
    assert.equal(await queued.joinAsync(), 7);
    assert.equal(queued.thread.id, running.thread.id, 'one pool thread ran both');
    assert.equal(queued.thread.name, 'pooled-0');
  });

  test('a cancelled task fails its join at once (even behind a long task) and never had a thread', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const [release, gate] = syncChannel<null>(0);
    const blocker = pool.spawn((gate: Receiver<null>) => gate.recv(), gate);
    const queued = pool.spawn(() => 1);
    assert.equal(queued.cancel(), true);
    await assert.rejects(queued.joinAsync(), PanicError);
    assert.throws(() => queued.thread, /cancelled/);
    release.send(null);
    await blocker.joinAsync();
  });

  test('a task handle cannot be sent or passed to spawn: TypeError, and nothing in the message is lost', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const task = pool.spawn(() => 41 + 1);
    const [tx, rx] = channel<unknown>();
    const [itemTx, itemRx] = channel<number>();
    assert.throws(() => tx.send({ task, reply: itemTx }), (e: unknown) => e instanceof TypeError && /stays in the thread that spawned it/.test(e.message));
    assert.throws(() => spawn((t: unknown) => t, task), TypeError);
    assert.equal(rx.tryRecv(), undefined, 'nothing was queued');
    // The Sender that travelled beside it was not moved: it still sends here.
    itemTx.send(5);
    assert.equal(itemRx.recv(), 5);
    assert.equal(await task.joinAsync(), 42, 'the task itself is untouched');
  });

  test('close() gives up the outcome; join after it says so', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const h = pool.spawn(() => 3);
    h.close();
    h.close(); // idempotent
    assert.throws(() => h.join(), /TaskHandle is closed/);
    assert.equal(await pool.spawn(() => 4).joinAsync(), 4, 'the pool goes on');
  });
});

describe('a cancelled task joined at once gives its state slot back while its message is still queued', () => {
  test('slots reused by new tasks behind the stale messages: every new task runs once, no cancelled one runs', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const ran = new AtomicI32(0);
    const [release, gate] = channel<void>();
    // Holds the only thread, so everything below stays queued until release.close().
    const blocker = pool.spawn((gate: Receiver<void>) => {
      for (const _ of gate);
    }, gate);
    const expected: Array<[JoinHandle<number>, number]> = [];
    for (let round = 0; round < 20; round++) {
      // Half are cancelled and joined, which gives their slots back at once; new tasks
      // then take those slots, with the next generation, while the cancelled tasks'
      // messages are still in the queue ahead of them.
      const first = Array.from({ length: 16 }, (_, k) => pool.spawn((ran: AtomicI32, k: number) => (ran.fetchAdd(1), k), ran, k));
      for (let k = 0; k < 16; k += 2) {
        assert.equal(first[k].cancel(), true);
        assert.throws(() => first[k].join(), /cancelled before it started/);
      }
      for (let k = 1; k < 16; k += 2) expected.push([first[k], k]);
      for (let k = 0; k < 8; k++) expected.push([pool.spawn((ran: AtomicI32, k: number) => (ran.fetchAdd(1), 100 + k), ran, k), 100 + k]);
    }
    assert.equal(ran.load(), 0, 'nothing ran while the blocker held the thread');
    release.close();
    await blocker.joinAsync();
    for (const [h, value] of expected) assert.equal(await h.joinAsync(), value);
    assert.equal(ran.load(), 20 * 16, 'each uncancelled task ran once, no cancelled one ran');
    assert.equal(pool.stats().cancelled, 20 * 8);
  });
});
