// How a message sits in a channel slot. A slot is a state word (owned by the flavor)
// followed by the message, in one of three forms:
//
//   fixed     a fixed-width value written in place (codec.fixed): no encoding, no allocation
//   inline    [length, bytes]: an encoded message of at most INLINE bytes without handles
//   stored    [-1, offset of a stored value]: bigger messages, and any that carry handles
//             (the stored block holds counted refs to them; see codec/stored.ts)
//
// Sending runs in two steps so that nothing is half-sent: prepare() does everything
// that can fail (type check, encoding, allocation, taking handle refs) before any slot
// is claimed; put() only writes. A prepared message that cannot be delivered is handed
// back with giveBack(): the handles in it return to the caller's own handle objects.
//
// Kill safety: a stored message is Held (codec/stored.ts) from prepare() on, so a
// sender killed before publishing drops it through the runtime. Whenever inSection()
// says a token needs it, the flavor publishes in a kill-safe section that ends with
// sent() (the hold forgotten), and takes an offer back in one that ends with reclaim().
// A receiver takes a stored message over in the section that consumes its slot
// (take()'s `consume`, or claim() after read()).

import { decodeRange, encodeWith, type Codec, type FixedCodec } from '../codec/codec.ts';
import { dropValue, forgetHeld, Held, holdAgain, holdTaken, loadHeld, returnHeld, storeHeld } from '../codec/stored.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import type { Handle } from '../heap/handle.ts';
import type { Heap } from '../heap/heap.ts';

/** Slot size for encoded messages: state, length, then up to INLINE bytes. */
const ENCODED_STRIDE = 128;
const INLINE = ENCODED_STRIDE - 8;
/** Length word of a slot holding a stored value's offset. */
const STORED = -1;

/** Byte offset of the message in a slot, and the slot's size, for a fixed width (0: encoded). */
export function slotLayout(fixedBytes: number): { at: number; stride: number } {
  if (fixedBytes === 0) return { at: 4, stride: ENCODED_STRIDE };
  const at = fixedBytes > 4 ? 8 : 4;
  return { at, stride: (at + fixedBytes + 7) & ~7 };
}

export abstract class Slots<T> {
  readonly at: number;
  readonly stride: number;
  /**
   * True when a token is the value itself (fixed width): it never needs a kill-safe
   * section and sent() has nothing to forget, so the flavors skip both calls.
   */
  readonly plain: boolean;
  readonly #codec: Codec<T> | string;

  constructor(fixedBytes: number, codec: Codec<T> | string) {
    ({ at: this.at, stride: this.stride } = slotLayout(fixedBytes));
    this.plain = fixedBytes > 0;
    this.#codec = codec;
  }

  /** The codec, or the TypeError saying why this thread has none. */
  protected get codec(): Codec<T> {
    const c = this.#codec;
    if (typeof c === 'string') throw new TypeError(c);
    return c;
  }

  /** Checks and encodes `value` into a token for put(); throws with nothing changed. */
  abstract prepare(value: T): unknown;
  /** Whether put() of `token` and the publishing store must share a kill-safe section (a held message). */
  inSection(token: unknown): boolean {
    return token instanceof Held;
  }
  /** Writes a prepared message into the slot at byte offset `slot`. */
  abstract put(h: Heap, slot: number, token: unknown): void;
  /** The message put is published: another thread can reach it now, so this one forgets its hold. */
  sent(token: unknown): void {
    if (token instanceof Held) forgetHeld(token);
  }
  /** A published message is taken back (withdrawn): this thread holds it again. */
  reclaim(token: unknown): unknown {
    return token instanceof Held ? holdAgain(token) : token;
  }
  /**
   * Receives the message in the slot, taking its handle refs: `consume` is the flavor's
   * step that gives the slot up (it runs once, also if decoding throws).
   */
  abstract take(h: Heap, slot: number, consume: () => void): T;
  /** Copies the raw message out, for a slot that may be reused right after; finish() decodes it. */
  abstract read(h: Heap, slot: number): unknown;
  /** Takes over a raw message in the kill-safe section whose step consumed its slot. */
  claim(raw: unknown): unknown {
    return raw;
  }
  /** Decodes a claimed raw message. */
  abstract finish(claimed: unknown): T;
  /**
   * Gives an undelivered prepared message back: the endpoints in `value` that encoding
   * moved are usable again (see returnHeld()). Returns `value`, the caller's own.
   */
  giveBack(token: unknown, value: T): T {
    if (token instanceof Held) returnHeld(token);
    return value;
  }
  /** Drops the message in a slot that will never be received. */
  abstract drop(h: Heap, slot: number): void;
}

// Without a codec in this thread, every use throws the reason.
const noFixed = (reason: string): FixedCodec<never> => {
  const fail = (): never => {
    throw new TypeError(reason);
  };
  return { bytes: 0, check: fail, write: fail, read: fail };
};

class FixedSlots<T> extends Slots<T> {
  readonly #f: FixedCodec<T>;

  constructor(fixedBytes: number, codec: Codec<T> | string) {
    super(fixedBytes, codec);
    this.#f = typeof codec === 'string' ? noFixed(codec) : codec.fixed!;
  }
  prepare(value: T): unknown {
    this.#f.check(value);
    return value;
  }
  put(h: Heap, slot: number, token: unknown): void {
    this.#f.write(h, slot + this.at, token as T);
  }
  take(h: Heap, slot: number, consume: () => void): T {
    const value = this.#f.read(h, slot + this.at);
    consume();
    return value;
  }
  read(h: Heap, slot: number): unknown {
    return this.#f.read(h, slot + this.at);
  }
  finish(raw: unknown): T {
    return raw as T;
  }
  drop(): void {}
}

function noHandles(): Handle {
  throw new TypeError('channel message: a handle reference in a message that carries no handles');
}

class EncodedSlots<T> extends Slots<T> {
  prepare(value: T): unknown {
    const handles: Handle[] = [];
    const bytes = encodeWith(this.codec, value, handles);
    return handles.length === 0 && bytes.length <= INLINE ? bytes : storeHeld(bytes, handles);
  }
  put(h: Heap, slot: number, token: unknown): void {
    // Plain writes: the flavor's atomic state store right after publishes them. The
    // bytes may be the encoder's reused buffer, so put() follows prepare() at once.
    const i = h.i32;
    if (token instanceof Held) {
      i[(slot + 4) >> 2] = STORED;
      i[(slot + 8) >> 2] = token.p;
    } else {
      const bytes = token as Uint8Array;
      i[(slot + 4) >> 2] = bytes.length;
      h.u8.set(bytes, slot + 8);
    }
  }
  take(h: Heap, slot: number, consume: () => void): T {
    const len = h.i32[(slot + 4) >> 2];
    if (len !== STORED) {
      try {
        return decodeRange(this.codec, h.u8, slot + 8, slot + 8 + len, noHandles);
      } finally {
        consume();
      }
    }
    let held: Held;
    enterCritical();
    try {
      held = holdTaken(h.i32[(slot + 8) >> 2]);
      consume();
    } finally {
      leaveCritical();
    }
    return loadHeld(this.codec, held);
  }
  read(h: Heap, slot: number): unknown {
    const len = h.i32[(slot + 4) >> 2];
    return len === STORED ? h.i32[(slot + 8) >> 2] : h.u8.slice(slot + 8, slot + 8 + len);
  }
  override claim(raw: unknown): unknown {
    return typeof raw === 'number' ? holdTaken(raw) : raw;
  }
  finish(claimed: unknown): T {
    return claimed instanceof Held ? loadHeld(this.codec, claimed) : this.codec.decode(claimed as Uint8Array, noHandles);
  }
  drop(h: Heap, slot: number): void {
    if (h.i32[(slot + 4) >> 2] === STORED) dropValue(h.i32[(slot + 8) >> 2]);
  }
}

/** Slots for messages of `fixedBytes` bytes in place (0: encoded) with `codec`. */
export function makeSlots<T>(fixedBytes: number, codec: Codec<T> | string): Slots<T> {
  return fixedBytes > 0 ? new FixedSlots(fixedBytes, codec) : new EncodedSlots(0, codec);
}
