// Mutex<T>: Rust's futex mutex (0 unlocked, 1 locked, 2 locked with waiters) in the
// heap, plus the owner's thread id and a poison flag. The value is a stored value
// beside them (value_cell.ts), decoded by a guard on first access and written back
// when the guard unlocks.
//
// A held lock is recorded in the holder's owned table (Role.Held). When the holder's
// thread ends or is killed with the lock held, the runtime calls releaseRole, which
// poisons the mutex and unlocks it, so no waiter is left blocked.
//
// No path that throws leaves the lock taken, except the PoisonError of lock(),
// tryLock() and lockAsync(), whose guard holds it on purpose (Rust's contract).

import { describeValue } from '../heap/describe.ts';
import { Adopt, currentOwnedCell, defineKind, Handle, Role } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { currentThreadId } from '../thread/current.ts';
import { checkSignal, runAsync, runSync, SPIN, type Op, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, cas, exchange, load, notify, store } from '../wait/futex.ts';
import { PoisonError } from './poison.ts';
import { allocWithValue, dropCell, GuardValue, takeCell } from './value_cell.ts';

// i32 fields after the [kind, refcount] header.
const STATE = 2, OWNER = 3, POISON = 4, VALUE = 5;
const OBJECT_BYTES = 24;
const UNLOCKED = 0, LOCKED = 1, CONTENDED = 2;
// A guard's slot when it has no entry in the owned table.
const RELEASED = -1, WAITING = -2;

/** Access to a locked Mutex's value; unlock() (or `using`) releases it. */
export interface MutexGuard<T> {
  value: T;
  unlock(): void;
  [Symbol.dispose](): void;
}

export const PIN: unique symbol = Symbol('pin');
export const UNPIN: unique symbol = Symbol('unpin');

/**
 * A handle whose object this thread may be using through something other than the
 * handle (a held guard, a pending async wait). Closing the last handle would free the
 * object under them, so close() is deferred until the last such use ends (a JS count:
 * nothing on the lock's hot path); from the close on, the handle refuses new uses.
 */
export abstract class PinnedHandle extends Handle {
  #pins = 0;
  #closing = false;

  [PIN](): void {
    this.#pins++;
  }

  [UNPIN](): void {
    if (--this.#pins === 0 && this.#closing) super.dropRef();
  }

  protected override dropRef(): void {
    if (this.#pins > 0) this.#closing = true;
    else super.dropRef();
  }

  protected override checkOpen(): void {
    if (this.#closing) throw new TypeError(`${this.kindName} is closed`);
    super.checkOpen();
  }

  override get released(): boolean {
    return this.#closing || super.released;
  }
}

/** Fixed-length views covering the mutex object (the fast ones, see heap.ts). */
const viewsOf = (offset: number): Int32Array => heapCovering(offset + OBJECT_BYTES).i32;

class Guard<T> implements MutexGuard<T>, SuspendableGuard {
  // Pinned while the lock is held: the object outlives a close() of the handle.
  readonly #mutex: Mutex<T>;
  readonly #i: Int32Array;
  #slot: number;
  // Made on first access: a lock used only for exclusion never touches the codec.
  #value: GuardValue<T> | undefined;

  /** Called once the lock is ours and recorded in `slot`; throws PoisonError (holding the lock) if poisoned. */
  constructor(mutex: Mutex<T>, i: Int32Array, slot: number) {
    this.#mutex = mutex;
    this.#i = i;
    this.#slot = slot;
    mutex[PIN]();
    this.#checkPoison();
  }

  get value(): T {
    this.#checkHeld();
    // An empty cell (Mutex<undefined>) reads as undefined without making a decoder.
    if (this.#value === undefined && this.#i[(this.#mutex.offset >> 2) + VALUE] === 0) return undefined as T;
    return this.#cell().get();
  }

  set value(v: T) {
    this.#checkHeld();
    this.#cell().set(v);
  }

  /**
   * Writes the value back and releases the lock. Idempotent. A value that cannot be
   * written back (unsendable, heap full) is dropped: the lock is released with the
   * old value kept, then the error is thrown.
   */
  unlock(): void {
    if (this.#slot === RELEASED) return;
    this.#checkHeld();
    const slot = this.#slot;
    this.#slot = RELEASED;
    try {
      this.#value?.flush();
    } finally {
      release(this.#i, this.#mutex.offset, slot);
      this.#mutex[UNPIN]();
    }
  }

  [Symbol.dispose](): void {
    this.unlock();
  }

  /** withLock's panic path: poisons and releases; changes to the value are dropped. */
  abandon(): void {
    const slot = this.#slot;
    this.#slot = RELEASED;
    try {
      this.#value?.forget();
    } finally {
      store(this.#i, (this.#mutex.offset >> 2) + POISON, 1);
      release(this.#i, this.#mutex.offset, slot);
      this.#mutex[UNPIN]();
    }
  }

  /** intoInner(): takes the value out (leaving the mutex empty) and releases the lock. */
  take(): T {
    this.#checkHeld();
    this.#value?.forget();
    this.#value = undefined;
    try {
      return takeCell<T>((this.#mutex.offset >> 2) + VALUE);
    } finally {
      this.unlock();
    }
  }

  /** Condvar, first: writes the value back. Throws (lock still held, nothing changed) if it cannot. */
  commit(): void {
    this.#checkHeld();
    this.#value?.flush();
  }

  /** Condvar, once it has read its sequence: releases the lock; the guard waits for relock(). */
  suspend(): void {
    const slot = this.#slot;
    this.#slot = WAITING;
    release(this.#i, this.#mutex.offset, slot);
  }

  /** Condvar: blocks until the lock is ours again; throws PoisonError (holding it) if poisoned meanwhile. */
  relock(): void {
    this.#resume(lockWord(this.#i, this.#mutex.offset));
  }

  async relockAsync(): Promise<void> {
    this.#resume(await lockWordAsync(this.#i, this.#mutex.offset));
  }

  #resume(slot: number): void {
    this.#slot = slot;
    this.#checkPoison();
  }

  #checkPoison(): void {
    // A plain read suffices: the poison store precedes the unlock that let us in.
    if (this.#i[(this.#mutex.offset >> 2) + POISON] !== 0) {
      throw new PoisonError<MutexGuard<T>>('Mutex is poisoned: a thread panicked while holding it', this);
    }
  }

  #cell(): GuardValue<T> {
    return (this.#value ??= new GuardValue<T>((this.#mutex.offset >> 2) + VALUE));
  }

  #checkHeld(): void {
    if (this.#slot === WAITING) throw new TypeError('MutexGuard used while a Condvar wait on it is in progress');
    if (this.#slot < 0) throw new TypeError('MutexGuard used after unlock()');
  }
}

/** Once the state word is ours: records the owner and the hold; returns the owned-table slot. */
function hold(i: Int32Array, offset: number): number {
  // OWNER is only ever compared with the reader's own id (see lock()), so plain
  // accesses suffice: a thread always sees its own latest write.
  i[(offset >> 2) + OWNER] = currentThreadId();
  try {
    return ownedAdd(currentOwnedCell(), offset + Role.Held);
  } catch (e) {
    unlockWord(i, offset); // the table could not grow (heap full): give the lock back
    throw e;
  }
}

/**
 * Takes the state word and records the hold in one kill-safe section (critical.ts): a
 * thread killed between the two would leave a lock no cleanup can see. `to` is LOCKED
 * (a compare-exchange from UNLOCKED) or CONTENDED (Rust's exchange, which also marks
 * a held lock as having waiters). Returns the owned-table slot, or -1 if it was held.
 */
function acquire(i: Int32Array, offset: number, to: typeof LOCKED | typeof CONTENDED): number {
  const at = (offset >> 2) + STATE;
  enterCritical();
  try {
    const was = to === LOCKED ? cas(i, at, UNLOCKED, LOCKED) : exchange(i, at, CONTENDED);
    return was === UNLOCKED ? hold(i, offset) : -1;
  } finally {
    leaveCritical();
  }
}

/** Forgets the hold and unlocks, in one kill-safe section. */
function release(i: Int32Array, offset: number, slot: number): void {
  enterCritical();
  try {
    ownedRemove(currentOwnedCell(), slot);
    unlockWord(i, offset);
  } finally {
    leaveCritical();
  }
}

function unlockWord(i: Int32Array, offset: number): void {
  i[(offset >> 2) + OWNER] = 0;
  if (exchange(i, (offset >> 2) + STATE, UNLOCKED) === CONTENDED) notify(i, (offset >> 2) + STATE, 1);
}

/** Takes the lock, blocking this thread; returns the hold's slot. */
function lockWord(i: Int32Array, offset: number): number {
  const slot = acquire(i, offset, LOCKED);
  return slot >= 0 ? slot : runSync(lockContended(i, offset), Infinity);
}

/** Takes the lock, keeping the event loop running; returns the hold's slot. */
async function lockWordAsync(i: Int32Array, offset: number, signal?: AbortSignal): Promise<number> {
  const slot = acquire(i, offset, LOCKED);
  return slot >= 0 ? slot : runAsync(lockContended(i, offset), Infinity, signal);
}

/**
 * Rust's lock_contended as a driver op (wait/driver.ts runs it blocking or async).
 * An abort registers nothing to undo: a CONTENDED mark it leaves costs one spurious
 * wake, and the driver wakes the word's other sleepers in case the unlocker's single
 * wake had gone to this one.
 */
function* lockContended(i: Int32Array, offset: number): Op<number> {
  const at = (offset >> 2) + STATE;
  let state = yield* spin(i, at);
  if (state === UNLOCKED) {
    const slot = acquire(i, offset, LOCKED);
    if (slot >= 0) return slot;
    state = load(i, at);
  }
  for (;;) {
    // Marking the word contended makes the unlocker wake a waiter; if it was unlocked, it is ours.
    if (state !== CONTENDED) {
      const slot = acquire(i, offset, CONTENDED);
      if (slot >= 0) return slot;
    }
    yield { index: at, expected: CONTENDED };
    state = yield* spin(i, at);
  }
}

/** Spins while the lock is held without waiters: its holder may be about to release it. */
function* spin(i: Int32Array, at: number): Op<number> {
  for (;;) {
    const state = load(i, at);
    if (state !== LOCKED || (yield SPIN)) return state;
  }
}

export class Mutex<T = undefined> extends PinnedHandle {
  constructor(value?: T | Adopt) {
    super(value instanceof Adopt ? value.offset : allocWithValue(Kind.Mutex, OBJECT_BYTES - 8, VALUE, value));
  }

  protected get kindName(): string {
    return 'Mutex';
  }

  /**
   * Blocks until the lock is ours. Throws PoisonError if poisoned (the lock is then
   * held by its guard). Throws Error if this thread already holds it (through any
   * guard, sync or async): waiting would never end.
   */
  lock(): MutexGuard<T> {
    this.checkOpen();
    assertCanBlock('Mutex.lock()', 'lockAsync()');
    const i = viewsOf(this.offset);
    let slot = acquire(i, this.offset, LOCKED);
    if (slot < 0) {
      if (i[(this.offset >> 2) + OWNER] === currentThreadId()) {
        throw new Error(
          'Mutex.lock(): this thread already holds the lock, waiting for it would deadlock; ' +
            'unlock the guard first (weft locks are not reentrant)',
        );
      }
      slot = runSync(lockContended(i, this.offset), Infinity);
    }
    return new Guard(this, i, slot);
  }

  /**
   * Like lock(), keeping the event loop running while it waits. Another task of this
   * thread may hold the lock meanwhile (it can release it while this one waits), so
   * this does not treat that as a deadlock. Aborting `signal` rejects with its reason
   * and takes nothing; closing this handle while it waits rejects with TypeError.
   */
  async lockAsync(options?: WaitOptions): Promise<MutexGuard<T>> {
    const signal = checkSignal(options, 'Mutex.lockAsync()');
    this.checkOpen();
    const i = viewsOf(this.offset);
    const slot = acquire(i, this.offset, LOCKED);
    if (slot >= 0) return new Guard(this, i, slot);
    this[PIN]();
    try {
      const slot = await runAsync(lockContended(i, this.offset), Infinity, signal);
      if (this.released) {
        release(i, this.offset, slot);
        throw new TypeError('Mutex was closed while lockAsync() waited for it');
      }
      return new Guard(this, i, slot);
    } finally {
      this[UNPIN]();
    }
  }

  /** The guard if the lock is free now, else undefined. Throws PoisonError like lock(). */
  tryLock(): MutexGuard<T> | undefined {
    this.checkOpen();
    const i = viewsOf(this.offset);
    const slot = acquire(i, this.offset, LOCKED);
    return slot < 0 ? undefined : new Guard(this, i, slot);
  }

  /**
   * Runs `f` with the value under the lock; changes to an object value persist. If
   * `f` throws, its changes are dropped, the mutex is poisoned and released, and the
   * error rethrown. `f` must be synchronous (the lock is released when it returns);
   * for async work hold a guard from lockAsync(). On a poisoned mutex it throws
   * PoisonError without running `f`, and the lock is released (its guard is spent).
   */
  withLock<R>(f: (value: T) => R): R {
    let g: Guard<T>;
    try {
      g = this.lock() as Guard<T>;
    } catch (e) {
      if (e instanceof PoisonError && e.guard instanceof Guard) e.guard.unlock();
      throw e;
    }
    let r: R;
    try {
      r = f(g.value);
    } catch (e) {
      g.abandon();
      throw e;
    }
    g.unlock();
    return r;
  }

  /**
   * Takes the value out and closes this handle (Rust's into_inner). Other handles of
   * the mutex find it empty (undefined) from then on. Waits for the lock like lock().
   * On a poisoned mutex it still takes the value and closes, then throws PoisonError
   * whose intoInner() is the value.
   */
  intoInner(): T {
    let g: Guard<T>;
    try {
      g = this.lock() as Guard<T>;
    } catch (e) {
      if (!(e instanceof PoisonError && e.guard instanceof Guard)) throw e;
      const value = (e.guard as Guard<T>).take();
      this.close();
      throw new PoisonError<T>('Mutex is poisoned: a thread panicked while holding it; intoInner() has the value', value);
    }
    const value = g.take();
    this.close();
    return value;
  }

  isPoisoned(): boolean {
    this.checkOpen();
    return load(viewsOf(this.offset), (this.offset >> 2) + POISON) !== 0;
  }

  clearPoison(): void {
    this.checkOpen();
    store(viewsOf(this.offset), (this.offset >> 2) + POISON, 0);
  }
}

/** What Condvar does with a guard: release its lock around a wait (see Guard). */
export interface SuspendableGuard {
  commit(): void;
  suspend(): void;
  relock(): void;
  relockAsync(): Promise<void>;
}

/** The guard behind a MutexGuard; TypeError for anything else, or one that is not held. */
export function suspendable<T>(guard: MutexGuard<T>, call: string): SuspendableGuard {
  if (!(guard instanceof Guard)) {
    const hint = guard instanceof Handle ? ' (pass the guard its lock() returned)' : '';
    throw new TypeError(`${call}: expected a MutexGuard from Mutex.lock(), got ${describeValue(guard)}${hint}`);
  }
  return guard;
}

defineKind(Kind.Mutex, {
  name: 'Mutex',
  wrap: (p) => new Mutex(new Adopt(p)),
  // The holder's thread ended or died with the lock held: poison it and let the
  // waiters in. All of them: one woken alone might be dying too (threads are often
  // killed together), and this path is rare.
  releaseRole(p) {
    const i = viewsOf(p);
    store(i, (p >> 2) + POISON, 1);
    i[(p >> 2) + OWNER] = 0;
    if (exchange(i, (p >> 2) + STATE, UNLOCKED) === CONTENDED) notify(i, (p >> 2) + STATE);
  },
  drop: (p) => dropCell((p >> 2) + VALUE),
});
