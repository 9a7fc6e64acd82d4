// The receiving side as recv, select and the oneshot see it: a thing that can be
// polled, and armed so that the next sender wakes this thread (with several
// receivers, every waiting thread: see layout.ts). recvOp() is the one
// receive loop behind recv, recvTimeout, recvAsync and iteration.

import { load } from '../wait/futex.ts';
import { SPIN, type Op } from '../wait/driver.ts';
import { signalIndex } from './signal.ts';
import { heapCovering } from '../heap/heap.ts';

/** Nothing to receive right now. */
export const EMPTY: unique symbol = Symbol('empty');
/** Nothing to receive, ever: every sender is gone and everything sent was received. */
export const DISCONNECTED: unique symbol = Symbol('disconnected');

export interface Receivable {
  /** A message, EMPTY or DISCONNECTED. */
  tryTake(): unknown;
  /** Names the thread's wake word (signal.ts) as the one senders wake. */
  observe(word: number): void;
  /**
   * Registers a waiter, so that the next message (or disconnection) wakes the observer.
   * Returns true when something is ready already and the caller must not sleep.
   * Each arm() is paired with one disarm().
   */
  arm(): boolean;
  disarm(): void;
  /**
   * True (once asked) when this receiver woke a sleeping sender and no sender has sent
   * since: the woken one may be waiting for this thread's core, so do not spin for it.
   */
  wokePeer(): boolean;
}

/** Key of the method that checks a receiving handle is usable and returns its Receivable. */
export const endpoint: unique symbol = Symbol('weft.endpoint');

export interface HasEndpoint {
  [endpoint](): Receivable;
  /** True once the handle is closed or moved: its channel may be gone, touch nothing. */
  readonly released: boolean;
}

/**
 * Receives one message: the message, DISCONNECTED, or EMPTY once the deadline passed.
 * The handle is checked again after every sleep: it may have been closed meanwhile.
 * An abort thrown in at the sleep disarms (if the handle is still open) and rethrows,
 * so the aborted wait leaves no waiter registered.
 */
export function* recvOp(rx: HasEndpoint): Op<unknown> {
  for (;;) {
    const r = rx[endpoint]();
    const got = r.tryTake();
    if (got !== EMPTY) return got;
    if (!r.wokePeer() && !(yield SPIN)) continue;
    // Register, then check, then sleep on a word whose value was read before registering:
    // a sender that publishes after our check sees the registration and bumps the word.
    const word = signalIndex();
    const seq = load(heapCovering((word + 1) << 2).i32, word);
    r.observe(word);
    const ready = r.arm(); // a throw here (heap full) leaves nothing registered
    let expired: boolean;
    try {
      expired = ready ? false : yield { index: word, expected: seq };
    } catch (e) {
      if (!rx.released) r.disarm();
      throw e;
    }
    // Checked before the channel is touched again: the handle may have been closed while
    // we slept (its ref may have been the channel's last).
    rx[endpoint]();
    r.disarm();
    if (expired) return rx[endpoint]().tryTake();
  }
}
