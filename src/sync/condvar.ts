// Condvar: Rust's futex condition variable. A waiter reads the sequence number,
// releases the mutex, and sleeps while the number is unchanged; a notify bumps it
// first, so a notify between the unlock and the sleep is never lost (the sleep sees
// a new number and returns at once). A waiter count lets notify skip waking when
// nobody waits.

import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { add, assertCanBlock, checkTimeout, load, notify, wait, waitAsync, type WaitResult } from '../wait/futex.ts';
import { suspendable, type MutexGuard, type SuspendableGuard } from './mutex.ts';

// i32 fields after the [kind, refcount] header.
const SEQ = 2, WAITERS = 3;
const OBJECT_BYTES = 16;

interface Waiting {
  readonly guard: SuspendableGuard;
  readonly i: Int32Array;
  readonly b: number;
  readonly seq: number;
}

export class Condvar extends Handle {
  constructor(adopt?: Adopt) {
    super(adopt?.offset ?? allocObject(Kind.Condvar, OBJECT_BYTES - 8));
  }

  protected get kindName(): string {
    return 'Condvar';
  }

  /**
   * Releases the guard's mutex, waits for a notify, and locks it again (throwing
   * PoisonError, lock held, if it was poisoned meanwhile). Wakes can be spurious:
   * wait in a loop that checks the condition, or use waitWhile().
   */
  wait<T>(guard: MutexGuard<T>): void {
    assertCanBlock('Condvar.wait()', 'waitAsync()');
    this.#waitSync(guard, undefined);
  }

  /** Like wait(), at most `ms` milliseconds. */
  waitTimeout<T>(guard: MutexGuard<T>, ms: number): { timedOut: boolean } {
    const timeout = checkTimeout(ms, 'Condvar.waitTimeout()');
    assertCanBlock('Condvar.waitTimeout()', 'waitAsync()');
    return { timedOut: this.#waitSync(guard, timeout) === 'timed-out' };
  }

  /** Waits while `cond(value)` is true; returns with the lock held and `cond` false. */
  waitWhile<T>(guard: MutexGuard<T>, cond: (value: T) => boolean): void {
    assertCanBlock('Condvar.waitWhile()', 'waitAsync()');
    while (cond(guard.value)) this.#waitSync(guard, undefined);
  }

  /** Like wait(), keeping the event loop running. */
  async waitAsync<T>(guard: MutexGuard<T>): Promise<void> {
    const w = this.#begin(guard);
    try {
      await waitAsync(w.i, w.b + SEQ, w.seq);
    } finally {
      add(w.i, w.b + WAITERS, -1);
      await w.guard.relockAsync();
    }
  }

  notifyOne(): void {
    this.#notify(1);
  }

  notifyAll(): void {
    this.#notify(undefined);
  }

  #notify(count: number | undefined): void {
    this.checkOpen();
    const i = heapCovering(this.offset + OBJECT_BYTES).i32;
    const b = this.offset >> 2;
    add(i, b + SEQ, 1);
    // Skipping the wake when nobody is counted in is safe: a waiter counted in later
    // read the sequence either after our bump, or before it and then its sleep sees
    // the new value and returns at once.
    if (load(i, b + WAITERS) > 0) notify(i, b + SEQ, count);
  }

  #waitSync<T>(guard: MutexGuard<T>, ms: number | undefined): WaitResult {
    const w = this.#begin(guard);
    try {
      return wait(w.i, w.b + SEQ, w.seq, ms);
    } finally {
      add(w.i, w.b + WAITERS, -1);
      w.guard.relock();
    }
  }

  /**
   * Writes the guard's value back (a failure throws with the lock still held), reads
   * the sequence, counts this waiter in, and only then releases the mutex: a notify
   * from then on changes the sequence, so the sleep that follows returns at once.
   */
  #begin<T>(guard: MutexGuard<T>): Waiting {
    this.checkOpen();
    const g = suspendable(guard);
    g.commit();
    const i = heapCovering(this.offset + OBJECT_BYTES).i32;
    const b = this.offset >> 2;
    const seq = load(i, b + SEQ);
    add(i, b + WAITERS, 1);
    g.suspend();
    return { guard: g, i, b, seq };
  }
}

defineKind(Kind.Condvar, { name: 'Condvar', wrap: (p) => new Condvar(new Adopt(p)) });
