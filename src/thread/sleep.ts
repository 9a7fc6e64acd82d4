import { assertCanBlock, canBlock, checkTimeout, wait } from '../wait/futex.ts';
import { host } from '../platform/host.ts';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** A futex timeout short enough to be a yield, long enough that the thread really sleeps. */
const YIELD_MS = 0.001;

/** Blocks the calling thread (only) for `ms` milliseconds without using CPU. */
export function sleep(ms: number): void {
  const t = checkTimeout(ms, 'sleep()') ?? Infinity;
  assertCanBlock('sleep()', 'await new Promise((r) => setTimeout(r, ms))');
  // Nobody notifies this private word, so the wait always runs to its timeout.
  const end = performance.now() + t;
  for (let left = t; left > 0; left = end - performance.now()) wait(sleeper, 0, 0, left);
}

/**
 * Gives up the CPU so that another thread can run. JavaScript has no sched_yield: this
 * sleeps on a private word for the shortest timeout the futex takes (a zero timeout
 * returns without entering the kernel), so the OS schedules something else; on Linux
 * that costs tens of microseconds (timer slack) even on an idle machine.
 */
export function yieldNow(): void {
  if (canBlock()) wait(sleeper, 0, 0, YIELD_MS);
}

/** How many threads can run in parallel on this machine. */
export function availableParallelism(): number {
  return host.availableParallelism();
}
