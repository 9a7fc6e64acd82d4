// Exponential backoff for spin-then-park loops, after crossbeam-utils' Backoff.
// A cross-thread handoff costs well under a microsecond when the peer is awake and
// tens of microseconds through a futex wake, so a short spin before parking wins
// latency; the spin is bounded so a waiter on an idle peer soon stops burning CPU.

const SPIN_LIMIT = 6; // up to 2^6 relax steps per spin
const PARK_AFTER = 10; // steps before the caller should park

let sink = 0;

export class Backoff {
  private step = 0;

  /** Spins a little longer each call; for retrying a failed CAS. */
  spin(): void {
    const n = 1 << Math.min(this.step, SPIN_LIMIT);
    for (let i = 0; i < n; i++) sink = (sink + i) | 0; // relax: no pause instruction in JS
    if (this.step <= SPIN_LIMIT) this.step++;
  }

  /** Spins while waiting for another thread to make progress. */
  snooze(): void {
    const n = 1 << Math.min(this.step, SPIN_LIMIT);
    for (let i = 0; i < n; i++) sink = (sink + i) | 0;
    if (this.step <= PARK_AFTER) this.step++;
  }

  /** True once spinning has gone on long enough that the caller should park. */
  isCompleted(): boolean {
    return this.step > PARK_AFTER;
  }

  reset(): void {
    this.step = 0;
  }
}
