// Mutex<T>: Rust's futex mutex (0 unlocked, 1 locked, 2 locked with waiters) in the
// heap, plus the owner's thread id and a poison flag. The value lives beside it as a
// stored value (value_cell.ts).
//
// A held lock is recorded in the holder's owned table (Role.Held). If the holder's
// thread ends or is killed with the lock held, the runtime calls releaseRole, which
// poisons the mutex and unlocks it, so no waiter is left blocked.

import { Adopt, currentOwnedCell, defineKind, Handle, Role } from '../heap/handle.ts';
import { heap, heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { currentThreadId } from '../thread/current.ts';
import { assertCanBlock, cas, exchange, load, notify, store, wait, waitAsync } from '../wait/futex.ts';
import { PoisonError } from './poison.ts';
import { allocWithValue, dropCell, GuardValue } from './value_cell.ts';

const STATE = 2, OWNER = 3, POISON = 4, VALUE = 5;
const OBJECT_BYTES = 24;
const UNLOCKED = 0, LOCKED = 1, CONTENDED = 2;
const SPINS = 100;

/** Access to a locked Mutex's value; unlock() (or `using`) releases it. */
export interface MutexGuard<T> {
  value: T;
  unlock(): void;
  [Symbol.dispose](): void;
}

class Guard<T> implements MutexGuard<T> {
  readonly #mutex: Mutex<T>;
  // Made on first access: a lock used only for exclusion never touches the codec.
  #value: GuardValue<T> | undefined;
  #slot: number;

  constructor(mutex: Mutex<T>, slot: number) {
    this.#mutex = mutex;
    this.#slot = slot;
  }

  get value(): T {
    this.#check();
    return (this.#value ??= new GuardValue<T>((this.#mutex.offset >> 2) + VALUE)).get();
  }

  set value(v: T) {
    this.#check();
    (this.#value ??= new GuardValue<T>((this.#mutex.offset >> 2) + VALUE)).set(v);
  }

  #check(): void {
    if (this.#slot < 0) throw new TypeError('MutexGuard used after unlock()');
  }

  unlock(): void {
    if (this.#slot < 0) return;
    const slot = this.#slot;
    this.#slot = -1;
    if (this.#value === undefined) return unlockRaw(this.#mutex.offset, slot);
    try {
      this.#value.flush();
    } finally {
      unlockRaw(this.#mutex.offset, slot);
    }
  }

  [Symbol.dispose](): void {
    this.unlock();
  }

  /** Condvar: release the lock while waiting, keeping the guard for the relock. */
  suspend(): void {
    this.#check();
    const slot = this.#slot;
    this.#slot = -2;
    try {
      this.#value?.flush();
    } finally {
      unlockRaw(this.#mutex.offset, slot);
    }
  }

  /** Condvar: the lock is ours again. */
  resume(slot: number): void {
    this.#slot = slot;
  }

  /** Poisons the mutex and releases it (a panic inside withLock). */
  abandon(): void {
    if (this.#slot < 0) return;
    const slot = this.#slot;
    this.#slot = -1;
    this.#value?.forget();
    store(heap().i32, (this.#mutex.offset >> 2) + POISON, 1);
    unlockRaw(this.#mutex.offset, slot);
  }

  get mutex(): Mutex<T> {
    return this.#mutex;
  }
}

/** Fast views over the mutex object (hot path). */
const words = (offset: number): Int32Array => heapCovering(offset + OBJECT_BYTES).i32;

function unlockRaw(offset: number, slot: number): void {
  const i = words(offset);
  ownedRemove(currentOwnedCell(), slot);
  // OWNER is diagnostic (who holds it) and POISON is published by the state word's
  // exchange / CAS, so plain accesses suffice for both on the hot path.
  i[(offset >> 2) + OWNER] = 0;
  if (exchange(i, (offset >> 2) + STATE, UNLOCKED) === CONTENDED) notify(i, (offset >> 2) + STATE, 1);
}

/** After winning the state word: a guard that records the hold. */
function acquired<T>(m: Mutex<T>, i: Int32Array): Guard<T> {
  const b = m.offset >> 2;
  i[b + OWNER] = currentThreadId();
  const g = new Guard(m, ownedAdd(currentOwnedCell(), m.offset + Role.Held));
  if (i[b + POISON] !== 0) throw poisoned(g);
  return g;
}

function poisoned<T>(g: Guard<T>): PoisonError<MutexGuard<T>> {
  return new PoisonError<MutexGuard<T>>('Mutex is poisoned: a thread panicked while holding it', g);
}

/** Blocks until the state word is ours (Rust's lock_contended). */
function lockContended(i: Int32Array, at: number): void {
  let state = spin(i, at);
  if (state === UNLOCKED && cas(i, at, UNLOCKED, LOCKED) === UNLOCKED) return;
  for (;;) {
    // Marking it contended makes the unlocker wake someone; if it was unlocked, it is ours.
    if (state !== CONTENDED && exchange(i, at, CONTENDED) === UNLOCKED) return;
    wait(i, at, CONTENDED);
    state = spin(i, at);
  }
}

/** Spins while the lock is held without waiters: the holder may be about to release. */
function spin(i: Int32Array, at: number): number {
  for (let k = 0; ; k++) {
    const state = load(i, at);
    if (state !== LOCKED || k >= SPINS) return state;
  }
}

export class Mutex<T = undefined> extends Handle {
  constructor(value?: T | Adopt) {
    super(value instanceof Adopt ? value.offset : allocWithValue(Kind.Mutex, OBJECT_BYTES - 8, VALUE, value));
  }

  protected get kindName(): string {
    return 'Mutex';
  }

  /** Blocks until the lock is ours. Throws PoisonError (holding the lock) if poisoned. */
  lock(): MutexGuard<T> {
    this.checkOpen();
    assertCanBlock('Mutex.lock()', 'lockAsync()');
    const i = words(this.offset);
    const at = (this.offset >> 2) + STATE;
    if (cas(i, at, UNLOCKED, LOCKED) !== UNLOCKED) lockContended(i, at);
    return acquired(this, i);
  }

  /** Waits for the lock without blocking the event loop. */
  async lockAsync(): Promise<MutexGuard<T>> {
    this.checkOpen();
    const i = words(this.offset);
    const at = (this.offset >> 2) + STATE;
    if (cas(i, at, UNLOCKED, LOCKED) !== UNLOCKED) {
      while (exchange(i, at, CONTENDED) !== UNLOCKED) await waitAsync(i, at, CONTENDED);
    }
    return acquired(this, i);
  }

  /** The guard if the lock is free now, else undefined. */
  tryLock(): MutexGuard<T> | undefined {
    this.checkOpen();
    const i = words(this.offset);
    if (cas(i, (this.offset >> 2) + STATE, UNLOCKED, LOCKED) !== UNLOCKED) return undefined;
    return acquired(this, i);
  }

  /**
   * Runs `f` with the value under the lock; changes made to an object value persist.
   * If `f` throws, the mutex is poisoned, released, and the error rethrown.
   */
  withLock<R>(f: (value: T) => R): R {
    const g = this.lock() as Guard<T>;
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

  isPoisoned(): boolean {
    this.checkOpen();
    return load(heap().i32, (this.offset >> 2) + POISON) !== 0;
  }

  clearPoison(): void {
    this.checkOpen();
    store(heap().i32, (this.offset >> 2) + POISON, 0);
  }
}

/** Condvar's access to a guard: the mutex behind it, and release/relock around a wait. */
export function guardParts<T>(guard: MutexGuard<T>): Guard<T> {
  if (!(guard instanceof Guard)) throw new TypeError('expected a MutexGuard from Mutex.lock()');
  return guard;
}

/** Relocks a suspended guard (Condvar), blocking. Throws PoisonError if poisoned meanwhile. */
export function relock<T>(g: Guard<T>): void {
  const i = heap().i32;
  const at = (g.mutex.offset >> 2) + STATE;
  if (cas(i, at, UNLOCKED, LOCKED) !== UNLOCKED) lockContended(i, at);
  resumed(g);
}

export async function relockAsync<T>(g: Guard<T>): Promise<void> {
  const i = heap().i32;
  const at = (g.mutex.offset >> 2) + STATE;
  if (cas(i, at, UNLOCKED, LOCKED) !== UNLOCKED) {
    while (exchange(i, at, CONTENDED) !== UNLOCKED) await waitAsync(i, at, CONTENDED);
  }
  resumed(g);
}

/** Records the hold in this thread's owned table and reports poison. */
function resumed<T>(g: Guard<T>): void {
  const i = words(g.mutex.offset);
  const b = g.mutex.offset >> 2;
  i[b + OWNER] = currentThreadId();
  g.resume(ownedAdd(currentOwnedCell(), g.mutex.offset + Role.Held));
  if (i[b + POISON] !== 0) throw poisoned(g);
}

defineKind(Kind.Mutex, {
  name: 'Mutex',
  wrap: (p) => new Mutex(new Adopt(p)),
  // The holder's thread ended or died with the lock held: poison it and let the next in.
  releaseRole(p) {
    const i = heap().i32;
    store(i, (p >> 2) + POISON, 1);
    store(i, (p >> 2) + OWNER, 0);
    if (exchange(i, (p >> 2) + STATE, UNLOCKED) === CONTENDED) notify(i, (p >> 2) + STATE, 1);
  },
  drop: (p) => dropCell((p >> 2) + VALUE),
});
