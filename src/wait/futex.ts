// The one module through which weft waits, wakes and touches the shared heap with
// Atomics. Keeping every such operation here makes it the seam of weft/check: in a
// thread running under the model checker (src/check/), each operation becomes a
// scheduling point, swapped in by setOps().
//
// How the swap costs nothing outside the checker: the operations are exported as
// `let` bindings that setOps() reassigns. ES module imports are live bindings, so a
// primitive calling `cas(...)` reads the module's current function on every call;
// V8 loads it from the module's cell and inlines the raw function through its call
// feedback, as it did for `const` exports. Measured against `const` exports (best of
// six alternating runs, one thread, Node 20): Mutex lock+unlock 42.0 vs 42.8 ns,
// channel send+recv 182 vs 184 ns, AtomicI32.fetchAdd 33.8 vs 34.5 ns: within the
// run-to-run noise. A flag tested in each wrapper, or a second build of this file
// picked by an export condition, were the other options: the first costs a load and
// a branch per operation, the second a build and a condition every consumer would
// have to set for the checker alone.

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
  // The error is built out of line: this check heads every blocking call's fast path.
  if (blockingAllowed !== true && !canBlock()) cannotBlock(call, alternative);
}

function cannotBlock(call: string, alternative: string): never {
  throw new TypeError(`${call} would block, and this thread may not block (browser main thread); use ${alternative} instead`);
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
const rawWait = (view: Int32Array, index: number, expected: number, ms?: number): WaitResult =>
  Atomics.wait(view, index, expected, ms);
export let wait = rawWait;

/** Wakes up to `count` threads waiting on `view[index]` (all when omitted). */
const rawNotify = (view: Int32Array, index: number, count?: number): number => Atomics.notify(view, index, count);
export let notify = rawNotify;

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
function rawWaitAsync(view: Int32Array, index: number, expected: number, ms?: number): Promise<WaitResult> {
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

export let waitAsync = rawWaitAsync;

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
const raw = {
  load: (v: Int32Array, i: number): number => Atomics.load(v, i),
  store: (v: Int32Array, i: number, x: number): number => Atomics.store(v, i, x),
  add: (v: Int32Array, i: number, x: number): number => Atomics.add(v, i, x),
  sub: (v: Int32Array, i: number, x: number): number => Atomics.sub(v, i, x),
  and: (v: Int32Array, i: number, x: number): number => Atomics.and(v, i, x),
  or: (v: Int32Array, i: number, x: number): number => Atomics.or(v, i, x),
  xor: (v: Int32Array, i: number, x: number): number => Atomics.xor(v, i, x),
  exchange: (v: Int32Array, i: number, x: number): number => Atomics.exchange(v, i, x),
  /** Compare-and-swap; returns the previous value (success when it equals `expected`). */
  cas: (v: Int32Array, i: number, expected: number, x: number): number => Atomics.compareExchange(v, i, expected, x),
  load64: (v: BigInt64Array, i: number): bigint => Atomics.load(v, i),
  store64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.store(v, i, x),
  cas64: (v: BigInt64Array, i: number, expected: bigint, x: bigint): bigint => Atomics.compareExchange(v, i, expected, x),
  add64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.add(v, i, x),
  sub64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.sub(v, i, x),
  and64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.and(v, i, x),
  or64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.or(v, i, x),
  xor64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.xor(v, i, x),
  exchange64: (v: BigInt64Array, i: number, x: bigint): bigint => Atomics.exchange(v, i, x),
  wait: rawWait,
  notify: rawNotify,
  waitAsync: rawWaitAsync,
};

export let load = raw.load;
export let store = raw.store;
export let add = raw.add;
export let sub = raw.sub;
export let and = raw.and;
export let or = raw.or;
export let xor = raw.xor;
export let exchange = raw.exchange;
/** Compare-and-swap; returns the previous value (success when it equals `expected`). */
export let cas = raw.cas;
export let load64 = raw.load64;
export let store64 = raw.store64;
export let cas64 = raw.cas64;
export let add64 = raw.add64;
export let sub64 = raw.sub64;
export let and64 = raw.and64;
export let or64 = raw.or64;
export let xor64 = raw.xor64;
export let exchange64 = raw.exchange64;

/** Every operation of this module that the checker replaces. */
export type FutexOps = typeof raw;

/** The plain operations, for the checker's own bookkeeping and for after it. */
export const rawOps: Readonly<FutexOps> = raw;

/**
 * True while this thread runs under the model checker: its operations are scheduling
 * points. Spin loops (Backoff) and the wait driver read it to yield instead of
 * spinning on a clock that only the checker advances.
 */
export let checking = false;

/** Called by Backoff at each spin step while `checking`: lets the checker run another thread. */
export let spinYield: () => void = () => {};

const runNow = <A extends unknown[], R>(f: (...a: A) => R, ...a: A): R => f(...a);

/**
 * Runs `f` as one step while `checking`: its operations are not scheduling points (the
 * allocator's, whose number depends on the heap's history). Plain call otherwise.
 */
export let unscheduled: <A extends unknown[], R>(f: (...a: A) => R, ...a: A) => R = runNow;

/**
 * Installs `ops` (the checker's scheduling points) in place of the plain operations
 * in this thread, or the plain ones again with `undefined`.
 */
export function setOps(
  ops: FutexOps | undefined,
  onSpin?: () => void,
  asOneStep?: <A extends unknown[], R>(f: (...a: A) => R, ...a: A) => R,
): void {
  const o = ops ?? raw;
  ({ load, store, add, sub, and, or, xor, exchange, cas } = o);
  ({ load64, store64, cas64, add64, sub64, and64, or64, xor64, exchange64 } = o);
  ({ wait, notify, waitAsync } = o);
  checking = ops !== undefined;
  spinYield = onSpin ?? (() => {});
  unscheduled = asOneStep ?? runNow;
}
