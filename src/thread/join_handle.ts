// JoinHandle: a Join-role ref on a thread's record. The join packet (state word and
// stored outcome) lives in the record, so join() can block without an event loop.

import { codecs } from '../codec/index.ts';
import { loadValue } from '../codec/stored.ts';
import { Adopt, cloneHandle, Handle, releaseRef, retain, Role } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { checkSignal, runAsync, type Op as WaitOp, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, exchange, load, store, wait, waitAsync } from '../wait/futex.ts';
import { enterCritical, leaveCritical } from './critical.ts';
import { PanicError } from './errors.ts';
import { post, Op } from './mailbox.ts';
import { panicDelivered, watchUnjoinedAtExit } from './panic_report.ts';
import { describeThread, isTerminal, recordField, recordId, Reason, R_JOINED, R_REASON, R_RESULT, R_STATE, State, threadName } from './record.ts';
import { setJoinWrapper, Thread } from './thread.ts';

/** The PanicError for a record that ended Panicked, from its payload (read in place unless given). */
export function panicOf(record: number, payload: unknown = loadValue(codecs.structured, load(heap().i32, recordField(record, R_RESULT)), false)): PanicError {
  const i = heap().i32;
  const who = describeThread(record);
  const reason = load(i, recordField(record, R_REASON));
  const text = payload instanceof Error ? payload.message : String(payload);
  const message =
    reason === Reason.StackOverflow ? `${who} has overflowed its stack`
    : reason === Reason.Killed ? text
    : `${who} panicked: ${payload instanceof Error ? `${payload.name}: ` : ''}${text}`;
  return new PanicError(message, recordId(record), threadName(record), payload);
}

/** Sleeps until the thread's state is terminal; registers nothing, so an abort has nothing to undo. */
function* untilEnded(record: number): WaitOp<void> {
  const i = heap().i32;
  const at = recordField(record, R_STATE);
  for (let s; !isTerminal((s = load(i, at))); ) yield { index: at, expected: s };
}

/**
 * Owns a spawned thread's result (Rust's `JoinHandle<T>`).
 *
 * @example
 * ```ts
 * const h = spawn((n: number) => n * 2, 21);
 * h.thread.id;          // the thread's id
 * h.join();             // 42, blocking; or: await h.joinAsync({ signal })
 * ```
 *
 * @remarks
 * Blocking / async: `join()` / `joinAsync({ signal })`; `isFinished()` never waits;
 * `terminate()` kills the thread (its locks are poisoned and released, its endpoints
 * closed), after which `join` throws. An aborted `joinAsync` takes nothing: the result
 * stays for the next join. A JoinHandle is an endpoint: passing it moves it.
 * A thread that panicked and is never joined has its panic printed when the handle is
 * closed or the process exits.
 *
 * @throws {@link PanicError} when the thread threw, overflowed its stack, exited or was
 * killed (with its id, name and the original error as `cause`).
 */
export class JoinHandle<T> extends Handle {
  #thread: Thread | undefined;

  /**
   * Join handles are made by spawn(); a pool task's (TaskHandle) adopts a plain ref to its reply instead of a Join ref.
   * @internal
   */
  constructor(adopt: Adopt, role: Role = Role.Join) {
    super(adopt.offset, role);
    if (role === Role.Join) watchUnjoinedAtExit();
  }

  /** @internal */
  protected get kindName(): string {
    return 'JoinHandle';
  }

  /** @internal */
  protected override describe(): string {
    return `JoinHandle<${this.isFinished() ? 'finished' : 'running'}> of ${this.thread}`;
  }

  /** A JoinHandle moves (passed to spawn, sent, stored): whoever holds it joins. */
  /** @internal */
  override shareRef(): number {
    return this.moveRef();
  }

  /** The thread this handle joins. */
  get thread(): Thread {
    this.checkOpen();
    if (!this.#thread) {
      this.#thread = cloneHandle(this.offset, (r) => new Thread(new Adopt(r)));
    }
    return this.#thread;
  }

  /** True once the thread has ended (never blocks). */
  isFinished(): boolean {
    this.checkOpen();
    return isTerminal(load(heap().i32, recordField(this.offset, R_STATE)));
  }

  /** Blocks until the thread ends; returns its result or throws its PanicError. */
  join(): T {
    this.checkOpen();
    assertCanBlock('JoinHandle.join()', 'joinAsync()');
    const i = heap().i32;
    const at = recordField(this.offset, R_STATE);
    for (let s; !isTerminal((s = load(i, at))); ) wait(i, at, s);
    return this.#outcome();
  }

  /**
   * Waits for the thread without blocking the event loop. Aborting `signal` rejects
   * with its reason and takes nothing: the result stays for the next join.
   */
  async joinAsync(options?: WaitOptions): Promise<T> {
    this.checkOpen();
    const signal = checkSignal(options, 'JoinHandle.joinAsync()');
    if (!this.isFinished()) await runAsync(untilEnded(this.offset), Infinity, signal);
    return this.#outcome();
  }

  /** Kills the thread; it is cleaned up as a crash and join() then throws PanicError. */
  async terminate(): Promise<void> {
    this.checkOpen();
    if (this.isFinished()) return;
    // The count that travels with the request is taken and posted in one kill-safe
    // section: a kill between the two would leave the record counted forever.
    enterCritical();
    try {
      retain(this.offset);
      try {
        post(Op.Terminate, this.offset);
      } catch (e) {
        releaseRef(this.offset); // the heap is full: nothing was posted
        throw e;
      }
    } finally {
      leaveCritical();
    }
    const i = heap().i32;
    const at = recordField(this.offset, R_STATE);
    for (let s; !isTerminal((s = load(i, at))); ) await waitAsync(i, at, s);
  }

  // As Rust's join consumes the handle, the result moves out to the first joiner:
  // handles inside it (a Sender, say) are not kept alive by the record afterwards.
  // A panic delivered here is not printed; settled before the payload is taken, as a
  // printer reads it in place.
  #outcome(): T {
    const i = heap().i32;
    const panicked = load(i, recordField(this.offset, R_STATE)) === State.Panicked;
    if (panicked) panicDelivered(this.offset);
    store(i, recordField(this.offset, R_JOINED), 1);
    const p = exchange(i, recordField(this.offset, R_RESULT), 0);
    if (p === 0) throw new TypeError(`JoinHandle: ${describeThread(this.offset)} was already joined; its result went to that join`);
    const value = loadValue(codecs.structured, p, true);
    if (panicked) throw panicOf(this.offset, value);
    return value as T;
  }
}

/** A JoinHandle for a thread spawned on a scope. */
export class ScopedJoinHandle<T> extends JoinHandle<T> {}

setJoinWrapper((record) => new JoinHandle(new Adopt(record)));
