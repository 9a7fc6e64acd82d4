// One waiting protocol, two ways to wait. A blocking operation is written once, as a
// generator that tries, asks to spin, registers itself and asks to park on a futex
// word; runSync() parks with Atomics.wait (after spinning), runAsync() with
// Atomics.waitAsync. This is how every `x()` / `xAsync()` pair of weft shares its
// logic. Fast paths try once before any generator is made.

import { heapCovering } from '../heap/heap.ts';
import { Backoff } from './backoff.ts';
import { wait, waitAsync } from './futex.ts';

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

/** Runs `op` without blocking: no spinning, parks with waitAsync. */
export async function runAsync<R>(op: Op<R>, deadline: number): Promise<R> {
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
      await waitAsync(heapCovering((park.index + 1) << 2).i32, park.index, park.expected, left === Infinity ? undefined : left);
    }
    input = performance.now() >= deadline;
  }
}
