// ThreadPool: tasks on a fixed set of weft threads. Written as programs that use a pool
// are: results and order, a queue that fills up, cancellation, tasks that throw or take
// their thread down with them, and the numbers stats() reports. Coordination between a
// test and its tasks goes through weft channels and atomics, never through sleeping.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  AtomicI32, Barrier, channel, heapStats, Mutex, PanicError, sharedArray, ThreadPool, TaskHandle,
  type Receiver, type Sender, type SharedArray,
} from '../src/index.ts';
import { GEN_SHIFT, ROW, Stat, STATE_SLOTS, TaskKind, TaskState } from '../src/pool/layout.ts';
import { poolThreadMain } from '../src/pool/pool_thread.ts';

const T = { timeout: 60_000 };

/** A gate tasks block on until the test opens it: a channel whose sender the test closes. */
function gate(): [open: () => void, wait: Receiver<void>] {
  const [tx, rx] = channel<void>();
  return [() => tx.close(), rx];
}

/**
 * Occupies one thread of `pool` with a task that runs until `open()` (it returns
 * 'unblocked'); returns once the task has started, so it is off the queue.
 */
function occupy(pool: ThreadPool): { open: () => void; blocker: TaskHandle<string> } {
  const [open, wait] = gate();
  const [startedTx, started] = channel<number>();
  const blocker = pool.spawn((w: Receiver<void>, s: Sender<number>) => {
    s.send(1);
    for (const _ of w);
    return 'unblocked';
  }, wait, startedTx);
  started.recv();
  started.close();
  return { open, blocker };
}

/** Blocks until `n` tasks have started (each sends on `started`). */
function awaitStarted(started: Receiver<number>, n: number): number[] {
  const ids: number[] = [];
  for (let k = 0; k < n; k++) ids.push(started.recv());
  return ids;
}

describe('ThreadPool: tasks and results', () => {
  test('spawn returns a handle whose join gives the value; arguments arrive; async tasks are awaited', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const sum = pool.spawn((a: number, b: number) => a + b, 2, 3);
    assert.ok(sum instanceof TaskHandle);
    assert.equal(sum.join(), 5);
    assert.deepEqual(pool.spawn((o: { xs: number[] }) => o.xs.map((x) => x * 2), { xs: [1, 2] }).join(), [2, 4]);
    const late = pool.spawn(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return 'late';
    }, 5);
    assert.equal(await late.joinAsync(), 'late');
    assert.equal(late.isFinished(), true);
    assert.throws(() => late.join(), /already joined/);
  });

  test('tasks run on the pool threads, named after the pool', T, async () => {
    await using pool = new ThreadPool({ threads: 3, name: 'crunch' });
    const barrier = new Barrier(3);
    // Three tasks that can only finish together: they must run on three threads at once.
    const hs = [0, 1, 2].map(() =>
      pool.spawn(async (b: Barrier) => {
        const { current } = await import('weft');
        b.wait();
        return current().name;
      }, barrier),
    );
    const names = hs.map((h) => h.join()).sort();
    assert.deepEqual(names, ['crunch-0', 'crunch-1', 'crunch-2']);
    assert.equal(pool.threads, 3);
  });

  test('many tasks from a loop, joined in any order, each result exactly once', T, async () => {
    await using pool = new ThreadPool({ threads: 3 });
    const hs = Array.from({ length: 500 }, (_, k) => pool.spawn((x: number) => x * x, k));
    for (let k = hs.length - 1; k >= 0; k--) assert.equal(hs[k].join(), k * k);
    const s = pool.stats();
    assert.equal(s.completed, 500);
    assert.equal(s.failed, 0);
  });

  test('map keeps the order of the items, passes the index, takes any iterable', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const n = 10_007; // not a multiple of the chunk size
    const items = Array.from({ length: n }, (_, k) => k);
    const doubled = await pool.map(items, (x: number) => x * 2);
    assert.equal(doubled.length, n);
    for (let k = 0; k < n; k++) assert.equal(doubled[k], 2 * k);
    assert.deepEqual(await pool.map(['a', 'b', 'c'], (s: string, i: number) => `${i}:${s}`), ['0:a', '1:b', '2:c']);
    assert.deepEqual(await pool.map(new Set([3, 1, 2]), (x: number) => x + 1), [4, 2, 3]);
    function* gen(): Generator<number> {
      yield 10;
      yield 20;
    }
    assert.deepEqual(await pool.map(gen(), (x: number) => x / 10), [1, 2]);
    assert.deepEqual(await pool.map([], (x: number) => x), []);
    assert.deepEqual(await pool.map([1, 2, 3], async (x: number) => x * 3), [3, 6, 9]);
  });

  test('map over numbers: each result exactly as fn returned it, whether numbers, other values, or both', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const special = [0, -0, NaN, Infinity, -Infinity, 0.1, -1e-300, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2];
    assert.deepEqual(await pool.map(special, (x: number) => x), special);
    assert.deepEqual(await pool.map(special, (x: number) => -x), special.map((x) => -x));
    // Results that stop being numbers in the middle of a chunk (8 chunks of 125 here).
    const n = 1000;
    const items = Array.from({ length: n }, (_, k) => k);
    const mixed = await pool.map(items, (x: number, i: number) => (x < 510 ? x * 2 + i : `s${x}`));
    assert.deepEqual(mixed, items.map((x) => (x < 510 ? 3 * x : `s${x}`)));
    assert.deepEqual(await pool.map(items, (x: number) => (x % 2 === 0 ? x : null)), items.map((x) => (x % 2 === 0 ? x : null)));
    assert.deepEqual(await pool.map(items, async (x: number) => x + 0.5), items.map((x) => x + 0.5));
    // Items that are not all numbers; numbers from other items.
    assert.deepEqual(await pool.map([1, 2, 'three'], (x: number | string) => x), [1, 2, 'three']);
    assert.deepEqual(await pool.map(['a', 'bb', 'ccc'], (s: string) => s.length), [1, 2, 3]);
    assert.deepEqual(await pool.map([[1], [2, 3]], (a: number[]) => a), [[1], [2, 3]]);
    // The items array is the caller's: the pool works on a copy.
    assert.deepEqual(items, Array.from({ length: n }, (_, k) => k));
  });

  test('map over numbers leaves nothing in the heap, whether it returns, fails or is aborted', T, async () => {
    const before = heapStats().live;
    const pool = new ThreadPool({ threads: 2 });
    const items = Array.from({ length: 5000 }, (_, k) => k);
    assert.equal((await pool.map(items, (x: number) => x + 1))[4999], 5000);
    await assert.rejects(
      pool.map(items, (x: number) => {
        if (x === 4000) throw new Error('one item fails');
        return x;
      }),
      /one item fails/,
    );
    const ac = new AbortController();
    const aborted = pool.map(items, (x: number) => x, { signal: ac.signal });
    ac.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    assert.deepEqual((await pool.map(items, (x: number) => (x < 2500 ? x : 'big'))).slice(2499, 2501), [2499, 'big']);
    await pool.close();
    // Each map's items took 40 KB of the heap; the pool's own threads leave a few
    // hundred bytes each until their handles are collected.
    const grown = heapStats().live - before;
    assert.ok(grown < items.length * 8, `the heap grew by ${grown} bytes`);
  });

  test('tasks queued while the threads go idle, spin or sleep are all taken', T, async () => {
    await using pool = new ThreadPool({ threads: 3 });
    await pool.map([1, 2, 3], (x: number) => x); // the threads have started
    // Bursts of 1 to 7 tasks, each burst joined before the next: the threads keep
    // passing between running, spinning for work and sleeping.
    const deadline = performance.now() + 5_000;
    let rounds = 0;
    for (; rounds < 3000 && performance.now() < deadline; rounds++) {
      const n = 1 + (rounds % 7);
      const hs = Array.from({ length: n }, (_, k) => pool.spawn((x: number) => x * 2, k));
      // joinAsync: a task never taken fails the test at its timeout instead of blocking it.
      assert.deepEqual(await Promise.all(hs.map((h) => h.joinAsync())), Array.from({ length: n }, (_, k) => k * 2));
    }
    assert.ok(rounds >= 50, `only ${rounds} rounds in 5 s`);
    const s = pool.stats();
    assert.equal(s.failed, 0);
    assert.equal(s.queued, 0);
  });

  test('map over numbers spreads the items over every thread, async fn included', T, async () => {
    await using pool = new ThreadPool({ threads: 3 });
    // Three items that can only finish together: three threads must run them at once.
    const ids = await pool.map([0, 1, 2], async (x: number) => {
      const { Barrier, current, shared } = await import('weft');
      shared('pool.test: numbers spread', () => new Barrier(3)).wait();
      return current().id + x * 0;
    });
    assert.equal(new Set(ids).size, 3);
  });

  test('map over numbers on a pool whose other threads are busy: the free thread does every item', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const { open, blocker } = occupy(pool);
    const items = Array.from({ length: 10_000 }, (_, k) => k);
    // Resolves while the blocker still holds its thread: the map's task queued behind it
    // finds nothing to do (or is cancelled unstarted).
    assert.deepEqual(await pool.map(items, (x: number) => x * 3), items.map((x) => x * 3));
    assert.equal(pool.stats().busy, 1);
    open();
    blocker.join();
  });

  test('map spreads chunks over every thread', T, async () => {
    await using pool = new ThreadPool({ threads: 3 });
    const barrier = new Barrier(3);
    // Three items (handles travel inside items too), one per chunk: they can only pass
    // the barrier together, so three threads must run them at once.
    const ids = await pool.map([barrier, barrier, barrier], async (b: Barrier) => {
      const { current } = await import('weft');
      b.wait();
      return current().id;
    });
    assert.equal(new Set(ids).size, 3);
  });

  test('tasks use weft primitives and block inside: a Mutex, a channel, a Barrier', T, async () => {
    await using pool = new ThreadPool({ threads: 4 });
    const total = new Mutex(0);
    const [tx, rx] = channel<number>();
    const barrier = new Barrier(4);
    const hs = [1, 2, 3, 4].map((k) =>
      pool.spawn((m: Mutex<number>, out: Sender<number>, b: Barrier, v: number) => {
        b.wait(); // all four run at once
        m.withLock((g) => g + 0); // read
        const g = m.lock();
        g.value += v;
        g.unlock();
        out.send(v);
        return v;
      }, total, tx.clone(), barrier, k),
    );
    tx.close();
    assert.deepEqual(hs.map((h) => h.join()), [1, 2, 3, 4]);
    assert.equal(total.withLock((v) => v), 10);
    assert.deepEqual([...rx].sort(), [1, 2, 3, 4]);
  });

  test('map over index ranges of a shared array: each task works in place, no element is copied', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const n = 1_000_000;
    using data = sharedArray(Float64Array, n);
    for (let k = 0; k < n; k++) data.array[k] = k;
    const parts = 8;
    const ranges = Array.from({ length: parts }, (_, p) => ({ data, from: (p * n) / parts, to: ((p + 1) * n) / parts }));
    const sums = await pool.map(ranges, ({ data: d, from, to }: { data: SharedArray<Float64Array>; from: number; to: number }) => {
      const v = d.array;
      let s = 0;
      for (let k = from; k < to; k++) {
        s += v[k];
        v[k] *= 2;
      }
      return s;
    });
    assert.equal(sums.reduce((a, b) => a + b, 0), (n * (n - 1)) / 2);
    assert.equal(data.array[n - 1], 2 * (n - 1), 'the tasks wrote in place');
    assert.equal(data.array[1], 2);
  });

});

describe('ThreadPool: failures', () => {
  test('a task that throws reaches its joiner as PanicError; the pool goes on', T, async () => {
    await using pool = new ThreadPool({ threads: 2, name: 'w' });
    const bad = pool.spawn((why: string) => {
      throw new TypeError(why);
    }, 'broken');
    assert.throws(() => bad.join(), (e: unknown) => {
      assert.ok(e instanceof PanicError);
      assert.match(e.message, /^thread 'w-[01]' panicked: TypeError: broken$/);
      assert.ok(e.cause instanceof TypeError);
      assert.equal((e.cause as Error).message, 'broken');
      assert.match(e.threadName!, /^w-[01]$/);
      assert.ok(e.threadId > 1);
      return true;
    });
    await assert.rejects(pool.spawn(async () => Promise.reject(new RangeError('async no'))).joinAsync(), /panicked: RangeError: async no/);
    assert.equal(pool.spawn(() => 'still here').join(), 'still here');
    const s = pool.stats();
    assert.equal(s.failed, 2);
    assert.equal(s.completed, 1);
    assert.equal(s.threads, 2);
  });

  test('a captured variable fails with a message that says closures are not carried', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const secret = 42;
    assert.throws(() => pool.spawn(() => secret).join(), /closures are not carried/);
  });

  test('a result that cannot be sent fails the task with the reason', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    assert.throws(() => pool.spawn(() => () => 1).join(), (e: unknown) => e instanceof PanicError && e.cause instanceof TypeError);
    assert.equal(pool.stats().failed, 1);
    assert.equal(pool.spawn(() => 1).join(), 1);
  });

  test('a map whose task throws rejects with its PanicError; the pool goes on', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    await assert.rejects(
      pool.map(Array.from({ length: 40 }, (_, k) => k), (k: number) => {
        if (k === 0) throw new Error('first chunk fails');
        return k;
      }),
      (e: unknown) => e instanceof PanicError && /panicked: Error: first chunk fails/.test(e.message),
    );
    assert.equal(await pool.spawn(() => 7).joinAsync(), 7);
  });

  test('stack overflow in a task: that task fails with "has overflowed its stack", the pool goes on', T, async () => {
    await using pool = new ThreadPool({ threads: 1, name: 'deep' });
    const h = pool.spawn(() => {
      const down = (n: number): number => down(n + 1) + 1;
      return down(0);
    });
    assert.throws(() => h.join(), { name: 'PanicError', message: "thread 'deep-0' has overflowed its stack" });
    assert.equal(pool.spawn(() => 'ok').join(), 'ok');
  });

  test('process.exit() in a task: only that task fails, the thread is replaced, the pool goes on', T, async () => {
    await using pool = new ThreadPool({ threads: 2, name: 'ex' });
    const [open, wait] = gate();
    const [startedTx, started] = channel<number>();
    // A long task on one thread, unaffected by the death on the other.
    const survivor = pool.spawn((w: Receiver<void>, s: Sender<number>) => {
      s.send(1);
      for (const _ of w);
      return 'survived';
    }, wait, startedTx.clone());
    awaitStarted(started, 1);
    const quitter = pool.spawn(() => process.exit(3));
    assert.throws(() => quitter.join(), (e: unknown) => {
      assert.ok(e instanceof PanicError);
      assert.match(e.message, /thread 'ex-[01]' exited with code 3 before finishing/);
      assert.ok(e.cause instanceof PanicError, 'the cause is how the thread ended');
      return true;
    });
    // The replacement takes tasks while the survivor still blocks the other thread.
    assert.equal(pool.spawn((x: number) => x + 1, 1).join(), 2);
    assert.equal(pool.stats().threads, 2);
    open();
    assert.equal(survivor.join(), 'survived');
    startedTx.close();
    const s = pool.stats();
    assert.equal(s.failed, 1);
    assert.equal(s.completed, 2);
  });

  test('process.exit() seen through joinAsync', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    await assert.rejects(pool.spawn(() => process.exit(1)).joinAsync(), /exited with code 1/);
    assert.equal(await pool.spawn(() => 5).joinAsync(), 5);
  });

  test('terminate() on a running task kills its thread: join throws PanicError, a new thread takes over', T, async () => {
    await using pool = new ThreadPool({ threads: 1, name: 'spin' });
    const [startedTx, started] = channel<number>();
    const h = pool.spawn((s: Sender<number>) => {
      s.send(1);
      for (;;); // never returns
    }, startedTx);
    const queuedRan = new AtomicI32(0);
    const queued = pool.spawn((r: AtomicI32) => r.fetchAdd(1) + 1, queuedRan);
    awaitStarted(started, 1);
    await h.terminate();
    assert.throws(() => h.join(), (e: unknown) => e instanceof PanicError && /the pool task was terminated \(thread 'spin-0' was terminated\)/.test(e.message));
    // The task queued behind it runs on the replacement.
    assert.equal(queued.join(), 1);
    assert.equal(pool.stats().threads, 1);
    await h.terminate(); // already ended: nothing to do
  });

  test('terminate() and cancel() on a queued task: it never runs', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const { open, blocker } = occupy(pool);
    const ran = new AtomicI32(0);
    const a = pool.spawn((r: AtomicI32) => r.fetchAdd(1), ran);
    const b = pool.spawn((r: AtomicI32) => r.fetchAdd(10), ran);
    const c = pool.spawn((r: AtomicI32) => r.fetchAdd(100), ran);
    await a.terminate();
    assert.equal(b.cancel(), true);
    assert.equal(b.cancel(), true, 'cancel is idempotent');
    open();
    blocker.join();
    assert.equal(c.join(), 0);
    assert.equal(ran.load(), 100, 'only the task left queued ran');
    assert.throws(() => a.join(), /cancelled before it started/);
    assert.throws(() => b.join(), /cancelled before it started/);
    assert.equal(c.cancel(), false, 'an ended task cannot be cancelled');
    assert.equal(pool.stats().cancelled, 2);
  });
});

describe('ThreadPool: task states', () => {
  test('a cancelled task whose state slot is reused at once: the stale message is skipped, the new task runs once', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const { open, blocker } = occupy(pool);
    const ran = new AtomicI32(0);
    for (let round = 0; round < 20; round++) {
      const stale = pool.spawn((r: AtomicI32) => r.fetchAdd(1000), ran);
      assert.equal(stale.cancel(), true);
      stale.close(); // its slot is free again, its message still queued
    }
    // Each of these takes a slot a stale message still names.
    const fresh = Array.from({ length: 20 }, () => pool.spawn((r: AtomicI32) => r.fetchAdd(1), ran));
    open();
    blocker.join();
    for (const h of fresh) h.join();
    assert.equal(ran.load(), 20, 'each fresh task ran once, no stale one ran');
    assert.equal(pool.stats().cancelled, 20);
  });

  test('more tasks outstanding than the state table holds: the rest get states of their own', T, async () => {
    await using pool = new ThreadPool({ threads: 2 });
    const [open, wait] = gate();
    const [startedTx, started] = channel<number>();
    const blockers = [0, 1].map(() =>
      pool.spawn((w: Receiver<void>, s: Sender<number>) => {
        s.send(1);
        for (const _ of w);
      }, wait.clone(), startedTx.clone()),
    );
    wait.close();
    startedTx.close();
    awaitStarted(started, 2);
    const n = STATE_SLOTS + 100;
    const hs = Array.from({ length: n }, (_, k) => pool.spawn((x: number) => x * 2, k));
    // One beyond the table, cancelled while queued; and one dropped unjoined.
    const extra = pool.spawn((x: number) => x, -1);
    assert.equal(extra.cancel(), true);
    open();
    for (const b of blockers) b.join();
    for (let k = 0; k < n; k++) assert.equal(hs[k].join(), 2 * k);
    assert.throws(() => extra.join(), /cancelled before it started/);
    // Every slot came back: a second round fits the table again.
    const again = Array.from({ length: 100 }, (_, k) => pool.spawn((x: number) => x + 1, k));
    assert.deepEqual(again.map((h) => h.join()), Array.from({ length: 100 }, (_, k) => k + 1));
  });
});

describe('ThreadPool: the queue', () => {
  test('maxQueue: spawn throws RangeError when full and queues nothing; spawnAsync waits for room', T, async () => {
    await using pool = new ThreadPool({ threads: 1, maxQueue: 2 });
    const { open, blocker } = occupy(pool); // taken off the queue: the queue is empty again
    const ran = new AtomicI32(0);
    const q1 = pool.spawn((r: AtomicI32) => r.fetchAdd(1), ran);
    const q2 = pool.spawn((r: AtomicI32) => r.fetchAdd(1), ran);
    assert.equal(pool.stats().queued, 2);
    assert.throws(() => pool.spawn((r: AtomicI32) => r.fetchAdd(1), ran), (e: unknown) => {
      return e instanceof RangeError && /queue is full \(maxQueue 2/.test(e.message) && /spawnAsync/.test(e.message);
    });
    assert.equal(pool.stats().queued, 2, 'the refused task was not queued');
    // Waits until the blocker lets the queue move.
    let resolved = false;
    const later = pool.spawnAsync((r: AtomicI32) => r.fetchAdd(1) + 1000, ran).then((h) => {
      resolved = true;
      return h;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, false, 'no room yet');
    open();
    assert.equal(blocker.join(), 'unblocked');
    const h = await later;
    q1.join();
    q2.join();
    assert.equal(await h.joinAsync(), 1002);
    assert.equal(ran.load(), 3);
  });

  test('maxQueue 0: a task is handed straight to an idle thread, none waits in a queue', T, async () => {
    await using pool = new ThreadPool({ threads: 1, maxQueue: 0 });
    assert.equal(await (await pool.spawnAsync((x: number) => x + 1, 1)).joinAsync(), 2);
    assert.deepEqual(await pool.map([1, 2, 3], (x: number) => x * 2), [2, 4, 6]);
    const [open, wait] = gate();
    const [startedTx, started] = channel<number>();
    // spawnAsync: the thread may still be finishing the map's last chunk.
    const blocker = await pool.spawnAsync((w: Receiver<void>, s: Sender<number>) => {
      s.send(1);
      for (const _ of w);
    }, wait, startedTx);
    awaitStarted(started, 1);
    assert.throws(() => pool.spawn(() => 0), RangeError, 'the one thread is busy');
    const next = pool.spawnAsync(() => 'next');
    open();
    blocker.join();
    assert.equal(await (await next).joinAsync(), 'next');
  });

  test('spawnAsync({ signal }): aborting while waiting for room queues nothing', T, async () => {
    await using pool = new ThreadPool({ threads: 1, maxQueue: 1 });
    const { open, blocker } = occupy(pool);
    const ran = new AtomicI32(0);
    const q = pool.spawn((r: AtomicI32) => r.fetchAdd(1), ran);
    const ac = new AbortController();
    const pending = pool.spawnAsync({ signal: ac.signal }, (r: AtomicI32) => r.fetchAdd(100), ran);
    ac.abort(new Error('gave up'));
    await assert.rejects(pending, /gave up/);
    await assert.rejects(pool.spawnAsync({ signal: ac.signal }, () => 1), /gave up/, 'an aborted signal refuses at once');
    open();
    blocker.join();
    q.join();
    assert.equal(ran.load(), 1, 'the aborted task never ran');
    assert.equal(pool.stats().queued, 0);
  });

  test('map({ signal }): aborting rejects with the reason and cancels the queued chunks', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const { open, blocker } = occupy(pool);
    const ran = new AtomicI32(0);
    const ac = new AbortController();
    const items = Array.from({ length: 100 }, () => ran);
    const mapped = pool.map(items, (r: AtomicI32) => r.fetchAdd(1), { signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    const queuedBefore = pool.stats().queued;
    assert.equal(queuedBefore, 4, 'four chunks wait behind the blocker');
    ac.abort(new Error('stop'));
    await assert.rejects(mapped, /stop/);
    // Numbers travel in a shared array, one task per thread: it is cancelled the same way.
    const numbers = new AbortController();
    const mappedNumbers = pool.map(Array.from({ length: 100 }, (_, k) => k), (x: number) => x, { signal: numbers.signal });
    await new Promise((r) => setImmediate(r));
    assert.equal(pool.stats().queued, 5, 'one more task waits behind the blocker');
    numbers.abort(new Error('stop numbers'));
    await assert.rejects(mappedNumbers, /stop numbers/);
    open();
    blocker.join();
    // The cancelled chunks are drained without running.
    assert.equal(await pool.spawn(() => 0).joinAsync(), 0);
    const s = pool.stats();
    assert.equal(s.cancelled, 5);
    assert.equal(s.completed, 2, 'the blocker and the last task');
    assert.equal(s.queued, 0);
    assert.equal(ran.load(), 0, 'no item ran');
    await assert.rejects(pool.map([1], (x: number) => x, { signal: ac.signal }), /stop/, 'an aborted signal refuses at once');
  });

});

describe('ThreadPool: stats and lifecycle', () => {
  test('stats: threads, busy, queued, completed, failed, and the time tasks waited', T, async () => {
    const pool = new ThreadPool({ threads: 2 });
    const [open, wait] = gate();
    const [startedTx, started] = channel<number>();
    const blockers = [0, 1].map(() =>
      pool.spawn((w: Receiver<void>, s: Sender<number>) => {
        s.send(1);
        for (const _ of w);
      }, wait.clone(), startedTx.clone()),
    );
    wait.close();
    startedTx.close();
    awaitStarted(started, 2);
    const waiting = [1, 2, 3].map((k) => pool.spawn((x: number) => x, k));
    let s = pool.stats();
    assert.equal(s.threads, 2);
    assert.equal(s.busy, 2);
    assert.equal(s.queued, 3);
    assert.equal(s.completed, 0);
    const t0 = performance.now();
    // Make the queued tasks wait a measurable time (a busy wait of the test's own thread).
    while (performance.now() - t0 < 5);
    open();
    for (const b of blockers) b.join();
    assert.deepEqual(waiting.map((h) => h.join()), [1, 2, 3]);
    s = pool.stats();
    assert.equal(s.busy, 0);
    assert.equal(s.queued, 0);
    assert.equal(s.completed, 5);
    assert.equal(s.failed, 0);
    assert.ok(s.waitTime.max >= 5, `the queued tasks waited at least 5 ms (max ${s.waitTime.max})`);
    assert.ok(s.waitTime.mean > 0 && s.waitTime.mean <= s.waitTime.max);
    assert.ok(s.runTime.mean >= 0);
    await pool.close();
    assert.equal(pool.stats().threads, 0);
  });

  test('close() finishes every queued task, then ends the threads; the pool refuses new tasks', T, async () => {
    const pool = new ThreadPool({ threads: 2 });
    const done = new AtomicI32(0);
    const [open, wait] = gate();
    const [startedTx, started] = channel<number>();
    const blockers = [0, 1].map(() =>
      pool.spawn((w: Receiver<void>, s: Sender<number>) => {
        s.send(1);
        for (const _ of w);
      }, wait.clone(), startedTx.clone()),
    );
    wait.close();
    startedTx.close();
    awaitStarted(started, 2);
    const hs = Array.from({ length: 50 }, () => pool.spawn((d: AtomicI32) => d.fetchAdd(1), done));
    const dropped = pool.spawn((d: AtomicI32) => d.fetchAdd(1000), done);
    assert.equal(dropped.cancel(), true);
    const closing = pool.close();
    open();
    assert.throws(() => pool.spawn(() => 1), /ThreadPool.spawn\(\): the pool is closed/);
    await assert.rejects(pool.map([1], (x: number) => x), /the pool is closed/);
    await closing;
    assert.equal(done.load(), 50);
    assert.equal(await hs[49].joinAsync() >= 0, true, 'results of queued tasks are kept after close');
    // Handles outlive the pool: their final states are still read right.
    assert.equal(hs[0].cancel(), false);
    await hs[1].terminate();
    assert.equal(typeof hs[1].join(), 'number');
    assert.throws(() => dropped.join(), /cancelled before it started/);
    for (const b of blockers) b.join();
    assert.equal(pool.close(), closing, 'close() is idempotent');
    const s = pool.stats();
    assert.equal(s.threads, 0);
    assert.equal(s.completed, 52);
    assert.equal(s.cancelled, 1);
  });

  test('await using closes the pool at the end of the block', T, async () => {
    const done = new AtomicI32(0);
    let escaped: ThreadPool;
    {
      await using pool = new ThreadPool({ threads: 1 });
      escaped = pool;
      for (let k = 0; k < 5; k++) pool.spawn((d: AtomicI32) => d.fetchAdd(1), done);
    }
    assert.equal(done.load(), 5);
    assert.throws(() => escaped.spawn(() => 1), /closed/);
  });

  test('a task handle dropped unjoined lets its task run; the outcome is discarded', T, async () => {
    await using pool = new ThreadPool({ threads: 1 });
    const done = new AtomicI32(0);
    {
      using h = pool.spawn((d: AtomicI32) => d.fetchAdd(1), done);
      void h;
    }
    assert.equal(pool.spawn((d: AtomicI32) => d.load(), done).join(), 1);
  });

  test('bad arguments: a clear TypeError or RangeError, nothing queued', T, async () => {
    assert.throws(() => new ThreadPool({ threads: 0 }), /threads must be a positive integer, got number 0/);
    assert.throws(() => new ThreadPool({ threads: 1.5 }), RangeError);
    assert.throws(() => new ThreadPool({ maxQueue: -1 }), /maxQueue must be a non-negative integer or Infinity, got number -1/);
    assert.throws(() => new ThreadPool({ name: 3 as unknown as string }), TypeError);
    assert.throws(() => new ThreadPool(null as never), TypeError);
    await using pool = new ThreadPool({ threads: 1 });
    assert.throws(() => pool.spawn(42 as never), /ThreadPool.spawn\(\): expected a function, got number 42/);
    assert.throws(() => pool.spawn(Math.max), /native or bound function/);
    await assert.rejects(pool.map(5 as never, (x: number) => x), /items must be iterable, got number 5/);
    await assert.rejects(pool.map([1], 'x' as never), /expected a function/);
    await assert.rejects(pool.spawnAsync(7 as never), /ThreadPool.spawnAsync\(\): expected a function, got number 7/);
    await assert.rejects(pool.spawnAsync({ signal: 'no' } as never, () => 1), /options.signal must be an AbortSignal/);
    assert.throws(() => pool.spawn((f: unknown) => f, () => 1), TypeError, 'a function argument cannot be sent');
    assert.equal(pool.stats().queued, 0);
    assert.equal(pool.spawn(() => 'fine').join(), 'fine');
  });

  test('an unclosed idle pool does not keep the process alive', T, async () => {
    const { spawnSync } = await import('node:child_process');
    const src = new URL('../src/index.ts', import.meta.url).href;
    const code = `import { ThreadPool } from ${JSON.stringify(src)};
      const pool = new ThreadPool({ threads: 2 });
      console.log(pool.spawn((x) => x * 2, 21).join());`;
    const r = spawnSync(process.execPath, ['--conditions=weft-source', '--import', 'tsx', '--input-type=module', '-e', code], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '42');
  });
});

/** Runs an example as a user would (`npm run example:*` runs the same command). */
function runExample(name: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const script = fileURLToPath(new URL(`../examples/${name}`, import.meta.url));
  // tsx named by its URL: the example may run from any directory.
  const r = spawnSync(process.execPath, ['--conditions=weft-source', '--import', import.meta.resolve('tsx'), script, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pool examples', () => {
  test('pool_hash: the SHA-256 of every file, in list order, as node:crypto computes it on one thread', T, () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-pool-hash-'));
    try {
      mkdirSync(join(dir, 'sub'));
      const files: Record<string, Buffer> = {
        'a.txt': Buffer.from('hello\n'),
        'empty.bin': Buffer.alloc(0),
        'sub/big.bin': Buffer.alloc(3 * (1 << 20) + 17, 7), // more than one read chunk
        'sub/z.txt': Buffer.from('z'.repeat(1000)),
      };
      for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
      const r = runExample('pool_hash.ts', ['.'], dir);
      assert.equal(r.status, 0, r.stderr);
      const expected = Object.keys(files)
        .sort()
        .map((name) => `${createHash('sha256').update(files[name]).digest('hex')}  ${name}`);
      assert.deepEqual(r.stdout.trim().split('\n'), expected);
      assert.match(r.stderr, /hashed 4 files \(3\.0 MiB\) in \d+ ms on \d+ threads/);
      assert.match(r.stderr, /4 tasks completed, 0 failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('pool_image: the blur of a shared image on the pool equals the one-thread blur', T, () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-pool-image-'));
    try {
      const out = join(dir, 'blurred.ppm');
      const r = runExample('pool_image.ts', ['--width', '203', '--height', '61', '--radius', '4', '--out', out], dir);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /identical to the one-thread blur \(203x61, radius 4\)/);
      assert.match(r.stdout, /\d+ threads: [\d.]+ ms \(bands of \d+ rows, 122 rows blurred per run\)/);
      const header = 'P6\n203 61\n255\n';
      assert.equal(statSync(out).size, header.length + 203 * 61 * 3);
      assert.equal(readFileSync(out).subarray(0, header.length).toString(), header);
      const bad = runExample('pool_image.ts', ['--radius', '0'], dir);
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /--radius must be a positive integer, got 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ThreadPool internals', () => {
  test('the pool thread spells the shared numbers as layout.ts does', () => {
    // Whitespace-free: the transpiler may minify the function's source.
    const src = poolThreadMain.toString().replace(/\s+/g, '');
    for (const [name, value] of [
      ['QUEUED', TaskState.QUEUED], ['DONE', TaskState.DONE], ['RUNNING', TaskState.RUNNING], ['GEN_SHIFT', GEN_SHIFT],
      ['CALL', TaskKind.CALL], ['MAP_CHUNK', TaskKind.MAP_CHUNK],
    ] as const) {
      assert.match(src, new RegExp(`(?:const|,)${name}=${value}[,;]`), name);
    }
    assert.ok(src.includes(`at=row*${ROW};`));
    for (const [name, word] of Object.entries(Stat)) {
      assert.match(src, new RegExp(`(?:const|,)${name}=at${word === 0 ? '' : `\\+${word}`}[,;]`), name);
    }
  });

});
