// The error a model thread's wait throws once the schedule it runs under has failed
// (a deadlock found, the body threw, ...): every thread then unwinds and ends, so the
// checker can report the failure and the next test starts from a quiet runtime.

export const ABORT_MESSAGE = 'weft/check: this schedule was abandoned after a failure; the thread was waiting here';

export class ModelAbort extends Error {
  constructor() {
    super(ABORT_MESSAGE);
    this.name = 'ModelAbort';
  }
}

/** True for a ModelAbort, also one that crossed threads as a panic payload. */
export function isModelAbort(e: unknown): boolean {
  return e instanceof Error && e.message === ABORT_MESSAGE;
}
