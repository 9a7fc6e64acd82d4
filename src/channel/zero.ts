// The rendezvous flavor (syncChannel(0)): one offer slot that a sender fills and the
// receiver empties; a send returns once the receiver has taken its message.
//
// The offer word is generation << 2 | state, state FREE, CLAIMED (a sender is writing
// or withdrawing) or OFFERED. A sender claims the slot before it encodes (nothing is
// encoded for a send that cannot happen), writes, offers, then waits until the offer
// word moves on. The receiver takes an offer by CAS from OFFERED to the next
// generation's FREE, so the slot is free for the next sender at once and the waiting
// sender knows its message went. A sender that gives up (timeout, receiver gone)
// withdraws by CAS from OFFERED to CLAIMED: exactly one of the two CASes wins, and the
// generation makes sure a sender never withdraws another sender's offer.
//
// Senders sleep on the wake word (txSeq) with a waiting count; the receiver waits on
// its thread's word with a waiting count that tells trySend whether anyone is there.

import { add, cas, load, store } from '../wait/futex.ts';
import { SPIN, type Op } from '../wait/driver.ts';
import { SendError } from './errors.ts';
import { Core } from './layout.ts';
import { DISCONNECTED, EMPTY } from './receivable.ts';

const FREE = 0;
const CLAIMED = 1;
const OFFERED = 2;
const STATE = 3;
const GENERATION = 4;

export class Zero<T> extends Core<T> {
  #armed = 0;

  protected bufferBytes(stride: number): number {
    return stride;
  }

  // ---------------------------------------------------------------------------------
  // Sending

  /** A rendezvous send always waits for the receiver. */
  sendNow(): boolean {
    return false;
  }

  *sendOp(value: T, tryOnly: boolean, guard: () => void): Op<boolean> {
    const i = this.h().i32;
    // Claim the slot.
    let gen: number;
    for (;;) {
      if (this.rxGone(i)) throw new SendError(value);
      const o = load(i, this.offer);
      if ((o & STATE) === FREE) {
        if (tryOnly && load(i, this.rxWaiters) === 0) return false;
        if (cas(i, this.offer, o, o | CLAIMED) === o) {
          gen = o;
          break;
        }
        continue;
      }
      if (tryOnly) return false;
      if (!(yield SPIN)) continue;
      if (yield* this.#sleep(i, o, false, guard)) return false;
    }
    let token: unknown;
    try {
      token = this.slots.prepare(value);
    } catch (e) {
      this.#free(i, gen);
      throw e;
    }
    this.slots.put(this.h(), this.buffer, token);
    const offered = gen | OFFERED;
    store(i, this.offer, offered);
    if (load(i, this.rxWaiters) !== 0) this.wakeReceiver(i);
    // Wait until the receiver takes it.
    let expired = false;
    for (;;) {
      if (load(i, this.offer) !== offered) return true;
      const gone = this.rxGone(i);
      if (gone || expired || (tryOnly && load(i, this.rxWaiters) === 0)) {
        if (cas(i, this.offer, offered, gen | CLAIMED) !== offered) return true; // taken meanwhile
        this.#free(i, gen);
        const back = this.slots.giveBack(token, value);
        if (gone) throw new SendError(back);
        return false;
      }
      if (!(yield SPIN)) continue;
      expired = yield* this.#sleep(i, offered, tryOnly, guard);
    }
  }

  /** Sleeps while the offer word is `o` (and the receiver is there); true once the deadline passed. */
  *#sleep(i: Int32Array, o: number, needReceiver: boolean, guard: () => void): Op<boolean> {
    const seq = load(i, this.txSeq);
    add(i, this.txWaiters, 1);
    let expired = false;
    if (load(i, this.offer) === o && !this.rxGone(i) && !(needReceiver && load(i, this.rxWaiters) === 0)) {
      expired = yield { index: this.txSeq, expected: seq };
    }
    // Checked before touching the channel again: a closed handle may be its last ref.
    guard();
    add(i, this.txWaiters, -1);
    return expired;
  }

  /** Frees the slot after a claim that is not going ahead. */
  #free(i: Int32Array, gen: number): void {
    store(i, this.offer, gen | FREE);
    if (load(i, this.txWaiters) !== 0) this.wakeSenders(i);
  }

  // ---------------------------------------------------------------------------------
  // Receiving (the receiver's thread only)

  tryTake(): unknown {
    for (;;) {
      const h = this.h();
      const i = h.i32;
      const o = load(i, this.offer);
      if ((o & STATE) === OFFERED) {
        // Read first: once the CAS frees the slot, the next sender may overwrite it.
        const raw = this.slots.read(h, this.buffer);
        if (cas(i, this.offer, o, ((o & ~STATE) + GENERATION) | 0) === o) {
          if (load(i, this.txWaiters) !== 0) this.wakeSenders(i);
          return this.slots.finish(raw);
        }
        continue; // withdrawn meanwhile
      }
      if (!this.sendersGone(i)) return EMPTY;
      // Every sender is gone, so an offer made before the last one left is visible now.
      if ((load(i, this.offer) & STATE) !== OFFERED) return DISCONNECTED;
    }
  }

  arm(): boolean {
    const i = this.h().i32;
    if (this.#armed++ === 0) add(i, this.rxWaiters, 1);
    return (load(i, this.offer) & STATE) === OFFERED || this.sendersGone(i);
  }

  disarm(): void {
    if (--this.#armed > 0) return;
    const i = this.h().i32;
    add(i, this.rxWaiters, -1);
    // A trySend offering to us waits only while a receiver is there: tell it we left.
    if ((load(i, this.offer) & STATE) === OFFERED) this.wakeSenders(i);
  }

  // ---------------------------------------------------------------------------------
  // Lifecycle

  closeReceiver(): void {
    // An offer belongs to its sender, which withdraws it once woken.
    this.wakeSenders(this.h().i32);
  }

  destroy(): void {
    // An offer left behind by a sender that was killed while waiting.
    const h = this.h();
    if ((load(h.i32, this.offer) & STATE) === OFFERED) this.slots.drop(h, this.buffer);
  }
}
