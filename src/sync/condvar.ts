// Condvar: Rust's futex condition variable. A waiter reads the sequence number,
// releases the mutex, and sleeps while the number is unchanged; a notify bumps it
// first, so a notify between the unlock and the sleep is never lost (the sleep sees
// a new number and returns at once). A waiter count lets notify skip waking when
// nobody waits.
//
// Every wait, blocking or async, is one driver op (wait/driver.ts). Whatever ends it
// (a notify, a timeout, an abort, a PoisonError on the way back) the waiter is
// counted out and the mutex is locked again before the call returns or throws, so
// the guard is always valid afterwards.
//
// Releasing and relocking the mutex are kill-safe in mutex.ts. A waiter is counted in
// WAITERS, takes a reference that keeps the condvar alive, and records both in its
// owned table (Role.Held) in one kill-safe section (thread/critical.ts); it forgets the
// record, counts itself out and gives the reference back in another, once it holds
// the mutex again. If its thread dies anywhere in between (asleep, or woken and
// waiting for the mutex), the runtime's releaseRole counts it out instead, and since
// it may have been the one a notifyOne woke, wakes every other sleeper: a spurious
// wake for them, but a live waiter never sleeps on through a notifyOne a dead one took.

import { describeValue } from '../heap/describe.ts';
import { Adopt, allocOwned, currentOwnedCell, defineKind, Handle, releaseRef, retain, Role, type Describe } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedGeneration, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { checkSignal, deadlineOf, runAsync, runSync, type Op, type WaitOptions } from '../wait/driver.ts';
import { add, assertCanBlock, checkTimeout, load, notify } from '../wait/futex.ts';
import { suspendable, type MutexGuard, type SuspendableGuard } from './mutex.ts';

// i32 fields after the [kind, refcount] header.
const SEQ = 2, WAITERS = 3;
const OBJECT_BYTES = 16;

/** What a timed wait reports: whether it ended because the time ran out. */
export interface WaitTimeoutResult {
  readonly timedOut: boolean;
}

/** Where a waiter's record is: its owned-table slot, under the table generation it was made in. */
interface Waiting {
  readonly slot: number;
  readonly generation: number;
}

/** A wait under way: the suspended guard, the condvar's words, its i32 index, the sequence read and the waiter's record. */
type Begun = [SuspendableGuard, Int32Array, number, number, Waiting];

const wordsOf = (offset: number): Int32Array => heapCovering(offset + OBJECT_BYTES).i32;

/**
 * Counts this thread in as a waiter of the condvar at `offset`, with a reference that
 * keeps it alive, recorded in the owned table: one kill-safe section, so a kill leaves
 * all three or none.
 */
function countIn(offset: number): Waiting {
  const cell = currentOwnedCell();
  enterCritical();
  try {
    retain(offset);
    let slot: number;
    try {
      slot = ownedAdd(cell, offset + Role.Held);
    } catch (e) {
      releaseRef(offset); // the table could not grow (heap full): nothing was counted
      throw e;
    }
    add(wordsOf(offset), (offset >> 2) + WAITERS, 1);
    return { slot, generation: ownedGeneration() };
  } finally {
    leaveCritical();
  }
}

/**
 * Undoes countIn() in one kill-safe section, unless this thread's table was drained
 * meanwhile (its thread ended with the async wait pending): the runtime did it then.
 */
function countOut(offset: number, w: Waiting): void {
  if (w.generation !== ownedGeneration()) return;
  enterCritical();
  try {
    ownedRemove(currentOwnedCell(), w.slot);
    add(wordsOf(offset), (offset >> 2) + WAITERS, -1);
    releaseRef(offset); // last: it may free the condvar
  } finally {
    leaveCritical();
  }
}

/** One sleep on the sequence: resolves true if it ended by the deadline with no notify seen. */
function* sleepOn(i: Int32Array, at: number, seq: number): Op<boolean> {
  const expired = yield { index: at, expected: seq };
  return expired && load(i, at) === seq;
}

/**
 * A condition variable (Rust's `std::sync::Condvar`): wait for a condition on a
 * {@link Mutex}'s value, woken by another thread's notify.
 *
 * @example
 * ```ts
 * const ready = new Mutex(false);
 * const cv = new Condvar();
 * spawn((m: Mutex<boolean>, cv: Condvar) => {
 *   const g = m.lock();
 *   g.value = true;              // change the state under the lock...
 *   g.unlock();
 *   cv.notifyOne();              // ...then wake the waiter
 * }, ready, cv);
 * const g = ready.lock();
 * cv.waitWhile(g, (done) => !done); // returns with the lock held and the flag true
 * g.unlock();
 * ```
 *
 * @remarks
 * Blocking / async: `wait(guard)`, `waitWhile(guard, cond)`, `waitTimeout(guard, ms)`,
 * `waitTimeoutWhile(...)`, each with an `…Async` twin taking `{ signal }`. Every wait
 * releases the mutex while asleep and holds it again when it returns or throws, so the
 * guard is valid afterwards. Waits may wake spuriously: loop on the condition, or use
 * `waitWhile`.
 *
 * Ordering: a notify made after a change under the mutex is never lost: a waiter that
 * saw the old state is either already asleep (and is woken) or sees the notify's new
 * sequence number and returns. `notifyOne()` wakes one waiter (no order promised),
 * `notifyAll()` every waiter.
 *
 * Holder death: a waiter killed inside a wait leaves nothing behind, and a notifyOne
 * that woke it is not lost: the other waiters are woken (spuriously, as waits may be).
 * The mutex follows its own rules (poisoned and released if the thread dies holding it).
 *
 * @throws {@link PoisonError} when the mutex was poisoned while waiting (the guard is in
 * the error, the lock held). `TypeError` for a guard of another kind, a bad timeout, or a
 * blocking wait where blocking is impossible.
 */
export class Condvar extends Handle {
  /** A new condition variable; it is used with any Mutex, through the guard passed to wait(). */
  constructor();
  /** @internal */
  constructor(...args: [] | [Adopt]);
  constructor(...args: [] | [Adopt]) {
    const [adopt] = args;
    if (args.length > 0 && !(adopt instanceof Adopt)) {
      throw new TypeError(
        `new Condvar() takes no arguments, got ${describeValue(adopt)}; ` +
          'a Condvar is not tied to one mutex: pass the MutexGuard to wait(guard)',
      );
    }
    super(adopt instanceof Adopt ? adopt.offset : allocOwned(Kind.Condvar, OBJECT_BYTES - 8));
  }

  /** @internal */
  protected get kindName(): string {
    return 'Condvar';
  }

  /** @internal `Condvar`, or `Condvar<2 waiters>` while threads wait on it. */
  protected override describe(render: Describe): string {
    const n = load(wordsOf(this.offset), (this.offset >> 2) + WAITERS);
    return render(n === 0 ? 'Condvar' : `Condvar<${n} waiter${n === 1 ? '' : 's'}>`);
  }

  /**
   * Releases the guard's mutex, waits for a notify, and locks it again (throwing
   * PoisonError, lock held, if it was poisoned meanwhile). Wakes can be spurious:
   * wait in a loop that checks the condition, or use waitWhile().
   */
  wait<T>(guard: MutexGuard<T>): void {
    assertCanBlock('Condvar.wait()', 'waitAsync()');
    this.#waitSync(guard, undefined, 'Condvar.wait()');
  }

  /** Like wait(), at most `ms` milliseconds. */
  waitTimeout<T>(guard: MutexGuard<T>, ms: number): WaitTimeoutResult {
    const timeout = checkTimeout(ms, 'Condvar.waitTimeout()');
    assertCanBlock('Condvar.waitTimeout()', 'waitTimeoutAsync()');
    return { timedOut: this.#waitSync(guard, deadlineOf(timeout), 'Condvar.waitTimeout()') };
  }

  /** Waits while `cond(value)` is true; returns with the lock held and `cond` false. */
  waitWhile<T>(guard: MutexGuard<T>, cond: (value: T) => boolean): void {
    checkCond(cond, 'Condvar.waitWhile()');
    assertCanBlock('Condvar.waitWhile()', 'waitWhileAsync()');
    while (cond(guard.value)) this.#waitSync(guard, undefined, 'Condvar.waitWhile()');
  }

  /**
   * Waits while `cond(value)` is true, at most `ms` milliseconds in all. Returns with
   * the lock held; `timedOut` is true when the time ran out with `cond` still true.
   */
  waitTimeoutWhile<T>(guard: MutexGuard<T>, ms: number, cond: (value: T) => boolean): WaitTimeoutResult {
    const timeout = checkTimeout(ms, 'Condvar.waitTimeoutWhile()');
    checkCond(cond, 'Condvar.waitTimeoutWhile()');
    assertCanBlock('Condvar.waitTimeoutWhile()', 'waitTimeoutWhileAsync()');
    const deadline = deadlineOf(timeout);
    while (cond(guard.value)) {
      if (performance.now() >= deadline) return { timedOut: true };
      this.#waitSync(guard, deadline, 'Condvar.waitTimeoutWhile()');
    }
    return { timedOut: false };
  }

  /**
   * Like wait(), keeping the event loop running. Aborting `signal` relocks the mutex
   * (the guard is valid again), then rejects with its reason.
   */
  async waitAsync<T>(guard: MutexGuard<T>, options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'Condvar.waitAsync()');
    await this.#waitAsync(guard, Infinity, signal, 'Condvar.waitAsync()');
  }

  /** Like waitTimeout(), keeping the event loop running; `signal` as in waitAsync(). */
  async waitTimeoutAsync<T>(guard: MutexGuard<T>, ms: number, options?: WaitOptions): Promise<WaitTimeoutResult> {
    const signal = checkSignal(options, 'Condvar.waitTimeoutAsync()');
    const timeout = checkTimeout(ms, 'Condvar.waitTimeoutAsync()');
    return { timedOut: await this.#waitAsync(guard, deadlineOf(timeout), signal, 'Condvar.waitTimeoutAsync()') };
  }

  /** Like waitWhile(), keeping the event loop running; `signal` as in waitAsync(). */
  async waitWhileAsync<T>(guard: MutexGuard<T>, cond: (value: T) => boolean, options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'Condvar.waitWhileAsync()');
    checkCond(cond, 'Condvar.waitWhileAsync()');
    while (cond(guard.value)) await this.#waitAsync(guard, Infinity, signal, 'Condvar.waitWhileAsync()');
  }

  /** Like waitTimeoutWhile(), keeping the event loop running; `signal` as in waitAsync(). */
  async waitTimeoutWhileAsync<T>(
    guard: MutexGuard<T>,
    ms: number,
    cond: (value: T) => boolean,
    options?: WaitOptions,
  ): Promise<WaitTimeoutResult> {
    const signal = checkSignal(options, 'Condvar.waitTimeoutWhileAsync()');
    const timeout = checkTimeout(ms, 'Condvar.waitTimeoutWhileAsync()');
    checkCond(cond, 'Condvar.waitTimeoutWhileAsync()');
    const deadline = deadlineOf(timeout);
    while (cond(guard.value)) {
      if (performance.now() >= deadline) return { timedOut: true };
      await this.#waitAsync(guard, deadline, signal, 'Condvar.waitTimeoutWhileAsync()');
    }
    return { timedOut: false };
  }

  notifyOne(): void {
    this.#notify(1);
  }

  notifyAll(): void {
    this.#notify(undefined);
  }

  #notify(count: number | undefined): void {
    this.checkOpen();
    const i = wordsOf(this.offset);
    const b = this.offset >> 2;
    add(i, b + SEQ, 1);
    // Skipping the wake when nobody is counted in is safe: a waiter counted in later
    // read the sequence either after our bump, or before it and then its sleep sees
    // the new value and returns at once.
    if (load(i, b + WAITERS) > 0) notify(i, b + SEQ, count);
  }

  /** One blocking wait; true if it timed out. */
  #waitSync<T>(guard: MutexGuard<T>, deadline: number | undefined, call: string): boolean {
    const [g, i, b, seq, w] = this.#begin(guard, call);
    try {
      return runSync(sleepOn(i, b + SEQ, seq), deadline ?? Infinity);
    } finally {
      // Counted out only with the mutex ours again: a thread killed while it waits for
      // the mutex may have taken a notifyOne, and its record passes that on.
      try {
        g.relock();
      } finally {
        countOut(this.offset, w);
      }
    }
  }

  /**
   * One async wait; true if it timed out. The waiter's reference keeps the condvar
   * object alive meanwhile, so closing this handle during the wait cannot free it.
   */
  async #waitAsync<T>(guard: MutexGuard<T>, deadline: number, signal: AbortSignal | undefined, call: string): Promise<boolean> {
    const [g, i, b, seq, w] = this.#begin(guard, call);
    const offset = this.offset;
    try {
      // An abort throws out of here; the driver has then woken the other sleepers, so a
      // notifyOne this waiter swallowed reaches them as a (permitted) spurious wake.
      return await runAsync(sleepOn(i, b + SEQ, seq), deadline, signal);
    } finally {
      try {
        await g.relockAsync();
      } finally {
        countOut(offset, w);
      }
    }
  }

  /**
   * Writes the guard's value back (a failure throws with the lock still held), reads
   * the sequence, counts this waiter in, and only then releases the mutex: a notify
   * from then on changes the sequence, so the sleep that follows returns at once.
   */
  #begin<T>(guard: MutexGuard<T>, call: string): Begun {
    this.checkOpen();
    const g = suspendable(guard, call);
    g.commit();
    const i = wordsOf(this.offset);
    const b = this.offset >> 2;
    const seq = load(i, b + SEQ);
    const w = countIn(this.offset);
    g.suspend();
    return [g, i, b, seq, w];
  }
}

function checkCond(cond: unknown, call: string): void {
  if (typeof cond !== 'function') throw new TypeError(`${call}: the condition must be a function (value) => boolean, got ${describeValue(cond)}`);
}

defineKind(Kind.Condvar, {
  name: 'Condvar',
  wrap: (p) => new Condvar(new Adopt(p)),
  // A waiter's thread died inside a wait (Role.Held, see countIn). A notifyOne may have
  // woken it (the sequence bumped, its futex wake spent on it), and nothing records
  // whether one did: wake every other sleeper, as a notifyAll would. The sequence is
  // left alone: a waiter not asleep yet saw that notifyOne's bump or came after it.
  releaseRole(p) {
    const i = wordsOf(p);
    if (add(i, (p >> 2) + WAITERS, -1) > 1) notify(i, (p >> 2) + SEQ);
    releaseRef(p); // the waiter's reference; last, as it may free the condvar
  },
});
