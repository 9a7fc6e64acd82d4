// OnceLock<T> and LazyLock<T>: a value written once, by exactly one initialiser across
// all threads (the Once state machine of once.ts), then read by any thread. The value
// is stored encoded in the heap and decoded once per handle.

import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { load } from '../wait/futex.ts';
import {
  COMPLETE, completeOnce, INCOMPLETE, ONCE_STATE, POISONED, runOnce, runOnceAsync, waitOnce, waitOnceAsync,
} from './once.ts';
import { dropCell, readCell, writeCell } from './value_cell.ts';

const VALUE = 3;
const FAILED_INIT_RETRIES = { onThrow: INCOMPLETE, ignorePoison: true };

/** A cell written once; a throwing initialiser leaves it empty for the next caller. */
export class OnceLock<T> extends Handle {
  #cached = false;
  #value: T | undefined;

  constructor(adopt?: Adopt) {
    super(adopt?.offset ?? allocObject(Kind.OnceLock, 8));
  }

  protected get kindName(): string {
    return 'OnceLock';
  }

  /** The value, or undefined while it is not set. */
  get(): T | undefined {
    if (this.#cached) return this.#value;
    this.checkOpen();
    if (load(heap().i32, (this.offset >> 2) + ONCE_STATE) !== COMPLETE) return undefined;
    this.#value = readCell<T>((this.offset >> 2) + VALUE);
    this.#cached = true;
    return this.#value;
  }

  /** Sets the value if none is set yet (waiting for a running initialiser). True if set. */
  set(value: T): boolean {
    this.checkOpen();
    return runOnce(this.offset, () => writeCell((this.offset >> 2) + VALUE, value), { ...FAILED_INIT_RETRIES, what: 'OnceLock' });
  }

  /** The value, running `f` to make it if no thread has; other threads wait meanwhile. */
  getOrInit(f: () => T): T {
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    runOnce(this.offset, () => writeCell((this.offset >> 2) + VALUE, f()), { ...FAILED_INIT_RETRIES, what: 'OnceLock' });
    return this.get() as T;
  }

  async getOrInitAsync(f: () => Promise<T>): Promise<T> {
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    await runOnceAsync(this.offset, async () => writeCell((this.offset >> 2) + VALUE, await f()), { ...FAILED_INIT_RETRIES, what: 'OnceLock' });
    return this.get() as T;
  }

  /** Blocks until some thread set the value. */
  wait(): T {
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    waitOnce(this.offset, 'OnceLock', true);
    return this.get() as T;
  }

  async waitAsync(): Promise<T> {
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    await waitOnceAsync(this.offset, 'OnceLock', true);
    return this.get() as T;
  }
}

/**
 * A value made on first access by `init`. Functions cannot travel between threads,
 * so sending a LazyLock forces it first: the receiving thread always finds the value.
 * A throwing `init` poisons it, as in Rust.
 */
export class LazyLock<T> extends Handle {
  readonly #init: (() => T) | undefined;
  #cached = false;
  #value: T | undefined;

  constructor(init: (() => T) | Adopt) {
    if (!(init instanceof Adopt) && typeof init !== 'function') throw new TypeError('new LazyLock(init): init must be a function');
    super(init instanceof Adopt ? init.offset : allocObject(Kind.LazyLock, 8));
    this.#init = init instanceof Adopt ? undefined : init;
  }

  protected get kindName(): string {
    return 'LazyLock';
  }

  get value(): T {
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    const init = this.#init;
    if (init) runOnce(this.offset, () => writeCell((this.offset >> 2) + VALUE, init()), { onThrow: POISONED, ignorePoison: false, what: 'LazyLock' });
    else waitOnce(this.offset, 'LazyLock');
    this.#value = readCell<T>((this.offset >> 2) + VALUE);
    this.#cached = true;
    return this.#value;
  }

  shareRef(): number {
    void this.value;
    return super.shareRef();
  }
}

const dropValue = (p: number) => dropCell((p >> 2) + VALUE);
// A dead initialiser: a OnceLock is left empty for the next caller; a LazyLock is poisoned.
defineKind(Kind.OnceLock, { name: 'OnceLock', wrap: (p) => new OnceLock(new Adopt(p)), releaseRole: (p) => completeOnce(p, INCOMPLETE), drop: dropValue });
defineKind(Kind.LazyLock, { name: 'LazyLock', wrap: (p) => new LazyLock(new Adopt(p)), releaseRole: (p) => completeOnce(p, POISONED), drop: dropValue });
