// The channel object in the heap, common to the three flavors (list, array, zero):
//
//   header   [kind, refcount]                                  (handle.ts)
//   meta     flavor, codec, codec name, fixed width, capacity,
//            status (sender count | RX_GONE), observer          read-mostly
//   tail     line of the senders: tail index, tail block
//   head     line of the receiver: head index, head block
//   wait     line of the waiting protocol: permits (array), offer, sender wake
//            word and waiting count, receiver waiting count (zero); and the list's
//            spare block, handed back by the receiver once per block
//   buffer   the ring (array) or the one offer slot (zero)
//
// The tail, head and wait groups each sit on their own 64-byte cache line, so that
// senders and the receiver do not invalidate each other's line on every message.
//
// Status holds the sender count and the receiver-gone bit in one word, so a send
// learns with one load both that the receiver is there and whether its sender is the
// only one (then no other thread can touch the tail: see list.ts).

import type { Codec } from '../codec/codec.ts';
import { dropValue } from '../codec/stored.ts';
import { free } from '../heap/alloc.ts';
import { allocObject, retain } from '../heap/handle.ts';
import { heapCovering, type Heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { add, load, notify, store } from '../wait/futex.ts';
import { codecId, resolveCodec, storeCodecName } from './codec_id.ts';
import type { Op } from '../wait/driver.ts';
import type { Receivable } from './receivable.ts';
import { signal } from './signal.ts';
import { makeSlots, slotLayout, type Slots } from './slots.ts';

export const Flavor = { List: 0, Array: 1, Zero: 2 } as const;
export type Flavor = (typeof Flavor)[keyof typeof Flavor];

// Meta fields, i32 indexes relative to the object's offset >> 2.
const M_FLAVOR = 2;
const M_CODEC = 3;
const M_CODEC_NAME = 4;
const M_FIXED = 5;
const M_CAP = 6;
const M_STATUS = 7;
const M_OBSERVER = 8;
const META_BYTES = 36;
const LINE = 64;
const LINES = 3;

export const COUNT = (1 << 30) - 1;
export const RX_GONE = 1 << 30;

function linesAt(p: number): number {
  return (p + META_BYTES + LINE - 1) & ~(LINE - 1);
}

/**
 * Allocates a channel object with one sender and one receiver ref. `bufferBytes` sizes
 * the flavor's buffer from the slot size; `init` sets the flavor's fields up (and may
 * throw RangeError, then nothing is left allocated).
 */
export function allocChannel(
  flavor: Flavor, cap: number, codec: Codec<unknown>,
  bufferBytes: (stride: number) => number, init: (p: number, stride: number) => void,
): number {
  const fixed = codec.fixed?.bytes ?? 0;
  const { stride } = slotLayout(fixed);
  const id = codecId(codec);
  const name = storeCodecName(id, codec);
  let p = 0;
  try {
    p = allocObject(Kind.Channel, META_BYTES - 8 + LINE - 1 + LINES * LINE + bufferBytes(stride));
    const i = heapCovering(p + META_BYTES).i32;
    const m = p >> 2;
    store(i, m + M_FLAVOR, flavor);
    store(i, m + M_CODEC, id);
    store(i, m + M_CODEC_NAME, name);
    store(i, m + M_FIXED, fixed);
    store(i, m + M_CAP, cap);
    store(i, m + M_STATUS, 1);
    init(p, stride);
  } catch (e) {
    if (p !== 0) free(p);
    if (name !== 0) dropValue(name);
    throw e;
  }
  retain(p); // the receiver's ref; allocObject gave the sender's
  return p;
}

/** Where a channel's fields are: i32 indexes, and the buffer's byte offset. */
export interface Fields {
  readonly status: number;
  readonly observer: number;
  readonly tailIndex: number;
  readonly tailBlock: number;
  readonly headIndex: number;
  readonly headBlock: number;
  readonly permits: number;
  readonly offer: number;
  readonly txSeq: number;
  readonly txWaiters: number;
  readonly rxWaiters: number;
  readonly spare: number;
  readonly buffer: number;
}

export function fieldsOf(p: number): Fields {
  const m = p >> 2;
  const lines = linesAt(p);
  const wait = (lines + 2 * LINE) >> 2;
  return {
    status: m + M_STATUS,
    observer: m + M_OBSERVER,
    tailIndex: lines >> 2,
    tailBlock: (lines >> 2) + 1,
    headIndex: (lines + LINE) >> 2,
    headBlock: ((lines + LINE) >> 2) + 1,
    permits: wait,
    offer: wait + 1,
    txSeq: wait + 2,
    txWaiters: wait + 3,
    rxWaiters: wait + 4,
    spare: wait + 5,
    buffer: lines + LINES * LINE,
  };
}

export function flavorOf(p: number): Flavor {
  return load(heapCovering(p + META_BYTES).i32, (p >> 2) + M_FLAVOR) as Flavor;
}

/** Releases the stored codec name, once the channel is dropped. */
export function freeCodecName(p: number): void {
  const name = load(heapCovering(p + META_BYTES).i32, (p >> 2) + M_CODEC_NAME);
  if (name !== 0) dropValue(name);
}

function slotsOf<T>(p: number): Slots<T> {
  const i = heapCovering(p + META_BYTES).i32;
  const m = p >> 2;
  const codec = resolveCodec(load(i, m + M_CODEC), load(i, m + M_CODEC_NAME)) as Codec<T> | string;
  return makeSlots(load(i, m + M_FIXED), codec);
}

/**
 * A thread's access to one channel object: field indexes, message slots, and the
 * operations each flavor implements. Each handle has its own.
 */
export abstract class Core<T> implements Receivable, Fields {
  readonly p: number;
  readonly slots: Slots<T>;
  readonly cap: number;
  readonly status: number;
  readonly observer: number;
  readonly tailIndex: number;
  readonly tailBlock: number;
  readonly headIndex: number;
  readonly headBlock: number;
  readonly permits: number;
  readonly offer: number;
  readonly txSeq: number;
  readonly txWaiters: number;
  readonly rxWaiters: number;
  readonly spare: number;
  readonly buffer: number;
  /** Byte offset of the end of the object. */
  readonly end: number;
  #observing = 0;

  constructor(p: number) {
    this.p = p;
    this.slots = slotsOf(p);
    this.cap = load(heapCovering(p + META_BYTES).i32, (p >> 2) + M_CAP);
    ({
      status: this.status, observer: this.observer, tailIndex: this.tailIndex, tailBlock: this.tailBlock,
      headIndex: this.headIndex, headBlock: this.headBlock, permits: this.permits, offer: this.offer,
      txSeq: this.txSeq, txWaiters: this.txWaiters, rxWaiters: this.rxWaiters, spare: this.spare,
      buffer: this.buffer,
    } = fieldsOf(p));
    this.end = this.buffer + this.bufferBytes(this.slots.stride);
    heapCovering(this.end); // from here on the object is covered; only pointers met later need a check
  }

  /** Size of the flavor's buffer for slots of `stride` bytes. */
  protected abstract bufferBytes(stride: number): number;

  /** Views covering the whole object. */
  h(): Heap {
    return heapCovering(this.end);
  }

  rxGone(i: Int32Array): boolean {
    return (load(i, this.status) & RX_GONE) !== 0;
  }

  /** True once every sender is gone: what was published by then is all there will be. */
  sendersGone(i: Int32Array): boolean {
    return (load(i, this.status) & COUNT) === 0;
  }

  /** Wakes the thread waiting on the receiving side, if any. */
  wakeReceiver(i: Int32Array): void {
    signal(load(i, this.observer));
  }

  /** Bumps the senders' wake word and wakes every sender sleeping on it. */
  wakeSenders(i: Int32Array): void {
    add(i, this.txSeq, 1);
    notify(i, this.txSeq);
  }

  observe(word: number): void {
    if (this.#observing !== word) {
      store(this.h().i32, this.observer, word);
      this.#observing = word;
    }
  }

  /** Called before the sending handle is cloned (or sent in a message). */
  beforeClone(): void {}

  /**
   * Sends `value` if that needs no waiting: true once sent, false when nothing was done.
   * Throws SendError if the receiver is gone, TypeError or RangeError (nothing sent) if
   * the value cannot be encoded or stored.
   */
  abstract sendNow(value: T): boolean;
  /**
   * The waiting send, for the driver: true once sent, false at the deadline (nothing
   * sent). `tryOnly`: give up instead of waiting for room. `guard` runs after every
   * sleep and throws if the sending handle was closed meanwhile.
   */
  abstract sendOp(value: T, tryOnly: boolean, guard: () => void): Op<boolean>;
  abstract tryTake(): unknown;
  abstract arm(): boolean;
  abstract disarm(): void;
  /**
   * The receiver is gone (status has RX_GONE): wake blocked senders, drop what is
   * buffered. Messages still being written are left to destroy().
   */
  abstract closeReceiver(): void;
  /** The last ref is gone: drop every message left and free what the flavor owns. */
  abstract destroy(): void;
}
