// A oneshot channel: one value, sent at most once, from one sender to one receiver
// (tokio's oneshot, with the receive calls of the other receivers). Both ends move
// when sent in a message; the sender is used up by send().
//
// Object: [kind, refcount, state, receiver waiting count, observer, codec, codec name,
// fixed width] then the value's slot. The state goes EMPTY -> FULL -> TAKEN, or ends
// SENDER_GONE (closed without sending) or RECEIVER_GONE; each move is one atomic
// operation, so a send racing the receiver's close is decided by which lands first.

import type { Codec } from '../codec/codec.ts';
import { dropValue } from '../codec/stored.ts';
import { Adopt, allocObject, defineKind, Handle, retain, Role } from '../heap/handle.ts';
import { Kind } from '../heap/kinds.ts';
import { add, cas, exchange, load, store } from '../wait/futex.ts';
import type { ChannelOptions } from './channel.ts';
import { checkCodec, codecId, resolveCodec, storeCodecName } from './codec_id.ts';
import { SendError } from './errors.ts';
import { DISCONNECTED, EMPTY, type Receivable } from './receivable.ts';
import { ReceiverBase } from './receiver.ts';
import { signal } from './signal.ts';
import { makeSlots, slotLayout, type Slots } from './slots.ts';
import { heapCovering } from '../heap/heap.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';

// i32 fields relative to the object's offset >> 2.
const STATE = 2;
const RX_WAITERS = 3;
const OBSERVER = 4;
const CODEC = 5;
const CODEC_NAME = 6;
const FIXED = 7;
/** Byte offset of the value's slot. */
const SLOT = 32;

const EMPTY_STATE = 0;
const FULL = 1;
const TAKEN = 2;
const SENDER_GONE = 3;
const RECEIVER_GONE = 4;

class OneshotCore<T> implements Receivable {
  readonly state: number;
  readonly slot: number;
  readonly end: number;
  readonly slots: Slots<T>;
  readonly #m: number;
  #armed = 0;
  #observing = 0;

  constructor(p: number) {
    const m = p >> 2;
    const i = heapCovering(p + SLOT).i32;
    this.#m = m;
    this.state = m + STATE;
    this.slot = p + SLOT;
    this.slots = makeSlots(load(i, m + FIXED), resolveCodec(load(i, m + CODEC), load(i, m + CODEC_NAME)) as Codec<T> | string);
    this.end = this.slot + this.slots.stride;
    heapCovering(this.end);
  }

  get i(): Int32Array {
    return heapCovering(this.end).i32;
  }

  /** A oneshot sender never waits, so a receiver never wakes one. */
  wokePeer(): boolean {
    return false;
  }

  /** Writes the prepared value and makes it FULL; false if the receiver is gone. */
  publish(token: unknown): boolean {
    const h = heapCovering(this.end);
    // A held message is published and forgotten in one kill-safe section (see slots.ts).
    const section = this.slots.inSection(token);
    if (section) enterCritical();
    try {
      this.slots.put(h, this.slot, token);
      if (cas(h.i32, this.state, EMPTY_STATE, FULL) !== EMPTY_STATE) return false;
      this.slots.sent(token);
    } finally {
      if (section) leaveCritical();
    }
    if (load(h.i32, this.#m + RX_WAITERS) !== 0) signal(load(h.i32, this.#m + OBSERVER));
    return true;
  }

  tryTake(): unknown {
    const h = heapCovering(this.end);
    const s = load(h.i32, this.state);
    if (s === EMPTY_STATE) return EMPTY;
    if (s !== FULL) return DISCONNECTED;
    return this.slots.take(h, this.slot, () => store(h.i32, this.state, TAKEN));
  }

  observe(word: number): void {
    if (this.#observing !== word) {
      store(this.i, this.#m + OBSERVER, word);
      this.#observing = word;
    }
  }

  arm(): boolean {
    const i = this.i;
    if (this.#armed++ === 0) add(i, this.#m + RX_WAITERS, 1);
    return load(i, this.state) !== EMPTY_STATE;
  }

  disarm(): void {
    if (--this.#armed === 0) add(this.i, this.#m + RX_WAITERS, -1);
  }

  senderLeft(): void {
    const i = this.i;
    if (cas(i, this.state, EMPTY_STATE, SENDER_GONE) === EMPTY_STATE) signal(load(i, this.#m + OBSERVER));
  }

  receiverLeft(): void {
    if (exchange(this.i, this.state, RECEIVER_GONE) === FULL) this.slots.drop(heapCovering(this.end), this.slot);
  }

  receiverGone(): boolean {
    return load(this.i, this.state) === RECEIVER_GONE;
  }

  destroy(): void {
    const i = this.i;
    if (load(i, this.state) === FULL) this.slots.drop(heapCovering(this.end), this.slot);
    const name = load(i, this.#m + CODEC_NAME);
    if (name !== 0) dropValue(name);
  }
}

/**
 * A channel for exactly one message (tokio's `oneshot`): returns
 * `[OneshotSender, OneshotReceiver]`. The receiver gets the value, or
 * {@link RecvError} if the sender was closed (or its thread ended) without sending.
 *
 * @example
 * ```ts
 * const [reply, answer] = oneshot<number>();
 * spawn((reply: OneshotSender<number>) => reply.send(6 * 7), reply);
 * answer.recv(); // 42
 * ```
 */
export function oneshot<T>(options?: ChannelOptions<T>): [OneshotSender<T>, OneshotReceiver<T>] {
  const codec = checkCodec(options?.codec, 'oneshot()');
  // The channel and both its ends are made in one kill-safe section (see channel()).
  enterCritical();
  try {
    const fixed = codec.fixed?.bytes ?? 0;
    const id = codecId(codec);
    const name = storeCodecName(id, codec);
    let p: number;
    try {
      p = allocObject(Kind.Oneshot, SLOT - 8 + slotLayout(fixed).stride);
    } catch (e) {
      if (name !== 0) dropValue(name);
      throw e;
    }
    const i = heapCovering(p + SLOT).i32;
    const m = p >> 2;
    store(i, m + CODEC, id);
    store(i, m + CODEC_NAME, name);
    store(i, m + FIXED, fixed);
    retain(p); // the receiver's ref; allocObject gave the sender's
    return [new OneshotSender<T>(new Adopt(p, Role.Sender)), new OneshotReceiver<T>(new Adopt(p, Role.Receiver))];
  } finally {
    leaveCritical();
  }
}

/** Sends the one value. Moves when sent in a message. */
export class OneshotSender<T> extends Handle {
  readonly #c: OneshotCore<T>;

  /** @internal */
  constructor(adopt: Adopt) {
    super(adopt.offset, Role.Sender);
    this.#c = new OneshotCore<T>(adopt.offset);
  }

  /** @internal */
  protected get kindName(): string {
    return 'OneshotSender';
  }

  /** @internal */
  override shareRef(): number {
    return this.moveRef();
  }

  /**
   * Sends `value` and uses this sender up. Throws SendError (with the value) if the
   * receiver is gone, TypeError (sender still usable) if the value cannot be sent.
   */
  send(value: T): void {
    this.checkOpen();
    const c = this.#c;
    if (c.receiverGone()) {
      this.close();
      throw new SendError(value);
    }
    const token = c.slots.prepare(value);
    const sent = c.publish(token);
    // The value is out of our hands before the sender's ref goes: closing cannot race
    // the receiver into seeing SENDER_GONE.
    const back = sent ? undefined : c.slots.giveBack(token, value);
    this.close();
    if (!sent) throw new SendError(back as T);
  }
}

/** Receives the one value. Moves when sent in a message. */
export class OneshotReceiver<T> extends ReceiverBase<T> {
  /** @internal */
  constructor(adopt: Adopt) {
    super(adopt.offset, new OneshotCore<T>(adopt.offset));
  }

  /** @internal */
  protected get kindName(): string {
    return 'OneshotReceiver';
  }

  protected get disconnectedMessage(): string {
    return 'receiving on a closed oneshot: the sender is gone without sending, or the value was already received';
  }
}

defineKind(Kind.Oneshot, {
  name: 'oneshot',
  wrap(offset, role) {
    if (role === Role.Sender) return new OneshotSender(new Adopt(offset, role));
    if (role === Role.Receiver) return new OneshotReceiver(new Adopt(offset, role));
    throw new TypeError(`weft: a oneshot ref must be a sender or a receiver (role ${role})`);
  },
  releaseRole(offset, role) {
    if (role === Role.Sender) new OneshotCore(offset).senderLeft();
    else if (role === Role.Receiver) new OneshotCore(offset).receiverLeft();
  },
  drop(offset) {
    new OneshotCore(offset).destroy();
  },
});
