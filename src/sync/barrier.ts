// Barrier: n callers meet; exactly one of each generation is the leader, and the
// barrier is reusable. Arrivals count in one 64-bit word, [count | generation << 32],
// so that an arrival learns its generation in the same step that counts it (more
// than n threads may share a barrier, and a late arrival must not join the
// generation that just filled). The last arrival opens a new generation (count 0)
// and then raises RELEASED, the word the others sleep on.
//
// An aborted waitAsync withdraws its arrival (count - 1, in the same generation) so
// the generation still needs n live callers; if its generation completed first, the
// wait resolves normally instead, as the arrival has already been counted in.
//
// The last arrival's opening of a new generation and its raising of RELEASED happen in
// one kill-safe section (thread/critical.ts): a leader killed between the two would
// leave the whole generation asleep.

import { Adopt, defineKind, Handle, allocOwned } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, cas, cas64, load, load64, notify, store, wait, waitAsync } from '../wait/futex.ts';
import { describeValue } from '../heap/describe.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { ABORTED, raceAbort } from '../wait/driver.ts';

// i32 fields: ARRIVALS (64-bit, at i32 index 2 and 3), N, RELEASED (generations
// completed, modulo 2^32).
const N = 4, RELEASED = 5;
const BARRIER_BYTES = 24;

/**
 * What {@link Barrier.wait} returns: `isLeader` is true for exactly one caller of each
 * generation.
 */
export interface BarrierWaitResult {
  /** True for exactly one caller of each generation (the last to arrive). */
  readonly isLeader: boolean;
}

const LEADER: BarrierWaitResult = Object.freeze({ isLeader: true });
const FOLLOWER: BarrierWaitResult = Object.freeze({ isLeader: false });

const views = (offset: number) => heapCovering(offset + BARRIER_BYTES);

/** True once generation `gen` has been released, RELEASED being `released`. */
const isReleased = (gen: number, released: number): boolean => ((released - gen) | 0) > 0;

/**
 * A rendezvous of `n` threads (Rust's `std::sync::Barrier`): each `wait()` blocks until
 * `n` callers have arrived; exactly one of them gets `isLeader === true`. Reusable:
 * the next `n` arrivals form the next generation.
 *
 * @example
 * ```ts
 * const start = new Barrier(3);
 * const hs = [0, 1].map(() => spawn((b: Barrier) => { b.wait(); return 'go'; }, start));
 * start.wait(); // the third arrival releases all three
 * hs.map((h) => h.join()); // ['go', 'go']
 * ```
 *
 * @remarks
 * Blocking / async: `wait()` / `waitAsync({ signal })`. Aborting an async wait withdraws
 * its arrival, unless its generation already completed (then it resolves normally).
 *
 * Ordering: everything a thread wrote before its `wait()` is visible to every thread of
 * its generation after theirs returns.
 *
 * Holder death: a thread that dies before arriving is simply one arrival short: the
 * others wait until `n` live callers arrive (as in Rust). A leader killed while opening
 * the next generation cannot leave the generation asleep (one kill-safe section).
 *
 * @throws `TypeError` / `RangeError` from the constructor for an `n` that is not an
 * integer from 0 to 2^31 - 1; `TypeError` for a blocking wait where blocking is impossible.
 */
export class Barrier extends Handle {
  constructor(n: number);
  /** @internal */
  constructor(n: number | Adopt);
  constructor(n: number | Adopt) {
    if (!(n instanceof Adopt)) {
      if (typeof n !== 'number') throw new TypeError(`new Barrier(n): n must be a number, got ${describeValue(n)}`);
      if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
        throw new RangeError(`new Barrier(n): n must be an integer from 0 to 2^31 - 1, got ${n}`);
      }
    }
    super(n instanceof Adopt ? n.offset : allocOwned(Kind.Barrier, BARRIER_BYTES - 8));
    if (!(n instanceof Adopt)) store(views(this.offset).i32, (this.offset >> 2) + N, n);
  }

  /** @internal */
  protected get kindName(): string {
    return 'Barrier';
  }

  /** @internal */
  protected override describe(): string {
    return `Barrier<n=${load(views(this.offset).i32, (this.offset >> 2) + N)}>`;
  }

  /** Blocks until n callers have called wait() (or waitAsync()); one of them is told it is the leader. */
  wait(): BarrierWaitResult {
    this.checkOpen();
    assertCanBlock('Barrier.wait()', 'Barrier.waitAsync()');
    const gen = this.#arrive();
    if (gen === undefined) return LEADER;
    const i = views(this.offset).i32;
    const at = (this.offset >> 2) + RELEASED;
    for (let r = load(i, at); !isReleased(gen, r); r = load(i, at)) wait(i, at, r);
    return FOLLOWER;
  }

  /** wait() for event-loop threads; aborting `signal` withdraws this arrival unless its generation has completed. */
  async waitAsync(options?: WaitOptions): Promise<BarrierWaitResult> {
    const signal = checkSignal(options, 'Barrier.waitAsync()');
    this.checkOpen();
    const gen = this.#arrive();
    if (gen === undefined) return LEADER;
    const i = views(this.offset).i32;
    const at = (this.offset >> 2) + RELEASED;
    for (let r = load(i, at); !isReleased(gen, r); r = load(i, at)) {
      const sleep = waitAsync(i, at, r);
      if (signal === undefined) await sleep;
      else if ((await raceAbort(sleep, signal)) === ABORTED) {
        if (!this.#withdraw(gen)) return FOLLOWER; // the generation completed first
        notify(i, at); // settles our abandoned sleep; the others re-check and sleep again
        throw signal.reason;
      }
    }
    return FOLLOWER;
  }

  /** Takes back an arrival of generation `gen`; false if that generation has completed. */
  #withdraw(gen: number): boolean {
    const h = views(this.offset);
    const at = (this.offset >> 3) + 1;
    for (let s = load64(h.i64, at); ; ) {
      // Our arrival is counted until the generation completes, so the count is at least 1 here.
      if ((Number(s >> 32n) | 0) !== gen) return false;
      const seen = cas64(h.i64, at, s, s - 1n);
      if (seen === s) return true;
      s = seen;
    }
  }

  /** Counts this caller in. Returns its generation, or undefined if it completed the generation (the leader). */
  #arrive(): number | undefined {
    const h = views(this.offset);
    const b = this.offset >> 2;
    const at = (this.offset >> 3) + 1;
    const n = load(h.i32, b + N);
    enterCritical();
    try {
      for (let s = load64(h.i64, at); ; ) {
        const count = Number(BigInt.asUintN(32, s));
        const gen = Number(s >> 32n) | 0;
        const last = count + 1 >= n;
        const next = last ? BigInt((gen + 1) | 0) << 32n : s + 1n;
        const seen = cas64(h.i64, at, s, next);
        if (seen !== s) {
          s = seen;
          continue;
        }
        if (!last) return gen;
        this.#release(gen + 1);
        return undefined;
      }
    } finally {
      leaveCritical();
    }
  }

  /** Raises RELEASED to `gen` (never lowering it: leaders of consecutive generations may race) and wakes the sleepers. */
  #release(gen: number): void {
    const i = views(this.offset).i32;
    const at = (this.offset >> 2) + RELEASED;
    for (let r = load(i, at); !isReleased(gen - 1, r); r = load(i, at)) {
      if (cas(i, at, r, gen | 0) === r) break;
    }
    notify(i, at);
  }
}

defineKind(Kind.Barrier, { name: 'Barrier', wrap: (p) => new Barrier(new Adopt(p)) });
