// The bounded flavor: a ring of slots guarded by permits, one per free place.
//
// crossbeam's array.rs finds room by reading per-slot stamps and encodes the message
// afterwards. Here a sender must know it will send before it encodes: encoding moves
// handles (a Receiver inside the message leaves this thread), which cannot be undone
// for a trySend that finds the ring full or a sendTimeout that runs out. So a sender
// first takes a permit (a count of free places, decremented by CAS), then encodes,
// then claims the next position. Holding a permit guarantees that position's slot is
// free: at most `cap` positions are held at once and the ring has at least `cap`
// slots, so the previous occupant of the slot was received and its permit returned.
// The ring is a power of two, so positions are free-running counters, masked.
//
// Both sides writing the permits word on every message would bounce its cache line
// between them twice per message, so a sole sender (see list.ts) takes every free
// permit at once and keeps the stock in its handle. Nobody else could use them: no
// other sender exists until this one clones itself, and it gives the stock back first
// (SyncSender.shareRef). If it dies holding some, the channel is disconnected anyway.
//
// Kill safety (thread/critical.ts): a sender that shares the channel takes a permit and
// records it in its owned table (Role.Claim) in one kill-safe section, and claims the
// position, writes, publishes and forgets the record in another, so a killed sender
// either returns its permit through the runtime or has published its message. A sole
// sender needs neither: its death disconnects the channel, and the receiver then skips
// a claimed position nobody wrote.
//
// Receiving is written for one receiver at a time, as in list.ts (several receivers
// take under the receivers' lock). Slot states as in list.ts: the sender publishes with a swap that returns the
// receiver's RX_WAIT mark. The receiver clears the slot, then returns the permit; the
// permits word carries a WAITING bit set by senders that sleep on it for room, and a
// CLOSED bit set when the receiver is gone, so a sleeping sender always sees a change.
//
// Disconnection (closeReceiver()): as in list.ts, the last receiver leaving sweeps the
// ring from the head, swapping SWEPT into every slot: a published message it drops, an
// unwritten slot is left to its sender, whose publishing swap returns the mark and
// which takes the message back (SendError, the value given back). The sweep goes on
// past claimed positions and stops at the first unclaimed one, where a sole sender
// (which publishes before it moves the tail, in order) writes next; a sharing sender
// reads the status after its claim, in the kill-safe section that publishes, and gives
// up if the receivers are gone. So no message stays in the channel after the
// disconnect, and the 1-to-1 path makes no access it did not make before.

import { and, add, cas, exchange, load, notify, or, store } from '../wait/futex.ts';
import { currentOwnedCell, Role } from '../heap/handle.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { SPIN, type Op } from '../wait/driver.ts';
import { WriterWait } from './writer_wait.ts';
import { SendError } from './errors.ts';
import { COUNT, Core, fieldsOf, RX_GONE, type SendContext } from './layout.ts';
import { DISCONNECTED, EMPTY } from './receivable.ts';
import { heapCovering, type Heap } from '../heap/heap.ts';

const WRITTEN = 1;
const RX_WAIT = 2;
/** Swapped in by the last receiver's close: a message written here later goes back to its sender. */
const SWEPT = 4;

// The permits word.
const FREE_PLACES = (1 << 29) - 1;
const WAITING = 1 << 29;
const CLOSED = 1 << 30;

/** Largest capacity of a bounded channel. */
export const MAX_BOUND = 1 << 28;

// Outcomes of taking a permit.
const TAKEN = 0;
const NONE = 1;
const GONE = 2;

/** Slots in the ring of a channel of capacity `cap`: the next power of two. */
function ringSize(cap: number): number {
  let n = 1;
  while (n < cap) n *= 2;
  return n;
}

export function arrayBufferBytes(cap: number, stride: number): number {
  return ringSize(cap) * stride;
}

export class ArrayRing<T> extends Core<T> {
  readonly mask: number;
  /** Permits this (sole) sender holds. */
  #stock = 0;
  /** Owned-table slot of the permit a shared sender took for the send in progress (-1: none). */
  #claim = -1;
  // Spinning for the other side pays only while it runs on another core. A thread woken
  // by a futex wake often lands on its waker's core, where the waker's spin only delays
  // it (a run pinned to one core: 4.0-4.4 M/s, then 6.4-6.8 M/s without those spins).
  // So a side that woke the other and has seen no progress from it since parks at
  // once: the sender until the receiver frees a place, the receiver until a sender
  // moves the tail.
  #wokeReceiver = false;
  #wokeSender = false;
  #tailAtWake = 0;

  constructor(p: number) {
    super(p);
    this.mask = ringSize(this.cap) - 1;
  }

  static init(p: number, cap: number): void {
    const f = fieldsOf(p);
    store(heapCovering(f.buffer).i32, f.permits, cap);
  }

  protected bufferBytes(stride: number): number {
    return arrayBufferBytes(this.cap, stride);
  }

  // ---------------------------------------------------------------------------------
  // Sending

  sendNow(value: T): boolean {
    const i = this.h().i32;
    const s = load(i, this.status);
    if ((s & RX_GONE) !== 0) throw new SendError(value);
    const sole = (s & COUNT) === 1;
    const r = this.#takePermit(i, sole);
    if (r === GONE) throw new SendError(value);
    if (r === NONE) return false;
    this.#send(value, sole);
    return true;
  }

  // Nothing is registered while waiting but the WAITING bit, which at most costs a
  // spurious wake: an abort needs no undoing.
  *sendOp(value: T, tryOnly: boolean, ctx: SendContext): Op<boolean> {
    for (;;) {
      const i = this.h().i32;
      const s = load(i, this.status);
      if ((s & RX_GONE) !== 0) throw new SendError(value);
      const sole = (s & COUNT) === 1;
      const r = this.#takePermit(i, sole);
      if (r === GONE) throw new SendError(value);
      if (r === TAKEN) {
        this.#send(value, sole);
        return true;
      }
      if (tryOnly) return false;
      if (!this.#wokeReceiver && !(yield SPIN)) continue;
      const p = load(i, this.permits);
      if ((p & (FREE_PLACES | CLOSED)) !== 0) continue;
      if ((p & WAITING) === 0 && cas(i, this.permits, p, p | WAITING) !== p) continue;
      const expired = yield { index: this.permits, expected: p | WAITING };
      ctx.guard();
      if (expired) return false;
    }
  }

  /**
   * Takes one permit: from the stock, or the word (all of its permits when `sole`).
   * A shared sender records it as its claim (#claim) in the same kill-safe section.
   */
  #takePermit(i: Int32Array, sole: boolean): number {
    if (this.#stock > 0) {
      this.#stock--;
      return TAKEN;
    }
    const cell = sole ? -1 : currentOwnedCell();
    for (;;) {
      const p = load(i, this.permits);
      if ((p & CLOSED) !== 0) return GONE;
      const n = sole ? p & FREE_PLACES : Math.min(1, p & FREE_PLACES);
      if (n === 0) return NONE;
      if (sole) {
        if (cas(i, this.permits, p, p - n) !== p) continue;
        this.#wokeReceiver = false;
        this.#stock = n - 1;
        return TAKEN;
      }
      enterCritical();
      try {
        if (cas(i, this.permits, p, p - 1) !== p) continue;
        this.#wokeReceiver = false;
        this.#claim = ownedAdd(cell, this.p + Role.Claim);
        return TAKEN;
      } finally {
        leaveCritical();
      }
    }
  }

  /** A permit recorded as a claim goes back (its sender died before publishing). */
  override releaseClaim(): void {
    this.#returnPermits(this.h().i32, 1);
  }

  #returnPermits(i: Int32Array, n: number): void {
    if ((add(i, this.permits, n) & WAITING) !== 0) {
      and(i, this.permits, ~WAITING);
      notify(i, this.permits);
      this.#wokeSender = true;
      this.#tailAtWake = load(i, this.tailIndex);
    }
  }

  override wokePeer(): boolean {
    if (!this.#wokeSender) return false;
    this.#wokeSender = false;
    return load(this.h().i32, this.tailIndex) === this.#tailAtWake;
  }

  /** The stock goes back before this sender is cloned, so the clone can have its share. */
  override beforeClone(): void {
    if (this.#stock === 0) return;
    this.#returnPermits(this.h().i32, this.#stock);
    this.#stock = 0;
  }

  /**
   * Encodes and writes `value`, holding a permit (given back if encoding throws). Throws
   * SendError, the value given back, if the receivers left before it was published.
   */
  #send(value: T, sole: boolean): void {
    const h = this.h();
    const i = h.i32;
    const claim = this.#claim;
    this.#claim = -1;
    let token: unknown;
    try {
      token = this.slots.prepare(value);
    } catch (e) {
      enterCritical();
      try {
        if (claim >= 0) ownedRemove(currentOwnedCell(), claim);
        this.#returnPermits(i, 1);
      } finally {
        leaveCritical();
      }
      throw e;
    }
    if (sole) {
      // A sole sender (see list.ts) moves the tail with plain accesses.
      // Published before the tail moves, so that a receiver that catches up never finds
      // the claimed position unwritten (and waits for the write).
      const position = i[this.tailIndex];
      const published = this.#publish(h, position, token);
      i[this.tailIndex] = (position + 1) | 0;
      if (!published) throw new SendError(this.slots.giveBack(token, value));
      return;
    }
    let published: boolean;
    enterCritical();
    try {
      const position = add(i, this.tailIndex, 1);
      // A claim after the last receiver's sweep read the tail comes after RX_GONE, so
      // this load sees it: such a claim writes nothing, as the sweep may not reach it.
      published = !this.rxGone(i) && this.#publish(h, position, token);
      ownedRemove(currentOwnedCell(), claim);
    } finally {
      leaveCritical();
    }
    if (!published) throw new SendError(this.slots.giveBack(token, value));
  }

  /**
   * Writes the message at claimed `position` and publishes it, waking a receiver waiting
   * for it. A sharing sender is in a kill-safe section already; a sole one enters one
   * for a held message (see slots.ts). False when the last receiver's sweep marked the
   * slot first: the message stays this thread's (still held), and the slot is left
   * SWEPT, so destroy() skips it.
   */
  #publish(h: Heap, position: number, token: unknown): boolean {
    const section = !this.plain && this.slots.inSection(token);
    if (section) enterCritical();
    try {
      const slot = this.buffer + (position & this.mask) * this.slots.stride;
      this.slots.put(h, slot, token);
      const seen = exchange(h.i32, slot >> 2, WRITTEN);
      if ((seen & SWEPT) !== 0) {
        store(h.i32, slot >> 2, SWEPT);
        return false;
      }
      if (!this.plain) this.slots.sent(token);
      if ((seen & RX_WAIT) !== 0) {
        this.wakeReceiver(h.i32);
        this.#wokeReceiver = true;
      }
      return true;
    } finally {
      if (section) leaveCritical();
    }
  }

  // ---------------------------------------------------------------------------------
  // Receiving (one receiver at a time: see layout.ts)

  protected get sharedHead(): boolean {
    return true;
  }

  len(): number {
    const i = this.h().i32;
    return Math.max(0, (load(i, this.tailIndex) - load(i, this.headIndex)) | 0);
  }

  #headSlot(i: Int32Array): number {
    return this.buffer + (i[this.headIndex] & this.mask) * this.slots.stride;
  }

  protected take(): unknown {
    let writer: WriterWait | undefined;
    for (;;) {
      const h = this.h();
      const i = h.i32;
      const slot = this.#headSlot(i);
      if ((load(i, slot >> 2) & WRITTEN) !== 0) {
        // Decoded in place, then released (even if decoding throws: the message is consumed).
        return this.slots.take(h, slot, this.#releaseHead);
      }
      // Signed: a sole sender moves the tail after publishing, so the head may be one
      // past it for a moment (and for good if that sender died in between).
      const claimed = ((load(i, this.tailIndex) - i[this.headIndex]) | 0) > 0;
      if (!this.sendersGone(i)) {
        if (claimed && (writer ??= new WriterWait()).next()) continue;
        return EMPTY;
      }
      // Every sender is gone, so whatever they published is visible now.
      if ((load(i, slot >> 2) & WRITTEN) !== 0) continue;
      if (!claimed) return DISCONNECTED;
      // A claimed slot nobody will ever write (its sender was killed in between): skip it.
      this.#release(i, slot);
    }
  }

  readonly #releaseHead = (): void => {
    const i = this.h().i32;
    this.#release(i, this.#headSlot(i));
  };

  /** Frees the head slot and moves on. The plain clear is published by the permit's return. */
  #release(i: Int32Array, slot: number): void {
    i[slot >> 2] = 0;
    i[this.headIndex] = (i[this.headIndex] + 1) | 0;
    this.#returnPermits(i, 1);
  }

  protected mark(): boolean {
    const i = this.h().i32;
    if ((or(i, this.#headSlot(i) >> 2, RX_WAIT) & WRITTEN) !== 0) return true;
    return this.sendersGone(i);
  }

  protected unmark(multi: boolean): void {
    if (multi) return;
    const i = this.h().i32;
    and(i, this.#headSlot(i) >> 2, ~RX_WAIT);
  }

  // ---------------------------------------------------------------------------------
  // Lifecycle

  closeReceiver(): void {
    const h = this.h();
    const i = h.i32;
    // Changing the word wakes senders sleeping for room, even one about to sleep.
    or(i, this.permits, CLOSED);
    notify(i, this.permits);
    // The sweep (see the top). It runs in the kill-safe section that releases the last
    // receiver's ref and never waits. At most a ring's worth of positions is held
    // (cap permits), so it stops within one lap and never meets a slot twice.
    const head = i[this.headIndex];
    for (let position = head; ((position - head) | 0) <= this.mask; position = (position + 1) | 0) {
      const slot = this.buffer + (position & this.mask) * this.slots.stride;
      // One swap decides who owns a message racing the close: published before it, the
      // sweep drops it; published after, its sender sees the mark and keeps it.
      if ((or(i, slot >> 2, SWEPT) & WRITTEN) !== 0) {
        this.slots.drop(h, slot);
        store(i, slot >> 2, SWEPT);
      } else if (((load(i, this.tailIndex) - position) | 0) <= 0) {
        return; // the next message of a sole sender goes here, and meets the mark
      }
    }
  }

  destroy(): void {
    const h = this.h();
    for (let k = 0; k <= this.mask; k++) {
      const slot = this.buffer + k * this.slots.stride;
      if ((load(h.i32, slot >> 2) & WRITTEN) !== 0) this.slots.drop(h, slot);
    }
  }
}
