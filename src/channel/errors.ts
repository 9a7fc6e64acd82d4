// The two ways a channel operation fails, as in std::sync::mpsc.

/** The receiving side is gone: `value` is what could not be sent, handed back to the caller. */
export class SendError<T> extends Error {
  readonly value: T;
  constructor(value: T) {
    super('sending on a closed channel: the receiver is gone');
    this.name = 'SendError';
    this.value = value;
  }
}

/**
 * Every sender is gone and nothing is left to receive. From select(), `index` says which
 * receiver it was (a disconnected receiver counts as ready, as in crossbeam).
 */
export class RecvError extends Error {
  readonly index: number | undefined;
  constructor(message = 'receiving on a closed channel: every sender is gone', index?: number) {
    super(index === undefined ? message : `${message} (select index ${index})`);
    this.name = 'RecvError';
    this.index = index;
  }
}
