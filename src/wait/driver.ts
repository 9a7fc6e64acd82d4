// One waiting protocol, two ways to wait. A blocking operation is written once, as a
// generator that tries, asks to spin, registers itself and asks to park on a futex
// word; runSync() parks with Atomics.wait (after spinning), runAsync() with
// Atomics.waitAsync. This is how every `x()` / `xAsync()` pair of weft shares its
// logic. Fast paths try once before any generator is made.
//
// Cancellation (`{ signal }` on every async wait) is an exception thrown into the op
// at the yield where it sleeps: an op that registered anything (a ticket, a waiter
// count, an armed receiver) undoes it in a catch or finally around its yields and
// rethrows, so an aborted wait leaves no trace.

import { describeValue } from '../heap/describe.ts';
import { heapCovering } from '../heap/heap.ts';
import { Backoff } from './backoff.ts';
import { checking, notify, wait, waitAsync } from './futex.ts';

/** Asks to spin a little more; resumed with true once it is time to park instead. */
export const SPIN = null;

/** Asks to sleep while the i32 at `index` holds `expected`; resumed with true once the deadline has passed. */
export interface Park {
  readonly index: number;
  readonly expected: number;
}

export type Op<R> = Generator<Park | typeof SPIN, R, boolean>;

/**
 * How long a blocked thread keeps spinning before it parks. A futex wake costs tens of
 * microseconds, a handoff to a spinning peer well under one: spinning this long lets a
 * request/response pair of threads stay awake, and costs an idle waiter little.
 */
const SPIN_MS = 0.05;
/**
 * Relax steps (about a nanosecond each) between two polls, on top of the Backoff. A
 * receiver that keeps up with its sender polls the very cache line the sender is
 * writing; polling back to back steals that line on every message and halves the
 * sender's rate, while this gap costs a woken receiver ~0.1 us.
 */
const POLL_GAP = 128;

let sink = 0;
function relax(steps: number): void {
  for (let k = 0; k < steps; k++) sink = (sink + k) | 0;
}

/** The deadline `ms` milliseconds from now, on the performance.now() clock (Infinity without `ms`). */
export function deadlineOf(ms: number | undefined): number {
  return ms === undefined ? Infinity : performance.now() + ms;
}

/** Runs `op` on this thread, blocking it. */
export function runSync<R>(op: Op<R>, deadline: number): R {
  const backoff = new Backoff();
  let spinUntil = 0;
  let input = false;
  for (;;) {
    const step = op.next(input);
    if (step.done) return step.value;
    const park = step.value;
    if (park === SPIN) {
      input = false;
      relax(POLL_GAP);
      if (!backoff.isCompleted()) backoff.snooze();
      else if (checking) input = true; // under weft/check no time passes while spinning: park now
      else {
        const now = performance.now();
        if (spinUntil === 0) spinUntil = Math.min(now + SPIN_MS, deadline);
        if (now < spinUntil) backoff.snooze();
        else input = true;
      }
      continue;
    }
    const left = deadline - performance.now();
    if (left > 0) wait(heapCovering((park.index + 1) << 2).i32, park.index, park.expected, left === Infinity ? undefined : left);
    input = performance.now() >= deadline;
    backoff.reset();
    spinUntil = 0;
  }
}

/** Options of every async wait. */
export interface WaitOptions {
  /** Aborting rejects the wait with `signal.reason`; nothing is taken. */
  readonly signal?: AbortSignal;
}

/** Throws `signal.reason` if the signal has aborted: every async wait checks this before its fast path. */
export function checkSignal(options: WaitOptions | undefined, call: string): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${call}: options must be an object like { signal }, got ${describeValue(options)}`);
  }
  const { signal } = options;
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).throwIfAborted !== 'function') {
    throw new TypeError(`${call}: options.signal must be an AbortSignal, got ${describeValue(signal)}`);
  }
  signal.throwIfAborted();
  return signal;
}

export const ABORTED: unique symbol = Symbol('aborted');

/** Settles with the wait's result, or ABORTED as soon as `signal` aborts (a later outcome is then ignored). */
export function raceAbort<T>(wait: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    wait.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Runs `op` without blocking: no spinning, parks with waitAsync. With `signal`,
 * an abort while parked throws the reason into the op (which undoes what it
 * registered) and rejects with it.
 */
export async function runAsync<R>(op: Op<R>, deadline: number, signal?: AbortSignal): Promise<R> {
  let input = false;
  for (;;) {
    const step = op.next(input);
    if (step.done) return step.value;
    const park = step.value;
    if (park === SPIN) {
      input = true;
      continue;
    }
    const left = deadline - performance.now();
    if (left > 0) {
      const view = heapCovering((park.index + 1) << 2).i32;
      const sleep = waitAsync(view, park.index, park.expected, left === Infinity ? undefined : left);
      if (signal !== undefined && (await raceAbort(sleep, signal)) === ABORTED) {
        // A waitAsync cannot be withdrawn: wake every sleeper on the word so that ours
        // settles now and cannot swallow a wake meant for a waiter that stays (the
        // others see a spurious wake, which every op tolerates).
        notify(view, park.index);
        // The op undoes its registration and rethrows, or, if what it waited for
        // happened first (checked on its way out), returns it: then it is ours.
        const end = op.throw(signal.reason);
        if (end.done) return end.value;
        throw new Error('weft: an op went on waiting after an abort');
      }
      if (signal === undefined) await sleep;
    }
    input = performance.now() >= deadline;
  }
}
