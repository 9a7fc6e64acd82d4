// Thread-local storage. Module state is per thread already (each thread has its own
// module instances), so a key keeps its value in a plain field; what this adds is
// Rust's lifecycle: lazy init, destructors run most-recent-first when the thread
// ends (before join returns), and AccessError once a key is being destroyed.

/** Using a thread-local during or after its destruction. */
export class AccessError extends Error {
  constructor(message = 'cannot access a thread-local value during or after destruction') {
    super(message);
    this.name = 'AccessError';
  }
}

const UNINIT = 0, LIVE = 1, DESTROYED = 2;

/** Keys with a live value, in the order they were initialised. */
const live: Array<{ destroy(): void }> = [];

// A worker runs one thread after another. Each key remembers the thread (generation)
// its state belongs to, so every thread starts with every key uninitialised.
let generation = 0;

/** Starts a new thread's thread-locals in this worker. */
export function resetThreadLocals(): void {
  live.length = 0;
  generation++;
}

/**
 * A thread-local value declared with {@link threadLocal}: each thread sees its own, made
 * by `init` on its first use there and disposed when that thread ends.
 *
 * @example
 * ```ts
 * // scratch.ts: declared at module level, so every thread that imports it has the key
 * export const buffer = threadLocal(() => new Uint8Array(64 * 1024));
 * // in any thread:
 * buffer.with((b) => b.length); // 65536, this thread's own buffer
 * ```
 *
 * @throws {@link AccessError} when used while the thread's locals are being destroyed.
 */
export class LocalKey<T> {
  readonly #init: () => T;
  readonly #dispose: ((value: T) => void) | undefined;
  #stateOf = UNINIT;
  #generation = generation;
  #value: T | undefined;

  get #state(): number {
    if (this.#generation !== generation) {
      this.#generation = generation;
      this.#stateOf = UNINIT;
      this.#value = undefined;
    }
    return this.#stateOf;
  }

  set #state(s: number) {
    this.#generation = generation;
    this.#stateOf = s;
  }

  /** @internal Use threadLocal(). */
  constructor(init: () => T, dispose?: (value: T) => void) {
    this.#init = init;
    this.#dispose = dispose;
  }

  #live(): T {
    if (this.#state === DESTROYED) throw new AccessError();
    if (this.#state === UNINIT) {
      const v = this.#init();
      // init may itself have set the key (re-entrant init): Rust keeps the first value.
      if (this.#state === UNINIT) this.#store(v);
    }
    return this.#value as T;
  }

  #store(v: T): void {
    this.#value = v;
    this.#state = LIVE;
    live.push(this);
  }

  /** Runs `f` with this thread's value, initialising it first if needed. */
  with<R>(f: (value: T) => R): R {
    return f(this.#live());
  }

  /** Like with(), but returns the AccessError instead of throwing it. */
  tryWith<R>(f: (value: T) => R): R | AccessError {
    if (this.#state === DESTROYED) return new AccessError();
    return f(this.#live());
  }

  get(): T {
    return this.#live();
  }

  /** Sets this thread's value without running init. */
  set(value: T): void {
    if (this.#state === DESTROYED) throw new AccessError();
    if (this.#state === UNINIT) this.#store(value);
    else this.#value = value;
  }

  /**
   * Takes the value out (its destructor will not run); the next access initialises
   * again. An untouched key is initialised first, as in Rust, so take() returns
   * what init() made.
   */
  take(): T | undefined {
    const v = this.#live();
    this.#value = undefined;
    this.#state = UNINIT;
    live.splice(live.indexOf(this), 1);
    return v;
  }

  /** Replaces the value (initialising first, as Rust does) and returns the old one. */
  replace(value: T): T {
    const old = this.#live();
    this.#value = value;
    return old;
  }

  /** @internal Runs the destructor; the key is unusable from here on. */
  destroy(): void {
    const v = this.#value as T;
    this.#state = DESTROYED;
    this.#value = undefined;
    this.#dispose?.(v);
  }
}

/**
 * Declares a thread-local value (Rust's `thread_local!`): each thread sees its own, made by
 * `init` on its first use there; `dispose` runs when that thread ends. Declare it at module
 * level: a thread that imports the module gets the same key.
 *
 * @example
 * ```ts
 * export const scratch = threadLocal(() => new Float64Array(1024), { dispose: (a) => a.fill(0) });
 * scratch.with((buf) => buf.length); // 1024, this thread's own array
 * ```
 */
export function threadLocal<T>(init: () => T, options?: { dispose?: (value: T) => void }): LocalKey<T> {
  if (typeof init !== 'function') throw new TypeError('threadLocal(init): init must be a function');
  return new LocalKey(init, options?.dispose);
}

/**
 * Runs the destructors of every live value, most recently initialised first. A
 * destructor may initialise other keys; those are destroyed too. The first error
 * thrown by a destructor is rethrown once all have run.
 */
export function runLocalDestructors(): void {
  let first: { error: unknown } | undefined;
  for (let key; (key = live.pop()); ) {
    try {
      key.destroy();
    } catch (error) {
      first ??= { error };
    }
  }
  if (first) throw first.error;
}
