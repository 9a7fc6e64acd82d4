// The ways a channel operation fails, as in std::sync::mpsc.
//
// Rust's finer error enums (TryRecvError, RecvTimeoutError, TrySendError) are
// subclasses of RecvError and SendError with a `kind`: the calls that may fail with
// them (tryRecv, recvTimeout, recvDeadline, trySend) throw them for the variant that
// has no everyday answer (Disconnected), while Empty, Timeout and Full stay the
// everyday `undefined` / `false` of the contract. They keep the base class's `name`,
// so code that matches errors by name (errors that crossed threads arrive as plain
// Errors with name and message) and `instanceof RecvError` / `SendError` keep working.

const CLOSED_SEND = 'sending on a closed channel: the receiver is gone';
const CLOSED_RECV = 'receiving on a closed channel: every sender is gone';

/**
 * Sending failed because the receiving side is gone: `value` is what could not be sent,
 * handed back to the caller (Rust's `SendError<T>`).
 *
 * @example
 * ```ts
 * try { tx.send(job); } catch (e) { if (e instanceof SendError) requeue(e.value); }
 * ```
 */
export class SendError<T> extends Error {
  readonly value: T;
  constructor(value: T) {
    super(CLOSED_SEND);
    this.name = 'SendError';
    this.value = value;
  }
}

/**
 * Every sender is gone and nothing is left to receive (Rust's `RecvError`). From
 * {@link select}, `index` says which receiver it was (a disconnected receiver counts as
 * ready, as in crossbeam).
 *
 * @example
 * ```ts
 * try { for (;;) handle(rx.recv()); } catch (e) { if (!(e instanceof RecvError)) throw e; } // done
 * ```
 */
export class RecvError extends Error {
  readonly index: number | undefined;
  constructor(message = CLOSED_RECV, index?: number) {
    super(index === undefined ? message : `${message} (select index ${index})`);
    this.name = 'RecvError';
    this.index = index;
  }
}

/**
 * Rust's TryRecvError. tryRecv() throws it with kind 'Disconnected' once every sender is
 * gone and everything sent was received; 'Empty' is what its `undefined` answer means.
 */
export class TryRecvError extends RecvError {
  readonly kind: 'Empty' | 'Disconnected';
  constructor(kind: 'Empty' | 'Disconnected', message = kind === 'Empty' ? 'receiving on an empty channel' : CLOSED_RECV) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Rust's RecvTimeoutError. recvTimeout() and recvDeadline() throw it with kind
 * 'Disconnected'; 'Timeout' is what their `undefined` answer means.
 */
export class RecvTimeoutError extends RecvError {
  readonly kind: 'Timeout' | 'Disconnected';
  constructor(kind: 'Timeout' | 'Disconnected', message = kind === 'Timeout' ? 'timed out waiting on channel' : CLOSED_RECV) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Rust's TrySendError, carrying the value back. trySend() throws it with kind
 * 'Disconnected' once every receiver is gone; 'Full' is what its `false` answer means
 * (the value is then untouched: nothing in it was moved).
 */
export class TrySendError<T> extends SendError<T> {
  readonly kind: 'Full' | 'Disconnected';
  constructor(kind: 'Full' | 'Disconnected', value: T) {
    super(value);
    if (kind === 'Full') this.message = 'sending on a full channel';
    this.kind = kind;
  }
}
