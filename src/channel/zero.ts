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
// generation makes sure a sender never withdraws another sender's offer. A withdrawn
// message goes back to the caller as Rust's SendTimeoutError / TrySendError / SendError
// carry it: the endpoints in it return to the caller's own handles (slots.giveBack()),
// usable again, and counted once, at once, not when this thread ends.
//
// Senders sleep on the wake word (txSeq) with a waiting count; receivers wait on
// their threads' words with a waiting count that tells trySend whether anyone is
// there. Taking is one CAS, so any number of receivers take without the receivers'
// lock (layout.ts).
//
// Kill safety (thread/critical.ts): the claim and its record in the sender's owned
// table (Role.Claim) are made in one kill-safe section, and the offer and the record's
// removal in another, so the runtime frees the slot of a sender killed in between; a
// withdrawal (offer back to claimed, then free, the message held again) is one section
// too, and giving the message back another. An offer left by a killed sender is taken
// like any other.
//
// An aborted send undoes its waiting count, and withdraws its offer (given back) if it
// made one; if a receiver took the offer first, the message was delivered and the send
// counts as done (SendContext.delivered).

import { add, cas, load, store } from '../wait/futex.ts';
import { currentOwnedCell, Role } from '../heap/handle.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { SPIN, type Op } from '../wait/driver.ts';
import { SendError } from './errors.ts';
import { Core, type SendContext } from './layout.ts';
import { DISCONNECTED, EMPTY } from './receivable.ts';

const FREE = 0;
const CLAIMED = 1;
const OFFERED = 2;
const STATE = 3;
const GENERATION = 4;
/** An offer a receiver took before the sender could withdraw it (or another receiver took first). */
const TAKEN = Symbol('taken');

export class Zero<T> extends Core<T> {

  protected bufferBytes(stride: number): number {
    return stride;
  }

  // ---------------------------------------------------------------------------------
  // Sending

  /** A rendezvous send always waits for the receiver. */
  sendNow(): boolean {
    return false;
  }

  *sendOp(value: T, tryOnly: boolean, ctx: SendContext): Op<boolean> {
    const i = this.h().i32;
    const cell = currentOwnedCell();
    // Claim the slot.
    let gen: number;
    let claim: number;
    for (;;) {
      if (this.rxGone(i)) throw new SendError(value);
      const o = load(i, this.offer);
      if ((o & STATE) === FREE) {
        if (tryOnly && load(i, this.rxWaiters) === 0) return false;
        claim = this.#claim(i, o, cell);
        if (claim >= 0) {
          gen = o;
          break;
        }
        continue;
      }
      if (tryOnly) return false;
      if (!(yield SPIN)) continue;
      if (yield* this.#sleep(i, o, false, ctx)) return false;
    }
    let token: unknown;
    try {
      token = this.slots.prepare(value);
    } catch (e) {
      enterCritical();
      try {
        ownedRemove(cell, claim);
        this.#free(i, gen);
      } finally {
        leaveCritical();
      }
      throw e;
    }
    const offered = gen | OFFERED;
    enterCritical();
    try {
      this.slots.put(this.h(), this.buffer, token);
      store(i, this.offer, offered);
      this.slots.sent(token);
      ownedRemove(cell, claim);
      if (load(i, this.rxWaiters) !== 0) this.wakeReceiver(i);
    } finally {
      leaveCritical();
    }
    // Wait until the receiver takes it.
    let expired = false;
    for (;;) {
      if (load(i, this.offer) !== offered) return true;
      const gone = this.rxGone(i);
      if (gone || expired || (tryOnly && load(i, this.rxWaiters) === 0)) {
        const mine = this.#withdraw(i, offered, token);
        if (mine === TAKEN) return true; // taken meanwhile
        this.slots.giveBack(mine, value);
        if (gone) throw new SendError(value);
        return false;
      }
      try {
        if (!(yield SPIN)) continue;
        expired = yield* this.#sleep(i, offered, tryOnly, ctx);
      } catch (e) {
        // Aborted (or the handle closed) while offering: withdraw, unless already taken.
        if (!ctx.closed()) {
          const mine = this.#withdraw(i, offered, token);
          if (mine !== TAKEN) {
            this.slots.giveBack(mine, value);
          } else {
            ctx.delivered = true;
          }
        }
        throw e;
      }
    }
  }

  /** Sleeps while the offer word is `o` (and the receiver is there); true once the deadline passed. */
  *#sleep(i: Int32Array, o: number, needReceiver: boolean, ctx: SendContext): Op<boolean> {
    const seq = load(i, this.txSeq);
    add(i, this.txWaiters, 1);
    let expired = false;
    try {
      if (load(i, this.offer) === o && !this.rxGone(i) && !(needReceiver && load(i, this.rxWaiters) === 0)) {
        expired = yield { index: this.txSeq, expected: seq };
      }
    } catch (e) {
      if (!ctx.closed()) add(i, this.txWaiters, -1);
      throw e;
    }
    // Checked before touching the channel again: a closed handle may be its last ref.
    ctx.guard();
    add(i, this.txWaiters, -1);
    return expired;
  }

  /**
   * Claims the free slot (offer word `o`) and records the claim, in one kill-safe
   * section; returns the record's owned-table slot, or -1 if another sender was first.
   */
  #claim(i: Int32Array, o: number, cell: number): number {
    enterCritical();
    try {
      return cas(i, this.offer, o, o | CLAIMED) === o ? ownedAdd(cell, this.p + Role.Claim) : -1;
    } finally {
      leaveCritical();
    }
  }

  /**
   * Takes back the offer `offered` of `token` and frees the slot, in one kill-safe
   * section that also makes the message this thread's again; TAKEN if a receiver took it first.
   */
  #withdraw(i: Int32Array, offered: number, token: unknown): unknown {
    const gen = offered & ~STATE;
    enterCritical();
    try {
      if (cas(i, this.offer, offered, gen | CLAIMED) !== offered) return TAKEN;
      this.#free(i, gen);
      return this.slots.reclaim(token);
    } finally {
      leaveCritical();
    }
  }

  /** The slot claimed by a sender that died before offering goes back. */
  override releaseClaim(): void {
    const i = this.h().i32;
    const o = load(i, this.offer);
    // Only the dead sender's claim can be in place: nobody claims over a claim.
    if ((o & STATE) === CLAIMED) this.#free(i, o & ~STATE);
  }

  /** Frees the slot after a claim that is not going ahead. */
  #free(i: Int32Array, gen: number): void {
    store(i, this.offer, gen | FREE);
    if (load(i, this.txWaiters) !== 0) this.wakeSenders(i);
  }

  // ---------------------------------------------------------------------------------
  // Receiving (any number of receivers: taking is one CAS)

  protected get sharedHead(): boolean {
    return false;
  }

  /** A rendezvous queues nothing; an offer waiting for a receiver counts as one. */
  len(): number {
    return (load(this.h().i32, this.offer) & STATE) === OFFERED ? 1 : 0;
  }

  protected take(): unknown {
    for (;;) {
      const h = this.h();
      const i = h.i32;
      const o = load(i, this.offer);
      if ((o & STATE) === OFFERED) {
        // Read first: once the CAS frees the slot, the next sender may overwrite it. The
        // message is ours from the CAS on: taken over in the same kill-safe section.
        const raw = this.slots.read(h, this.buffer);
        let claimed: unknown = TAKEN;
        enterCritical();
        try {
          if (cas(i, this.offer, o, ((o & ~STATE) + GENERATION) | 0) === o) claimed = this.slots.claim(raw);
        } finally {
          leaveCritical();
        }
        if (claimed === TAKEN) continue; // withdrawn meanwhile
        if (load(i, this.txWaiters) !== 0) this.wakeSenders(i);
        return this.slots.finish(claimed);
      }
      if (!this.sendersGone(i)) return EMPTY;
      // Every sender is gone, so an offer made before the last one left is visible now.
      if ((load(i, this.offer) & STATE) !== OFFERED) return DISCONNECTED;
    }
  }

  protected mark(first: boolean): boolean {
    const i = this.h().i32;
    if (first) add(i, this.rxWaiters, 1);
    return (load(i, this.offer) & STATE) === OFFERED || this.sendersGone(i);
  }

  protected unmark(): void {
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
