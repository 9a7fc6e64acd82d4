// The sending handles: Sender for unbounded channels (send never waits), SyncSender
// for bounded and rendezvous ones. Each holds one Sender ref, which counts in the
// channel's sender count: clone() and sending the handle in a message add one, close(),
// Symbol.dispose, the end of the owning thread and garbage collection give it back.

import { Adopt, Handle, Role } from '../heap/handle.ts';
import { assertCanBlock, canBlock, checkTimeout } from '../wait/futex.ts';
import { deadlineOf, runAsync, runSync } from '../wait/driver.ts';
import { coreOf } from './flavors.ts';
import type { Core } from './layout.ts';

/**
 * How long trySend on a rendezvous channel waits for a receiver that is waiting right
 * now to take its message (it gives up at once when the receiver stops waiting).
 */
const RENDEZVOUS_TRY_MS = 20;

abstract class SenderBase<T> extends Handle {
  protected readonly core: Core<T>;

  constructor(adopt: Adopt) {
    super(adopt.offset, Role.Sender);
    this.core = coreOf<T>(adopt.offset);
  }

  /** Throws once this handle is closed (checked after every sleep). */
  protected readonly guard = (): void => this.checkOpen();

  /** A new Sender ref: for clone(), and when this handle is sent in a message. */
  override shareRef(): number {
    this.checkOpen();
    this.core.beforeClone();
    return super.shareRef();
  }
}

/** The sending half of an unbounded channel. */
export class Sender<T> extends SenderBase<T> {
  protected get kindName(): string {
    return 'Sender';
  }

  /** Sends `value`; never waits. Throws SendError (with the value) if the receiver is gone. */
  send(value: T): void {
    this.checkOpen();
    this.core.sendNow(value);
  }

  /** Another sender for the same channel. */
  clone(): Sender<T> {
    this.shareRef();
    return new Sender(new Adopt(this.offset, Role.Sender));
  }
}

/** The sending half of a bounded or rendezvous channel. */
export class SyncSender<T> extends SenderBase<T> {
  protected get kindName(): string {
    return 'SyncSender';
  }

  /** Sends `value`, waiting for room (or, on a rendezvous, for the receiver to take it). */
  send(value: T): void {
    assertCanBlock('SyncSender.send()', 'sendAsync()');
    this.checkOpen();
    if (!this.core.sendNow(value)) runSync(this.core.sendOp(value, false, this.guard), Infinity);
  }

  async sendAsync(value: T): Promise<void> {
    this.checkOpen();
    if (!this.core.sendNow(value)) await runAsync(this.core.sendOp(value, false, this.guard), Infinity);
  }

  /**
   * Sends `value` if there is room now (on a rendezvous: if a receiver is waiting and
   * takes it); false otherwise, with nothing sent.
   */
  trySend(value: T): boolean {
    this.checkOpen();
    if (this.core.sendNow(value)) return true;
    if (this.core.cap > 0 || !canBlock()) return false;
    return runSync(this.core.sendOp(value, true, this.guard), performance.now() + RENDEZVOUS_TRY_MS);
  }

  /** Like send(), giving up after `ms` milliseconds: false then, with nothing sent. */
  sendTimeout(value: T, ms: number): boolean {
    const t = checkTimeout(ms, 'SyncSender.sendTimeout()');
    assertCanBlock('SyncSender.sendTimeout()', 'sendAsync()');
    this.checkOpen();
    return this.core.sendNow(value) || runSync(this.core.sendOp(value, false, this.guard), deadlineOf(t));
  }

  clone(): SyncSender<T> {
    this.shareRef();
    return new SyncSender(new Adopt(this.offset, Role.Sender));
  }
}
