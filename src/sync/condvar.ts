// Condvar: Rust's futex condition variable. Waiters read a sequence number, release
// the mutex, and sleep while the number is unchanged; a notify bumps it first, so a
// notify between the unlock and the sleep is never lost (the sleep sees a new number
// and returns at once). A waiter count lets notify skip the syscall when nobody waits.

import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { add, assertCanBlock, checkTimeout, load, notify, wait, waitAsync } from '../wait/futex.ts';
import { guardParts, relock, relockAsync, type MutexGuard } from './mutex.ts';

const SEQ = 2, WAITERS = 3;

export class Condvar extends Handle {
  constructor(adopt?: Adopt) {
    super(adopt?.offset ?? allocObject(Kind.Condvar, 8));
  }

  protected get kindName(): string {
    return 'Condvar';
  }

  /** Releases the guard's mutex, waits for a notify, and locks it again. Spurious wakes happen. */
  wait<T>(guard: MutexGuard<T>): void {
    this.#wait(guard, undefined, 'Condvar.wait()');
  }

  /** Like wait(), at most `ms` milliseconds. */
  waitTimeout<T>(guard: MutexGuard<T>, ms: number): { timedOut: boolean } {
    const t = checkTimeout(ms, 'Condvar.waitTimeout()');
    return { timedOut: this.#wait(guard, t, 'Condvar.waitTimeout()') === 'timed-out' };
  }

  /** Waits while `cond(value)` is true; returns with the lock held and `cond` false. */
  waitWhile<T>(guard: MutexGuard<T>, cond: (value: T) => boolean): void {
    while (cond(guard.value)) this.wait(guard);
  }

  /** Like wait(), keeping the event loop running. */
  async waitAsync<T>(guard: MutexGuard<T>): Promise<void> {
    const { g, i, b, seq } = this.#release(guard);
    try {
      await waitAsync(i, b + SEQ, seq);
    } finally {
      add(i, b + WAITERS, -1);
      await relockAsync(g);
    }
  }

  #wait<T>(guard: MutexGuard<T>, ms: number | undefined, call: string): string {
    assertCanBlock(call, 'waitAsync()');
    const { g, i, b, seq } = this.#release(guard);
    try {
      return wait(i, b + SEQ, seq, ms);
    } finally {
      add(i, b + WAITERS, -1);
      relock(g);
    }
  }

  /**
   * Reads the sequence, counts this waiter in, and releases the guard's mutex, in that
   * order: a notify after the read changes the sequence, so the sleep returns at once.
   */
  #release<T>(guard: MutexGuard<T>) {
    this.checkOpen();
    const g = guardParts(guard);
    const i = heap().i32;
    const b = this.offset >> 2;
    const seq = load(i, b + SEQ);
    add(i, b + WAITERS, 1);
    g.suspend();
    return { g, i, b, seq };
  }

  notifyOne(): void {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    add(i, b + SEQ, 1);
    if (load(i, b + WAITERS) > 0) notify(i, b + SEQ, 1);
  }

  notifyAll(): void {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    add(i, b + SEQ, 1);
    if (load(i, b + WAITERS) > 0) notify(i, b + SEQ);
  }
}

defineKind(Kind.Condvar, { name: 'Condvar', wrap: (p) => new Condvar(new Adopt(p)) });
