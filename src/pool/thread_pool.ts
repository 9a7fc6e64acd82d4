// ThreadPool: a fixed set of weft threads taking tasks from one shared queue. The queue
// is a weft channel made multi-consumer with Receiver.clone() (crossbeam semantics: each
// task goes to exactly one thread); bounded (syncChannel(maxQueue)) when maxQueue is set.
// A task is a message [kind, source, args, reply oneshot, state slot, ...], run by
// poolThreadMain (pool_thread.ts); its TaskHandle holds the other end of the oneshot.
// Task states live in slots of one table the pool threads get at start (layout.ts), so
// a task costs no heap object besides its oneshot; a slot is reused once its task is
// over (the pool thread alone never frees: only the pool knows when a handle is done).
//
// The pool keeps a receiver of its own: the queue then outlives any one thread, so
// tasks queued while every thread died wait for the replacements instead of failing.
//
// Dead threads (killed, process.exit() in a task, a crash) are noticed without a
// watcher on an idle pool's event loop (which would keep the process alive): at every
// spawn, map, stats() and close(), by a joiner whose task lost its thread or who waits
// long (task_handle.ts), and by an unreferenced timer while async joiners wait. The thread's task fails alone: the runtime
// released the task's reply sender with the rest of what the thread owned.

import { channel, syncChannel } from '../channel/channel.ts';
import { oneshot, type OneshotReceiver } from '../channel/oneshot.ts';
import type { Receiver } from '../channel/receiver.ts';
import type { Sender, SyncSender } from '../channel/sender.ts';
import { describeValue } from '../heap/describe.ts';
import { sharedArray, type SharedArray } from '../heap/shared_array.ts';
import { PanicError, SpawnError } from '../thread/errors.ts';
import type { JoinHandle } from '../thread/join_handle.ts';
import { inspectCustom } from '../heap/handle.ts';
import { availableParallelism } from '../thread/sleep.ts';
import { Builder } from '../thread/spawn.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';
import { add, add64, cas, exchange64, load, load64, notify, store } from '../wait/futex.ts';
import { CODE_MASK, Doorbell, GEN_MASK, GEN_SHIFT, ROW, Stat, STATE_SLOTS, STATE_WORDS, TaskKind, TaskState } from './layout.ts';
import { poolThreadMain, type Reply, type TaskMessage } from './pool_thread.ts';
import { LIVENESS_MS, taskHandle, TaskHandle, type PoolControl, type TaskSlot } from './task_handle.ts';

/**
 * Options of {@link ThreadPool}: `threads`, `name`, `maxQueue` and `stackSize`.
 */
export interface ThreadPoolOptions {
  /** Number of threads (default: availableParallelism()). */
  threads?: number;
  /** Threads are named `${name}-${index}` (default 'pool'). */
  name?: string;
  /** Most tasks waiting in the queue; spawn() throws RangeError beyond (default: unbounded). */
  maxQueue?: number;
  /** Stack size of each thread in bytes (see Builder.stackSize). */
  stackSize?: number;
}

/**
 * What {@link ThreadPool.stats} reports: threads, busy and queued now, tasks completed,
 * failed and cancelled, and queue-wait and run times in milliseconds.
 */
export interface ThreadPoolStats {
  /** Live threads. */
  threads: number;
  /** Threads running a task now. */
  busy: number;
  /** Tasks waiting in the queue. */
  queued: number;
  /** Tasks (a map() chunk counts as one) that returned. */
  completed: number;
  /** Tasks that threw, or whose thread died under them. */
  failed: number;
  /** Tasks cancelled before they started. */
  cancelled: number;
  /** Time tasks waited in the queue before a thread took them, in milliseconds. */
  waitTime: { mean: number; max: number };
  /** Time tasks ran, in milliseconds. */
  runTime: { mean: number };
}

/** One thread of the pool, by its number (unique for the pool's life). */
interface Worker {
  readonly handle: JoinHandle<void>;
  /** Its number. */
  readonly id: number;
  readonly row: number;
  /** Set once the thread has ended and has been joined. */
  ended: boolean;
  /** How it ended, if not by returning (the queue closed). */
  death: PanicError | undefined;
  /** A joinAsync in flight (close(), deathOfAsync()). */
  waiting: Promise<void> | undefined;
}

const now = (): number => performance.timeOrigin + performance.now();

/** Items per map() chunk: about four chunks per thread, so that uneven items still balance. */
const CHUNKS_PER_THREAD = 4;
/** Items per block a map() task claims over numbers: about sixteen blocks per thread. */
const BLOCKS_PER_THREAD = 16;
/** Dead workers remembered for joiners that come late. */
const DEATHS_KEPT = 64;

function sourceOf(fn: unknown, call: string): string {
  if (typeof fn !== 'function') throw new TypeError(`${call}: expected a function, got ${describeValue(fn)}`);
  const source = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw new TypeError(`${call}: cannot run a native or bound function: its source is not available; pass an inline function`);
  }
  return source;
}

/**
 * The items in a shared Float64Array if they are all numbers (a Float64Array holds any
 * number exactly, -0 and NaN included), else undefined.
 */
function numbersOf(items: readonly unknown[]): SharedArray<Float64Array> | undefined {
  if (typeof items[0] !== 'number') return undefined;
  const shared = sharedArray(Float64Array, items.length);
  const v = shared.array;
  for (let k = 0; k < items.length; k++) {
    const x = items[k];
    if (typeof x !== 'number') {
      shared.close();
      return undefined;
    }
    v[k] = x;
  }
  return shared;
}

/**
 * Tells a pool's threads that a task was queued (the doorbell, pool_thread.ts): SEQ
 * moves after the send, so a thread that found the queue empty before sees it moved,
 * and a sleeper wakes unless a thread spins, which will see it, and takes this one task
 * (`queued`, the tasks now waiting, is 1). A rendezvous queue's threads wait in recv()
 * and never look.
 */
function ring(words: Int32Array, queued: number): void {
  add(words, Doorbell.SEQ, 1);
  if (queued > 1 || load(words, Doorbell.SPINNER) === 0) notify(words, Doorbell.SEQ, 1);
}

/** Wakes every thread of a pool, to see its queue closed. */
function ringAll(words: Int32Array): void {
  add(words, Doorbell.SEQ, 1);
  notify(words, Doorbell.SEQ);
}

function positiveInteger(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`new ThreadPool(): ${what} must be a positive integer, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * A fixed set of weft threads running tasks from one queue (a `Piscina` whose tasks are
 * inline functions). `spawn(fn, ...args)` returns a {@link TaskHandle}; `map(items, fn)`
 * runs over chunks and keeps the order.
 *
 * @example
 * ```ts
 * await using pool = new ThreadPool({ threads: 4, maxQueue: 1000 });
 * const sum = pool.spawn((a: number, b: number) => a + b, 2, 3);
 * await sum.joinAsync(); // 5
 * const squares = await pool.map([1, 2, 3], (x: number) => x * x); // [1, 4, 9]
 * ```
 *
 * @remarks
 * Blocking / async: `spawn` never waits (throws `RangeError` when `maxQueue` is full);
 * `spawnAsync({ signal }, fn, ...args)` waits for room; `map(items, fn, { signal })`
 * cancels the chunks not started when aborted or when one fails. `close()` finishes the
 * queued tasks, then ends the threads (`await using` closes the pool).
 *
 * Ordering: tasks start in the order queued, on whichever thread is free.
 * Holder death: a thread killed by `terminate()`, `process.exit()` or a crash fails only
 * its task (with {@link PanicError}) and is replaced.
 *
 * @throws `RangeError` from `spawn` when the queue is full; `TypeError` for a task that is
 * not a function, options that are not an object, or a pool already closed.
 */
export class ThreadPool {
  readonly #size: number;
  readonly #name: string;
  readonly #stackSize: number | undefined;
  readonly #maxQueue: number;
  readonly #tx: Sender<TaskMessage> | SyncSender<TaskMessage>;
  readonly #queue: Receiver<TaskMessage>;
  readonly #table: SharedArray<BigInt64Array>;
  readonly #stats: BigInt64Array;
  readonly #states: SharedArray<Int32Array>;
  /** The state table's words and free slots, shared with the tasks' slots. */
  readonly #slotTable: SlotTable;
  /** Each slot's last generation. */
  readonly #gens = new Int32Array(STATE_SLOTS);
  /** The worker in each row. */
  readonly #rows: Worker[] = [];
  readonly #workers = new Map<number, Worker>();
  readonly #control: PoolControl;
  #nextWorker = 0;
  #closing: Promise<void> | undefined;
  /** The statistics once the pool has closed. */
  #final: ThreadPoolStats | undefined;
  /** Async joiners waiting, and the timer that replaces dead threads meanwhile. */
  #watchers = 0;
  #watchTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ThreadPoolOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw new TypeError(`new ThreadPool(): options must be an object, got ${describeValue(options)}`);
    }
    const { threads = availableParallelism(), name = 'pool', maxQueue = Infinity, stackSize } = options;
    this.#size = positiveInteger(threads, 'threads');
    if (typeof name !== 'string') throw new TypeError(`new ThreadPool(): name must be a string, got ${describeValue(name)}`);
    this.#name = name;
    if (maxQueue !== Infinity && (typeof maxQueue !== 'number' || !Number.isInteger(maxQueue) || maxQueue < 0)) {
      throw new RangeError(`new ThreadPool(): maxQueue must be a non-negative integer or Infinity, got ${describeValue(maxQueue)}`);
    }
    this.#maxQueue = maxQueue;
    this.#stackSize = stackSize === undefined ? undefined : positiveInteger(stackSize, 'stackSize');

    const [tx, rx] = maxQueue === Infinity ? channel<TaskMessage>() : syncChannel<TaskMessage>(maxQueue);
    this.#tx = tx;
    this.#queue = rx;
    this.#table = sharedArray(BigInt64Array, this.#size * ROW);
    this.#stats = this.#table.array;
    this.#states = sharedArray(Int32Array, STATE_WORDS);
    this.#slotTable = { words: this.#states.array, free: [], abandoned: new Set() };
    for (let slot = STATE_SLOTS - 1; slot >= 0; slot--) this.#slotTable.free.push(slot);
    this.#control = {
      reap: () => this.#reap(),
      deathOf: (w) => this.#deathOf(w),
      deathOfAsync: (w) => this.#deathOfAsync(w),
      kill: (w) => this.#kill(w),
      watch: () => this.#watch(),
      recordOf: (w) => this.#workers.get(w)?.handle.offset,
    };
    try {
      for (let row = 0; row < this.#size; row++) this.#start(row);
      forgotten.register(this, { tx, states: this.#states }, this);
    } catch (e) {
      for (const w of this.#rows) void w.handle.terminate();
      tx.close();
      rx.close();
      this.#table.close();
      this.#states.close();
      throw e;
    }
  }

  /** Number of threads the pool keeps. */
  get threads(): number {
    return this.#size;
  }

  /**
   * Queues `fn(...args)` to run on a pool thread. `fn` is sent as source, as with
   * spawn(): it sees its arguments, globals and imports, not the caller's closure.
   * Throws RangeError when `maxQueue` tasks are already waiting (spawnAsync() waits
   * for room instead).
   */
  spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): TaskHandle<Awaited<R>> {
    const source = sourceOf(fn, 'ThreadPool.spawn()');
    this.#checkOpen('spawn()');
    this.#reap();
    return this.#submit(TaskKind.CALL, source, args, 0, (tx, message) => {
      if ('trySend' in tx) {
        if (!tx.trySend(message)) {
          throw new RangeError(
            `ThreadPool.spawn(): the queue is full (maxQueue ${this.#maxQueue} tasks waiting); ` +
              'use spawnAsync() to wait for room, or raise maxQueue',
          );
        }
      } else tx.send(message);
    }) as TaskHandle<Awaited<R>>;
  }

  /**
   * spawn() that waits (without blocking the event loop) for room in a full queue.
   * Options go first: `spawnAsync({ signal }, fn, ...args)`; aborting while waiting
   * queues nothing and rejects with the signal's reason.
   */
  spawnAsync<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): Promise<TaskHandle<Awaited<R>>>;
  spawnAsync<A extends unknown[], R>(options: WaitOptions, fn: (...args: A) => R, ...args: A): Promise<TaskHandle<Awaited<R>>>;
  async spawnAsync(...all: unknown[]): Promise<TaskHandle<unknown>> {
    const options = typeof all[0] === 'object' && all[0] !== null ? (all.shift() as WaitOptions) : undefined;
    const signal = checkSignal(options, 'ThreadPool.spawnAsync()');
    const source = sourceOf(all[0], 'ThreadPool.spawnAsync()');
    this.#checkOpen('spawnAsync()');
    this.#reap();
    return this.#submitAsync(TaskKind.CALL, source, all.slice(1), 0, signal);
  }

  /**
   * Runs `fn(item, index)` for every item on the pool and resolves with the results
   * in the items' order. Items travel in chunks (a few per thread), so a small `fn`
   * costs little more than the call. The first task that throws rejects the whole
   * map with its PanicError; aborting `signal` rejects with its reason. Either way the
   * chunks not yet started are cancelled.
   */
  async map<T, R>(items: Iterable<T>, fn: (item: T, index: number) => R, options?: WaitOptions): Promise<Awaited<R>[]> {
    const signal = checkSignal(options, 'ThreadPool.map()');
    const source = sourceOf(fn, 'ThreadPool.map()');
    if (items === null || typeof (items as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
      throw new TypeError(`ThreadPool.map(): items must be iterable, got ${describeValue(items)}`);
    }
    this.#checkOpen('map()');
    this.#reap();
    const all = Array.isArray(items) ? (items as T[]) : Array.from(items);
    if (all.length === 0) return [];
    // Numbers go to the threads in one shared array, read and overwritten in place: no
    // chunk is encoded, copied into a message and decoded again, either way.
    const shared = numbersOf(all);
    if (shared !== undefined) return this.#mapShared<R>(shared, source, signal);
    const n = all.length;
    const size = Math.ceil(n / (this.#size * CHUNKS_PER_THREAD));
    const tasks: Array<TaskHandle<unknown[] | Float64Array>> = [];
    try {
      for (let first = 0; first < n; first += size) {
        const chunk = all.slice(first, first + size);
        tasks.push((await this.#submitAsync(TaskKind.MAP_CHUNK, source, chunk, first, signal)) as TaskHandle<unknown[] | Float64Array>);
      }
      const out = new Array<Awaited<R>>(n);
      for (let k = 0, first = 0; k < tasks.length; k++, first += size) {
        // An array of results, or a Float64Array when they are all numbers.
        const part = await tasks[k].joinAsync({ signal });
        for (let j = 0; j < part.length; j++) out[first + j] = part[j] as Awaited<R>;
      }
      return out;
    } catch (e) {
      // Chunks not started never run; those running finish, their outcomes discarded.
      for (const t of tasks) {
        t.cancel();
        t.close();
      }
      throw e;
    }
  }

  /**
   * map() over numbers in a shared array. One task per thread (fewer when there are few
   * items), each claiming blocks of items from a shared cursor until none is left: the
   * threads share the work evenly whatever each item costs, for a few messages per map.
   */
  async #mapShared<R>(shared: SharedArray<Float64Array>, source: string, signal: AbortSignal | undefined): Promise<Awaited<R>[]> {
    const n = shared.length;
    const block = Math.ceil(n / (this.#size * BLOCKS_PER_THREAD));
    let cursor: SharedArray<Int32Array>;
    try {
      cursor = sharedArray(Int32Array, 1);
    } catch (e) {
      shared.close();
      throw e;
    }
    const tasks: Array<TaskHandle<unknown[] | null>> = [];
    try {
      for (let k = Math.min(this.#size, Math.ceil(n / block)); k > 0; k--) {
        tasks.push((await this.#submitAsync(TaskKind.MAP_SHARED, source, [shared, cursor, block], 0, signal)) as TaskHandle<unknown[] | null>);
      }
      // Made while the threads work: a large array's allocation is not negligible.
      const out = new Array<Awaited<R>>(n);
      const others: unknown[][] = [];
      let claimed = false;
      for (const t of tasks) {
        // Once a task has returned, every block was claimed: a task not started yet (its
        // thread busy with another task: the queue is first in, first out) would find
        // none, and need not run.
        if (claimed && t.cancel()) {
          t.close();
          continue;
        }
        const part = await t.joinAsync({ signal });
        claimed = true;
        if (part !== null) others.push(part);
      }
      const v = shared.array;
      for (let j = 0; j < n; j++) out[j] = v[j] as Awaited<R>;
      // Results that are not numbers came back as [index, value, ...].
      for (const part of others) for (let j = 0; j < part.length; j += 2) out[part[j] as number] = part[j + 1] as Awaited<R>;
      return out;
    } catch (e) {
      // No block is claimed any more; tasks not started never run, and those running
      // end after their block, their outcomes discarded.
      store(cursor.array, 0, n);
      for (const t of tasks) {
        t.cancel();
        t.close();
      }
      throw e;
    } finally {
      // The threads hold their own refs to both while their tasks run.
      shared.close();
      cursor.close();
    }
  }

  /** The pool as text: `ThreadPool<4 threads, 1 busy, 3 queued>`. */
  toString(): string {
    const s = this.stats();
    return `ThreadPool<${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.busy} busy, ${s.queued} queued>`;
  }

  /** How Node's console.log shows the pool: as toString(). */
  [inspectCustom](): string {
    return this.toString();
  }

  /** What the pool is doing now, and what it has done. */
  stats(): ThreadPoolStats {
    if (this.#final !== undefined) return structuredClone(this.#final);
    this.#reap();
    const s = this.#stats;
    let busy = 0, completed = 0, failed = 0, cancelled = 0, waitNs = 0, waitMaxNs = 0, runNs = 0;
    for (let row = 0; row < this.#size; row++) {
      const at = row * ROW;
      busy += Number(load64(s, at + Stat.BUSY));
      completed += Number(load64(s, at + Stat.COMPLETED));
      failed += Number(load64(s, at + Stat.FAILED));
      cancelled += Number(load64(s, at + Stat.CANCELLED));
      waitNs += Number(load64(s, at + Stat.WAIT_NS));
      waitMaxNs = Math.max(waitMaxNs, Number(load64(s, at + Stat.WAIT_MAX_NS)));
      runNs += Number(load64(s, at + Stat.RUN_NS));
    }
    const started = completed + failed + busy;
    return {
      threads: this.#rows.filter((w) => !w.ended).length,
      busy,
      queued: this.#queue.len(),
      completed,
      failed,
      cancelled,
      waitTime: { mean: started === 0 ? 0 : waitNs / started / 1e6, max: waitMaxNs / 1e6 },
      runTime: { mean: completed + failed === 0 ? 0 : runNs / (completed + failed) / 1e6 },
    };
  }

  /**
   * Takes no more tasks, lets the threads finish every task already queued, and
   * resolves once they have ended. Idempotent.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#shutDown());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutDown(): Promise<void> {
    forgotten.unregister(this);
    // The threads drain the queue, then see it disconnected and return.
    this.#tx.close();
    ringAll(this.#slotTable.words);
    for (;;) {
      const live = this.#rows.filter((w) => !w.ended);
      if (live.length === 0) break;
      await Promise.race(live.map((w) => this.#waitEnd(w)));
      // A thread that died while tasks are still queued is replaced (see #reap).
      this.#reap();
    }
    // The table's memory goes back to the heap: what it said last is kept for stats().
    this.#final = this.stats();
    this.#queue.close();
    this.#table.close();
    // Every task is over now; handles may still read their final state (cancel(), a
    // lost reply), so they read a copy once the table's memory is back in the heap.
    this.#slotTable.words = this.#slotTable.words.slice();
    this.#states.close();
  }

  #checkOpen(call: string): void {
    if (this.#closing !== undefined) throw new TypeError(`ThreadPool.${call}: the pool is closed`);
  }

  #start(row: number): void {
    const worker = this.#nextWorker++;
    const builder = new Builder().name(`${this.#name}-${row}`);
    if (this.#stackSize !== undefined) builder.stackSize(this.#stackSize);
    const rendezvous = this.#maxQueue === 0;
    const handle = builder.spawn(poolThreadMain, this.#queue.clone(), this.#table, this.#states, row, worker, rendezvous) as JoinHandle<void>;
    const w: Worker = { handle, id: worker, row, ended: false, death: undefined, waiting: undefined };
    this.#rows[row] = w;
    this.#workers.set(worker, w);
  }

  /** Joins `w` if its thread has ended (never blocks); records how. */
  #collect(w: Worker): boolean {
    if (w.ended) return true;
    if (!w.handle.isFinished()) return false;
    this.#join(w);
    return true;
  }

  /** Joins `w`'s ended (or ending) thread, records how it died, and marks it ended. */
  #join(w: Worker): void {
    try {
      w.handle.join();
    } catch (e) {
      if (!(e instanceof PanicError)) throw e;
      w.death = e;
    }
    this.#markEnded(w);
  }

  #markEnded(w: Worker): void {
    if (w.ended) return;
    w.ended = true;
    // A task the thread had claimed failed with it: count it here, as the thread could not.
    const at = w.row * ROW;
    if (exchange64(this.#stats, at + Stat.BUSY, 0n) !== 0n) add64(this.#stats, at + Stat.FAILED, 1n);
    // A thread that died spinning for tasks would keep submits from waking a sleeper.
    if (cas(this.#slotTable.words, Doorbell.SPINNER, w.id + 1, 0) === w.id + 1) ring(this.#slotTable.words, this.#queue.len());
    if (w.death === undefined) {
      for (const [k, v] of this.#workers) if (v === w) this.#workers.delete(k);
    } else {
      // Joiners whose task died with it ask for this later; keep the last few.
      const dead = [...this.#workers].filter(([, v]) => v.ended);
      for (const [k] of dead.slice(0, Math.max(0, dead.length - DEATHS_KEPT))) this.#workers.delete(k);
    }
  }

  /** Replaces threads that have ended: always while open, while tasks remain once closing. */
  #reap(): void {
    for (const w of this.#rows) {
      if (!this.#collect(w) || this.#rows[w.row] !== w) continue;
      if (w.death === undefined && this.#closing !== undefined) continue; // it finished the queue
      if (this.#closing !== undefined && (this.#queue.released || this.#queue.len() === 0)) continue;
      try {
        this.#start(w.row);
      } catch (e) {
        // The runtime cannot start threads now; the next reap tries again.
        if (!(e instanceof SpawnError)) throw e;
      }
    }
  }

  /** Waits (without blocking) for `w` to end and records how. */
  #waitEnd(w: Worker): Promise<void> {
    return (w.waiting ??= w.handle.joinAsync().then(
      () => this.#markEnded(w),
      (e: unknown) => {
        if (e instanceof PanicError) {
          w.death = e;
          this.#markEnded(w);
        } else if (!w.ended) {
          // Joined meanwhile by #collect (which recorded how it ended); anything else is a bug.
          throw e;
        }
      },
    ));
  }

  #deathOf(worker: number): PanicError | undefined {
    const w = this.#workers.get(worker);
    if (w === undefined) return undefined;
    if (!w.ended) {
      // Its task's reply sender is gone, so the thread is ending: its record turns
      // terminal right after the runtime released what it owned.
      this.#join(w);
    }
    this.#reap();
    return w.death;
  }

  async #deathOfAsync(worker: number): Promise<PanicError | undefined> {
    const w = this.#workers.get(worker);
    if (w === undefined) return undefined;
    await this.#waitEnd(w);
    this.#reap();
    return w.death;
  }

  async #kill(worker: number): Promise<void> {
    const w = this.#workers.get(worker);
    if (w === undefined || w.ended) return;
    await w.handle.terminate();
    this.#collect(w);
    this.#reap();
  }

  #watch(): () => void {
    if (this.#watchers++ === 0) {
      // Unreferenced: the joiners' own waits keep the process alive, this timer must not.
      this.#watchTimer = setInterval(() => this.#reap(), LIVENESS_MS);
      this.#watchTimer.unref();
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#watchers === 0) clearInterval(this.#watchTimer);
    };
  }

  /** A state slot for a new task: one of the table's, or a table of its own when all are taken. */
  #takeSlot(): [TaskSlot, SharedArray<Int32Array> | null] {
    if (this.#slotTable.free.length === 0) this.#sweepAbandoned();
    const slot = this.#slotTable.free.pop();
    if (slot === undefined) {
      const own = sharedArray(Int32Array, 2);
      store(own.array, 0, TaskState.QUEUED);
      store(own.array, 1, -1);
      let live = true;
      const give = (): void => {
        if (live) {
          live = false;
          own.close();
        }
      };
      return [{ words: own.array, at: 0, gen: 0, release: give, abandon: give }, own];
    }
    const gen = (this.#gens[slot] + 1) & GEN_MASK;
    this.#gens[slot] = gen;
    const words = this.#slotTable.words;
    store(words, slot * 2 + 1, -1 - gen);
    store(words, slot * 2, (gen << GEN_SHIFT) | TaskState.QUEUED);
    return [new TableSlot(this.#slotTable, slot, gen), null];
  }

  /** Frees the abandoned slots whose task is over: done, cancelled, or its thread dead. */
  #sweepAbandoned(): void {
    this.#reap();
    const { words, free, abandoned } = this.#slotTable;
    for (const slot of abandoned) {
      const code = load(words, slot * 2) & CODE_MASK;
      let over = code === TaskState.DONE || code === TaskState.CANCELLED;
      if (code === TaskState.RUNNING || code === TaskState.KILLING) {
        const w = this.#workers.get(load(words, slot * 2 + 1));
        over = w === undefined || w.ended;
      }
      if (over) {
        abandoned.delete(slot);
        free.push(slot);
      }
    }
  }

  /** Makes the task's reply and state and sends its message with `send`; cleans up if that throws. */
  #submit(
    kind: number,
    source: string,
    args: unknown[],
    first: number,
    send: (tx: Sender<TaskMessage> | SyncSender<TaskMessage>, message: TaskMessage) => void,
  ): TaskHandle<unknown> {
    const [reply, rx] = oneshot<Reply>();
    const [slot, own] = this.#takeSlot();
    try {
      send(this.#tx, [kind, source, args, reply, own, slot.at >> 1, slot.gen, now(), first]);
    } catch (e) {
      reply.close();
      rx.close();
      slot.release();
      throw e;
    }
    ring(this.#slotTable.words, this.#queue.len());
    return this.#handle(rx, slot);
  }

  async #submitAsync(kind: number, source: string, args: unknown[], first: number, signal: AbortSignal | undefined): Promise<TaskHandle<unknown>> {
    const [reply, rx] = oneshot<Reply>();
    const [slot, own] = this.#takeSlot();
    try {
      const message: TaskMessage = [kind, source, args, reply, own, slot.at >> 1, slot.gen, now(), first];
      if ('sendAsync' in this.#tx) await this.#tx.sendAsync(message, { signal });
      else this.#tx.send(message);
    } catch (e) {
      reply.close();
      rx.close();
      slot.release();
      throw e;
    }
    ring(this.#slotTable.words, this.#queue.len());
    return this.#handle(rx, slot);
  }

  #handle(rx: OneshotReceiver<Reply>, slot: TaskSlot): TaskHandle<unknown> {
    const h = taskHandle(rx, slot, this.#control);
    // A handle collected unjoined and unclosed gives its slot back once its task is over.
    dropped.register(h, slot);
    return h;
  }
}

/** A pool's state table as its tasks' slots see it. */
interface SlotTable {
  /** The table's words; a plain copy once the pool has closed and freed the table. */
  words: Int32Array;
  /** Free slots. */
  readonly free: number[];
  /** Slots whose handle was dropped before the task ended: freed once it has. */
  readonly abandoned: Set<number>;
}

/** Slot `slot` of a pool's state table, for one task (generation `gen`). */
class TableSlot implements TaskSlot {
  #live = true;
  constructor(
    readonly table: SlotTable,
    readonly slot: number,
    readonly gen: number,
  ) {}

  get words(): Int32Array {
    return this.table.words;
  }

  get at(): number {
    return this.slot * 2;
  }

  release(): void {
    if (this.#live) {
      this.#live = false;
      this.table.free.push(this.slot);
    }
  }

  abandon(): void {
    if (this.#live) {
      this.#live = false;
      this.table.abandoned.add(this.slot);
    }
  }
}

const dropped = new FinalizationRegistry<TaskSlot>((slot) => slot.abandon());

// A pool dropped without close(): its threads sleep on the doorbell, not in the queue's
// recv(), so they would not see the queue disconnect when its sender is collected. The
// sender is closed here, and the threads woken to see it, drain the queue and end.
const forgotten = new FinalizationRegistry<{ tx: { close(): void }; states: SharedArray<Int32Array> }>(({ tx, states }) => {
  tx.close();
  ringAll(states.array);
  states.close();
});
