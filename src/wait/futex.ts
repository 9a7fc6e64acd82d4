// The one module through which weft waits and wakes on the shared heap.
// Keeping every futex operation here means a schedule-exploring test mode can be
// swapped in later without touching the primitives.

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

let blockingAllowed: boolean | undefined;

/** True where `Atomics.wait` may be used (not a browser's main thread). */
export function canBlock(): boolean {
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

/**
 * Throws the contract's TypeError when the calling thread may not block.
 * Called at the top of every blocking operation, before any state changes.
 */
export function assertCanBlock(call: string, alternative: string): void {
  if (!canBlock()) {
    throw new TypeError(
      `${call} would block, and this thread may not block (browser main thread); use ${alternative} instead`,
    );
  }
}

/** Checks a user-supplied timeout; `undefined` means wait forever. */
export function checkTimeout(ms: number | undefined, call: string): number | undefined {
  if (ms === undefined || ms === Infinity) return undefined;
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`${call}: timeout must be a non-negative number of milliseconds, got ${String(ms)}`);
  }
  return ms;
}

/** Blocks while `view[index] === expected`, at most `ms` milliseconds. */
export function wait(view: Int32Array, index: number, expected: number, ms?: number): WaitResult {
  return Atomics.wait(view, index, expected, ms);
}

/** Wakes up to `count` threads waiting on `view[index]` (all when omitted). */
export function notify(view: Int32Array, index: number, count?: number): number {
  return Atomics.notify(view, index, count);
}

// Node's Atomics.waitAsync does not keep the event loop alive (nodejs/node#61941):
// a process whose only pending work is an async wait would exit under it. One
// ref'd timer held while any async wait is pending keeps it alive; it is cleared
// as soon as the last one settles so an idle process can exit.
let pendingAsyncWaits = 0;
let keepAliveTimer: ReturnType<typeof setInterval> | undefined;

function holdAlive(): void {
  if (pendingAsyncWaits++ === 0) keepAliveTimer = setInterval(() => {}, 1 << 30);
}

function releaseAlive(): void {
  if (--pendingAsyncWaits === 0 && keepAliveTimer !== undefined) {
    clearInterval(keepAliveTimer);
    keepAliveTimer = undefined;
  }
}

/** Number of async waits currently pending in this thread (for tests and diagnostics). */
export function pendingAsyncWaitCount(): number {
  return pendingAsyncWaits;
}

const nativeWaitAsync: typeof Atomics.waitAsync | undefined =
  typeof Atomics.waitAsync === 'function' ? Atomics.waitAsync.bind(Atomics) : undefined;

/**
 * Resolves once `view[index]` is notified (or differs from `expected`), or after `ms`.
 * The event loop keeps running meanwhile, and the process stays alive until it settles.
 */
export function waitAsync(view: Int32Array, index: number, expected: number, ms?: number): Promise<WaitResult> {
  if (nativeWaitAsync === undefined) return pollingWaitAsync(view, index, expected, ms);
  const r = nativeWaitAsync(view, index, expected, ms);
  if (!r.async) return Promise.resolve(r.value as WaitResult);
  holdAlive();
  return (r.value as Promise<WaitResult>).then(
    (v) => {
      releaseAlive();
      return v;
    },
    (e) => {
      releaseAlive();
      throw e;
    },
  );
}

// Fallback for engines without Atomics.waitAsync: re-check with a delay that starts
// at zero and doubles up to 4 ms, so a prompt wake is seen within a few ms at worst
// while an idle wait costs little CPU. A notify cannot be observed directly, so a
// value change is what ends the wait ("ok"), as with a spurious futex wake.
export function pollingWaitAsync(view: Int32Array, index: number, expected: number, ms?: number): Promise<WaitResult> {
  if (Atomics.load(view, index) !== expected) return Promise.resolve('not-equal');
  const deadline = ms === undefined ? Infinity : Date.now() + ms;
  holdAlive();
  return new Promise((resolve) => {
    let delay = 0;
    const check = () => {
      if (Atomics.load(view, index) !== expected) {
        releaseAlive();
        resolve('ok');
      } else if (Date.now() >= deadline) {
        releaseAlive();
        resolve('timed-out');
      } else {
        delay = Math.min(4, delay * 2 || 0.25);
        setTimeout(check, delay);
      }
    };
    setTimeout(check, 0);
  });
}

// Plain atomic operations on the heap, re-exported here so that every shared-memory
// access of the primitives goes through this module (V8 inlines these wrappers).
export const load = (v: Int32Array, i: number): number => Atomics.load(v, i);
export const store = (v: Int32Array, i: number, x: number): number => Atomics.store(v, i, x);
export const add = (v: Int32Array, i: number, x: number): number => Atomics.add(v, i, x);
export const sub = (v: Int32Array, i: number, x: number): number => Atomics.sub(v, i, x);
export const and = (v: Int32Array, i: number, x: number): number => Atomics.and(v, i, x);
export const or = (v: Int32Array, i: number, x: number): number => Atomics.or(v, i, x);
export const xor = (v: Int32Array, i: number, x: number): number => Atomics.xor(v, i, x);
export const exchange = (v: Int32Array, i: number, x: number): number => Atomics.exchange(v, i, x);
/** Compare-and-swap; returns the previous value (success when it equals `expected`). */
export const cas = (v: Int32Array, i: number, expected: number, x: number): number =>
  Atomics.compareExchange(v, i, expected, x);
export const load64 = (v: BigInt64Array, i: number): bigint => Atomics.load(v, i);
export const store64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.store(v, i, x);
export const cas64 = (v: BigInt64Array, i: number, expected: bigint, x: bigint): bigint =>
  Atomics.compareExchange(v, i, expected, x);
export const add64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.add(v, i, x);
export const sub64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.sub(v, i, x);
export const and64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.and(v, i, x);
export const or64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.or(v, i, x);
export const xor64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.xor(v, i, x);
export const exchange64 = (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.exchange(v, i, x);
