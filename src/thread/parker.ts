// park / unpark: a token per thread in its record, with the states of Rust's futex
// parker: EMPTY 0, PARKED -1, NOTIFIED 1. unpark() before park() leaves the token,
// so the next park() returns at once; a token is never counted twice.

import { heap } from '../heap/heap.ts';
import { assertCanBlock, checkTimeout, exchange, notify, sub, cas, wait, waitAsync } from '../wait/futex.ts';
import { Backoff } from '../wait/backoff.ts';
import { currentRecord } from './current.ts';
import { recordField, R_PARKER } from './record.ts';

const EMPTY = 0, PARKED = -1, NOTIFIED = 1;

/**
 * Blocks until this thread's token is made available by `unpark()` (Rust's
 * `std::thread::park`), or spuriously: call it in a loop that checks your condition. An
 * `unpark()` that came first makes the next `park()` return at once.
 *
 * @example
 * ```ts
 * const h = spawn(async (flag: AtomicBool) => {
 *   const { park } = await import('weft'); // a thread sees its imports, not the caller's
 *   while (!flag.load()) park();
 *   return 'woken';
 * }, flag);
 * flag.store(true);
 * h.thread.unpark();
 * h.join(); // 'woken'
 * ```
 *
 * @throws `TypeError` where blocking is impossible (use {@link parkAsync}).
 */
export function park(): void {
  assertCanBlock('park()', 'parkAsync()');
  const i = heap().i32;
  const at = recordField(currentRecord(), R_PARKER);
  // NOTIFIED -> EMPTY consumes the token; EMPTY -> PARKED announces we sleep.
  if (sub(i, at, 1) === NOTIFIED) return;
  // A peer that is awake usually answers within a microsecond: spin briefly before
  // paying for a futex sleep and wake.
  for (const b = new Backoff(); !b.isCompleted(); b.snooze()) {
    if (cas(i, at, NOTIFIED, EMPTY) === NOTIFIED) return;
  }
  for (;;) {
    wait(i, at, PARKED);
    if (cas(i, at, NOTIFIED, EMPTY) === NOTIFIED) return;
  }
}

/**
 * Like {@link park}, but returns after at most `ms` milliseconds.
 *
 * @example
 * ```ts
 * parkTimeout(50); // returns after an unpark() or 50 ms
 * ```
 */
export function parkTimeout(ms: number): void {
  const t = checkTimeout(ms, 'parkTimeout()');
  assertCanBlock('parkTimeout()', 'parkAsync(ms)');
  const i = heap().i32;
  const at = recordField(currentRecord(), R_PARKER);
  if (sub(i, at, 1) === NOTIFIED) return;
  wait(i, at, PARKED, t);
  // Whether woken or timed out, leave EMPTY; a token that raced in is consumed here.
  exchange(i, at, EMPTY);
}

/**
 * Waits for this thread's token without blocking the event loop; `ms` bounds the wait.
 * The async twin of {@link park} / {@link parkTimeout}.
 *
 * @example
 * ```ts
 * await parkAsync(100); // after an unpark() of this thread, or 100 ms
 * ```
 */
export async function parkAsync(ms?: number): Promise<void> {
  const t = checkTimeout(ms, 'parkAsync()');
  const i = heap().i32;
  const at = recordField(currentRecord(), R_PARKER);
  if (sub(i, at, 1) === NOTIFIED) return;
  const deadline = t === undefined ? Infinity : performance.now() + t;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    await waitAsync(i, at, PARKED, left === Infinity ? undefined : left);
    if (cas(i, at, NOTIFIED, EMPTY) === NOTIFIED) return;
  }
  exchange(i, at, EMPTY);
}

/** Makes the token of the thread with record `record` available, waking it if parked. */
export function unparkRecord(record: number): void {
  const i = heap().i32;
  const at = recordField(record, R_PARKER);
  if (exchange(i, at, NOTIFIED) === PARKED) notify(i, at, 1);
}
