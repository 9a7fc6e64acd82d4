// What each thread of a ThreadPool runs: take a task from the pool's queue (one MPMC
// channel whose receiver every pool thread holds a clone of), claim it, run it, count
// it, reply through the task's oneshot. It ends when the pool closed its sender and
// the queue is drained.
//
// poolThreadMain is spawned as source text, so it must be self-contained: it sees
// only its arguments and what it imports. Everything it shares with the pool side
// (task states, statistics layout) is written out here as literals; layout.ts
// holds the same numbers for the pool side, and a test checks that they agree.

import type { OneshotSender, Receiver, SharedArray } from '../index.ts';

/**
 * A queued task: [kind, source, args (CALL), chunk items (MAP_CHUNK) or [shared
 * Float64Array, shared cursor, block] (MAP_SHARED), reply, its own state words (null:
 * slot `slot` of the pool's state table), slot, generation, enqueued at (ms, wall clock),
 * index of the first item].
 */
export type TaskMessage = [number, string, unknown[], OneshotSender<Reply>, SharedArray<Int32Array> | null, number, number, number, number];

/**
 * What a task sends back: [1, value], or [0, payload, thread id, thread name, overflowed
 * its stack]. A MAP_CHUNK's value is its results: an array, or a Float64Array when they
 * are all numbers. A MAP_SHARED's is null when every result was a number written back
 * in place, else [index, value, ...] for the others.
 */
export type Reply = [1, unknown] | [0, unknown, number, string | undefined, boolean];

/**
 * Runs tasks from `queue` until it is closed and drained. `worker` is this thread's
 * number in the pool (unique for the pool's life); `row` its row of `table`; `states`
 * the pool's task state table, whose last two words are the doorbell; `rendezvous`
 * whether the queue is a rendezvous channel (maxQueue 0).
 */
export async function poolThreadMain(
  queue: Receiver<TaskMessage>,
  table: SharedArray<BigInt64Array>,
  states: SharedArray<Int32Array>,
  row: number,
  worker: number,
  rendezvous: boolean,
): Promise<void> {
  // Task state codes and layout (layout.ts): the state word is gen << 3 | code.
  const QUEUED = 0, DONE = 2, RUNNING = 4, GEN_SHIFT = 3;
  // Message kinds (layout.ts).
  const CALL = 0, MAP_CHUNK = 1;
  const slots = states.array;
  // Statistics row (layout.ts): eight 64-bit words per pool thread, written by
  // that thread only (no contention), read by the pool with Atomics.
  const stats = table.array;
  const at = row * 8;
  const BUSY = at, COMPLETED = at + 1, FAILED = at + 2, CANCELLED = at + 3, WAIT_NS = at + 4, WAIT_MAX_NS = at + 5, RUN_NS = at + 6;

  // weft as this worker loaded it (worker_main.ts publishes it under this symbol): no
  // import('weft') for a bundler to resolve in weft's own sources.
  const { current, RecvError, SendError } = (globalThis as Record<symbol, unknown>)[Symbol.for('weft.module')] as typeof import('../index.ts');
  const me = current();
  const threadId = me.id;
  const threadName = me.name;

  // Task functions are compiled once per source text (a pool runs the same few
  // functions over and over). Bounded, for pools fed ever new functions.
  const compiled = new Map<string, (...args: unknown[]) => unknown>();
  const compile = (source: string): ((...args: unknown[]) => unknown) => {
    let f = compiled.get(source);
    if (f !== undefined) return f;
    try {
      f = (0, eval)(`(${source}\n)`) as (...args: unknown[]) => unknown;
    } catch (e) {
      // Method shorthand (`run(x) { ... }`) is not an expression on its own.
      if (!(e instanceof SyntaxError)) throw e;
      const holder = (0, eval)(`({${source}\n})`) as Record<string, (...args: unknown[]) => unknown>;
      f = Object.values(holder)[0];
    }
    if (typeof f !== 'function') throw new TypeError('a pool task must be a function');
    if (compiled.size >= 256) compiled.clear();
    compiled.set(source, f);
    return f;
  };
  const isThenable = (v: unknown): v is PromiseLike<unknown> =>
    (typeof v === 'object' || typeof v === 'function') && v !== null && typeof (v as { then?: unknown }).then === 'function';
  const now = (): number => performance.timeOrigin + performance.now();
  const ns = (ms: number): bigint => BigInt(Math.max(0, Math.round(ms * 1e6)));
  // Handles that come with a task (its arguments, a map chunk's items) belong to the
  // task: they are released when it ends, as a thread's are when the thread ends, so a
  // Sender passed to a task disconnects its channel once the task is over. The class
  // every weft handle extends is found from a handle this thread holds (the queue's
  // receiver): it is the root of that class chain, as weft does not export it.
  let Handle: abstract new (...args: never[]) => { [Symbol.dispose](): void } = queue.constructor as never;
  while (Object.getPrototypeOf(Handle) !== Function.prototype) Handle = Object.getPrototypeOf(Handle);
  const releaseHandles = (value: unknown, seen: Set<object>): void => {
    if (typeof value !== 'object' || value === null) return;
    if (value instanceof Handle) return value[Symbol.dispose]();
    if (seen.has(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (const v of value) if (typeof v === 'object' && v !== null) releaseHandles(v, seen);
    } else if (value instanceof Map) {
      for (const [k, v] of value) {
        releaseHandles(k, seen);
        releaseHandles(v, seen);
      }
    } else if (value instanceof Set) {
      for (const v of value) releaseHandles(v, seen);
    } else if (!ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer) && !(value instanceof Date) && !(value instanceof RegExp)) {
      for (const k of Object.keys(value)) releaseHandles((value as Record<string, unknown>)[k], seen);
      if (value instanceof Error && 'cause' in value) releaseHandles(value.cause, seen);
    }
  };

  // A terminate() claimed this task to kill the thread running it: take no further
  // step (no reply, no next task) until the kill lands.
  const awaitKill = (): never => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    for (;;) Atomics.wait(word, 0, 0);
  };

  // The doorbell (layout.ts): the pool bumps SEQ after each task it queues, then wakes
  // one thread sleeping on SEQ unless SPINNER (a spinning thread's number + 1) is set.
  // Waiting in the queue's recv() instead, every idle thread would wake for every task
  // (a channel wakes all its waiting receivers) and spin, taking the CPU from the
  // threads that work. Here at most one idle thread spins, so a task queued right
  // after is taken without a futex wake; the others sleep until rung for.
  // No task is missed: SEQ is read before the queue is found empty, and a sleeper
  // waits on that value, so a task queued since has moved SEQ (the wait returns at
  // once) or is rung for after the sleeper cleared SPINNER. A spinner re-reads SEQ
  // after clearing SPINNER: a submit that saw it set bumped SEQ before.
  const SEQ = slots.length - 2, SPINNER = slots.length - 1;
  // As long as weft's blocking waits spin before they park.
  const SPIN_MS = 0.05;
  const take = (): TaskMessage | undefined | null => {
    try {
      return queue.tryRecv();
    } catch (e) {
      if (e instanceof RecvError) return null; // the pool closed and every task was taken
      throw e;
    }
  };
  const next = (): TaskMessage | null => {
    if (rendezvous) {
      // A rendezvous send completes only with a receiver waiting in recv().
      try {
        return queue.recv();
      } catch (e) {
        if (e instanceof RecvError) return null;
        throw e;
      }
    }
    for (;;) {
      const seq = Atomics.load(slots, SEQ);
      const task = take();
      if (task !== undefined) {
        // More tasks than this thread takes, and nobody spinning to take them: wake a sleeper.
        if (task !== null && queue.len() > 0 && Atomics.load(slots, SPINNER) === 0) Atomics.notify(slots, SEQ, 1);
        return task;
      }
      if (Atomics.compareExchange(slots, SPINNER, 0, worker + 1) === 0) {
        const until = now() + SPIN_MS;
        for (let polls = 1; Atomics.load(slots, SEQ) === seq && ((polls++ & 63) !== 0 || now() < until); );
        Atomics.store(slots, SPINNER, 0);
        if (Atomics.load(slots, SEQ) !== seq) continue;
      }
      Atomics.wait(slots, SEQ, seq);
    }
  };

  for (;;) {
    const task = next();
    if (task === null) return;
    const [kind, source, args, reply, own, slot, gen, enqueued, first] = task;
    const words = own === null ? slots : own.array;
    const word = own === null ? slot * 2 : 0;
    const running = (gen << GEN_SHIFT) | RUNNING;
    // Claiming the task and cancelling it are one CAS each on its state: a task
    // cancelled while queued never starts, one started is never cancelled. The thread
    // word is set first, with a CAS that fails if the slot has moved on to another task
    // (this one was cancelled and its slot reused), so terminate() always finds it.
    if (
      Atomics.compareExchange(words, word + 1, -1 - gen, worker) !== -1 - gen ||
      Atomics.compareExchange(words, word, (gen << GEN_SHIFT) | QUEUED, running) !== ((gen << GEN_SHIFT) | QUEUED)
    ) {
      own?.close();
      reply.close();
      releaseHandles(args, new Set());
      Atomics.add(stats, CANCELLED, 1n);
      continue;
    }
    const start = now();
    const waited = ns(start - enqueued);
    Atomics.store(stats, BUSY, 1n);
    Atomics.add(stats, WAIT_NS, waited);
    for (let max = Atomics.load(stats, WAIT_MAX_NS); waited > max; ) {
      const seen = Atomics.compareExchange(stats, WAIT_MAX_NS, max, waited);
      if (seen === max) break;
      max = seen;
    }

    let ok = true;
    let value: unknown;
    try {
      const f = compile(source);
      if (kind === CALL) {
        value = f(...args);
        if (isThenable(value)) value = await value;
      } else if (kind === MAP_CHUNK) {
        const n = args.length;
        const out = new Array<unknown>(n);
        let pending = false;
        let numbers = true;
        for (let k = 0; k < n; k++) {
          const r = f(args[k], first + k);
          out[k] = r;
          if (typeof r !== 'number') {
            numbers = false;
            if (isThenable(r)) pending = true;
          }
        }
        const results = pending ? await Promise.all(out) : out;
        if (pending) numbers = results.every((r) => typeof r === 'number');
        // Numbers go back as one Float64Array: its bytes are copied, not encoded one by one.
        value = numbers ? new Float64Array(results as number[]) : results;
      } else {
        // Items of a shared array, claimed a block at a time from a shared cursor (one
        // atomic add), so the threads share the work evenly whatever each item costs.
        // Numeric results overwrite their items: a block is claimed by one thread alone,
        // each item is read before its result is written, and the reply (a release the
        // pool's receive acquires) orders these plain writes before the pool reads them.
        // Other results go back as [index, value, ...]. Promises (an async fn) are awaited
        // before the next block is claimed, so async items spread over the threads too.
        const [shared, cursor, block] = args as [SharedArray<Float64Array>, SharedArray<Int32Array>, number];
        const items = shared.array;
        const claim = cursor.array;
        const n = items.length;
        const others: unknown[] = [];
        const promised: Array<[number, PromiseLike<unknown>]> = [];
        try {
          for (let from = Atomics.add(claim, 0, block); from < n; from = Atomics.add(claim, 0, block)) {
            for (let k = from, end = Math.min(n, from + block); k < end; k++) {
              const r = f(items[k], k);
              if (typeof r === 'number') items[k] = r;
              else if (isThenable(r)) promised.push([k, r]);
              else others.push(k, r);
            }
            if (promised.length > 0) {
              const values = await Promise.all(promised.map(([, p]) => p));
              for (let j = 0; j < values.length; j++) {
                const [k] = promised[j];
                if (typeof values[j] === 'number') items[k] = values[j] as number;
                else others.push(k, values[j]);
              }
              promised.length = 0;
            }
          }
        } catch (e) {
          // The map fails with this: the other threads claim no more blocks.
          Atomics.store(claim, 0, n);
          throw e;
        }
        value = others.length === 0 ? null : others;
      }
    } catch (e) {
      ok = false;
      value = e;
      if (e instanceof ReferenceError && /is not defined/.test(e.message)) {
        e.message +=
          ' (functions given to ThreadPool.spawn() and map() are sent as source text, so closures are not carried: ' +
          'pass the value as an argument instead, e.g. pool.spawn((x) => use(x), x))';
      }
    }
    Atomics.add(stats, RUN_NS, ns(now() - start));
    if (Atomics.compareExchange(words, word, running, (gen << GEN_SHIFT) | DONE) !== running) awaitKill();
    own?.close();
    Atomics.add(stats, ok ? COMPLETED : FAILED, 1n);
    Atomics.store(stats, BUSY, 0n);

    const overflow = !ok && value instanceof RangeError && /call stack size/.test(value.message);
    // Replied first: the result may be one of the arguments (a handle the reply shares
    // or moves); then the task's handles go.
    try {
      try {
        reply.send(ok ? [1, value] : [0, value, threadId, threadName, overflow]);
      } catch (e) {
        if (e instanceof SendError) continue; // the joiner is gone: nobody wants the outcome
        // The result (or the thrown value) cannot be sent: the task fails with why.
        if (ok) {
          Atomics.add(stats, COMPLETED, -1n);
          Atomics.add(stats, FAILED, 1n);
          reply.send([0, e, threadId, threadName, false]);
        } else {
          reply.send([0, new Error(String(value)), threadId, threadName, false]);
        }
      }
    } catch (e) {
      if (!(e instanceof SendError)) throw e;
    } finally {
      releaseHandles(args, new Set());
    }
  }
}
