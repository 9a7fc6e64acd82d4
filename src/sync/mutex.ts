// Mutex<T>: Rust's futex mutex with the owner in the lock word. The state word is 0
// when unlocked, else `owner << 1 | waiters`: `owner` names the holder's thread record
// (its offset / 8) and the low bit says that threads may be asleep on the word (Rust's
// CONTENDED). Beside it: a poison flag and the value's cell (value_cell.ts), where
// numbers, booleans, short strings and the like live in place.
//
// Owner died, with nothing but the lock word written on the fast path. A thread can
// only hold a mutex through a guard, and a guard pins one of the thread's handles of
// the mutex (a pinned handle's close waits for the unlock), whose ref is recorded in
// the thread's owned table. Every ref to a mutex carries role LOCKER, so the runtime
// calls releaseRole whenever one is given back, in particular for each ref of a
// thread that ended or was killed, however it died. releaseRole then looks at the
// word: a lock whose owner has ended is taken over, poisoned and released; one that
// is free or held by a live thread is left as it is. So the hold needs no record of
// its own, and no kill-safe section (critical.ts's would cost two read-modify-writes
// on each side, about twice a bare CAS lock).
//
// - Every sleeper on the word is woken by releaseRole: one woken alone might be dying
//   too (threads are often killed together), and a thread killed between its unlock's
//   exchange and its notify would otherwise leave a sleeper that nobody wakes.
// - "The owner has ended" is read from its record: a thread's outcome (R_RESULT) is
//   stored before its table is drained (finish.ts), never while it runs user code. A
//   record named by a lock word is not reused until that word is released, except in
//   a race where the owner's own drain releases it and a new thread on a reused record
//   takes it before releaseRole's compare-exchange: the taken-over lock is then given
//   back unchanged, which the record's thread id (never reused) tells.
// - A guard leaked unreleased and collected with its handle: the handle's ref is given
//   back by the finalizer while the thread still holds the lock. releaseRole then
//   records a new ref for the thread (unless another of its refs covers the hold), so
//   the lock is still released when the thread ends.
//
// No path that throws leaves the lock taken, except the PoisonError of lock(),
// tryLock() and lockAsync(), whose guard holds it on purpose (Rust's contract).

import { describeValue } from '../heap/describe.ts';
import { Adopt, currentOwnedCell, defineKind, Handle, isOpen, releaseRef, retain, type Describe, type RefState, type Role } from '../heap/handle.ts';
import { heapCovering, type Heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRefs } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { currentRecord } from '../thread/current.ts';
import { recordField, recordId, R_RESULT } from '../thread/record.ts';
import { checkSignal, runAsync, runSync, SPIN, type Op, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, cas, exchange, load, notify, store } from '../wait/futex.ts';
import { PoisonError } from './poison.ts';
import { allocWithLockValue, dropLockCell, ENCODED, fits, GuardValue, IN_PLACE_BYTES, peek, put, takeLockCell } from './value_cell.ts';

// i32 fields after the [kind, refcount] header. VALUE is the lock cell's tag (odd, so
// its payload, which follows it, is 8-aligned).
const STATE = 2, POISON = 3, VALUE = 5;
const OBJECT_BYTES = (VALUE + 1) * 4 + IN_PLACE_BYTES;
const UNLOCKED = 0, WAITERS = 1;
/** The owner the runtime names while it takes over a dead thread's lock (no record lies at offset 8). */
const RUNTIME = 1 << 1;
/**
 * The role of every ref to a mutex (roles are per kind; channels use 1 for senders):
 * its release asks whether the lock's owner has ended (see the header).
 */
const LOCKER = 1 as Role;
/** A guard's #pending when no in-place value waits for the unlock. */
const CLEAN: unique symbol = Symbol('clean');
// What a guard is doing with the lock.
const HELD = 0, RELEASED = -1, WAITING = -2;

/** The lock word of a lock held by the calling thread, with no waiters. */
const myWord = (): number => (currentRecord() >> 3) << 1;

/**
 * The holder's access to a {@link Mutex}'s value, returned by `lock()`, `lockAsync()` and
 * `tryLock()`. Read or assign `value`; `unlock()` (or `Symbol.dispose` via `using`)
 * writes changes back and releases the lock, once (later calls do nothing).
 *
 * @example
 * ```ts
 * const g = queue.lock();
 * try {
 *   g.value.push(job);
 * } finally {
 *   g.unlock();
 * }
 * ```
 */
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
  // The handle's RefState in a field of this class: checks on the lock paths see only
  // the few pinned kinds (see RefState).
  readonly #ref: RefState;
  #pins = 0;

  protected constructor(offset: number, role?: Role) {
    super(offset, role);
    this.#ref = this.refState;
  }

  [PIN](): void {
    this.#pins++;
  }

  [UNPIN](): void {
    if (--this.#pins === 0 && this.#ref.closing) super.dropRef();
  }

  protected override dropRef(): void {
    if (this.#pins > 0) this.#ref.closing = true;
    else super.dropRef();
  }

  protected override checkOpen(): void {
    if (!isOpen(this.#ref)) super.checkOpen();
  }
}

/** Fixed-length views covering the mutex object, value cell included (the fast ones, see heap.ts). */
const heapOf = (offset: number): Heap => heapCovering(offset + OBJECT_BYTES);
const viewsOf = (offset: number): Int32Array => heapOf(offset).i32;

class Guard<T> implements MutexGuard<T>, SuspendableGuard {
  // Pinned while the lock is held: the object outlives a close() of the handle.
  readonly #mutex: Mutex<T>;
  readonly #h: Heap; // views covering the whole object, value cell included
  #state: typeof HELD | typeof RELEASED | typeof WAITING;
  // Made for a stored value only: a lock used only for exclusion, or whose value lives
  // in place, never touches the codec. An in-place value assigned waits in #pending
  // for the unlock (CLEAN: none).
  #value: GuardValue<T> | undefined;
  #pending: T | typeof CLEAN;

  /** Called once the lock is ours; throws PoisonError (holding the lock) if poisoned. */
  constructor(mutex: Mutex<T>, h: Heap) {
    // Assigned here rather than by field initializers: one function call less per lock.
    this.#mutex = mutex;
    this.#h = h;
    this.#state = HELD;
    this.#value = undefined;
    this.#pending = CLEAN;
    mutex[PIN]();
    // A plain read suffices: the poison store precedes the unlock that let us in.
    if (h.i32[(mutex.offset >> 2) + POISON] !== 0) this.#poisoned();
  }

  get value(): T {
    this.#checkHeld();
    if (this.#value === undefined) {
      if (this.#pending !== CLEAN) return this.#pending;
      const v = peek(this.#h, this.#at());
      if (v !== ENCODED) return v as T;
    }
    return this.#cell().get();
  }

  set value(v: T) {
    this.#checkHeld();
    if (this.#value === undefined && fits(this.#h, this.#at(), v)) {
      this.#pending = v;
    } else {
      this.#cell().set(v);
    }
  }

  /**
   * Writes the value back and releases the lock. Idempotent. A value that cannot be
   * written back (unsendable, heap full) is dropped: the lock is released with the
   * old value kept, then the error is thrown.
   */
  unlock(): void {
    if (this.#state !== HELD) {
      if (this.#state === RELEASED) return;
      this.#checkHeld();
    }
    this.#state = RELEASED;
    // Writing a value back is out of line: a small unlock() is inlined into the caller.
    if (this.#value !== undefined || this.#pending !== CLEAN) {
      this.#writeBackAndRelease();
      return;
    }
    release(this.#h.i32, this.#mutex.offset);
    this.#mutex[UNPIN]();
  }

  #writeBackAndRelease(): void {
    try {
      if (this.#pending !== CLEAN) this.#putPending();
      this.#value?.flush();
    } finally {
      release(this.#h.i32, this.#mutex.offset);
      this.#mutex[UNPIN]();
    }
  }

  [Symbol.dispose](): void {
    this.unlock();
  }

  /** withLock's panic path: poisons and releases; changes to the value are dropped. */
  abandon(): void {
    this.#state = RELEASED;
    this.#pending = CLEAN;
    try {
      this.#value?.forget();
    } finally {
      store(this.#h.i32, (this.#mutex.offset >> 2) + POISON, 1);
      release(this.#h.i32, this.#mutex.offset);
      this.#mutex[UNPIN]();
    }
  }

  /** intoInner(): takes the value out (leaving the mutex empty) and releases the lock. */
  take(): T {
    this.#checkHeld();
    this.#value?.forget();
    this.#value = undefined;
    this.#pending = CLEAN;
    try {
      return takeLockCell<T>(this.#at());
    } finally {
      this.unlock();
    }
  }

  /** Condvar, first: writes the value back. Throws (lock still held, nothing changed) if it cannot. */
  commit(): void {
    this.#checkHeld();
    if (this.#pending !== CLEAN) this.#putPending();
    this.#value?.flush();
  }

  /** Condvar, once it has read its sequence: releases the lock; the guard waits for relock(). */
  suspend(): void {
    this.#state = WAITING;
    release(this.#h.i32, this.#mutex.offset);
  }

  /** Condvar: blocks until the lock is ours again; throws PoisonError (holding it) if poisoned meanwhile. */
  relock(): void {
    lockWord(this.#h.i32, this.#mutex.offset);
    this.#resume();
  }

  async relockAsync(): Promise<void> {
    await lockWordAsync(this.#h.i32, this.#mutex.offset);
    this.#resume();
  }

  #resume(): void {
    this.#state = HELD;
    if (this.#h.i32[(this.#mutex.offset >> 2) + POISON] !== 0) this.#poisoned();
  }

  #poisoned(): never {
    throw new PoisonError<MutexGuard<T>>('Mutex is poisoned: a thread panicked while holding it', this);
  }

  #at(): number {
    return (this.#mutex.offset >> 2) + VALUE;
  }

  /** Writes the assigned in-place value into the cell. */
  #putPending(): void {
    put(this.#h, this.#at(), this.#pending);
    this.#pending = CLEAN;
  }

  /** The stored-value side; an assigned in-place value moves into it. */
  #cell(): GuardValue<T> {
    if (this.#value !== undefined) return this.#value;
    const cell = new GuardValue<T>(this.#at());
    if (this.#pending !== CLEAN) {
      cell.set(this.#pending);
      this.#pending = CLEAN;
    }
    return (this.#value = cell);
  }

  #checkHeld(): void {
    if (this.#state === WAITING) throw new TypeError('MutexGuard used while a Condvar wait on it is in progress');
    if (this.#state !== HELD) throw new TypeError('MutexGuard used after unlock()');
  }
}

/** Releases the word and wakes a sleeper if there may be one. */
function release(i: Int32Array, offset: number): void {
  if ((exchange(i, (offset >> 2) + STATE, UNLOCKED) & WAITERS) !== 0) notify(i, (offset >> 2) + STATE, 1);
}

/** Takes the lock for `me` (myWord()) if it is free now. */
const tryAcquire = (i: Int32Array, offset: number, me: number): boolean => cas(i, (offset >> 2) + STATE, UNLOCKED, me) === UNLOCKED;

/** Takes the lock, blocking this thread. */
function lockWord(i: Int32Array, offset: number): void {
  const me = myWord();
  if (cas(i, (offset >> 2) + STATE, UNLOCKED, me) !== UNLOCKED) runSync(lockContended(i, offset, me), Infinity);
}

/** Takes the lock, keeping the event loop running. */
async function lockWordAsync(i: Int32Array, offset: number, signal?: AbortSignal): Promise<void> {
  const me = myWord();
  if (cas(i, (offset >> 2) + STATE, UNLOCKED, me) !== UNLOCKED) await runAsync(lockContended(i, offset, me), Infinity, signal);
}

/**
 * Rust's lock_contended as a driver op (wait/driver.ts runs it blocking or async). Where Rust swaps in CONTENDED, which also
 * takes a free lock, this sets the waiters bit on a held word (keeping its owner) and
 * takes a free one as `me | WAITERS`: a sleeper may remain, and the unlock must wake it.
 * An abort registers nothing to undo: a waiters bit it leaves costs one spurious
 * wake, and the driver wakes the word's other sleepers in case the unlocker's single
 * wake had gone to this one.
 */
function* lockContended(i: Int32Array, offset: number, me: number): Op<void> {
  const at = (offset >> 2) + STATE;
  let s = yield* spin(i, at);
  if (s === UNLOCKED) {
    s = cas(i, at, UNLOCKED, me);
    if (s === UNLOCKED) return;
  }
  for (;;) {
    if (s === UNLOCKED) {
      s = cas(i, at, UNLOCKED, me | WAITERS);
      if (s === UNLOCKED) return;
      continue;
    }
    if ((s & WAITERS) === 0) {
      const seen = cas(i, at, s, s | WAITERS);
      if (seen !== s) {
        s = seen;
        continue;
      }
      s |= WAITERS;
    }
    yield { index: at, expected: s };
    s = yield* spin(i, at);
  }
}

/** Spins while the lock is held without waiters: its holder may be about to release it. */
function* spin(i: Int32Array, at: number): Op<number> {
  for (;;) {
    const s = load(i, at);
    if (s === UNLOCKED || (s & WAITERS) !== 0 || (yield SPIN)) return s;
  }
}

/**
 * A mutual-exclusion lock over a value in the shared heap (Rust's `std::sync::Mutex<T>`).
 *
 * Pass it to `spawn`, send it or keep it in another value: it is the same lock in every
 * thread (shared like `Arc`). `lock()` returns a guard whose `value` is the data; changes
 * made through the guard are written back when it is released (`unlock()`, or the end of
 * a `using` block). Numbers, booleans, `null`/`undefined`, 64-bit bigints and strings of
 * up to 16 UTF-16 units live in the lock's own block; other values go through the
 * structured codec.
 *
 * @example
 * ```ts
 * const hits = new Mutex(0);
 * spawn((m: Mutex<number>) => {
 *   using g = m.lock();       // plain JS: const g = m.lock(); try { ... } finally { g.unlock(); }
 *   g.value++;
 * }, hits).join();
 * hits.withLock((n) => n);    // 1
 * ```
 *
 * @remarks
 * Blocking / async: `lock()` blocks the thread (`Atomics.wait`); `lockAsync({ signal })`
 * keeps the event loop running and, when aborted, rejects with `signal.reason` without
 * taking the lock. `tryLock()` never waits; `withLock(f)` locks, runs `f`, unlocks.
 *
 * Ordering: taking the lock synchronises with the release that freed it (everything the
 * previous holder wrote, in the heap or in the value, is visible to the next one), as in
 * Rust. Fairness: none, as in Rust's futex mutex; a releasing thread may take the lock
 * again before a woken waiter, which keeps throughput high under contention.
 *
 * Holder death: if the holding thread throws inside `withLock`, ends, or is killed
 * (`terminate()`, `process.exit()`, a crash) while holding the lock, the mutex is
 * poisoned and released by the runtime; no waiter is left blocked.
 *
 * @throws {@link PoisonError} from `lock()`, `lockAsync()`, `tryLock()` and `withLock()`
 * when a holder panicked; the error's `guard` / `intoInner()` still gives the lock.
 * @throws `Error` from `lock()` when this thread already holds the lock (it would wait
 * forever); `TypeError` for a value the codec cannot carry, or a blocking call where
 * blocking is impossible (a browser's main thread: use `lockAsync`).
 */
export class Mutex<T = undefined> extends PinnedHandle {
  // Views covering the object, and this thread's locked word: a handle is only ever
  // used by the thread that made it (Handle.checkOpen()), so both stay valid.
  readonly #h: Heap;
  readonly #me: number;

  constructor(value?: T);
  /** @internal */
  constructor(value?: T | Adopt);
  constructor(value?: T | Adopt) {
    super(value instanceof Adopt ? value.offset : allocWithLockValue(Kind.Mutex, OBJECT_BYTES - 8, VALUE, value, LOCKER), LOCKER);
    this.#h = heapOf(this.offset);
    this.#me = myWord();
  }

  /** @internal */
  protected get kindName(): string {
    return 'Mutex';
  }

  /** @internal Like Rust's Debug: the value only if the lock is free now (taken with tryLock). */
  protected override describe(render: Describe): string {
    let g: MutexGuard<T> | undefined;
    try {
      g = this.tryLock();
    } catch (e) {
      if (!(e instanceof PoisonError)) throw e;
      g = e.guard as MutexGuard<T>;
    }
    const head = `Mutex<${g ? 'unlocked' : 'locked'}, poisoned=${this.isPoisoned()}>`;
    if (!g) return render(head);
    try {
      return render(head, { value: g.value });
    } finally {
      g.unlock();
    }
  }

  /**
   * Blocks until the lock is ours. Throws PoisonError if poisoned (the lock is then
   * held by its guard). Throws Error if this thread already holds it (through any
   * guard, sync or async): waiting would never end.
   */
  lock(): MutexGuard<T> {
    this.checkOpen();
    assertCanBlock('Mutex.lock()', 'lockAsync()');
    const h = this.#h;
    // The rest is out of line: a small lock() is inlined into the caller's loop.
    if (cas(h.i32, (this.offset >> 2) + STATE, UNLOCKED, this.#me) !== UNLOCKED) this.#lockContended();
    return new Guard(this, h);
  }

  #lockContended(): void {
    const i = this.#h.i32;
    const me = this.#me;
    if ((load(i, (this.offset >> 2) + STATE) & ~WAITERS) === me) {
      throw new Error(
        'Mutex.lock(): this thread already holds the lock, waiting for it would deadlock; ' +
          'unlock the guard first (weft locks are not reentrant)',
      );
    }
    runSync(lockContended(i, this.offset, me), Infinity);
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
    const h = this.#h;
    if (tryAcquire(h.i32, this.offset, this.#me)) return new Guard(this, h);
    this[PIN]();
    try {
      await runAsync(lockContended(h.i32, this.offset, this.#me), Infinity, signal);
      if (this.released) {
        release(h.i32, this.offset);
        throw new TypeError('Mutex was closed while lockAsync() waited for it');
      }
      return new Guard(this, h);
    } finally {
      this[UNPIN]();
    }
  }

  /** The guard if the lock is free now, else undefined. Throws PoisonError like lock(). */
  tryLock(): MutexGuard<T> | undefined {
    this.checkOpen();
    return tryAcquire(this.#h.i32, this.offset, this.#me) ? new Guard(this, this.#h) : undefined;
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

/**
 * A ref to the mutex at `p` is being given back (see the header): if the lock's owner
 * has ended, take the lock over, poison and release it; if it is this thread, which
 * may have lost its last recorded ref while holding the lock, record a new one. Then
 * wake every sleeper.
 */
function releaseLocker(p: number): void {
  const i = viewsOf(p);
  const at = (p >> 2) + STATE;
  const s = load(i, at);
  if (s !== UNLOCKED && (s & ~WAITERS) !== RUNTIME) {
    const owner = (s >>> 1) << 3;
    const id = recordId(owner);
    if (load(heapCovering((recordField(owner, R_RESULT) + 1) << 2).i32, recordField(owner, R_RESULT)) !== 0) takeOver(i, p, s, owner, id);
    else if (owner === currentRecord()) keepRecorded(p);
  }
  notify(i, at);
}

/** Takes over, poisons and releases the lock whose word was `s`, naming `owner` (thread `id`), which has ended. */
function takeOver(i: Int32Array, p: number, s: number, owner: number, id: number): void {
  const at = (p >> 2) + STATE;
  for (;;) {
    const seen = cas(i, at, s, RUNTIME);
    if (seen === s) break;
    if ((seen & ~WAITERS) !== (s & ~WAITERS)) return; // released meanwhile (by the owner's drain)
    s = seen; // a waiter set its bit
  }
  if (recordId(owner) !== id) {
    // The owner's drain released it and a new thread on the reused record took it: give it back.
    for (let cur = load(i, at); (cur & ~WAITERS) === RUNTIME; cur = load(i, at)) {
      if (cas(i, at, cur, (s & ~WAITERS) | (cur & WAITERS)) === cur) return;
    }
    return;
  }
  // The poison store precedes the unlock, so whoever takes the lock next sees it.
  store(i, (p >> 2) + POISON, 1);
  exchange(i, at, UNLOCKED);
}

/** Records one more ref to the mutex at `p` for this thread, which holds its lock, unless one is recorded already. */
function keepRecorded(p: number): void {
  const cell = currentOwnedCell();
  if (ownedRefs(cell).includes(p + LOCKER)) return;
  enterCritical();
  try {
    retain(p);
    try {
      ownedAdd(cell, p + LOCKER);
    } catch {
      releaseRef(p); // the table cannot grow (heap full): a plain give-back, nothing more to do
    }
  } finally {
    leaveCritical();
  }
}

defineKind(Kind.Mutex, {
  name: 'Mutex',
  wrap: (p, role) => new Mutex(new Adopt(p, role)),
  releaseRole: releaseLocker,
  drop: (p) => dropLockCell((p >> 2) + VALUE),
});
