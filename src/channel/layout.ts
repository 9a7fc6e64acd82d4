// The channel object in the heap, common to the three flavors (list, array, zero):
//
//   header   [kind, refcount]                                  (handle.ts)
//   meta     flavor, codec, codec name, fixed width, capacity,
//            status (sender count | MULTI_RX | RX_GONE), observer,
//            receiver count, waiter table (rx_waiters.ts)       read-mostly
//   tail     line of the senders: tail index, tail block
//   head     line of the receivers: head index, head block, receivers' lock
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
//
// Ownership: every endpoint holds one counted ref. Senders and receivers move when
// sent, passed to spawn or stored; clone() adds a ref. The last sender leaving
// disconnects the receivers; the last receiver leaving (the receiver count reaching
// zero) sets RX_GONE and disconnects the senders.
//
// Receivers (MPMC, crossbeam-channel semantics): while there is one receiver, only its
// thread reads the head, so the flavors take with plain reads and writes and wake it
// through the observer word. The first Receiver clone sets MULTI_RX for good; from
// then on each take runs under the receivers' lock (rx_lock.ts) and every waiting
// receiver also registers its wake word in the waiter table (rx_waiters.ts), which
// senders broadcast to. The bit is sticky so that no receiver ever has to learn that
// the channel went back to one receiver; the count still decides disconnection.

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
import { lockRx, unlockRx } from './rx_lock.ts';
import { register, unregister, wakeAll } from './rx_waiters.ts';
import { signal, signalIndex } from './signal.ts';
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
const M_RX_COUNT = 9;
const M_WAITERS = 10;
const META_BYTES = 44;
const LINE = 64;
const LINES = 3;

export const COUNT = (1 << 29) - 1;
/** Set for good once the channel has had more than one receiver. */
export const MULTI_RX = 1 << 29;
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
    store(i, m + M_RX_COUNT, 1);
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
  readonly rxCount: number;
  readonly waiters: number;
  readonly tailIndex: number;
  readonly tailBlock: number;
  readonly headIndex: number;
  readonly headBlock: number;
  readonly rxLock: number;
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
    rxCount: m + M_RX_COUNT,
    waiters: m + M_WAITERS,
    tailIndex: lines >> 2,
    tailBlock: (lines >> 2) + 1,
    headIndex: (lines + LINE) >> 2,
    headBlock: ((lines + LINE) >> 2) + 1,
    rxLock: ((lines + LINE) >> 2) + 2,
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

/** Wakes whoever waits to receive: the observer word, and every registered waiter. */
export function wakeReceivers(i: Int32Array, f: Pick<Fields, 'observer' | 'waiters'>): void {
  signal(load(i, f.observer));
  wakeAll(i, f.waiters);
}

function slotsOf<T>(p: number): Slots<T> {
  const i = heapCovering(p + META_BYTES).i32;
  const m = p >> 2;
  const codec = resolveCodec(load(i, m + M_CODEC), load(i, m + M_CODEC_NAME)) as Codec<T> | string;
  return makeSlots(load(i, m + M_FIXED), codec);
}

/** What a waiting send needs from its handle. */
export interface SendContext {
  /** Throws if the sending handle was closed meanwhile (checked after every sleep). */
  guard(): void;
  /** True once the sending handle is closed: its channel may be gone, touch nothing. */
  closed(): boolean;
  /**
   * Set when an aborted send had delivered its message already (a rendezvous taken
   * just before the abort): the send then succeeds rather than reject.
   */
  delivered: boolean;
}

/**
 * A thread's access to one channel object: field indexes, message slots, and the
 * operations each flavor implements. Each handle has its own.
 */
export abstract class Core<T> implements Receivable, Fields {
  readonly p: number;
  readonly slots: Slots<T>;
  /** The slots' tokens are plain values (Slots.plain), cached here for the send path. */
  readonly plain: boolean;
  readonly cap: number;
  readonly status: number;
  readonly observer: number;
  readonly rxCount: number;
  readonly waiters: number;
  readonly tailIndex: number;
  readonly tailBlock: number;
  readonly headIndex: number;
  readonly headBlock: number;
  readonly rxLock: number;
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
  /** The word of the wait being armed (observe() names it, arm() registers it). */
  #word = 0;
  /** Waits of this handle's thread armed on it. */
  #armed = 0;
  /** Entry of this handle in the waiter table while armed with MULTI_RX (0: none). */
  #entry = 0;
  /**
   * Seen MULTI_RX. It can only appear while this handle's ref is the only receiver if
   * this very handle is cloned (Receiver.clone calls becameShared), so caching it is safe.
   */
  #multi: boolean;

  constructor(p: number) {
    this.p = p;
    this.slots = slotsOf(p);
    this.plain = this.slots.plain;
    this.cap = load(heapCovering(p + META_BYTES).i32, (p >> 2) + M_CAP);
    ({
      status: this.status, observer: this.observer, rxCount: this.rxCount, waiters: this.waiters,
      tailIndex: this.tailIndex, tailBlock: this.tailBlock, headIndex: this.headIndex, headBlock: this.headBlock,
      rxLock: this.rxLock, permits: this.permits, offer: this.offer,
      txSeq: this.txSeq, txWaiters: this.txWaiters, rxWaiters: this.rxWaiters, spare: this.spare,
      buffer: this.buffer,
    } = fieldsOf(p));
    this.end = this.buffer + this.bufferBytes(this.slots.stride);
    heapCovering(this.end); // from here on the object is covered; only pointers met later need a check
    this.#multi = (load(heapCovering(this.end).i32, this.status) & MULTI_RX) !== 0;
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

  /** Wakes the threads waiting on the receiving side, if any. */
  wakeReceiver(i: Int32Array): void {
    wakeReceivers(i, this);
  }

  /** Bumps the senders' wake word and wakes every sender sleeping on it. */
  wakeSenders(i: Int32Array): void {
    add(i, this.txSeq, 1);
    notify(i, this.txSeq);
  }

  observe(word: number): void {
    this.#word = word;
  }

  /** Called before the sending handle is cloned or moved. */
  beforeClone(): void {}

  /**
   * A sender's thread ended holding a claim (Role.Claim: a permit, the rendezvous slot)
   * it had not published: gives it back. Flavors whose senders claim override this.
   */
  releaseClaim(): void {}

  /** This receiving handle was cloned: the channel has several receivers from now on. */
  becameShared(): void {
    if (this.#multi) return;
    this.#multi = true;
    // A wait of this thread armed for one receiver wakes and re-arms the MPMC way.
    if (this.#armed > 0) signal(signalIndex());
  }

  /** Messages queued (claimed by senders and not yet received). */
  abstract len(): number;

  // Receiving. With several receivers, takes and marks are made under the receivers'
  // lock, so each flavor's single-receiver code stays as it is (see rx_lock.ts).

  /** See Receivable.wokePeer(); flavors whose receiver wakes senders override it. */
  wokePeer(): boolean {
    return false;
  }

  tryTake(): unknown {
    if (!this.#multi || !this.sharedHead) return this.take();
    const i = this.h().i32;
    const slot = lockRx(i, this.rxLock, this.p);
    try {
      return this.take();
    } finally {
      unlockRx(i, this.rxLock, slot);
    }
  }

  arm(): boolean {
    const i = this.h().i32;
    const first = this.#armed === 0;
    if (!this.#multi) {
      if (this.#observing !== this.#word) {
        store(i, this.observer, this.#word);
        this.#observing = this.#word;
      }
    } else if (this.#entry === 0) {
      // Registered before marking: a sender that sees the mark finds the entry.
      this.#entry = register(i, this.waiters, this.#word);
    }
    this.#armed++;
    if (!this.#multi || !this.sharedHead) return this.mark(first);
    const slot = lockRx(i, this.rxLock, this.p);
    try {
      return this.mark(first);
    } finally {
      unlockRx(i, this.rxLock, slot);
    }
  }

  disarm(): void {
    if (--this.#armed > 0) return;
    if (this.#entry !== 0) {
      unregister(this.#entry);
      this.#entry = 0;
    }
    this.unmark(this.#multi);
  }

  /**
   * True when receivers share the head (list, array), so that with several receivers
   * they take under the lock; false where taking is one CAS already (zero).
   */
  protected abstract get sharedHead(): boolean;
  /** The flavor's take: a message, EMPTY or DISCONNECTED (one receiver at a time). */
  protected abstract take(): unknown;
  /**
   * Marks the receiving side as waiting, so that the next send wakes it (`first`: no
   * other wait of this handle is marked). True when something is ready already.
   */
  protected abstract mark(first: boolean): boolean;
  /**
   * Undoes mark() once no wait of this handle is left. With several receivers a mark
   * may be another receiver's too, so marks that are not counts stay (a spurious wake
   * at most).
   */
  protected abstract unmark(multi: boolean): void;

  /**
   * Sends `value` if that needs no waiting: true once sent, false when nothing was done.
   * Throws SendError if the receiver is gone, TypeError or RangeError (nothing sent) if
   * the value cannot be encoded or stored.
   */
  abstract sendNow(value: T): boolean;
  /**
   * The waiting send, for the driver: true once sent, false at the deadline (nothing
   * sent). `tryOnly`: give up instead of waiting for room. An abort thrown into it
   * undoes what it registered and rethrows.
   */
  abstract sendOp(value: T, tryOnly: boolean, ctx: SendContext): Op<boolean>;
  /**
   * The last receiver is gone (status has RX_GONE): wake blocked senders, drop what is
   * buffered. A message still being written goes back to its sender (SendError): the
   * list and array flavors mark the slots it may land in, the rendezvous one withdraws.
   */
  abstract closeReceiver(): void;
  /** The last ref is gone: drop every message left and free what the flavor owns. */
  abstract destroy(): void;
}
