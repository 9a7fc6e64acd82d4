// OnceLock<T> and LazyLock<T>: a value written once, by exactly one initialiser across
// all threads (the Once machine of once.ts), then read by any thread. The value is
// stored encoded in the heap beside the state word and decoded once per handle.

import { codecs } from '../codec/index.ts';
import { loadValue, releaseDecoded, type Decoded } from '../codec/stored.ts';
import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, load, store } from '../wait/futex.ts';
import {
  checkFunction, COMPLETE, completeOnce, INCOMPLETE, onceState, POISONED, runOnce, runOnceAsync,
  waitOnce, waitOnceAsync, type RunOptions,
} from './once.ts';
import { allocWithValue, dropCell, writeCell } from './value_cell.ts';

/** i32 index (relative to offset >> 2) of the stored value, after the Once state word. */
const VALUE = 3;
const CELL_BYTES = 16;

const valueIndex = (offset: number): number => (offset >> 2) + VALUE;
const writeValue = (offset: number, value: unknown): void => writeCell(valueIndex(offset), value);

/**
 * Decodes the (complete, hence final) value of the cell at `offset`, recording the
 * handles it makes in `decoded`: they are borrowed from the cell handle that read
 * them and are released when it closes, so reading takes references exactly once.
 */
function readValue<T>(offset: number, decoded: Decoded): T {
  const p = load(heap().i32, valueIndex(offset));
  return (p === 0 ? undefined : loadValue(codecs.structured, p, false, decoded)) as T;
}

// A throwing initialiser leaves the cell INCOMPLETE (no poisoning): the next caller,
// or one of the woken waiters, runs its own.
const INIT: RunOptions = {
  onThrow: INCOMPLETE, ignorePoison: true, what: 'OnceLock', call: 'OnceLock.getOrInit()', alternative: 'OnceLock.getOrInitAsync()',
};
const SET: RunOptions = { ...INIT, call: 'OnceLock.set()' };

/** A new OnceLock-like object of `kind` that already holds `value` (encoded first: bad input allocates nothing). */
function allocComplete(kind: number, value: unknown): number {
  const p = allocWithValue(kind, CELL_BYTES - 8, VALUE, value);
  store(heap().i32, (p >> 2) + 2, COMPLETE);
  return p;
}

/**
 * A cell written once (Rust's std::sync::OnceLock). Every thread sees the value the
 * one successful initialiser stored; handles inside it arrive as live handles.
 *
 * `new OnceLock()` is empty; `new OnceLock(value)` starts with `value` (Rust's
 * `OnceLock::from`), which may itself be a handle: endpoints in it move into the cell.
 * The value a handle returns is decoded once and cached, so reading it again takes no
 * new references; handles inside it are borrowed from this OnceLock handle and are
 * closed with it (clone an endpoint to keep it longer).
 */
export class OnceLock<T> extends Handle {
  #cached = false;
  #value: T | undefined;
  readonly #decoded: Decoded = [];

  constructor(...initial: [value?: T]) {
    const [first] = initial;
    super(
      first instanceof Adopt ? first.offset
      : initial.length === 0 ? allocObject(Kind.OnceLock, CELL_BYTES - 8)
      : allocComplete(Kind.OnceLock, first),
    );
  }

  protected get kindName(): string {
    return 'OnceLock';
  }

  protected override dropRef(): void {
    this.#cached = false; // a closed handle answers nothing, not even from its cache
    this.#value = undefined;
    releaseDecoded(this.#decoded);
    super.dropRef();
  }

  /** The value, or undefined while it is not set. */
  get(): T | undefined {
    if (this.#cached) return this.#value;
    this.checkOpen();
    return onceState(this.offset) === COMPLETE ? this.#load() : undefined;
  }

  /** Sets the value unless one is set (waiting while another thread initialises). True if this call set it. */
  set(value: T): boolean {
    if (this.#cached) return false;
    this.checkOpen();
    return runOnce(this.offset, () => writeValue(this.offset, value), SET);
  }

  /** The value, made by `f` if no thread has made it; other callers wait meanwhile. */
  getOrInit(f: () => T): T {
    checkFunction(f, 'OnceLock.getOrInit(f)');
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    runOnce(this.offset, () => writeValue(this.offset, f()), INIT);
    return this.#load();
  }

  /**
   * getOrInit with an async `f`; waiting keeps the event loop running. Aborting
   * `signal` while another caller initialises rejects with its reason and takes
   * nothing; once this call runs `f`, the run is not cancelled.
   */
  async getOrInitAsync(f: () => Promise<T>, options?: WaitOptions): Promise<T> {
    const signal = checkSignal(options, 'OnceLock.getOrInitAsync()');
    checkFunction(f, 'OnceLock.getOrInitAsync(f)');
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    await runOnceAsync(this.offset, async () => writeValue(this.offset, await f()), INIT, signal);
    return this.#load();
  }

  /** Blocks until some thread has set the value. */
  wait(): T {
    assertCanBlock('OnceLock.wait()', 'OnceLock.waitAsync()');
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    waitOnce(this.offset, 'OnceLock', true);
    return this.#load();
  }

  async waitAsync(options?: WaitOptions): Promise<T> {
    const signal = checkSignal(options, 'OnceLock.waitAsync()');
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    await waitOnceAsync(this.offset, 'OnceLock', true, signal);
    return this.#load();
  }

  /** Decodes the (complete) value once for this handle. */
  #load(): T {
    this.#value = readValue<T>(this.offset, this.#decoded);
    this.#cached = true;
    return this.#value;
  }
}

const LAZY: RunOptions = {
  onThrow: POISONED, ignorePoison: false, what: 'LazyLock', call: 'LazyLock.value', alternative: 'OnceLock.getOrInitAsync()',
};

/**
 * A value made on first access by `init` (Rust's std::sync::LazyLock); a throwing
 * `init` poisons it, and later accesses throw PoisonError.
 *
 * `init` is a function, and functions do not travel between threads. So sending a
 * LazyLock (as a spawn argument, in a message or inside another value) forces it
 * first, in the sending thread: the receiving thread always finds the value made (or
 * the poison) and never needs `init`. If forcing throws, the send throws that error
 * and nothing is sent.
 */
export class LazyLock<T> extends Handle {
  readonly #init: (() => T) | undefined;
  #cached = false;
  #value: T | undefined;
  readonly #decoded: Decoded = [];

  constructor(init: (() => T) | Adopt) {
    if (!(init instanceof Adopt)) checkFunction(init, 'new LazyLock(init)');
    super(init instanceof Adopt ? init.offset : allocObject(Kind.LazyLock, CELL_BYTES - 8));
    this.#init = init instanceof Adopt ? undefined : init;
  }

  protected get kindName(): string {
    return 'LazyLock';
  }

  protected override dropRef(): void {
    this.#cached = false; // a closed handle answers nothing, not even from its cache
    this.#value = undefined;
    releaseDecoded(this.#decoded);
    super.dropRef();
  }

  get value(): T {
    if (this.#cached) return this.#value as T;
    this.checkOpen();
    const init = this.#init;
    // A received handle has no init: its sender forced the value (COMPLETE is final) before sending.
    if (init) runOnce(this.offset, () => writeValue(this.offset, init()), LAZY);
    this.#value = readValue<T>(this.offset, this.#decoded);
    this.#cached = true;
    return this.#value;
  }

  /** A LazyLock travels forced: its receivers have no initialiser. */
  override prepareShare(): void {
    void this.value;
  }
}

const dropValue = (p: number): void => dropCell(valueIndex(p));
defineKind(Kind.OnceLock, {
  name: 'OnceLock',
  wrap: (p) => new OnceLock(new Adopt(p)),
  // Its initialiser's thread died: empty again, for the next caller.
  releaseRole: (p) => completeOnce(p, INCOMPLETE),
  drop: dropValue,
});
defineKind(Kind.LazyLock, {
  name: 'LazyLock',
  wrap: (p) => new LazyLock(new Adopt(p)),
  releaseRole: (p) => completeOnce(p, POISONED),
  drop: dropValue,
});
