/** A thread ended by throwing, overflowing its stack, exiting, or being killed. */
export class PanicError extends Error {
  readonly threadId: number;
  readonly threadName?: string;
  declare readonly cause: unknown;

  constructor(message: string, threadId: number, threadName: string | undefined, cause: unknown) {
    super(message, { cause });
    this.name = 'PanicError';
    this.threadId = threadId;
    if (threadName !== undefined) this.threadName = threadName;
  }
}

/** A thread could not be started (bad entry, bad options, worker creation failed). */
export class SpawnError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpawnError';
  }
}
