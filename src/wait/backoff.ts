// Exponential backoff for spin-then-park loops, after crossbeam-utils' Backoff.
// A cross-thread handoff costs well under a microsecond when the peer is awake and
// tens of microseconds through a futex wake, so a short spin before parking wins
// latency; the spin is bounded so a waiter on an idle peer soon stops burning CPU.
//
// Under weft/check (futex.ts `checking`) a spin step is a yield to the checker, which
// then runs another thread, and the caller is told to park after a couple of steps:
// there a spin only adds scheduling points, and its only meaning is "let the others on".

import { checking, spinYield } from './futex.ts';

const SPIN_LIMIT = 6; // up to 2^6 relax steps per spin
const PARK_AFTER = 10; // steps before the caller should park
/** Steps before parking under the checker: the spin path is still taken, and stays short. */
const PARK_AFTER_CHECKED = 2;

let sink = 0;

export class Backoff {
  private step = 0;

  /** Spins a little longer each call; for retrying a failed CAS. */
  spin(): void {
    if (checking) spinYield();
    const n = 1 << Math.min(this.step, SPIN_LIMIT);
    for (let i = 0; i < n; i++) sink = (sink + i) | 0; // relax: no pause instruction in JS
    if (this.step <= SPIN_LIMIT) this.step++;
  }

  /** Spins while waiting for another thread to make progress. */
  snooze(): void {
    if (checking) spinYield();
    const n = 1 << Math.min(this.step, SPIN_LIMIT);
    for (let i = 0; i < n; i++) sink = (sink + i) | 0;
    if (this.step <= PARK_AFTER) this.step++;
  }

  /** True once spinning has gone on long enough that the caller should park. */
  isCompleted(): boolean {
    return this.step > (checking ? PARK_AFTER_CHECKED : PARK_AFTER);
  }

  reset(): void {
    this.step = 0;
  }
}
