// The unbounded flavor: a linked list of blocks of slots, after crossbeam-channel's
// list.rs. The receive code is written for one receiver at a time: a sole receiver
// runs it alone, several receivers run it under the receivers' lock (layout.ts).
//
// The tail index counts positions: a block holds LAP of them, CAP slots followed by two
// markers. A sender claims a slot by moving the tail index on by one; the one that
// claims a block's last slot moves it onto LOCKED and links the next block, then sets
// the tail to the next block's first slot. If no memory can be had for it, the tail is
// left VACANT and the next send links the block (or throws RangeError before it has
// encoded or claimed anything). Blocks are zeroed, so a slot starts empty; a sender
// writes the message and then publishes it by swapping the slot's state to WRITTEN.
//
// Only the receiver (or the lock holder) reads the head, so it moves it with plain writes. Once past a
// block it clears the block and hands it back as the channel's spare (or frees it if
// there is one already): by then every sender has published its slot there, and
// publishing is the last thing a sender does to a block. The sender that links the
// next block takes the spare first, so a channel in steady use allocates nothing.
//
// Kill safety (thread/critical.ts): a sender that shares the channel claims, links the
// next block if its claim filled one, writes and publishes in one kill-safe section, so
// a kill never leaves a claimed slot unwritten (the receiver would wait for it while
// other senders live) or the tail LOCKED (the other senders would wait for the link).
// A sole sender needs none: its death disconnects the channel, and the receiver then
// steps over a claimed slot nobody wrote.
//
// When the status says a sender is the only one, no other thread can touch the tail
// until it clones itself, so it moves the tail with plain reads and writes: one
// atomic operation per message (the publishing swap) besides the status load.
//
// Waiting: the receiver marks the slot it waits for (RX_WAIT), or the link of the
// block it has finished (LINK_WAIT); the sender's publishing swap returns the mark,
// and only then does it wake anyone. Nothing is notified while the receiver is busy.
//
// Disconnection (closeReceiver()): the last receiver leaving sets RX_GONE, then drops
// what is published and marks the rest (SWEPT), so that no message outlives it in the
// channel (a message may carry endpoints that keep other channels connected). From
// the head on it swaps SWEPT into every slot: a published one it drops; an unwritten
// one is left to its sender, whose publishing swap returns the mark and which then
// takes the message back (SendError, the value given back). It goes on past every
// claimed slot and stops at the first unclaimed one, or marks the link of a block
// whose successor is not linked yet (LINK_SWEPT), and whoever links it carries the
// mark to the new block's first slot. A sender that claims later never reaches it:
// - a sole sender publishes before it claims, in order, so its next message goes to
//   the very slot where the sweep stopped and meets the mark: the 1-to-1 path costs
//   nothing more than the swap it already makes;
// - a sharing sender claims by CAS on the tail and then reads the status in the same
//   kill-safe section: a claim after the sweep read the tail comes after RX_GONE, so
//   it sees it, and writes nothing (a claim before is in the sweep's range).
// The sweep never waits for a write, and recycles no block it has marked (a sender
// may still swap into it): destroy() frees them.

import { alloc, free } from '../heap/alloc.ts';
import { Backoff } from '../wait/backoff.ts';
import { and, canBlock, cas, exchange, load, or, store, wait } from '../wait/futex.ts';
import type { Op } from '../wait/driver.ts';
import { WriterWait } from './writer_wait.ts';
import { SendError } from './errors.ts';
import { COUNT, Core, fieldsOf, RX_GONE } from './layout.ts';
import { DISCONNECTED, EMPTY } from './receivable.ts';
import { heapCovering } from '../heap/heap.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';

const LAP = 64;
/** Slots per block. */
const CAP = LAP - 2;
/** Tail position while the sender that filled the block links the next one. */
const LOCKED = CAP;
/** Tail position of a full block with no next block yet. */
const VACANT = CAP + 1;
/** A block: [next, _] and CAP slots. */
const HEADER = 8;

// Slot states.
const WRITTEN = 1;
const RX_WAIT = 2;
/** Swapped in by the last receiver's close: a message written here later goes back to its sender. */
const SWEPT = 4;
/** Value of a block's next word while the receiver waits for the link (offsets are 8-aligned). */
const LINK_WAIT = 1;
/** Value of a block's next word once the last receiver's close stopped there. */
const LINK_SWEPT = 2;

/** First position of the lap after the one of `index`. */
const nextLap = (index: number): number => ((index & ~(LAP - 1)) + LAP) | 0;

export class List<T> extends Core<T> {
  readonly blockBytes: number;

  constructor(p: number) {
    super(p);
    this.blockBytes = blockBytes(this.slots.stride);
  }

  /** Sets up a new channel's first block. */
  static init(p: number, stride: number): void {
    const first = alloc(blockBytes(stride));
    const f = fieldsOf(p);
    const i = heapCovering(Math.max(first + blockBytes(stride), f.buffer)).i32;
    store(i, f.tailBlock, first);
    store(i, f.headBlock, first);
  }

  protected bufferBytes(): number {
    return 0;
  }

  // ---------------------------------------------------------------------------------
  // Sending

  sendNow(value: T): boolean {
    const i = this.h().i32;
    const s = load(i, this.status);
    if ((s & RX_GONE) !== 0) throw new SendError(value);
    const sole = (s & COUNT) === 1;
    // A sole sender knows whether its claim needs a block: it links it before encoding,
    // so that running out of memory leaves nothing encoded (no handle moved).
    if (sole && (i[this.tailIndex] & (LAP - 1)) === VACANT) this.#link(i[this.tailIndex], true);
    const token = this.slots.prepare(value);
    let published: boolean;
    try {
      published = this.#push(token, sole);
    } catch (e) {
      this.slots.giveBack(token, value); // heap full while linking a block: nothing was claimed
      throw e;
    }
    // The last receiver left while this message was on its way: it comes back.
    if (!published) throw new SendError(this.slots.giveBack(token, value));
    return true;
  }

  // Unbounded: a send never waits.
  *sendOp(value: T): Op<boolean> {
    return this.sendNow(value);
  }

  /** Claims a slot and publishes `token` there; false when the receivers are gone (not published). */
  #push(token: unknown, sole: boolean): boolean {
    let i = this.h().i32;
    let backoff: Backoff | undefined;
    for (;;) {
      const index = sole ? i[this.tailIndex] : load(i, this.tailIndex);
      const off = index & (LAP - 1);
      if (off >= LOCKED) {
        if (off === VACANT) this.#link(index, sole);
        else this.#awaitLink(i, index, (backoff ??= new Backoff()));
        continue;
      }
      // Read after the index: a block is replaced only after the index left its lap, so
      // if the claim below succeeds, `block` is the claimed position's block.
      const block = sole ? i[this.tailBlock] : load(i, this.tailBlock);
      const claimed = (index + 1) | 0;
      if (sole) {
        // Published before the tail moves (but for a block's last slot, whose claim
        // links the next block first): a receiver that catches up then never finds a
        // claimed slot still unwritten, which would make it wait for the write.
        if (off === CAP - 1) {
          i[this.tailIndex] = claimed;
          return this.#write(block, off, claimed, token, true);
        }
        const published = this.#write(block, off, claimed, token, true);
        i[this.tailIndex] = claimed;
        return published;
      }
      enterCritical();
      try {
        if (cas(i, this.tailIndex, index, claimed) === index) {
          // A claim the last receiver's sweep may not reach (see the top): nothing is
          // written, but the claimant of a block's last slot still links the next one,
          // for the senders waiting on the LOCKED tail.
          if (this.rxGone(i)) {
            if (off === CAP - 1) this.#fill(block, claimed, false);
            return false;
          }
          return this.#write(block, off, claimed, token, false);
        }
      } finally {
        leaveCritical();
      }
      (backoff ??= new Backoff()).spin();
      i = this.h().i32;
    }
  }

  /**
   * Having claimed position `claimed - 1` (slot `off` of `block`): links the next block
   * if it was the last, writes and publishes. A sharing sender is in a kill-safe
   * section already; a sole one enters one for a held message (see slots.ts). False
   * when the last receiver's sweep marked the slot first: the message stays this
   * thread's (still held), and the slot is left SWEPT, so destroy() skips it.
   */
  #write(block: number, off: number, claimed: number, token: unknown, sole: boolean): boolean {
    const section = sole && !this.plain && this.slots.inSection(token);
    if (section) enterCritical();
    try {
      const h = heapCovering(block + this.blockBytes);
      if (off === CAP - 1) this.#fill(block, claimed, sole);
      const slot = block + HEADER + off * this.slots.stride;
      this.slots.put(h, slot, token);
      const seen = exchange(h.i32, slot >> 2, WRITTEN);
      if ((seen & SWEPT) !== 0) {
        store(h.i32, slot >> 2, SWEPT);
        return false;
      }
      if (!this.plain) this.slots.sent(token);
      if ((seen & RX_WAIT) !== 0) this.wakeReceiver(h.i32);
      return true;
    } finally {
      if (section) leaveCritical();
    }
  }

  /** Having claimed the last slot of `block` (tail now LOCKED), links the next block or leaves the tail VACANT. */
  #fill(block: number, locked: number, sole: boolean): void {
    let next = 0;
    try {
      next = this.#newBlock();
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
    if (next === 0) this.#put(this.tailIndex, (locked + 1) | 0, sole);
    else this.#publish(block, next, locked, sole);
  }

  /**
   * Links a block after a VACANT tail: throws RangeError (nothing claimed) when the heap
   * is full. One kill-safe section, so the tail is never left LOCKED.
   */
  #link(vacant: number, sole: boolean): void {
    const locked = (vacant - 1) | 0;
    const i = this.h().i32;
    enterCritical();
    try {
      if (!sole && cas(i, this.tailIndex, vacant, locked) !== vacant) return;
      const block = sole ? i[this.tailBlock] : load(i, this.tailBlock);
      let next: number;
      try {
        next = this.#newBlock();
      } catch (e) {
        this.#put(this.tailIndex, vacant, sole);
        throw e;
      }
      this.#publish(block, next, locked, sole);
    } finally {
      leaveCritical();
    }
  }

  /** The spare block, else a new one. */
  #newBlock(): number {
    return exchange(this.h().i32, this.spare, 0) || alloc(this.blockBytes);
  }

  #publish(block: number, next: number, locked: number, sole: boolean): void {
    const i = heapCovering(Math.max(block, next) + this.blockBytes).i32;
    // LINK_SWEPT: the last receiver's sweep stopped here, and its mark goes on to where
    // the next message will be written (no sender reaches that slot before the tail moves).
    const seen = exchange(i, block >> 2, next);
    if (seen === LINK_WAIT) this.wakeReceiver(i);
    else if (seen === LINK_SWEPT) store(i, this.#slot(next, 0) >> 2, SWEPT);
    this.#put(this.tailBlock, next, sole);
    this.#put(this.tailIndex, nextLap(locked), sole);
  }

  #put(field: number, value: number, sole: boolean): void {
    const i = this.h().i32;
    if (sole) i[field] = value;
    else store(i, field, value);
  }

  /** Another sender is linking the next block: spin, then nap briefly (nobody notifies this). */
  #awaitLink(i: Int32Array, locked: number, backoff: Backoff): void {
    if (!backoff.isCompleted()) backoff.snooze();
    else if (canBlock()) wait(i, this.tailIndex, locked, 0.1);
  }

  // ---------------------------------------------------------------------------------
  // Receiving (one receiver at a time: see layout.ts)

  protected get sharedHead(): boolean {
    return true;
  }

  len(): number {
    const i = this.h().i32;
    const head = load(i, this.headIndex);
    const tail = this.#tailEnd(i);
    const laps = ((tail & ~(LAP - 1)) - (head & ~(LAP - 1))) / LAP;
    return Math.max(0, laps * CAP + (tail & (LAP - 1)) - Math.min(head & (LAP - 1), CAP));
  }

  protected take(): unknown {
    let writer: WriterWait | undefined;
    for (;;) {
      const o = this.h().i32;
      const index = o[this.headIndex];
      const block = o[this.headBlock];
      const off = index & (LAP - 1);
      const h = heapCovering(block + this.blockBytes);
      const i = h.i32;
      if (off === CAP) {
        if (this.#nextBlock(i, index, block)) continue;
      } else {
        const slot = block + HEADER + off * this.slots.stride;
        if ((load(i, slot >> 2) & WRITTEN) !== 0) {
          // The block stays until the head moves past it, so the message is decoded in place.
          return this.slots.take(h, slot, this.#advance);
        }
      }
      if (!this.sendersGone(i)) {
        if (this.#claimedAt(i, index) && (writer ??= new WriterWait()).next()) continue;
        return EMPTY;
      }
      const idle = this.#idle(i, index, block, off);
      if (idle !== undefined) return idle;
    }
  }

  /** Gives up the head slot: the head moves on (only the receiver moves it). */
  readonly #advance = (): void => {
    const o = this.h().i32;
    o[this.headIndex] = (o[this.headIndex] + 1) | 0;
  };

  /** Position after the last claimed slot (a full block's end while its successor is linked). */
  #tailEnd(i: Int32Array): number {
    const tail = load(i, this.tailIndex);
    return (tail & (LAP - 1)) >= CAP ? ((tail & ~(LAP - 1)) + CAP) | 0 : tail;
  }

  /**
   * True when a sender has claimed position `index` (the tail is past it). A sole sender
   * moves the tail after publishing, so the head may be one past the tail for a moment,
   * and after its death for good: positions compare by signed difference.
   */
  #claimedAt(i: Int32Array, index: number): boolean {
    return ((this.#tailEnd(i) - index) | 0) > 0;
  }

  /** Past the last slot of `block`: moves to the next block once linked, and recycles this one. */
  #nextBlock(i: Int32Array, index: number, block: number): boolean {
    const next = load(i, block >> 2);
    if (next <= LINK_SWEPT) return false;
    // The head moves and the old block is recycled in one kill-safe section: a receiver
    // killed in between would leak it (once a block, not once a message).
    enterCritical();
    try {
      i[this.headBlock] = next;
      i[this.headIndex] = nextLap(index);
      // Cleared in one go rather than slot by slot: a sender may still be writing next
      // to the slot just taken, and sharing its cache line on every message costs more.
      i[block >> 2] = 0;
      for (let k = 0; k < CAP; k++) i[this.#slot(block, k) >> 2] = 0;
      if (cas(i, this.spare, 0, block) !== 0) free(block);
    } finally {
      leaveCritical();
    }
    return true;
  }

  /** Nothing at the head and every sender gone: DISCONNECTED, or undefined to look again. */
  #idle(i: Int32Array, index: number, block: number, off: number): unknown {
    // Whatever the senders published is visible now: look again.
    if (off === CAP ? load(i, block >> 2) > LINK_SWEPT : (load(i, this.#slot(block, off) >> 2) & WRITTEN) !== 0) return undefined;
    if (!this.#claimedAt(i, index) || off === CAP) return DISCONNECTED;
    // A claimed slot nobody will ever write: its sender was killed between claiming and
    // publishing. Step over it.
    i[this.headIndex] = (index + 1) | 0;
    return undefined;
  }

  #slot(block: number, off: number): number {
    return block + HEADER + off * this.slots.stride;
  }

  protected mark(): boolean {
    const o = this.h().i32;
    const index = o[this.headIndex];
    const block = o[this.headBlock];
    const off = index & (LAP - 1);
    const i = heapCovering(block + this.blockBytes).i32;
    if (off === CAP) {
      if (cas(i, block >> 2, 0, LINK_WAIT) > LINK_SWEPT) return true;
    } else if ((or(i, this.#slot(block, off) >> 2, RX_WAIT) & WRITTEN) !== 0) return true;
    return this.sendersGone(i);
  }

  protected unmark(multi: boolean): void {
    if (multi) return;
    const o = this.h().i32;
    const index = o[this.headIndex];
    const block = o[this.headBlock];
    const off = index & (LAP - 1);
    const i = heapCovering(block + this.blockBytes).i32;
    if (off === CAP) cas(i, block >> 2, LINK_WAIT, 0);
    else and(i, this.#slot(block, off) >> 2, ~RX_WAIT);
  }

  // ---------------------------------------------------------------------------------
  // Lifecycle

  closeReceiver(): void {
    // Unbounded senders never wait, so there is nobody to wake. What is published at the
    // head is dropped as take() would take it (the blocks passed recycled), then the
    // sweep (see the top) takes over at the first slot not published yet. Runs in the
    // kill-safe section that releases the last receiver's ref, and never waits.
    for (;;) {
      const o = this.h().i32;
      const index = o[this.headIndex];
      const block = o[this.headBlock];
      const off = index & (LAP - 1);
      const h = heapCovering(block + this.blockBytes);
      if (off === CAP) {
        if (this.#nextBlock(h.i32, index, block)) continue;
      } else {
        const slot = this.#slot(block, off);
        if ((load(h.i32, slot >> 2) & WRITTEN) !== 0) {
          this.slots.drop(h, slot);
          h.i32[this.headIndex] = (index + 1) | 0;
          continue;
        }
      }
      this.#sweep(index, block);
      return;
    }
  }

  /**
   * Marks every slot from position `index` (in `block`) SWEPT, dropping the messages
   * published there meanwhile, up to the first slot nobody has claimed (see the top).
   * The head stays: destroy() frees these blocks, and skips the slots left SWEPT.
   */
  #sweep(index: number, block: number): void {
    for (;;) {
      const h = heapCovering(block + this.blockBytes);
      const i = h.i32;
      const off = index & (LAP - 1);
      if (off === CAP) {
        const next = load(i, block >> 2);
        if (next > LINK_SWEPT) {
          block = next;
          index = nextLap(index);
        } else if (cas(i, block >> 2, next, LINK_SWEPT) === next) {
          return; // whoever links the next block carries the mark on
        }
        continue;
      }
      const slot = this.#slot(block, off);
      // One swap decides who owns a message racing the close: published before it, the
      // sweep drops it; published after, its sender sees the mark and keeps it.
      if ((or(i, slot >> 2, SWEPT) & WRITTEN) !== 0) {
        this.slots.drop(h, slot);
        store(i, slot >> 2, SWEPT);
      } else if (!this.#claimedAt(i, index)) {
        return; // the next message of a sole sender goes here, and meets the mark
      }
      index = (index + 1) | 0;
    }
  }

  destroy(): void {
    const o = this.h().i32;
    const spare = o[this.spare];
    if (spare !== 0) free(spare);
    let block = o[this.headBlock];
    let off = o[this.headIndex] & (LAP - 1);
    while (block !== 0) {
      const h = heapCovering(block + this.blockBytes);
      for (let k = off; k < CAP; k++) {
        const slot = this.#slot(block, k);
        if ((load(h.i32, slot >> 2) & WRITTEN) !== 0) this.slots.drop(h, slot);
      }
      const next = load(h.i32, block >> 2);
      free(block);
      block = next > LINK_SWEPT ? next : 0;
      off = 0;
    }
  }
}

function blockBytes(stride: number): number {
  return HEADER + CAP * stride;
}
