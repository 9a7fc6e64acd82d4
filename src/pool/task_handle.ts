// TaskHandle: the JoinHandle of a pool task. A task is lighter than a thread: it has no
// thread record, only a oneshot that carries its outcome and a slot of the pool's state
// table (queued, running on pool thread n, done, cancelled). So it is a JoinHandle whose
// ref is a plain one on that oneshot, and whose methods, with JoinHandle's meaning,
// read the task instead of a record: join() returns the task's value or throws
// PanicError, joinAsync(), isFinished(), terminate(), thread (the pool thread running it).
//
// A pool thread that dies while running the task (killed, process.exit(), a crash)
// releases the task's reply sender with everything else it owned, so the joiner wakes
// with the oneshot disconnected and learns from the pool how the thread ended.

import type { OneshotReceiver } from '../channel/oneshot.ts';
import { RecvError } from '../channel/errors.ts';
import { PanicError } from '../thread/errors.ts';
import { JoinHandle } from '../thread/join_handle.ts';
import { Thread } from '../thread/thread.ts';
import { Adopt, cloneHandle, inspectCustom, Role } from '../heap/handle.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, cas, load } from '../wait/futex.ts';
import { CODE_MASK, GEN_SHIFT, TaskState } from './layout.ts';
import type { Reply } from './pool_thread.ts';

/** Where a task's state lives (layout.ts): words[at] is its state, words[at + 1] its thread. */
export interface TaskSlot {
  readonly words: Int32Array;
  readonly at: number;
  readonly gen: number;
  /** Gives the slot back once no thread will touch it again for this task. */
  release(): void;
  /** Gives it back later, once the task is over: its handle was dropped before. */
  abandon(): void;
}

/** What a task handle needs of its pool. */
export interface PoolControl {
  /** Replaces pool threads that have ended (never blocks). */
  reap(): void;
  /** How pool thread `worker` ended, once it has; blocks until then (it is ending). */
  deathOf(worker: number): PanicError | undefined;
  deathOfAsync(worker: number): Promise<PanicError | undefined>;
  /** Kills pool thread `worker`; a new thread takes its place. */
  kill(worker: number): Promise<void>;
  /** Keeps replacing dead threads from the event loop until the returned function is called. */
  watch(): () => void;
  /** The thread record of pool thread `worker`, while the pool remembers it. */
  recordOf(worker: number): number | undefined;
}

/**
 * How often a blocked joiner also checks that the pool still has live threads. Only a
 * backstop: a result or the death of the task's own thread wakes the joiner at once;
 * this covers a queued task whose pool lost its threads while nobody else used it.
 */
export const LIVENESS_MS = 100;

type Outcome = { ok: true; value: unknown } | { ok: false; error: PanicError };

function panicOf(reply: Reply): Outcome {
  if (reply[0] === 1) return { ok: true, value: reply[1] };
  const [, payload, threadId, threadName, overflow] = reply;
  const who = `thread '${threadName ?? '<unnamed>'}'`;
  let text: string;
  try {
    text = payload instanceof Error ? `${payload.name}: ${payload.message}` : String(payload);
  } catch {
    text = Object.prototype.toString.call(payload);
  }
  const message = overflow ? `${who} has overflowed its stack` : `${who} panicked: ${text}`;
  return { ok: false, error: new PanicError(message, threadId, threadName, payload) };
}

/**
 * The handle of a task just queued: its own ref, a plain one on the reply channel, is
 * taken and recorded in one kill-safe section (cloneHandle).
 */
export function taskHandle(rx: OneshotReceiver<Reply>, slot: TaskSlot, pool: PoolControl): TaskHandle<unknown> {
  return cloneHandle(rx.offset, () => new TaskHandle(rx, slot, pool));
}

/**
 * The {@link JoinHandle} of a task queued on a {@link ThreadPool}: `join()` /
 * `joinAsync({ signal })` give its result, `isFinished()` never waits, `thread` is the
 * pool thread that runs it, `terminate()` kills that thread (the pool replaces it), and
 * `cancel()`, its own, drops the task if it has not started.
 *
 * @example
 * ```ts
 * const t = pool.spawn((n: number) => { let a = 0, b = 1; while (n-- > 0) [a, b] = [b, a + b]; return a; }, 30);
 * t.cancel(); // false if it already started
 * await t.joinAsync();
 * ```
 *
 * @remarks
 * Unlike a thread's JoinHandle, it stays in the thread that spawned the task (the pool
 * that answers for the task lives there): passing it to spawn() or sending it throws a
 * TypeError. Joining gives its reference back; close() gives up the outcome.
 *
 * @throws {@link PanicError} from `join`/`joinAsync` when the task threw, was cancelled
 * or its thread died.
 */
export class TaskHandle<T> extends JoinHandle<T> {
  readonly #rx: OneshotReceiver<Reply>;
  readonly #slot: TaskSlot;
  readonly #pool: PoolControl;
  #outcome: Outcome | undefined;
  #joined = false;
  /** Pool thread number a terminate() killed for this task (-1: none), or -2 once cancelled by this handle. */
  #ended = -1;
  /** Pool thread number that ran the task, read before its slot was given back (-1: none, or not yet). */
  #ranOn = -1;
  #thread: Thread | undefined;
  /** Whether the state slot was given back (or handed to the pool to give back). */
  #released = false;

  /** @internal Made by taskHandle(), which takes the ref this adopts. */
  constructor(rx: OneshotReceiver<Reply>, slot: TaskSlot, pool: PoolControl) {
    super(new Adopt(rx.offset), Role.Plain);
    this.#rx = rx;
    this.#slot = slot;
    this.#pool = pool;
  }

  /** @internal */
  protected override get kindName(): string {
    return 'TaskHandle';
  }

  /** The task's state: `TaskHandle<queued>`, `<running>` or `<finished>`. @internal */
  protected override describe(): string {
    if (this.isFinished()) return 'TaskHandle<finished>';
    const code = this.#code();
    return `TaskHandle<${code === TaskState.QUEUED ? 'queued' : code === TaskState.RUNNING ? 'running' : 'ending'}>`;
  }

  /** As describe(); a joined task (whose refs went back with the join) still shows `TaskHandle<finished>`. */
  override toString(): string {
    return this.#joined ? 'TaskHandle<finished>' : super.toString();
  }

  /** How Node's console.log shows the task: as toString(). */
  override [inspectCustom](): string {
    return this.toString();
  }

  /** @internal */
  override prepareShare(): void {
    throw new TypeError(
      "TaskHandle cannot be passed to spawn() or sent: a pool task's JoinHandle stays in the thread that " +
        'spawned it, where its pool is; join it there and pass the result',
    );
  }

  /** @internal */
  override shareRef(): number {
    this.prepareShare();
    return 0;
  }

  /** The task's state code (TaskState). */
  #code(): number {
    return load(this.#slot.words, this.#slot.at) & CODE_MASK;
  }

  /** Moves the state from code `from` to `to` in one CAS; false if it was not `from`. */
  #move(from: number, to: number): boolean {
    const { words, at, gen } = this.#slot;
    const expected = (gen << GEN_SHIFT) | from;
    return cas(words, at, expected, (gen << GEN_SHIFT) | to) === expected;
  }

  /**
   * The pool thread that runs (or ran) the task. Throws TypeError while the task is
   * queued, for a cancelled task, and once the pool no longer knows the thread (closed).
   */
  override get thread(): Thread {
    if (!this.#joined) this.checkOpen();
    if (this.#thread === undefined) {
      const worker = this.#ranOn >= 0 ? this.#ranOn : this.#outcome === undefined ? this.#worker() : -1;
      const record = worker >= 0 ? this.#pool.recordOf(worker) : undefined;
      if (record === undefined) {
        throw new TypeError(
          worker >= 0 ? 'TaskHandle.thread: the pool thread that ran the task has ended and its pool no longer keeps it'
          : this.#outcome === undefined && this.#code() === TaskState.QUEUED ? 'TaskHandle.thread: the task is queued; no pool thread runs it yet'
          : 'TaskHandle.thread: the task never ran on a pool thread (it was cancelled)',
        );
      }
      this.#thread = cloneHandle(record, (r) => new Thread(new Adopt(r)));
    }
    return this.#thread;
  }

  /** True once the task has ended (returned, thrown, been cancelled or lost its thread); never blocks. */
  override isFinished(): boolean {
    if (this.#outcome !== undefined || this.#joined) return true;
    this.checkOpen();
    let reply: Reply | undefined;
    try {
      reply = this.#rx.tryRecv();
    } catch (e) {
      if (!(e instanceof RecvError)) throw e;
      // Disconnected: the outcome is known, though building it may wait for the
      // dying thread's record (a few instructions away).
      return true;
    }
    if (reply === undefined) return false;
    this.#settle(panicOf(reply));
    return true;
  }

  /** Blocks until the task ends; returns its value or throws its PanicError. */
  override join(): T {
    this.#checkUsable('join()');
    assertCanBlock('TaskHandle.join()', 'joinAsync()');
    this.#settleCancelled();
    while (this.#outcome === undefined) {
      let reply: Reply | undefined;
      try {
        reply = this.#rx.recvTimeout(LIVENESS_MS);
      } catch (e) {
        if (!(e instanceof RecvError)) throw e;
        this.#settle(this.#lost(this.#pool.deathOf(this.#worker())));
        break;
      }
      if (reply !== undefined) this.#settle(panicOf(reply));
      else this.#pool.reap();
    }
    return this.#take();
  }

  /**
   * Waits for the task without blocking the event loop. Aborting `signal` rejects with
   * its reason and takes nothing: the task goes on and its outcome stays for the next join.
   */
  override async joinAsync(options?: WaitOptions): Promise<T> {
    this.#checkUsable('joinAsync()');
    const signal = checkSignal(options, 'TaskHandle.joinAsync()');
    this.#settleCancelled();
    if (this.#outcome === undefined) {
      // While it waits, the pool replaces threads that die (the event loop is free here).
      const unwatch = this.#pool.watch();
      try {
        this.#settle(panicOf(await this.#rx.recvAsync({ signal })));
      } catch (e) {
        if (!(e instanceof RecvError)) throw e;
        if (this.#outcome === undefined) this.#settle(this.#lost(await this.#pool.deathOfAsync(this.#worker())));
      } finally {
        unwatch();
      }
    }
    return this.#take();
  }

  /**
   * Cancels the task if it has not started: it will never run, and join() throws
   * PanicError. Returns false if it had already started (or ended).
   */
  cancel(): boolean {
    if (this.#outcome !== undefined || this.#joined || this.#ended === -2) return this.#ended === -2;
    this.checkOpen();
    if (!this.#move(TaskState.QUEUED, TaskState.CANCELLED)) return false;
    this.#ended = -2;
    return true;
  }

  /**
   * Ends the task: a queued task is cancelled; a running one is stopped by killing the
   * pool thread that runs it (a new thread takes its place). join() then throws
   * PanicError. Nothing happens to a task that has already ended.
   */
  override async terminate(): Promise<void> {
    if (this.isFinished() || this.cancel()) return;
    // Claimed with one CAS: the thread cannot finish the task meanwhile (it would see
    // KILLING and wait to be killed), so the kill cannot hit a later task. The thread
    // word was set before the task became RUNNING.
    if (!this.#move(TaskState.RUNNING, TaskState.KILLING)) return; // ended meanwhile
    const worker = load(this.#slot.words, this.#slot.at + 1);
    this.#ended = worker;
    await this.#pool.kill(worker);
  }

  /** Gives up the outcome; the task itself goes on (as dropping a JoinHandle detaches the thread). Idempotent. */
  override close(): void {
    this.#rx.close();
    if (this.#outcome === undefined && !this.#joined && !this.#released) {
      this.#released = true;
      this.#slot.abandon();
    }
    this.dropRef();
  }

  override [Symbol.dispose](): void {
    this.close();
  }

  /** Pool thread number that holds the task now (-1: none). */
  #worker(): number {
    if (this.#ended !== -1) return this.#ended;
    const code = this.#code();
    return code === TaskState.RUNNING || code === TaskState.KILLING ? load(this.#slot.words, this.#slot.at + 1) : -1;
  }

  /**
   * A task this handle cancelled has its outcome now: its reply sender is dropped only
   * when a pool thread reaches the stale message, which may be behind long tasks.
   */
  #settleCancelled(): void {
    if (this.#outcome === undefined && this.#ended === -2) this.#settle(this.#lost(undefined));
  }

  /** The outcome of a task whose reply will never come. */
  #lost(death: PanicError | undefined): Outcome {
    if (this.#ended === -2 || this.#code() === TaskState.CANCELLED) {
      return { ok: false, error: new PanicError('the pool task was cancelled before it started', 0, undefined, undefined) };
    }
    if (this.#ended >= 0) {
      const message = `the pool task was terminated${death ? ` (${death.message})` : ''}`;
      return { ok: false, error: new PanicError(message, death?.threadId ?? 0, death?.threadName, death) };
    }
    if (death === undefined) {
      return { ok: false, error: new PanicError('the pool task lost its thread', 0, undefined, undefined) };
    }
    return { ok: false, error: new PanicError(death.message, death.threadId, death.threadName, death) };
  }

  // The outcome is known, so no thread will touch the task's state again: a reply comes
  // after the thread's last CAS, a lost reply after its thread's death, and a cancelled
  // task's stale message fails its CAS once the slot has a new generation. The thread
  // word still names the thread that claimed the task until the slot is given back.
  #settle(outcome: Outcome): void {
    this.#outcome = outcome;
    if (!this.#released) {
      this.#released = true;
      this.#ranOn = load(this.#slot.words, this.#slot.at + 1);
      this.#slot.release();
    }
  }

  // As Rust's join consumes the handle, the outcome moves out to the first joiner, and
  // the handle's refs go back (the reply channel is freed now, not when this is collected).
  #take(): T {
    this.#joined = true;
    const outcome = this.#outcome!;
    this.#outcome = { ok: true, value: undefined };
    this.#rx.close();
    this.dropRef();
    if (!outcome.ok) throw outcome.error;
    return outcome.value as T;
  }

  #checkUsable(call: string): void {
    if (this.#joined) throw new TypeError(`TaskHandle.${call}: the task was already joined; its result went to that join`);
    this.checkOpen();
  }
}
