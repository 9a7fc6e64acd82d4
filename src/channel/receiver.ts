// The receiving handles. Each holds one Receiver ref, counted in the channel's
// receiver count. Like senders they move when sent, passed to spawn or stored in a
// value (the old handle then throws); Receiver.clone() adds a receiver, making the
// channel multi-consumer (crossbeam-channel semantics: each message goes to exactly one
// receiver). When the last receiver is closed (or its thread ends) the channel
// disconnects: buffered messages are dropped and senders fail from then on.

import { describeValue } from '../heap/describe.ts';
import { Adopt, cloneHandle, Handle, isOpen, Role, type RefState } from '../heap/handle.ts';
import { assertCanBlock, checkTimeout } from '../wait/futex.ts';
import { checkSignal, deadlineOf, runAsync, runSync, type WaitOptions } from '../wait/driver.ts';
import { RecvError, RecvTimeoutError, TryRecvError } from './errors.ts';
import { fairTurn, waited } from './fair.ts';
import { coreOf } from './flavors.ts';
import type { Core } from './layout.ts';
import { DISCONNECTED, EMPTY, endpoint, recvOp, type HasEndpoint, type Receivable } from './receivable.ts';

/**
 * What {@link Receiver} and {@link OneshotReceiver} share: `recv`, `recvAsync`,
 * `tryRecv`, `recvTimeout`, `recvDeadline`. Not constructed directly.
 */
export abstract class ReceiverBase<T> extends Handle implements HasEndpoint {
  readonly #end: Receivable;
  // The handle's RefState in a field of this class, so that a receive checks it with
  // loads that see only the receiver kinds (see RefState).
  readonly #ref: RefState;

  protected constructor(offset: number, end: Receivable) {
    super(offset, Role.Receiver);
    this.#end = end;
    this.#ref = this.refState;
  }

  protected override checkOpen(): void {
    if (!isOpen(this.#ref)) super.checkOpen();
  }

  /** Sending a receiver moves it: this handle becomes unusable. */
  /** @internal */
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

  /** A received message, or undefined for EMPTY (timed out); RecvTimeoutError once disconnected. */
  #timed(r: unknown): T | undefined {
    if (r === DISCONNECTED) throw new RecvTimeoutError('Disconnected', this.disconnectedMessage);
    return r === EMPTY ? undefined : (r as T);
  }

  /** Blocks until a message arrives; throws RecvError once every sender is gone and all was received. */
  recv(): T {
    assertCanBlock(`${this.kindName}.recv()`, 'recvAsync()');
    const r = this[endpoint]().tryTake();
    return this.#value(r === EMPTY ? runSync(recvOp(this), Infinity) : r);
  }

  /**
   * recv() without blocking the thread. Aborting `options.signal` rejects with its
   * reason and takes nothing. A run of ready messages yields to the event loop every
   * few milliseconds (fair.ts).
   */
  async recvAsync(options?: WaitOptions): Promise<T> {
    const signal = checkSignal(options, `${this.kindName}.recvAsync()`);
    return this.#value(await takeAsync(this, signal));
  }

  /**
   * A message if one is ready, else undefined (Rust's TryRecvError::Empty); throws
   * TryRecvError of kind 'Disconnected' (a RecvError) once disconnected and drained.
   */
  tryRecv(): T | undefined {
    const r = this[endpoint]().tryTake();
    if (r === DISCONNECTED) throw new TryRecvError('Disconnected', this.disconnectedMessage);
    return r === EMPTY ? undefined : (r as T);
  }

  /**
   * Like recv(), giving up after `ms` milliseconds with undefined (Rust's
   * RecvTimeoutError::Timeout); throws RecvTimeoutError of kind 'Disconnected' (a
   * RecvError) once disconnected and drained.
   */
  recvTimeout(ms: number): T | undefined {
    const t = checkTimeout(ms, `${this.kindName}.recvTimeout()`);
    assertCanBlock(`${this.kindName}.recvTimeout()`, 'recvAsync()');
    let r = this[endpoint]().tryTake();
    if (r === EMPTY) r = runSync(recvOp(this), deadlineOf(t));
    return this.#timed(r);
  }

  /**
   * Like recvTimeout(), with a deadline instead of a duration (Rust's recv_deadline):
   * `deadline` is a time on this thread's `performance.now()` clock, as
   * `performance.now() + ms`. A deadline already past still takes a ready message.
   */
  recvDeadline(deadline: number): T | undefined {
    checkDeadline(deadline, `${this.kindName}.recvDeadline(deadline)`);
    assertCanBlock(`${this.kindName}.recvDeadline()`, 'recvAsync()');
    let r = this[endpoint]().tryTake();
    if (r === EMPTY) r = runSync(recvOp(this), deadline);
    return this.#timed(r);
  }
}

/** Throws unless `deadline` is a number on the performance.now() clock (Infinity: no deadline). */
function checkDeadline(deadline: number, call: string): void {
  if (typeof deadline !== 'number') throw new TypeError(`${call}: expected a performance.now() time in milliseconds, got ${describeValue(deadline)}`);
  if (Number.isNaN(deadline)) throw new RangeError(`${call}: expected a performance.now() time in milliseconds, got NaN`);
}

/**
 * One async receive: a message or DISCONNECTED, after a fair turn if one is due. A
 * message ready now comes back as it is; else a promise of one (a message is never a
 * Promise: none can be sent), so the async iterator pays no promise of its own for it.
 */
function takeAsync(rx: HasEndpoint, signal?: AbortSignal): unknown {
  const turn = fairTurn();
  if (turn === undefined) return takeOrWait(rx, signal);
  return turn.then(() => {
    signal?.throwIfAborted();
    return takeOrWait(rx, signal);
  });
}

function takeOrWait(rx: HasEndpoint, signal: AbortSignal | undefined): unknown {
  const r = rx[endpoint]().tryTake();
  return r === EMPTY ? waitTake(rx, signal) : r;
}

async function waitTake(rx: HasEndpoint, signal: AbortSignal | undefined): Promise<unknown> {
  const got = await runAsync(recvOp(rx), Infinity, signal);
  waited();
  return got;
}

/**
 * The receiving half of a channel. `for (const v of rx)` receives until the channel is
 * disconnected and drained; `clone()` adds a consumer (each message goes to one).
 *
 * @example
 * ```ts
 * const [tx, rx] = channel<number>();
 * tx.send(1);
 * rx.recv();                    // 1
 * rx.tryRecv();                 // undefined: nothing now
 * rx.recvTimeout(10);           // undefined after 10 ms
 * await rx.recvAsync({ signal: AbortSignal.timeout(100) }); // rejects after 100 ms
 * ```
 *
 * @remarks
 * Blocking / async: `recv()` / `recvAsync({ signal })`, `recvTimeout(ms)`,
 * `recvDeadline(t)`; `tryRecv()`, `len()`, `isEmpty()` never wait. An aborted
 * `recvAsync` takes no message. Cloned receivers waiting together are served in turn.
 *
 * @throws {@link RecvError} from `recv`/`recvAsync` once every sender is gone and the
 * channel is drained; {@link TryRecvError} / {@link RecvTimeoutError} from `tryRecv` /
 * `recvTimeout` / `recvDeadline` in that case (kind 'Disconnected').
 */
export class Receiver<T> extends ReceiverBase<T> {
  readonly #core: Core<T>;

  /** @internal */
  constructor(adopt: Adopt) {
    const core = coreOf<T>(adopt.offset);
    super(adopt.offset, core);
    this.#core = core;
  }

  /** @internal */
  protected get kindName(): string {
    return 'Receiver';
  }

  /** @internal */
  protected override describe(): string {
    return `Receiver<${this.len()} queued>`;
  }

  protected get disconnectedMessage(): string {
    return 'receiving on a closed channel: every sender is gone';
  }

  /**
   * Another receiver of the same channel (crossbeam-channel's MPMC): each message goes
   * to exactly one of them; senders fail once every receiver is gone.
   */
  clone(): Receiver<T> {
    this.checkOpen();
    const clone = cloneHandle(this.offset + Role.Receiver, (offset, role) => new Receiver<T>(new Adopt(offset, role)));
    this.#core.becameShared();
    return clone;
  }

  /** How many messages are queued (sent, or being sent, and not yet received). */
  len(): number {
    this.checkOpen();
    return this.#core.len();
  }

  /** True when no message is queued: what tells an empty tryRecv() from a received `undefined`. */
  isEmpty(): boolean {
    return this.len() === 0;
  }

  /** Receives until every sender is gone and everything sent was received (blocking). */
  [Symbol.iterator](): IterableIterator<T> {
    return new BlockingIter(this);
  }

  /** Rust's `rx.iter()`: the blocking iterator, as `for (const m of rx)` uses. */
  iter(): IterableIterator<T> {
    return new BlockingIter(this);
  }

  /** Receives until every sender is gone and everything sent was received, keeping the event loop running. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return new AsyncIter(this);
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
class BlockingIter<T> implements IterableIterator<T> {
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

  [Symbol.iterator](): IterableIterator<T> {
    return this;
  }
}

// A class rather than an async generator: a message ready now costs one settled promise,
// where resuming an async generator and awaiting a receive inside it took three.
class AsyncIter<T> implements AsyncIterableIterator<T> {
  readonly #rx: Receiver<T>;
  #done = false;

  constructor(rx: Receiver<T>) {
    this.#rx = rx;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    try {
      const r = takeAsync(this.#rx);
      return r instanceof Promise ? r.then((m) => this.#result(m)) : Promise.resolve(this.#result(r));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Ends the iteration (what `break` out of `for await` calls): later next() calls are done. */
  return(): Promise<IteratorResult<T>> {
    this.#done = true;
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  #result(r: unknown): IteratorResult<T> {
    if (r !== DISCONNECTED) return { done: false, value: r as T };
    this.#done = true;
    return { done: true, value: undefined };
  }
}
