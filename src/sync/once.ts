// Once: the futex state machine of Rust's Once. INCOMPLETE 0, POISONED 1, RUNNING 2,
// COMPLETE 3, plus a QUEUED bit (4) set by waiters so that the runner only notifies
// when someone sleeps. The runner records RUNNING in its owned table (Role.Held): a
// thread killed inside the function leaves the Once poisoned and its waiters woken.
// OnceLock uses the same machine with a different outcome for a throw (back to
// INCOMPLETE, so the next caller retries).

import { Adopt, allocObject, currentOwnedCell, defineKind, Handle, Role } from '../heap/handle.ts';
import { heap, heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { runAsync, runSync, type Op } from '../wait/driver.ts';
import { assertCanBlock, cas, exchange, load, notify } from '../wait/futex.ts';
import { PoisonError } from './poison.ts';

export const INCOMPLETE = 0, POISONED = 1, RUNNING = 2, COMPLETE = 3, QUEUED = 4;
/** i32 index of the state word, relative to the object's offset >> 2. */
export const ONCE_STATE = 2;

export interface OnceState {
  readonly isPoisoned: boolean;
}

/** Ends a run: publish `to` and wake the queue if anyone joined it. */
export function completeOnce(offset: number, to: number): void {
  const i = heap().i32;
  const at = (offset >> 2) + ONCE_STATE;
  if ((exchange(i, at, to) & QUEUED) !== 0) notify(i, at);
}

export interface RunOptions {
  /** State a throw leaves behind: POISONED (Once, LazyLock) or INCOMPLETE (OnceLock). */
  onThrow: number;
  /** Run even if poisoned (callOnceForce, OnceLock). */
  ignorePoison: boolean;
  what: string;
}

/**
 * Waits while another thread runs the Once. Returns null once it is complete, or the
 * state this caller moved to RUNNING from (it must then run the function).
 */
function* claim(offset: number, o: RunOptions): Op<number | null> {
  const i = heap().i32;
  const at = (offset >> 2) + ONCE_STATE;
  for (let s = load(i, at); ; ) {
    const base = s & ~QUEUED;
    if (base === COMPLETE) return null;
    if (base === INCOMPLETE || base === POISONED) {
      if (base === POISONED && !o.ignorePoison) throw poisoned(o.what);
      // Keep QUEUED: waiters that queued on an idle Once are woken when this run ends.
      const seen = cas(i, at, s, RUNNING | (s & QUEUED));
      if (seen === s) return base;
      s = seen;
    } else s = yield* queue(i, at, s);
  }
}

/** Waits until COMPLETE; throws PoisonError if the Once is (or becomes) poisoned. */
function* complete(offset: number, what: string, ignorePoison: boolean): Op<void> {
  const i = heap().i32;
  const at = (offset >> 2) + ONCE_STATE;
  for (let s = load(i, at); (s & ~QUEUED) !== COMPLETE; ) {
    if ((s & ~QUEUED) === POISONED && !ignorePoison) throw poisoned(what);
    s = yield* queue(i, at, s);
  }
}

/** Sets QUEUED (so the runner notifies) and sleeps until the state changes. */
function* queue(i: Int32Array, at: number, s: number): Op<number> {
  if ((s & QUEUED) === 0 && cas(i, at, s, s | QUEUED) !== s) return load(i, at);
  yield { index: at, expected: s | QUEUED };
  return load(i, at);
}

// While RUNNING, the run is recorded in the runner's owned table: a runner killed
// inside the function is ended by the runtime (the kind's releaseRole).
function started(offset: number): { cell: number; slot: number } {
  const cell = currentOwnedCell();
  return { cell, slot: ownedAdd(cell, offset + Role.Held) };
}

function ended(offset: number, run: { cell: number; slot: number }, to: number): void {
  ownedRemove(run.cell, run.slot);
  completeOnce(offset, to);
}

/** Runs `f` unless the Once is complete, waiting while another thread runs it. True if `f` ran. */
export function runOnce(offset: number, f: (state: OnceState) => void, o: RunOptions): boolean {
  const from = runSync(claim(offset, o), Infinity);
  if (from === null) return false;
  const run = started(offset);
  try {
    f({ isPoisoned: from === POISONED });
  } catch (e) {
    ended(offset, run, o.onThrow);
    throw e;
  }
  ended(offset, run, COMPLETE);
  return true;
}

/** runOnce for an async `f`; waiting keeps the event loop running. */
export async function runOnceAsync(offset: number, f: (state: OnceState) => Promise<void> | void, o: RunOptions): Promise<boolean> {
  const from = await runAsync(claim(offset, o), Infinity);
  if (from === null) return false;
  const run = started(offset);
  try {
    await f({ isPoisoned: from === POISONED });
  } catch (e) {
    ended(offset, run, o.onThrow);
    throw e;
  }
  ended(offset, run, COMPLETE);
  return true;
}

export function waitOnce(offset: number, what: string, ignorePoison = false): void {
  assertCanBlock(`${what}.wait()`, 'waitAsync()');
  runSync(complete(offset, what, ignorePoison), Infinity);
}

export function waitOnceAsync(offset: number, what: string, ignorePoison = false): Promise<void> {
  return runAsync(complete(offset, what, ignorePoison), Infinity);
}

function poisoned(what: string): PoisonError<undefined> {
  return new PoisonError(`${what} instance has previously been poisoned`, undefined);
}

/** The state word through fast fixed-length views: the completed path is this one load. */
const stateOf = (offset: number): number => load(heapCovering(offset + 12).i32, (offset >> 2) + ONCE_STATE);

/** Runs a function exactly once across all threads (Rust's std::sync::Once). */
export class Once extends Handle {
  constructor(adopt?: Adopt) {
    super(adopt?.offset ?? allocObject(Kind.Once, 8));
  }

  protected get kindName(): string {
    return 'Once';
  }

  /** Runs `f` if no thread has yet; otherwise waits for the one that is running it. */
  callOnce(f: () => void): void {
    // The completed fast path: one atomic load.
    if (stateOf(this.offset) === COMPLETE) return;
    this.checkOpen();
    runOnce(this.offset, () => f(), { onThrow: POISONED, ignorePoison: false, what: 'Once' });
  }

  /** Like callOnce, but runs even if poisoned; `state.isPoisoned` tells. Success clears the poison. */
  callOnceForce(f: (state: OnceState) => void): void {
    if (stateOf(this.offset) === COMPLETE) return;
    this.checkOpen();
    runOnce(this.offset, f, { onThrow: POISONED, ignorePoison: true, what: 'Once' });
  }

  /** callOnce with an async function; waiting keeps the event loop running. */
  async callOnceAsync(f: () => Promise<void>): Promise<void> {
    if (stateOf(this.offset) === COMPLETE) return;
    this.checkOpen();
    await runOnceAsync(this.offset, () => f(), { onThrow: POISONED, ignorePoison: false, what: 'Once' });
  }

  isCompleted(): boolean {
    return stateOf(this.offset) === COMPLETE;
  }

  /** Blocks until some thread completed the Once; throws PoisonError if it is poisoned. */
  wait(): void {
    this.checkOpen();
    waitOnce(this.offset, 'Once');
  }

  waitAsync(): Promise<void> {
    this.checkOpen();
    return waitOnceAsync(this.offset, 'Once');
  }
}

defineKind(Kind.Once, {
  name: 'Once',
  wrap: (p) => new Once(new Adopt(p)),
  // The runner's thread died inside the function.
  releaseRole: (p) => completeOnce(p, POISONED),
});
