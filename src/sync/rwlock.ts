// RwLock<T>: Rust's futex RwLock, writer-preferring. The state word holds the reader
// count (MASK when write-locked) and two flags, READERS_WAITING and WRITERS_WAITING;
// writers sleep on a separate writerNotify counter, so waking a writer does not wake
// the readers. Only writers poison: a thread that ends holding a read lock just
// releases it (Role.HeldShared), one that ends holding the write lock poisons it
// (Role.Held).
//
// Taking the state word and recording the hold in the owned table happen in one
// kill-safe section (thread/critical.ts), and so do forgetting the hold and unlocking,
// and downgrade's whole switch: a thread killed between two of those steps would
// leave a lock that no cleanup can see, or readers that nobody wakes.
//
// A writer that waits is counted in WRITERS_ASLEEP and recorded in its owned table
// (Role.Claim) in one section, and leaves both in the section that takes the lock or
// gives up. If its thread dies meanwhile (asleep, or woken by an unlocker and not yet
// in), the runtime gives up for it as an aborted writer does: it wakes the other
// writers (the dead one may have taken the unlocker's wake), clears WRITERS_WAITING if
// it was the last writer waiting, and lets in the readers that queued behind it.
//
// No path that throws leaves a lock taken, except the PoisonError of a write (or a
// read of a poisoned lock), whose guard holds it on purpose (Rust's contract).

import { Adopt, currentOwnedCell, defineKind, Role, type Describe } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedGeneration, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { currentThreadId } from '../thread/current.ts';
import { checkSignal, runAsync, runSync, SPIN, type Op, type WaitOptions } from '../wait/driver.ts';
import { add, and, assertCanBlock, cas, load, notify, store } from '../wait/futex.ts';
import { PIN, PinnedHandle, UNPIN } from './mutex.ts';
import { PoisonError } from './poison.ts';
import {
  allocWithLockValue, cellViews, dropLockCell, ENCODED, GuardValue, IN_PLACE_BYTES, peek, takeLockCell,
} from './value_cell.ts';

// i32 fields after the [kind, refcount] header.
// WRITERS_ASLEEP counts writers between announcing themselves and taking the lock, so
// that the last one to give up (an abort, or the runtime for a dead one) knows to clear
// WRITERS_WAITING. VALUE is the lock cell's tag (odd, so its payload, which follows it,
// is 8-aligned; value_cell.ts).
const STATE = 2, WRITER_NOTIFY = 3, WRITERS_ASLEEP = 4, POISON = 5, VALUE = 7;
const OBJECT_BYTES = (VALUE + 1) * 4 + IN_PLACE_BYTES;
const MASK = (1 << 30) - 1;
const WRITE_LOCKED = MASK;
const MAX_READERS = MASK - 1;
const READERS_WAITING = 1 << 30;
const WRITERS_WAITING = 1 << 31; // the sign bit: states read back from the Int32Array match
const RELEASED = -1;

const isUnlocked = (s: number) => (s & MASK) === 0;
const isWriteLocked = (s: number) => (s & MASK) === WRITE_LOCKED;
const hasReadersWaiting = (s: number) => (s & READERS_WAITING) !== 0;
const hasWritersWaiting = (s: number) => (s & WRITERS_WAITING) !== 0;
// Writer-preferring: a new reader queues behind any waiting writer. Waiting readers
// also keep it out: that happens only just after an unlock, while the unlocker
// decides whom to wake.
const isReadLockable = (s: number) => (s & MASK) < MAX_READERS && !hasReadersWaiting(s) && !hasWritersWaiting(s);

/** Read access: `value` is a decoded copy (or an in-place value); changes to it are not written back. */
export interface RwLockReadGuard<T> {
  readonly value: T;
  unlock(): void;
  [Symbol.dispose](): void;
}

/** Write access: assignments and in-place changes to `value` are written back on unlock. */
export interface RwLockWriteGuard<T> {
  value: T;
  unlock(): void;
  /** Writes the value back and turns the write lock into a read lock, letting no writer in between. */
  downgrade(): RwLockReadGuard<T>;
  [Symbol.dispose](): void;
}

// The locks this thread holds, for the self-deadlock checks of read() and write():
// offset -> number of read guards, or WRITE_HELD. A worker runs one thread after
// another, and a thread that ended had its locks released by the runtime: the map
// belongs to the thread whose id it was filled under.
const WRITE_HELD = -1;
const heldHere = new Map<number, number>();
let heldHereThread = 0;

function heldBy(offset: number): number {
  const me = currentThreadId();
  if (heldHereThread !== me) {
    heldHere.clear();
    heldHereThread = me;
  }
  return heldHere.get(offset) ?? 0;
}

/** Records that this thread took (+1) or gave back (-1) a read guard of the lock at `offset`. */
function noteRead(offset: number, delta: 1 | -1): void {
  const n = heldBy(offset) + delta;
  if (n === 0) heldHere.delete(offset);
  else heldHere.set(offset, n);
}

/** Records that this thread took or gave back the write lock at `offset`. */
function noteWrite(offset: number, held: boolean): void {
  heldBy(offset);
  if (held) heldHere.set(offset, WRITE_HELD);
  else heldHere.delete(offset);
}

/** Fixed-length views covering the lock object (the fast ones, see heap.ts). */
const viewsOf = (offset: number): Int32Array => heapCovering(offset + OBJECT_BYTES).i32;

class ReadGuard<T> implements RwLockReadGuard<T> {
  // Pinned while the lock is held: the object outlives a close() of the handle.
  readonly #lock: RwLock<T>;
  readonly #i: Int32Array;
  #slot: number;
  // A stored value, decoded on first access and never written back; its handles are
  // borrowed until unlock. An in-place value is read from the cell each time.
  #value: GuardValue<T> | undefined;

  /** Called once the read lock is ours and recorded in `slot`. */
  constructor(lock: RwLock<T>, i: Int32Array, slot: number) {
    this.#lock = lock;
    this.#i = i;
    this.#slot = slot;
    lock[PIN]();
    noteRead(lock.offset, 1);
  }

  get value(): T {
    if (this.#slot < 0) throw new TypeError('RwLockReadGuard used after unlock()');
    const at = (this.#lock.offset >> 2) + VALUE;
    if (this.#value === undefined) {
      const v = peek(cellViews(at), at);
      if (v !== ENCODED) return v as T;
    }
    return (this.#value ??= new GuardValue<T>(at)).get();
  }

  unlock(): void {
    if (this.#slot < 0) return;
    const slot = this.#slot;
    this.#slot = RELEASED;
    try {
      this.#value?.forget();
    } finally {
      noteRead(this.#lock.offset, -1);
      release(this.#i, this.#lock.offset, slot, Role.HeldShared);
      this.#lock[UNPIN]();
    }
  }

  [Symbol.dispose](): void {
    this.unlock();
  }
}

class WriteGuard<T> implements RwLockWriteGuard<T> {
  // Pinned while the lock is held: the object outlives a close() of the handle.
  readonly #lock: RwLock<T>;
  readonly #i: Int32Array;
  #slot: number;
  // Made on assignment or for a stored value: a lock used only for exclusion, or whose
  // in-place value is only read, never makes one.
  #value: GuardValue<T> | undefined;

  /** Called once the write lock is ours and recorded in `slot`. */
  constructor(lock: RwLock<T>, i: Int32Array, slot: number) {
    this.#lock = lock;
    this.#i = i;
    this.#slot = slot;
    lock[PIN]();
    noteWrite(lock.offset, true);
  }

  get value(): T {
    this.#checkHeld();
    if (this.#value === undefined) {
      const at = (this.#lock.offset >> 2) + VALUE;
      const v = peek(cellViews(at), at);
      if (v !== ENCODED) return v as T;
    }
    return this.#cell().get();
  }

  set value(v: T) {
    this.#checkHeld();
    this.#cell().set(v); // written back at the unlock, in place if it fits (no codec then)
  }

  #cell(): GuardValue<T> {
    return (this.#value ??= new GuardValue<T>((this.#lock.offset >> 2) + VALUE));
  }

  #checkHeld(): void {
    if (this.#slot < 0) throw new TypeError('RwLockWriteGuard used after unlock()');
  }

  /**
   * Writes the value back and releases the lock. Idempotent. A value that cannot be
   * written back is dropped: the lock is released with the old value kept, then the
   * error is thrown.
   */
  unlock(): void {
    if (this.#slot < 0) return;
    const slot = this.#slot;
    this.#slot = RELEASED;
    try {
      this.#value?.flush();
    } finally {
      // Still recorded during the write-back: a thread killed in it leaves the lock poisoned, not stuck.
      noteWrite(this.#lock.offset, false);
      release(this.#i, this.#lock.offset, slot, Role.Held);
      this.#lock[UNPIN]();
    }
  }

  /**
   * Writes the value back, then makes the write lock a read lock in one step (Rust's
   * downgrade): no writer gets in between. If the value cannot be written back it
   * throws with the write lock still held and the old value in place.
   */
  downgrade(): RwLockReadGuard<T> {
    this.#checkHeld();
    this.#value?.flush();
    const readSlot = downgradeWord(this.#i, this.#lock.offset, this.#slot);
    this.#slot = RELEASED;
    noteWrite(this.#lock.offset, false);
    try {
      return new ReadGuard(this.#lock, this.#i, readSlot);
    } finally {
      this.#lock[UNPIN]();
    }
  }

  [Symbol.dispose](): void {
    this.unlock();
  }
}

type HoldRole = typeof Role.Held | typeof Role.HeldShared;

/** Once the lock is ours: records the hold (Held: write, HeldShared: read); returns its slot. */
function hold(i: Int32Array, offset: number, role: HoldRole): number {
  try {
    return ownedAdd(currentOwnedCell(), offset + role);
  } catch (e) {
    unlockAs(i, offset, role); // the table could not grow (heap full): give the lock back
    throw e;
  }
}

function unlockAs(i: Int32Array, offset: number, role: HoldRole): void {
  if (role === Role.Held) writeUnlock(i, offset);
  else readUnlock(i, offset);
}

/**
 * Compare-exchanges the state word from `from` to `to` and, if that took the lock,
 * records the hold and ends the writer's `waiting` (if any), in one kill-safe section.
 * Returns the owned-table slot, or -1.
 */
function casHold(i: Int32Array, offset: number, role: HoldRole, from: number, to: number, waiting?: Waiting): number {
  enterCritical();
  try {
    if (cas(i, (offset >> 2) + STATE, from, to) !== from) return -1;
    const slot = hold(i, offset, role);
    if (waiting !== undefined) stopWaiting(i, offset, waiting);
    return slot;
  } finally {
    leaveCritical();
  }
}

/** A waiting writer's record: its owned-table slot, under the table generation it was made in. */
interface Waiting {
  readonly slot: number;
  readonly generation: number;
}

/** Counts a writer in WRITERS_ASLEEP and records it (Role.Claim), in one kill-safe section. */
function startWaiting(i: Int32Array, offset: number): Waiting {
  const cell = currentOwnedCell();
  enterCritical();
  try {
    const slot = ownedAdd(cell, offset + Role.Claim); // first: if the table cannot grow, nothing is counted
    add(i, (offset >> 2) + WRITERS_ASLEEP, 1);
    return { slot, generation: ownedGeneration() };
  } finally {
    leaveCritical();
  }
}

/**
 * Forgets the record and counts the writer out; the caller holds a kill-safe section.
 * Not if this thread's table was drained meanwhile (it ended with a writeAsync pending):
 * the runtime gave up for it then.
 */
function stopWaiting(i: Int32Array, offset: number, w: Waiting): void {
  if (w.generation !== ownedGeneration()) return;
  ownedRemove(currentOwnedCell(), w.slot);
  add(i, (offset >> 2) + WRITERS_ASLEEP, -1);
}

/** Forgets the hold in `slot` and unlocks, in one kill-safe section. */
function release(i: Int32Array, offset: number, slot: number, role: HoldRole): void {
  enterCritical();
  try {
    ownedRemove(currentOwnedCell(), slot);
    unlockAs(i, offset, role);
  } finally {
    leaveCritical();
  }
}

/**
 * Turns the write hold in `slot` into a read hold (returning its slot) in one kill-safe
 * section: the word, the waking of queued readers and the owned-table record change
 * together, so a death leaves either the write lock (poisoned) or one reader to release.
 */
function downgradeWord(i: Int32Array, offset: number, slot: number): number {
  const b = offset >> 2;
  enterCritical();
  try {
    // Holding it exclusively, nobody else changes the count: WRITE_LOCKED becomes one reader.
    const s = add(i, b + STATE, 1 - WRITE_LOCKED);
    if (hasReadersWaiting(s)) {
      // Readers can come in beside us now (unless a writer waits: they queue again).
      and(i, b + STATE, ~READERS_WAITING);
      notify(i, b + STATE);
    }
    ownedRemove(currentOwnedCell(), slot);
    return hold(i, offset, Role.HeldShared);
  } finally {
    leaveCritical();
  }
}

function readUnlock(i: Int32Array, offset: number): void {
  const s = add(i, (offset >> 2) + STATE, -1) - 1;
  // Readers only wait while a writer holds the lock or waits for it; the last reader
  // out wakes that writer.
  if (isUnlocked(s) && hasWritersWaiting(s)) wakeWriterOrReaders(i, offset >> 2, s);
}

function writeUnlock(i: Int32Array, offset: number): void {
  const s = add(i, (offset >> 2) + STATE, -WRITE_LOCKED) - WRITE_LOCKED;
  if (hasReadersWaiting(s) || hasWritersWaiting(s)) wakeWriterOrReaders(i, offset >> 2, s);
}

/**
 * The lock became free with someone waiting: wake one writer, or else every reader.
 * If it gets locked meanwhile, waking is left to that holder's unlock.
 */
function wakeWriterOrReaders(i: Int32Array, b: number, state: number): void {
  let s = state;
  if (s === WRITERS_WAITING) {
    if (cas(i, b + STATE, s, 0) === s) {
      wakeWriter(i, b);
      return;
    }
    s = load(i, b + STATE);
  }
  if (s === (READERS_WAITING | WRITERS_WAITING)) {
    if (cas(i, b + STATE, s, READERS_WAITING) !== s) return;
    if (wakeWriter(i, b)) return;
    // No writer was asleep: it may never come, so the readers must not wait for it.
    s = READERS_WAITING;
  }
  if (s === READERS_WAITING && cas(i, b + STATE, s, 0) === s) notify(i, b + STATE);
}

/** Bumps writerNotify and wakes one writer sleeping on it; true if there was one. */
function wakeWriter(i: Int32Array, b: number): boolean {
  add(i, b + WRITER_NOTIFY, 1);
  return notify(i, b + WRITER_NOTIFY, 1) > 0;
}

/** Rust's read_contended as a driver op (wait/driver.ts runs it blocking or async); returns the hold's slot. */
function* readContended(i: Int32Array, offset: number): Op<number> {
  const at = (offset >> 2) + STATE;
  // Spin while write-locked with nobody waiting: the writer may be about to leave.
  const spinRead = () => spinUntil(i, at, (s) => !isWriteLocked(s) || hasReadersWaiting(s) || hasWritersWaiting(s));
  let s = yield* spinRead();
  for (;;) {
    if (isReadLockable(s)) {
      const slot = casHold(i, offset, Role.HeldShared, s, s + 1);
      if (slot >= 0) return slot;
      s = load(i, at);
      continue;
    }
    if ((s & MASK) === MAX_READERS) throw new RangeError('RwLock: too many readers');
    // Announce a waiting reader before sleeping, so the unlocker wakes us.
    if (!hasReadersWaiting(s)) {
      const seen = cas(i, at, s, s | READERS_WAITING);
      if (seen !== s) {
        s = seen;
        continue;
      }
    }
    yield { index: at, expected: s | READERS_WAITING };
    s = yield* spinRead();
  }
}

/** Rust's write_contended as a driver op; returns the hold's slot. */
function* writeContended(i: Int32Array, offset: number): Op<number> {
  const b = offset >> 2;
  // Spin until unlocked, but not past other waiting writers: they came first.
  const spinWrite = () => spinUntil(i, b + STATE, (s) => isUnlocked(s) || hasWritersWaiting(s));
  let otherWriters = 0;
  // Set once this writer is counted in WRITERS_ASLEEP, until it takes the lock or gives up.
  let waiting: Waiting | undefined;
  let s = yield* spinWrite();
  try {
    for (;;) {
      if (isUnlocked(s)) {
        const slot = casHold(i, offset, Role.Held, s, s | WRITE_LOCKED | otherWriters, waiting);
        if (slot >= 0) return slot;
        s = load(i, b + STATE);
        continue;
      }
      // Counted before announcing: a writer giving up that sees it is not the last one
      // leaves WRITERS_WAITING to us.
      waiting ??= startWaiting(i, offset);
      if (!hasWritersWaiting(s)) {
        const seen = cas(i, b + STATE, s, s | WRITERS_WAITING);
        if (seen !== s) {
          s = seen;
          continue;
        }
      }
      // Once we have slept, other writers may be asleep too: keep their flag when we lock.
      otherWriters = WRITERS_WAITING;
      // Counted first, then the counter read before re-checking the state, so neither a
      // wake nor an aborting writer's clearing of the flag in between is missed.
      const seq = load(i, b + WRITER_NOTIFY);
      s = load(i, b + STATE);
      if (isUnlocked(s) || !hasWritersWaiting(s)) continue;
      yield { index: b + WRITER_NOTIFY, expected: seq };
      s = yield* spinWrite();
    }
  } catch (e) {
    // Aborted (or no room to record the hold): leave no trace, in one kill-safe section;
    // unless this thread's table was drained meanwhile (the runtime gave up for it then).
    if (waiting !== undefined && waiting.generation === ownedGeneration()) {
      enterCritical();
      try {
        giveUpWaiting(i, b);
        stopWaiting(i, offset, waiting);
      } finally {
        leaveCritical();
      }
    }
    throw e;
  }
}

/**
 * An aborted (or dead) writer, still counted in WRITERS_ASLEEP. If it was the last
 * writer waiting, it clears WRITERS_WAITING (and lets in the readers that queued behind
 * it), so no trace of it is left. If the lock is free with waiters flagged, an unlocker
 * may have cleared the flags and woken this writer alone: wake them as an unlocker
 * would. Otherwise the holder's unlock will.
 */
function giveUpWaiting(i: Int32Array, b: number): void {
  if (load(i, b + WRITERS_ASLEEP) === 1) {
    for (let s = load(i, b + STATE); hasWritersWaiting(s); ) {
      const seen = cas(i, b + STATE, s, isWriteLocked(s) ? s & ~WRITERS_WAITING : s & MASK);
      if (seen === s) {
        if (!isWriteLocked(s) && hasReadersWaiting(s)) notify(i, b + STATE);
        // A writer that counted itself in meanwhile may have seen the flag still set:
        // wake it to announce itself again.
        if (load(i, b + WRITERS_ASLEEP) > 1) wakeWriter(i, b);
        return;
      }
      s = seen;
    }
  }
  const s = load(i, b + STATE);
  if (isUnlocked(s) && (hasReadersWaiting(s) || hasWritersWaiting(s))) wakeWriterOrReaders(i, b, s);
}

function* spinUntil(i: Int32Array, at: number, done: (s: number) => boolean): Op<number> {
  for (;;) {
    const s = load(i, at);
    if (done(s) || (yield SPIN)) return s;
  }
}

/** Takes a read lock if one is free now (no writer holds or waits); returns the hold's slot or -1. */
function tryReadHold(i: Int32Array, offset: number): number {
  const at = (offset >> 2) + STATE;
  for (let s = load(i, at); isReadLockable(s); s = load(i, at)) {
    const slot = casHold(i, offset, Role.HeldShared, s, s + 1);
    if (slot >= 0) return slot;
  }
  return -1;
}

/** Takes the write lock if it is unlocked now; returns the hold's slot or -1. */
function tryWriteHold(i: Int32Array, offset: number): number {
  const at = (offset >> 2) + STATE;
  for (let s = load(i, at); isUnlocked(s); s = load(i, at)) {
    const slot = casHold(i, offset, Role.Held, s, s | WRITE_LOCKED);
    if (slot >= 0) return slot;
  }
  return -1;
}

/**
 * A reader-writer lock over a value in the shared heap (Rust's `std::sync::RwLock<T>`):
 * any number of readers, or one writer.
 *
 * @example
 * ```ts
 * const config = new RwLock({ level: 1 });
 * spawn((c: RwLock<{ level: number }>) => {
 *   using r = c.read();
 *   return r.value.level;
 * }, config).join(); // 1
 * using w = config.write();
 * w.value = { level: 2 };
 * ```
 *
 * @remarks
 * Blocking / async: `read()` / `readAsync({ signal })`, `write()` / `writeAsync({ signal })`,
 * `tryRead()` / `tryWrite()` never wait; a write guard's `downgrade()` turns it into a
 * read guard without letting a writer in between. Aborting an async wait takes nothing.
 *
 * Ordering: acquiring (read or write) synchronises with the release of the last writer.
 * Fairness: writer-preferring (Rust's futex RwLock): once a writer waits, new readers
 * wait behind it, so a stream of readers cannot starve writers.
 *
 * Holder death: a thread that ends or is killed holding the write lock poisons it and
 * the runtime releases it; one holding a read lock just releases it. A writer killed
 * while it waits gives up its place: readers queued behind it get in. No waiter is left
 * blocked.
 *
 * @throws {@link PoisonError} from `write()`/`read()` and their async and `try` forms when
 * a writer panicked (the guard is inside the error).
 * @throws `Error` when this thread already holds the lock and would wait for itself;
 * `TypeError` for a blocking call where blocking is impossible.
 */
export class RwLock<T = undefined> extends PinnedHandle {
  constructor(value?: T);
  /** @internal */
  constructor(value?: T | Adopt);
  constructor(value?: T | Adopt) {
    super(value instanceof Adopt ? value.offset : allocWithLockValue(Kind.RwLock, OBJECT_BYTES - 8, VALUE, value));
  }

  /** @internal */
  protected get kindName(): string {
    return 'RwLock';
  }

  /** @internal The value only if it can be read now (taken with tryRead); writers waiting, if any. */
  protected override describe(render: Describe): string {
    let g: RwLockReadGuard<T> | undefined;
    try {
      g = this.tryRead();
    } catch (e) {
      if (!(e instanceof PoisonError)) throw e;
      g = e.guard as RwLockReadGuard<T>;
    }
    const i = viewsOf(this.offset);
    const b = this.offset >> 2;
    const s = load(i, b + STATE);
    const writers = load(i, b + WRITERS_ASLEEP);
    const waiting = writers === 0 ? '' : `, ${writers} writer${writers === 1 ? '' : 's'} waiting`;
    // Not readable now: write-locked, or read-locked with a writer waiting (writers go first).
    const state = g ? 'readable' : isWriteLocked(s) ? 'write-locked' : isUnlocked(s) ? 'unlocked' : 'read-locked';
    const head = `RwLock<${state}, poisoned=${this.isPoisoned()}${waiting}>`;
    if (!g) return render(head);
    try {
      return render(head, { value: g.value });
    } finally {
      g.unlock();
    }
  }

  /**
   * Blocks until shared access is granted. Throws PoisonError (holding the read lock)
   * if poisoned. Throws Error where waiting could never end: this thread holds the
   * write lock, or holds a read lock while a writer waits (writers go first).
   */
  read(): RwLockReadGuard<T> {
    this.checkOpen();
    assertCanBlock('RwLock.read()', 'readAsync()');
    const i = viewsOf(this.offset);
    let slot = tryReadHold(i, this.offset);
    if (slot < 0) {
      const held = heldBy(this.offset);
      if (held === WRITE_HELD) throw selfDeadlock('read', 'the write lock');
      if (held > 0) throw selfDeadlock('read', 'a read lock and a writer is waiting for it (writers go first)');
      slot = runSync(readContended(i, this.offset), Infinity);
    }
    return this.#poisonCheck(new ReadGuard(this, i, slot));
  }

  /**
   * Like read(), keeping the event loop running. Another task of this thread may hold
   * the lock meanwhile and release it, so that is not treated as a deadlock. Aborting
   * `signal` rejects with its reason and takes nothing.
   */
  async readAsync(options?: WaitOptions): Promise<RwLockReadGuard<T>> {
    const signal = checkSignal(options, 'RwLock.readAsync()');
    this.checkOpen();
    const i = viewsOf(this.offset);
    let slot = tryReadHold(i, this.offset);
    if (slot < 0) {
      slot = await this.#pinnedWhile(runAsync(readContended(i, this.offset), Infinity, signal), i, Role.HeldShared, 'readAsync()');
    }
    return this.#poisonCheck(new ReadGuard(this, i, slot));
  }

  tryRead(): RwLockReadGuard<T> | undefined {
    this.checkOpen();
    const i = viewsOf(this.offset);
    const slot = tryReadHold(i, this.offset);
    return slot < 0 ? undefined : this.#poisonCheck(new ReadGuard(this, i, slot));
  }

  /**
   * Blocks until exclusive access is granted. Throws PoisonError (holding the write
   * lock) if poisoned. Throws Error if this thread holds the lock (read or write):
   * waiting would never end.
   */
  write(): RwLockWriteGuard<T> {
    this.checkOpen();
    assertCanBlock('RwLock.write()', 'writeAsync()');
    const i = viewsOf(this.offset);
    // Only a lock with nobody waiting is taken at once: waiting writers came first.
    let slot = casHold(i, this.offset, Role.Held, 0, WRITE_LOCKED);
    if (slot < 0) {
      const held = heldBy(this.offset);
      if (held !== 0) throw selfDeadlock('write', held === WRITE_HELD ? 'the write lock' : 'a read lock');
      slot = runSync(writeContended(i, this.offset), Infinity);
    }
    return this.#poisonCheck(new WriteGuard(this, i, slot));
  }

  /** Like write(), keeping the event loop running; see readAsync() for tasks and `signal`. */
  async writeAsync(options?: WaitOptions): Promise<RwLockWriteGuard<T>> {
    const signal = checkSignal(options, 'RwLock.writeAsync()');
    this.checkOpen();
    const i = viewsOf(this.offset);
    let slot = casHold(i, this.offset, Role.Held, 0, WRITE_LOCKED);
    if (slot < 0) {
      slot = await this.#pinnedWhile(runAsync(writeContended(i, this.offset), Infinity, signal), i, Role.Held, 'writeAsync()');
    }
    return this.#poisonCheck(new WriteGuard(this, i, slot));
  }

  tryWrite(): RwLockWriteGuard<T> | undefined {
    this.checkOpen();
    const i = viewsOf(this.offset);
    const slot = tryWriteHold(i, this.offset);
    return slot < 0 ? undefined : this.#poisonCheck(new WriteGuard(this, i, slot));
  }

  /**
   * Takes the value out and closes this handle (Rust's into_inner). Other handles of
   * the lock find it empty (undefined) from then on. Waits for the write lock like
   * write(). On a poisoned lock it still takes the value and closes, then throws
   * PoisonError whose intoInner() is the value.
   */
  intoInner(): T {
    let g: RwLockWriteGuard<T>;
    let poisoned = false;
    try {
      g = this.write();
    } catch (e) {
      if (!(e instanceof PoisonError && e.guard instanceof WriteGuard)) throw e;
      g = e.guard as RwLockWriteGuard<T>;
      poisoned = true;
    }
    let value: T;
    try {
      value = takeLockCell<T>((this.offset >> 2) + VALUE);
    } finally {
      g.unlock();
    }
    this.close();
    if (poisoned) throw new PoisonError<T>('RwLock is poisoned: a writer panicked while holding it; intoInner() has the value', value);
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

  /**
   * Waits with the object pinned: closing this handle meanwhile cannot free it. If it
   * was closed by the time the lock is ours, gives the lock back and throws TypeError.
   * Returns the hold's slot.
   */
  async #pinnedWhile(acquired: Promise<number>, i: Int32Array, role: HoldRole, call: string): Promise<number> {
    this[PIN]();
    try {
      const slot = await acquired;
      if (this.released) {
        release(i, this.offset, slot, role);
        throw new TypeError(`RwLock was closed while ${call} waited for it`);
      }
      return slot;
    } finally {
      this[UNPIN]();
    }
  }

  /** A poisoned lock is still held, through the PoisonError's guard. */
  #poisonCheck<G>(g: G): G {
    // A plain read suffices: the poison store precedes the unlock that let us in.
    if (viewsOf(this.offset)[(this.offset >> 2) + POISON] !== 0) {
      throw new PoisonError<G>('RwLock is poisoned: a writer panicked while holding it', g);
    }
    return g;
  }
}

function selfDeadlock(call: 'read' | 'write', what: string): Error {
  return new Error(
    `RwLock.${call}(): this thread already holds ${what}, waiting would deadlock; ` +
      'unlock that guard first (or use downgrade() to go from write to read)',
  );
}

defineKind(Kind.RwLock, {
  name: 'RwLock',
  wrap: (p) => new RwLock(new Adopt(p)),
  // The holder's thread ended or died: a reader just leaves, a writer poisons; a writer
  // that waited gives up.
  releaseRole(p, role) {
    const i = viewsOf(p);
    if (role === Role.HeldShared) return readUnlock(i, p);
    if (role === Role.Claim) {
      // An unlocker may have cleared the flags and spent its wake on the dead writer: wake
      // every writer asleep (they re-check and announce themselves again), as the driver
      // does for an aborted one, then give up as it would.
      notify(i, (p >> 2) + WRITER_NOTIFY);
      giveUpWaiting(i, p >> 2);
      add(i, (p >> 2) + WRITERS_ASLEEP, -1);
      return;
    }
    store(i, (p >> 2) + POISON, 1);
    writeUnlock(i, p);
  },
  drop: (p) => dropLockCell((p >> 2) + VALUE),
});
