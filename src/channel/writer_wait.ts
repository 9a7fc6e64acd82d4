// A short, bounded wait for a sender that is between claiming a slot and publishing it.

import { Backoff } from '../wait/backoff.ts';
import { canBlock, wait } from '../wait/futex.ts';

/**
 * How long the receiver waits for a sender that has claimed the next position but not
 * yet published it. crossbeam waits for it unconditionally, which makes try_recv
 * linearizable: a message whose send returned is always found. A sender killed in
 * between would then hang the receiver, so here the wait is bounded.
 */
const WRITER_WAIT_MS = 20;
/** A word nobody notifies: waiting on it is a short sleep. */
const nap = new Int32Array(new SharedArrayBuffer(4));

export class WriterWait {
  readonly #backoff = new Backoff();
  readonly #until = performance.now() + WRITER_WAIT_MS;

  /** Waits a little; false once the bound is reached. */
  next(): boolean {
    if (!this.#backoff.isCompleted()) this.#backoff.snooze();
    else if (performance.now() >= this.#until) return false;
    else if (canBlock()) wait(nap, 0, 0, 0.05);
    return true;
  }
}
