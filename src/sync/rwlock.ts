// RwLock<T>: Rust's futex RwLock, writer-preferring. The state word holds the reader
// count (MASK when write-locked) and two flags, READERS_WAITING and WRITERS_WAITING;
// writers sleep on a separate writerNotify counter so a writer wake does not wake
// readers. Only writers poison: a thread that dies holding a read lock just releases
// it (Role.HeldShared), one that dies holding the write lock poisons it (Role.Held).

import { Adopt, currentOwnedCell, defineKind, Handle, Role } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { assertCanBlock, add, cas, load, notify, store, wait, waitAsync } from '../wait/futex.ts';
import { PoisonError } from './poison.ts';
import { allocWithValue, dropCell, GuardValue } from './value_cell.ts';

const STATE = 2, WRITER_NOTIFY = 3, POISON = 4, VALUE = 5;
const MASK = (1 << 30) - 1;
const WRITE_LOCKED = MASK;
const MAX_READERS = MASK - 1;
const READERS_WAITING = 1 << 30;
const WRITERS_WAITING = 1 << 31;
const SPINS = 100;

const isUnlocked = (s: number) => (s & MASK) === 0;
const isWriteLocked = (s: number) => (s & MASK) === WRITE_LOCKED;
const hasReadersWaiting = (s: number) => (s & READERS_WAITING) !== 0;
const hasWritersWaiting = (s: number) => (s & WRITERS_WAITING) !== 0;
// Writer-preferring: a new reader queues behind any waiting writer.
const isReadLockable = (s: number) => (s & MASK) < MAX_READERS && !hasReadersWaiting(s) && !hasWritersWaiting(s);

/** Read access: `value` is a decoded copy; changes to it are not written back. */
export interface RwLockReadGuard<T> {
  readonly value: T;
  unlock(): void;
  [Symbol.dispose](): void;
}

/** Write access: `value` is written back on unlock. */
export interface RwLockWriteGuard<T> {
  value: T;
  unlock(): void;
  [Symbol.dispose](): void;
}

class Guard<T> {
  readonly #lock: RwLock<T>;
  readonly #write: boolean;
  readonly #value: GuardValue<T>;
  #slot: number;

  constructor(lock: RwLock<T>, write: boolean) {
    this.#lock = lock;
    this.#write = write;
    this.#value = new GuardValue<T>((lock.offset >> 2) + VALUE);
    this.#slot = ownedAdd(currentOwnedCell(), lock.offset + (write ? Role.Held : Role.HeldShared));
  }

  get value(): T {
    if (this.#slot < 0) throw new TypeError('RwLock guard used after unlock()');
    return this.#value.get();
  }

  set value(v: T) {
    if (this.#slot < 0) throw new TypeError('RwLock guard used after unlock()');
    if (!this.#write) throw new TypeError('cannot assign through a read guard; use write()');
    this.#value.set(v);
  }

  unlock(): void {
    if (this.#slot < 0) return;
    ownedRemove(currentOwnedCell(), this.#slot);
    this.#slot = -1;
    if (!this.#write) {
      this.#value.forget();
      return readUnlock(this.#lock.offset);
    }
    try {
      this.#value.flush();
    } finally {
      writeUnlock(this.#lock.offset);
    }
  }

  [Symbol.dispose](): void {
    this.unlock();
  }
}

function wakeWriter(i: Int32Array, b: number): boolean {
  add(i, b + WRITER_NOTIFY, 1);
  return notify(i, b + WRITER_NOTIFY, 1) > 0;
}

/** The lock became free with someone waiting: wake one writer, or else all readers. */
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
    s = READERS_WAITING; // no writer was asleep after all: the readers may go
  }
  if (s === READERS_WAITING && cas(i, b + STATE, s, 0) === s) notify(i, b + STATE);
}

function readUnlock(p: number): void {
  const i = heap().i32;
  const b = p >> 2;
  const s = add(i, b + STATE, -1) - 1;
  // Readers only wait while a writer holds or waits; the last reader out wakes a writer.
  if (isUnlocked(s) && hasWritersWaiting(s)) wakeWriterOrReaders(i, b, s);
}

function writeUnlock(p: number): void {
  const i = heap().i32;
  const b = p >> 2;
  const s = add(i, b + STATE, -WRITE_LOCKED) - WRITE_LOCKED;
  if (hasReadersWaiting(s) || hasWritersWaiting(s)) wakeWriterOrReaders(i, b, s);
}

function spinUntil(i: Int32Array, at: number, done: (s: number) => boolean): number {
  for (let k = 0; ; k++) {
    const s = load(i, at);
    if (done(s) || k >= SPINS) return s;
  }
}

/**
 * One step of Rust's read_contended: take a read lock if the state allows it, else
 * announce a waiting reader. Returns true when locked, else the state to retry with
 * and whether to sleep on it first.
 */
function readStep(i: Int32Array, at: number, s: number): true | { state: number; sleep: boolean } {
  if (isReadLockable(s)) {
    const seen = cas(i, at, s, s + 1);
    return seen === s ? true : { state: seen, sleep: false };
  }
  if ((s & MASK) === MAX_READERS) throw new RangeError('RwLock: too many readers');
  if (!hasReadersWaiting(s)) {
    const seen = cas(i, at, s, s | READERS_WAITING);
    if (seen !== s) return { state: seen, sleep: false };
  }
  return { state: s | READERS_WAITING, sleep: true };
}

export class RwLock<T = undefined> extends Handle {
  constructor(value?: T | Adopt) {
    super(value instanceof Adopt ? value.offset : allocWithValue(Kind.RwLock, 16, VALUE, value));
  }

  protected get kindName(): string {
    return 'RwLock';
  }

  read(): RwLockReadGuard<T> {
    this.checkOpen();
    assertCanBlock('RwLock.read()', 'readAsync()');
    const i = heap().i32;
    const at = (this.offset >> 2) + STATE;
    const spinRead = () => spinUntil(i, at, (x) => !isWriteLocked(x) || hasReadersWaiting(x) || hasWritersWaiting(x));
    let s = load(i, at);
    if (!(isReadLockable(s) && cas(i, at, s, s + 1) === s)) {
      for (s = spinRead(); ; ) {
        const step = readStep(i, at, s);
        if (step === true) break;
        s = step.state;
        if (step.sleep) {
          wait(i, at, s);
          s = spinRead();
        }
      }
    }
    return this.#guard(false);
  }

  async readAsync(): Promise<RwLockReadGuard<T>> {
    this.checkOpen();
    const i = heap().i32;
    const at = (this.offset >> 2) + STATE;
    for (let s = load(i, at); ; ) {
      const step = readStep(i, at, s);
      if (step === true) break;
      s = step.state;
      if (step.sleep) {
        await waitAsync(i, at, s);
        s = load(i, at);
      }
    }
    return this.#guard(false);
  }

  tryRead(): RwLockReadGuard<T> | undefined {
    this.checkOpen();
    const i = heap().i32;
    const at = (this.offset >> 2) + STATE;
    for (let s = load(i, at); isReadLockable(s); s = load(i, at)) {
      if (cas(i, at, s, s + 1) === s) return this.#guard(false);
    }
    return undefined;
  }

  write(): RwLockWriteGuard<T> {
    this.checkOpen();
    assertCanBlock('RwLock.write()', 'writeAsync()');
    const i = heap().i32;
    const b = this.offset >> 2;
    if (cas(i, b + STATE, 0, WRITE_LOCKED) !== 0) this.#writeContended(i, b, (at, v) => void wait(i, at, v));
    return this.#guard(true);
  }

  async writeAsync(): Promise<RwLockWriteGuard<T>> {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    if (cas(i, b + STATE, 0, WRITE_LOCKED) !== 0) {
      let otherWriters = 0;
      for (let s = load(i, b + STATE); ; ) {
        const step = this.#writeStep(i, b, s, otherWriters);
        if (step === true) break;
        [s, otherWriters] = step.state;
        if (step.sleepOn !== undefined) {
          await waitAsync(i, b + WRITER_NOTIFY, step.sleepOn);
          s = load(i, b + STATE);
        }
      }
    }
    return this.#guard(true);
  }

  tryWrite(): RwLockWriteGuard<T> | undefined {
    this.checkOpen();
    if (cas(heap().i32, (this.offset >> 2) + STATE, 0, WRITE_LOCKED) !== 0) return undefined;
    return this.#guard(true);
  }

  isPoisoned(): boolean {
    this.checkOpen();
    return load(heap().i32, (this.offset >> 2) + POISON) !== 0;
  }

  clearPoison(): void {
    this.checkOpen();
    store(heap().i32, (this.offset >> 2) + POISON, 0);
  }

  #writeContended(i: Int32Array, b: number, sleep: (at: number, v: number) => void): void {
    let otherWriters = 0;
    let s = spinUntil(i, b + STATE, (x) => isUnlocked(x) || hasWritersWaiting(x));
    for (;;) {
      const step = this.#writeStep(i, b, s, otherWriters);
      if (step === true) return;
      [s, otherWriters] = step.state;
      if (step.sleepOn !== undefined) {
        sleep(b + WRITER_NOTIFY, step.sleepOn);
        s = spinUntil(i, b + STATE, (x) => isUnlocked(x) || hasWritersWaiting(x));
      }
    }
  }

  /**
   * One step of Rust's write_contended: take the lock if it is free (keeping the
   * WRITERS_WAITING flag if other writers may sleep), else announce a waiting writer,
   * then say which writerNotify value to sleep on.
   */
  #writeStep(i: Int32Array, b: number, s: number, otherWriters: number):
    true | { state: [number, number]; sleepOn?: number } {
    if (isUnlocked(s)) {
      const seen = cas(i, b + STATE, s, s | WRITE_LOCKED | otherWriters);
      return seen === s ? true : { state: [seen, otherWriters] };
    }
    if (!hasWritersWaiting(s)) {
      const seen = cas(i, b + STATE, s, s | WRITERS_WAITING);
      if (seen !== s) return { state: [seen, otherWriters] };
    }
    // Once we sleep, other writers may be asleep too: keep the flag when we take the lock.
    const seq = load(i, b + WRITER_NOTIFY);
    const now = load(i, b + STATE);
    if (isUnlocked(now) || !hasWritersWaiting(now)) return { state: [now, WRITERS_WAITING] };
    return { state: [now, WRITERS_WAITING], sleepOn: seq };
  }

  /** Records the hold; a poisoned lock is still held, through the PoisonError's guard. */
  #guard(write: boolean): Guard<T> {
    const g = new Guard(this, write);
    if (load(heap().i32, (this.offset >> 2) + POISON) !== 0) {
      throw new PoisonError<Guard<T>>('RwLock is poisoned: a writer panicked while holding it', g);
    }
    return g;
  }
}

defineKind(Kind.RwLock, {
  name: 'RwLock',
  wrap: (p) => new RwLock(new Adopt(p)),
  releaseRole(p, role) {
    if (role === Role.HeldShared) return readUnlock(p);
    store(heap().i32, (p >> 2) + POISON, 1);
    writeUnlock(p);
  },
  drop: (p) => dropCell((p >> 2) + VALUE),
});
