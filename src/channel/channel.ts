// Making channels, and the Channel kind: how its refs are wrapped, counted and released.
// Sender refs count in the status word, Receiver refs in the receiver count (the
// second one makes the channel MPMC for good: layout.ts); a Held ref is the receivers'
// lock and a Claim ref a sender's unpublished claim, released here if its thread was
// killed holding it.

import type { Codec } from '../codec/codec.ts';
import { Adopt, defineKind, Role } from '../heap/handle.ts';
import { Kind } from '../heap/kinds.ts';
import { add, load, or, sub } from '../wait/futex.ts';
import { arrayBufferBytes, ArrayRing, MAX_BOUND } from './array.ts';
import { checkCodec } from './codec_id.ts';
import { coreOf } from './flavors.ts';
import { allocChannel, COUNT, fieldsOf, Flavor, flavorOf, freeCodecName, MULTI_RX, RX_GONE, wakeReceivers } from './layout.ts';
import { List } from './list.ts';
import { Receiver } from './receiver.ts';
import { Sender, SyncSender } from './sender.ts';
import { releaseRx } from './rx_lock.ts';
import { freeTable } from './rx_waiters.ts';
import { heapCovering } from '../heap/heap.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';

/**
 * Options of {@link channel} and {@link syncChannel}: `codec` chooses how messages are
 * encoded (default `codecs.structured`; `codecs.f64`/`codecs.i32` need no allocation).
 */
export interface ChannelOptions<T> {
  /** How messages are carried (default codecs.structured; codecs.f64 / i32 store numbers in place). */
  codec?: Codec<T>;
}

/**
 * An unbounded multi-producer channel (Rust's `std::sync::mpsc::channel`): `send` never
 * waits. Returns `[Sender, Receiver]`; `rx.clone()` makes it multi-consumer (crossbeam's
 * MPMC: each message goes to exactly one receiver).
 *
 * @example
 * ```ts
 * const [tx, rx] = channel<number>({ codec: codecs.f64 });
 * for (let p = 0; p < 4; p++) spawn((out: Sender<number>, p: number) => out.send(p), tx.clone(), p);
 * tx.close();
 * let sum = 0;
 * for (const v of rx) sum += v; // ends when every sender is gone and the channel is drained
 * ```
 *
 * @remarks
 * Ordering: messages from one sender arrive in the order sent, exactly once; a message's
 * contents (and anything its sender wrote before sending) are visible to its receiver.
 * Endpoints move when passed to `spawn`, sent or stored (use `clone()` to keep one), so
 * the channel disconnects exactly when its last sender or last receiver closes.
 *
 * Holder death: a thread that ends or is killed closes its endpoints: receivers then drain
 * what was sent and get {@link RecvError}; senders get {@link SendError} once no receiver
 * is left.
 *
 * @throws `TypeError` for options that are not an object or a codec that is not one.
 */
export function channel<T>(options?: ChannelOptions<T>): [Sender<T>, Receiver<T>] {
  const codec = checkCodec(options?.codec, 'channel()');
  // The channel and both its endpoints are made in one kill-safe section: a thread
  // killed here leaves no channel that nobody holds.
  enterCritical();
  try {
    const p = allocChannel(Flavor.List, 0, codec, () => 0, List.init);
    return [new Sender<T>(new Adopt(p, Role.Sender)), new Receiver<T>(new Adopt(p, Role.Receiver))];
  } finally {
    leaveCritical();
  }
}

/**
 * A bounded channel of `bound` messages (Rust's `std::sync::mpsc::sync_channel`): `send`
 * waits while the channel is full, which is how a fast producer is held back
 * (backpressure). `bound` 0 is a rendezvous: each `send` waits for a receiver to take it.
 *
 * @example
 * ```ts
 * const [tx, rx] = syncChannel<string>(16);
 * const producer = spawn((tx: SyncSender<string>) => { for (let i = 0; i < 1000; i++) tx.send(`line ${i}`); }, tx);
 * for (const line of rx) handle(line);
 * producer.join();
 * ```
 *
 * @remarks
 * Blocking / async: `send` / `sendAsync(v, { signal })`, `sendTimeout(v, ms)`, `trySend`.
 * Fairness: senders waiting for room are served in turn. Ordering and holder death as
 * for {@link channel}.
 *
 * @throws `RangeError` for a bound that is not an integer from 0 to the maximum.
 */
export function syncChannel<T>(bound: number, options?: ChannelOptions<T>): [SyncSender<T>, Receiver<T>] {
  if (typeof bound !== 'number') throw new TypeError(`syncChannel(): bound must be a number, got ${typeof bound}`);
  if (!Number.isInteger(bound) || bound < 0 || bound > MAX_BOUND) {
    throw new RangeError(`syncChannel(): bound must be an integer from 0 to ${MAX_BOUND}, got ${bound}`);
  }
  const codec = checkCodec(options?.codec, 'syncChannel()');
  enterCritical(); // as in channel()
  try {
    const p = bound === 0
      ? allocChannel(Flavor.Zero, 0, codec, (stride) => stride, () => {})
      : allocChannel(Flavor.Array, bound, codec, (stride) => arrayBufferBytes(bound, stride), (q) => ArrayRing.init(q, bound));
    return [new SyncSender<T>(new Adopt(p, Role.Sender)), new Receiver<T>(new Adopt(p, Role.Receiver))];
  } finally {
    leaveCritical();
  }
}

defineKind(Kind.Channel, {
  name: 'channel',
  wrap(offset, role) {
    if (role === Role.Receiver) return new Receiver(new Adopt(offset, role));
    if (role !== Role.Sender) throw new TypeError(`weft: a channel ref must be a sender or a receiver (role ${role})`);
    return flavorOf(offset) === Flavor.List ? new Sender(new Adopt(offset, role)) : new SyncSender(new Adopt(offset, role));
  },
  retainRole(offset, role) {
    const f = fieldsOf(offset);
    const i = heapCovering(f.buffer).i32;
    if (role === Role.Sender) add(i, f.status, 1);
    else if (role === Role.Receiver) {
      // A second receiver: takes go through the receivers' lock from now on (layout.ts).
      add(i, f.rxCount, 1);
      if ((load(i, f.status) & MULTI_RX) === 0) or(i, f.status, MULTI_RX);
    }
  },
  releaseRole(offset, role) {
    const f = fieldsOf(offset);
    const i = heapCovering(f.buffer).i32;
    if (role === Role.Sender) {
      // The last sender leaving disconnects: wake the receivers to find out.
      if ((sub(i, f.status, 1) & COUNT) === 1) wakeReceivers(i, f);
    } else if (role === Role.Receiver) {
      // Only the last receiver leaving disconnects: the others still take what is queued.
      if (sub(i, f.rxCount, 1) !== 1) return;
      or(i, f.status, RX_GONE);
      coreOf(offset).closeReceiver();
    } else if (role === Role.Held) {
      // A thread ended (was killed) holding the receivers' lock.
      releaseRx(i, f.rxLock);
    } else if (role === Role.Claim) {
      // A sender ended (was killed) between claiming room and publishing.
      coreOf(offset).releaseClaim();
    }
  },
  drop(offset) {
    coreOf(offset).destroy();
    const f = fieldsOf(offset);
    freeTable(heapCovering(f.buffer).i32, f.waiters);
    freeCodecName(offset);
  },
});
