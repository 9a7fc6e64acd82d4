import { assertCanBlock, canBlock, checkTimeout, wait } from '../wait/futex.ts';
import { availableParallelism as osParallelism } from 'node:os';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks the calling thread (only) for `ms` milliseconds without using CPU. */
export function sleep(ms: number): void {
  const t = checkTimeout(ms, 'sleep()') ?? Infinity;
  assertCanBlock('sleep()', 'await new Promise((r) => setTimeout(r, ms))');
  // Nobody notifies this private word, so the wait always runs to its timeout.
  const end = performance.now() + t;
  for (let left = t; left > 0; left = end - performance.now()) wait(sleeper, 0, 0, left);
}

/** Gives other threads a chance to run. Threads are OS threads, so this is a hint only. */
export function yieldNow(): void {
  if (canBlock()) wait(sleeper, 0, 1, 0); // returns at once ('not-equal'); a cheap trip into the runtime
}

/** How many threads can run in parallel on this machine. */
export function availableParallelism(): number {
  return typeof navigator !== 'undefined' && navigator.hardwareConcurrency
    ? navigator.hardwareConcurrency
    : osParallelism();
}
