import { assertCanBlock, canBlock, checkTimeout, wait } from '../wait/futex.ts';
import { host } from '../platform/host.ts';
import { describeValue } from '../heap/describe.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** A futex timeout short enough to be a yield, long enough that the thread really sleeps. */
const YIELD_MS = 0.001;

/**
 * Blocks the calling thread (only) for `ms` milliseconds without using CPU. The async twin
 * is {@link sleepAsync}.
 *
 * @example
 * ```ts
 * sleep(10); // this thread waits 10 ms; other threads run on
 * ```
 *
 * @throws `RangeError` for a negative or non-numeric `ms`; `TypeError` where blocking is
 * impossible (a browser's main thread).
 */
export function sleep(ms: number): void {
  const t = checkTimeout(ms, 'sleep()') ?? Infinity;
  assertCanBlock('sleep()', 'await new Promise((r) => setTimeout(r, ms))');
  // Nobody notifies this private word, so the wait always runs to its timeout.
  const end = performance.now() + t;
  for (let left = t; left > 0; left = end - performance.now()) wait(sleeper, 0, 0, left);
}

/**
 * Blocks the calling thread until `deadline`, a time on this thread's `performance.now()`
 * clock (Rust's `sleep_until`, with `performance.now() + ms` for `Instant::now() +
 * duration`). A deadline already past returns at once.
 *
 * @example
 * ```ts
 * const next = performance.now() + 100;
 * work();
 * sleepUntil(next); // a fixed period, whatever work() took
 * ```
 */
export function sleepUntil(deadline: number): void {
  checkDeadline(deadline, 'sleepUntil(deadline)');
  assertCanBlock('sleepUntil()', 'sleepUntilAsync()');
  for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) wait(sleeper, 0, 0, left);
}

/**
 * {@link sleep} for event-loop threads: resolves after `ms`. Aborting `signal` rejects with
 * its reason.
 *
 * @example
 * ```ts
 * await sleepAsync(1000, { signal: AbortSignal.timeout(10) }); // rejects after 10 ms
 * ```
 */
export async function sleepAsync(ms: number, options?: WaitOptions): Promise<void> {
  const t = checkTimeout(ms, 'sleepAsync()') ?? Infinity;
  return sleepUntilAsync(performance.now() + t, options);
}

/**
 * {@link sleepUntil} for event-loop threads: resolves at `deadline` (a `performance.now()`
 * time). Aborting `signal` rejects with its reason.
 *
 * @example
 * ```ts
 * await sleepUntilAsync(performance.now() + 50);
 * ```
 */
export function sleepUntilAsync(deadline: number, options?: WaitOptions): Promise<void> {
  try {
    checkDeadline(deadline, 'sleepUntilAsync(deadline)');
    const signal = checkSignal(options, 'sleepUntilAsync()');
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      // A timer fires at most ~24.8 days ahead; a later deadline takes several.
      const arm = () => {
        const left = deadline - performance.now();
        if (left <= 0) {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        } else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      arm();
    });
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The longest delay setTimeout takes (2^31 - 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function checkDeadline(deadline: number, call: string): void {
  if (typeof deadline !== 'number') throw new TypeError(`${call}: expected a performance.now() time in milliseconds, got ${describeValue(deadline)}`);
  if (Number.isNaN(deadline)) throw new RangeError(`${call}: expected a performance.now() time in milliseconds, got NaN`);
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

/**
 * How many threads can run in parallel on this machine (a good default thread count).
 *
 * @example
 * ```ts
 * const pool = new ThreadPool({ threads: availableParallelism() });
 * ```
 */
export function availableParallelism(): number {
  return host.availableParallelism();
}
