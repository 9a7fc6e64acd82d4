// Once: the futex state machine of Rust's Once (library/std/src/sys/sync/once/futex.rs).
// INCOMPLETE 0, POISONED 1, RUNNING 2, COMPLETE 3, plus a QUEUED bit (4) that waiters
// set so the runner notifies only when someone sleeps. The runner records the run in
// its owned table (Role.Held): if its thread ends or is killed inside the function,
// the runtime calls releaseRole, which poisons the Once and wakes every waiter.
// Claiming RUNNING and recording the run happen in one kill-safe section
// (thread/critical.ts), and so do forgetting the record and publishing the outcome: a
// thread killed between the two would leave the Once RUNNING with nobody to end it.
// OnceLock and LazyLock run the same machine (runOnce), with their own outcome for a
// throw.

import { describeValue } from '../heap/describe.ts';
import { Adopt, currentOwnedCell, defineKind, Handle, Role, allocOwned } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { currentThreadId } from '../thread/current.ts';
import { checkSignal, runAsync, runSync, type Op, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, cas, exchange, load, notify } from '../wait/futex.ts';
import { PoisonError } from './poison.ts';

export const INCOMPLETE = 0, POISONED = 1, RUNNING = 2, COMPLETE = 3, QUEUED = 4;
/** i32 index of the state word, relative to the object's offset >> 2. */
const ONCE_STATE = 2;
const ONCE_BYTES = 12;

/**
 * What `callOnceForce(f)` tells `f`: `isPoisoned()` is true when an earlier run panicked.
 */
export interface OnceState {
  /** True when an earlier run threw (or its thread died): this run repairs the Once. */
  readonly isPoisoned: boolean;
}

/** Fixed-length views reaching past the state word (fast path). */
const words = (offset: number): Int32Array => heapCovering(offset + ONCE_BYTES).i32;

const stateIndex = (offset: number): number => (offset >> 2) + ONCE_STATE;

/** Reads the state word of the Once-machine object at `offset`. */
export const onceState = (offset: number): number => load(words(offset), stateIndex(offset));

/** Ends a run (Rust's CompletionGuard): publishes `to`, waking the queue if anyone joined it. */
export function completeOnce(offset: number, to: number): void {
  const i = words(offset);
  if ((exchange(i, stateIndex(offset), to) & QUEUED) !== 0) notify(i, stateIndex(offset));
}

export interface RunOptions {
  /** State a throw leaves behind: POISONED (Once, LazyLock) or INCOMPLETE (OnceLock). */
  readonly onThrow: number;
  /** Run even if poisoned (callOnceForce). */
  readonly ignorePoison: boolean;
  /** Type name, for the poison message. */
  readonly what: string;
  /** The call, and what to use instead where blocking is impossible (it may wait for another run). */
  readonly call: string;
  readonly alternative: string;
}

function poisoned(what: string): PoisonError<undefined> {
  return new PoisonError(`${what} instance has previously been poisoned`, undefined);
}

/**
 * One attempt to move an idle Once to RUNNING. Returns the state it moved from
 * (INCOMPLETE or POISONED), COMPLETE if there is nothing to do, or the state seen
 * (RUNNING, maybe with QUEUED) while another run is under way.
 */
function tryClaim(i: Int32Array, at: number, o: RunOptions): number {
  for (let s = load(i, at); ; ) {
    const base = s & ~QUEUED;
    if (base === COMPLETE) return COMPLETE;
    if (base === RUNNING) return s;
    if (base === POISONED && !o.ignorePoison) throw poisoned(o.what);
    // Keep QUEUED: whoever queued on the idle Once is woken when this run ends.
    const seen = cas(i, at, s, RUNNING | (s & QUEUED));
    if (seen === s) return base;
    s = seen;
  }
}

const isRunning = (s: number): boolean => (s & ~QUEUED) === RUNNING;

/** A run this thread claimed: the state it was claimed from (INCOMPLETE or POISONED) and its record. */
interface Claimed {
  readonly from: number;
  readonly run: HeldRun;
}

/**
 * tryClaim, and the record of the run if it claimed one, in one kill-safe section.
 * Returns the claimed run, or the state seen (COMPLETE, or RUNNING maybe with QUEUED).
 */
function claimHeld(offset: number, o: RunOptions): Claimed | number {
  enterCritical();
  try {
    const from = tryClaim(words(offset), stateIndex(offset), o);
    if (from === COMPLETE || isRunning(from)) return from;
    return { from, run: holdRun(offset, () => completeOnce(offset, from)) };
  } finally {
    leaveCritical();
  }
}

/** Queues behind the running caller until it claims the Once (the run) or sees it COMPLETE. */
function* claim(offset: number, o: RunOptions): Op<Claimed | typeof COMPLETE> {
  const i = words(offset);
  for (let c = claimHeld(offset, o); ; c = claimHeld(offset, o)) {
    if (typeof c !== 'number' || !isRunning(c)) return c as Claimed | typeof COMPLETE;
    yield* queue(i, stateIndex(offset), c);
  }
}

/** Waits until COMPLETE; throws PoisonError if the Once is (or becomes) poisoned. */
function* complete(i: Int32Array, at: number, what: string, ignorePoison: boolean): Op<void> {
  for (let s = load(i, at); (s & ~QUEUED) !== COMPLETE; s = load(i, at)) {
    if ((s & ~QUEUED) === POISONED && !ignorePoison) throw poisoned(what);
    yield* queue(i, at, s);
  }
}

/** Sets QUEUED (so the run's end notifies) and sleeps while the state stays `s`. */
function* queue(i: Int32Array, at: number, s: number): Op<void> {
  if ((s & QUEUED) === 0 && cas(i, at, s, s | QUEUED) !== s) return; // changed: look again
  yield { index: at, expected: s | QUEUED };
}

/** A run in progress, recorded in the runner's owned table. */
export interface HeldRun {
  readonly cell: number;
  readonly slot: number;
  readonly thread: number;
}

/**
 * Records that this thread runs (holds) the object at `offset`, so that its death
 * releases it. If even that fails (heap full), `undo` gives the claim back first.
 */
export function holdRun(offset: number, undo: () => void): HeldRun {
  try {
    const cell = currentOwnedCell();
    return { cell, slot: ownedAdd(cell, offset + Role.Held), thread: currentThreadId() };
  } catch (e) {
    undo();
    throw e;
  }
}

/**
 * Removes the record of `run`. False if the thread it belonged to has ended meanwhile
 * (an async run that outlived its thread): the runtime has released the run already,
 * and the caller must not publish anything.
 */
export function unholdRun(run: HeldRun): boolean {
  if (currentThreadId() !== run.thread) return false;
  ownedRemove(run.cell, run.slot);
  return true;
}

/**
 * Ends `run`: removes its record and then runs `publish` (which must not wait or run
 * user code), in one kill-safe section, so a death cannot fall between the two. Does
 * nothing if the run's thread has ended (see unholdRun).
 */
export function endRun(run: HeldRun, publish: () => void): void {
  enterCritical();
  try {
    if (unholdRun(run)) publish();
  } finally {
    leaveCritical();
  }
}

function finish(offset: number, run: HeldRun, to: number): void {
  endRun(run, () => completeOnce(offset, to));
}

/** Runs `f` unless the Once is complete, waiting while another thread runs it. True if `f` ran. */
export function runOnce(offset: number, f: (state: OnceState) => void, o: RunOptions): boolean {
  let c = claimHeld(offset, o);
  if (typeof c === 'number' && isRunning(c)) {
    assertCanBlock(o.call, o.alternative);
    c = runSync(claim(offset, o), Infinity);
  }
  if (typeof c === 'number') return false; // COMPLETE
  const { from, run } = c;
  try {
    f({ isPoisoned: from === POISONED });
  } catch (e) {
    finish(offset, run, o.onThrow);
    throw e;
  }
  finish(offset, run, COMPLETE);
  return true;
}

/**
 * runOnce for an async `f`: RUNNING is held across its awaits, and waiting keeps the
 * event loop running. `signal` cancels the wait for another run only: queuing leaves
 * nothing behind but the QUEUED bit, which costs the runner one spurious notify.
 */
export async function runOnceAsync(
  offset: number, f: (state: OnceState) => Promise<void>, o: RunOptions, signal?: AbortSignal,
): Promise<boolean> {
  const c = await runAsync(claim(offset, o), Infinity, signal);
  if (c === COMPLETE) return false;
  const { from, run } = c;
  try {
    await f({ isPoisoned: from === POISONED });
  } catch (e) {
    finish(offset, run, o.onThrow);
    throw e;
  }
  finish(offset, run, COMPLETE);
  return true;
}

/** Blocks (the caller has checked it may) until the Once-machine at `offset` is COMPLETE, or throws PoisonError. */
export function waitOnce(offset: number, what: string, ignorePoison: boolean): void {
  runSync(complete(words(offset), stateIndex(offset), what, ignorePoison), Infinity);
}

export function waitOnceAsync(offset: number, what: string, ignorePoison: boolean, signal?: AbortSignal): Promise<void> {
  return runAsync(complete(words(offset), stateIndex(offset), what, ignorePoison), Infinity, signal);
}

/** Throws a TypeError unless `f` is a function: checked before any state changes. */
export function checkFunction(f: unknown, call: string): void {
  if (typeof f !== 'function') throw new TypeError(`${call}: expected a function, got ${describeValue(f)}`);
}

const ONCE: RunOptions = {
  onThrow: POISONED, ignorePoison: false, what: 'Once', call: 'Once.callOnce()', alternative: 'Once.callOnceAsync()',
};
const FORCE: RunOptions = { ...ONCE, ignorePoison: true, call: 'Once.callOnceForce()' };

/**
 * Runs a function exactly once across all threads (Rust's `std::sync::Once`).
 *
 * @example
 * ```ts
 * const init = shared('init', () => new Once());
 * init.callOnce(() => setUpLogging()); // in every thread: only the first call runs it
 * init.isCompleted(); // true
 * ```
 *
 * @remarks
 * Blocking / async: `callOnce(f)` / `callOnceAsync(f, { signal })`, `callOnceForce(f)`
 * (runs even when poisoned, with the state), `wait()` / `waitAsync()`, `waitForce()` /
 * `waitForceAsync()`. Aborting an async wait runs nothing and leaves the Once usable.
 *
 * Ordering: everything the running function wrote is visible to every thread whose call
 * returns after it (its completed path is one atomic load).
 *
 * Holder death: if the function throws, or its thread ends or is killed while it runs,
 * the Once is poisoned and every waiter is woken with {@link PoisonError}.
 *
 * @throws {@link PoisonError} from `callOnce()`/`wait()` on a poisoned Once (use
 * `callOnceForce`/`waitForce`). `TypeError` for a non-function, or a blocking call where
 * blocking is impossible.
 */
export class Once extends Handle {
  // COMPLETE is final, so once this thread has seen it (through an atomic load, which
  // orders the run's effects before us) a plain field answers every later call.
  #done = false;

  constructor();
  /** @internal */
  constructor(adopt?: Adopt);
  constructor(adopt?: Adopt) {
    if (adopt !== undefined && !(adopt instanceof Adopt)) {
      throw new TypeError(`new Once() takes no arguments, got ${describeValue(adopt)}`);
    }
    super(adopt?.offset ?? allocOwned(Kind.Once, ONCE_BYTES - 8));
  }

  /** @internal */
  protected get kindName(): string {
    return 'Once';
  }

  /** @internal */
  protected override describe(): string {
    return `Once<${this.isCompleted() ? 'completed' : 'incomplete'}>`;
  }

  protected override dropRef(): void {
    this.#done = false; // a closed handle answers nothing, not even from its cache
    super.dropRef();
  }

  #completed(): boolean {
    if (this.#done) return true;
    this.checkOpen();
    return (this.#done = onceState(this.offset) === COMPLETE);
  }

  /**
   * Runs `f` if no thread has completed the Once; waits while another thread runs it.
   * Throws PoisonError if an earlier run threw.
   */
  callOnce(f: () => void): void {
    checkFunction(f, 'Once.callOnce(f)');
    if (this.#completed()) return;
    runOnce(this.offset, f, ONCE);
  }

  /** Like callOnce, but also runs on a poisoned Once (`state.isPoisoned` tells); success clears the poison. */
  callOnceForce(f: (state: OnceState) => void): void {
    checkFunction(f, 'Once.callOnceForce(f)');
    if (this.#completed()) return;
    runOnce(this.offset, f, FORCE);
  }

  /**
   * callOnce with an async `f`; waiting for another run keeps the event loop running.
   * Aborting `signal` while waiting for another thread's run rejects with its reason
   * and takes nothing; once this call runs `f`, the run is not cancelled.
   */
  async callOnceAsync(f: () => Promise<void>, options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'Once.callOnceAsync()');
    checkFunction(f, 'Once.callOnceAsync(f)');
    if (this.#completed()) return;
    await runOnceAsync(this.offset, f, ONCE, signal);
  }

  isCompleted(): boolean {
    return this.#completed();
  }

  /** Blocks until some thread completed the Once; throws PoisonError if it is poisoned. */
  wait(): void {
    assertCanBlock('Once.wait()', 'Once.waitAsync()');
    if (this.#completed()) return;
    waitOnce(this.offset, 'Once', false);
  }

  async waitAsync(options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'Once.waitAsync()');
    if (this.#completed()) return;
    await waitOnceAsync(this.offset, 'Once', false, signal);
  }

  /**
   * Blocks until some thread completed the Once, ignoring poison (Rust's wait_force): on
   * a poisoned Once it waits on until a callOnceForce() completes it.
   */
  waitForce(): void {
    assertCanBlock('Once.waitForce()', 'Once.waitForceAsync()');
    if (this.#completed()) return;
    waitOnce(this.offset, 'Once', true);
  }

  /** waitForce() keeping the event loop running. Aborting `signal` rejects with its reason. */
  async waitForceAsync(options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'Once.waitForceAsync()');
    if (this.#completed()) return;
    await waitOnceAsync(this.offset, 'Once', true, signal);
  }
}

defineKind(Kind.Once, {
  name: 'Once',
  wrap: (p) => new Once(new Adopt(p)),
  // The runner's thread ended inside the function.
  releaseRole: (p) => completeOnce(p, POISONED),
});
