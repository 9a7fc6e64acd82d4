// The sending handles: Sender for unbounded channels (send never waits), SyncSender
// for bounded and rendezvous ones. Each holds one Sender ref, which counts in the
// channel's sender count. Endpoints move, as in Rust: passing one to spawn, sending it
// or storing it in a value hands this handle's ref over and leaves this handle
// unusable; clone() adds a ref. close(), Symbol.dispose and the end of the owning
// thread give a ref back, so the channel disconnects exactly when the last sender
// goes, never waiting for garbage collection.

import { Adopt, cloneHandle, Handle, isOpen, Role, type RefState } from '../heap/handle.ts';
import { assertCanBlock, canBlock, checkTimeout } from '../wait/futex.ts';
import { checkSignal, deadlineOf, runAsync, runSync, type WaitOptions } from '../wait/driver.ts';
import { SendError, TrySendError } from './errors.ts';
import { coreOf } from './flavors.ts';
import type { Core, SendContext } from './layout.ts';

/**
 * How long trySend on a rendezvous channel waits for a receiver that is waiting right
 * now to take its message (it gives up at once when the receiver stops waiting).
 */
const RENDEZVOUS_TRY_MS = 20;

/**
 * What {@link Sender} and {@link SyncSender} share (`clone`, `close`). Not constructed
 * directly.
 */
export abstract class SenderBase<T> extends Handle {
  protected readonly core: Core<T>;
  // The handle's RefState in a field of this class, so that a send checks it with loads
  // that see only the two sender kinds (see RefState).
  readonly #ref: RefState;

  /** @internal */
  constructor(adopt: Adopt) {
    super(adopt.offset, Role.Sender);
    this.core = coreOf<T>(adopt.offset);
    this.#ref = this.refState;
  }

  protected override checkOpen(): void {
    if (!isOpen(this.#ref)) super.checkOpen();
  }

  /** A fresh context for one waiting send. */
  protected context(): SendContext {
    return { guard: () => this.checkOpen(), closed: () => this.released, delivered: false };
  }

  /** Sending the handle in a message (or to spawn, or into a stored value) moves it. */
  /** @internal */
  override shareRef(): number {
    this.checkOpen();
    this.core.beforeClone(); // a moving sender gives back what it holds for itself
    return this.moveRef();
  }

  /** Another handle on one more Sender ref of the channel, for clone(). */
  /** @internal */
  protected cloneSender<H extends SenderBase<T>>(make: (adopt: Adopt) => H): H {
    this.checkOpen();
    this.core.beforeClone();
    return cloneHandle(this.offset + Role.Sender, (offset, role) => make(new Adopt(offset, role)));
  }
}

/**
 * The sending half of an unbounded {@link channel}. `send(v)` never waits.
 * `clone()` makes another sender of the same channel; the channel disconnects for the
 * receivers once every sender is closed (or its thread ended).
 *
 * @example
 * ```ts
 * const [tx, rx] = channel<string>();
 * spawn((tx: Sender<string>) => tx.send('hello'), tx.clone());
 * rx.recv(); // 'hello'
 * ```
 *
 * @throws {@link SendError} (carrying the value back) when every receiver is gone;
 * `TypeError` for a value the codec cannot carry (nothing is sent) or a moved sender.
 */
export class Sender<T> extends SenderBase<T> {
  /** @internal */
  protected get kindName(): string {
    return 'Sender';
  }

  /** Sends `value`; never waits. Throws SendError (with the value) if every receiver is gone. */
  send(value: T): void {
    this.checkOpen();
    this.core.sendNow(value);
  }

  /** Another sender for the same channel. */
  clone(): Sender<T> {
    return this.cloneSender((adopt) => new Sender<T>(adopt));
  }
}

/**
 * The sending half of a bounded or rendezvous {@link syncChannel}. `send(v)` blocks while
 * the channel is full; `sendAsync(v, { signal })` waits without blocking (an abort sends
 * nothing); `sendTimeout(v, ms)` returns false on timeout; `trySend(v)` never waits (false when full).
 *
 * @example
 * ```ts
 * const [tx, rx] = syncChannel<number>(1);
 * tx.send(1);
 * tx.trySend(2); // false: the one slot is taken, nothing sent
 * ```
 *
 * @throws {@link SendError} when every receiver is gone ({@link TrySendError} of kind
 * 'Disconnected', with the value back, from `trySend`).
 */
export class SyncSender<T> extends SenderBase<T> {
  /** @internal */
  protected get kindName(): string {
    return 'SyncSender';
  }

  /** Sends `value`, waiting for room (or, on a rendezvous, for a receiver to take it). */
  send(value: T): void {
    assertCanBlock('SyncSender.send()', 'sendAsync()');
    this.checkOpen();
    if (!this.core.sendNow(value)) runSync(this.core.sendOp(value, false, this.context()), Infinity);
  }

  /**
   * send() without blocking the thread. Aborting `options.signal` rejects with its
   * reason and sends nothing (unless a receiver took the message first: then it is sent).
   */
  async sendAsync(value: T, options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'SyncSender.sendAsync()');
    this.checkOpen();
    if (this.core.sendNow(value)) return;
    const ctx = this.context();
    try {
      await runAsync(this.core.sendOp(value, false, ctx), Infinity, signal);
    } catch (e) {
      if (!ctx.delivered) throw e;
    }
  }

  /**
   * Sends `value` if there is room now (on a rendezvous: if a receiver is waiting and
   * takes it); false otherwise, with nothing sent. Throws TrySendError (a SendError of
   * kind 'Disconnected', with the value) if every receiver is gone.
   */
  trySend(value: T): boolean {
    this.checkOpen();
    try {
      if (this.core.sendNow(value)) return true;
      if (this.core.cap > 0 || !canBlock()) return false;
      return runSync(this.core.sendOp(value, true, this.context()), performance.now() + RENDEZVOUS_TRY_MS);
    } catch (e) {
      throw e instanceof SendError ? new TrySendError('Disconnected', e.value as T) : e;
    }
  }

  /** Like send(), giving up after `ms` milliseconds: false then, with nothing sent. */
  sendTimeout(value: T, ms: number): boolean {
    const t = checkTimeout(ms, 'SyncSender.sendTimeout()');
    assertCanBlock('SyncSender.sendTimeout()', 'sendAsync()');
    this.checkOpen();
    return this.core.sendNow(value) || runSync(this.core.sendOp(value, false, this.context()), deadlineOf(t));
  }

  clone(): SyncSender<T> {
    return this.cloneSender((adopt) => new SyncSender<T>(adopt));
  }
}
