/**
 * A lock (or Once) whose holder panicked: it threw inside, or its thread ended or was
 * killed while holding it. The lock is held by the caller again; `guard` /
 * `intoInner()` give access to it, as Rust's PoisonError does.
 */
export class PoisonError<G> extends Error {
  readonly guard: G;

  constructor(message: string, guard: G) {
    super(message);
    this.name = 'PoisonError';
    this.guard = guard;
  }

  intoInner(): G {
    return this.guard;
  }
}
