// The receiving handles. A receiving side has one owner: the handle holds the only
// Receiver ref, and sending it in a message moves it (the old handle then throws).
// Closing it (or its thread ending) disconnects the channel: buffered messages are
// dropped and senders fail from then on.

import { Adopt, Handle, Role } from '../heap/handle.ts';
import { assertCanBlock, checkTimeout } from '../wait/futex.ts';
import { deadlineOf, runAsync, runSync } from '../wait/driver.ts';
import { RecvError } from './errors.ts';
import { coreOf } from './flavors.ts';
import { DISCONNECTED, EMPTY, endpoint, recvOp, type HasEndpoint, type Receivable } from './receivable.ts';

/** The receive operations, shared by channel and oneshot receivers. */
export abstract class ReceiverBase<T> extends Handle implements HasEndpoint {
  readonly #end: Receivable;

  protected constructor(offset: number, end: Receivable) {
    super(offset, Role.Receiver);
    this.#end = end;
  }

  /** Sending a receiver moves it: this handle becomes unusable. */
  override shareRef(): number {
    return this.moveRef();
  }

  [endpoint](): Receivable {
    this.checkOpen();
    return this.#end;
  }

  /** Message of the RecvError thrown once nothing more will come. */
  protected abstract get disconnectedMessage(): string;

  #value(r: unknown): T {
    if (r === DISCONNECTED) throw new RecvError(this.disconnectedMessage);
    return r as T;
  }

  /** Blocks until a message arrives; throws RecvError once every sender is gone and all was received. */
  recv(): T {
    assertCanBlock(`${this.kindName}.recv()`, 'recvAsync()');
    const r = this[endpoint]().tryTake();
    return this.#value(r === EMPTY ? runSync(recvOp(this), Infinity) : r);
  }

  async recvAsync(): Promise<T> {
    const r = this[endpoint]().tryTake();
    return this.#value(r === EMPTY ? await runAsync(recvOp(this), Infinity) : r);
  }

  /** A message if one is ready, else undefined; throws RecvError once disconnected and drained. */
  tryRecv(): T | undefined {
    const r = this[endpoint]().tryTake();
    return r === EMPTY ? undefined : this.#value(r);
  }

  /** Like recv(), giving up after `ms` milliseconds with undefined. */
  recvTimeout(ms: number): T | undefined {
    const t = checkTimeout(ms, `${this.kindName}.recvTimeout()`);
    assertCanBlock(`${this.kindName}.recvTimeout()`, 'recvAsync()');
    let r = this[endpoint]().tryTake();
    if (r === EMPTY) r = runSync(recvOp(this), deadlineOf(t));
    return r === EMPTY ? undefined : this.#value(r);
  }
}

/** The receiving half of a channel. */
export class Receiver<T> extends ReceiverBase<T> {
  constructor(adopt: Adopt) {
    super(adopt.offset, coreOf<T>(adopt.offset));
  }

  protected get kindName(): string {
    return 'Receiver';
  }

  protected get disconnectedMessage(): string {
    return 'receiving on a closed channel: every sender is gone';
  }

  /** Receives until every sender is gone and everything sent was received (blocking). */
  [Symbol.iterator](): Iterator<T> {
    return new BlockingIter(this);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let r = this[endpoint]().tryTake();
      if (r === EMPTY) r = await runAsync(recvOp(this), Infinity);
      if (r === DISCONNECTED) return;
      yield r as T;
    }
  }

  /** The messages ready now. */
  *tryIter(): IterableIterator<T> {
    for (;;) {
      const r = this[endpoint]().tryTake();
      if (r === EMPTY || r === DISCONNECTED) return;
      yield r as T;
    }
  }
}

// A class rather than a generator: `for (const m of rx)` over a fast channel then costs
// about what recv() does.
class BlockingIter<T> implements Iterator<T> {
  readonly #rx: Receiver<T>;

  constructor(rx: Receiver<T>) {
    this.#rx = rx;
  }

  next(): IteratorResult<T> {
    assertCanBlock('Receiver iteration', 'for await (const m of receiver)');
    let r = this.#rx[endpoint]().tryTake();
    if (r === EMPTY) r = runSync(recvOp(this.#rx), Infinity);
    return r === DISCONNECTED ? { done: true, value: undefined } : { done: false, value: r as T };
  }

  [Symbol.iterator](): Iterator<T> {
    return this;
  }
}
