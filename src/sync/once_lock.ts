// OnceLock<T> and LazyLock<T>: a value written once, by exactly one initialiser across
// all threads (the Once machine of once.ts), then read by any thread. The value is
// stored encoded in the heap beside the state word and decoded once per handle.
//
// Reading a complete OnceLock is a field read: readers do not count themselves, since
// the value never changes once set. So take() and intoInner(), which empty it, need
// what Rust's `&mut self` gives: no other reference at all. They check that this
// handle holds the object's only ref (like Arc::get_mut); no other thread can then be
// reading the value or make a new handle to it.

import { codecs } from '../codec/index.ts';
import { describeValue } from '../heap/describe.ts';
import { loadValue, releaseDecoded, type Decoded } from '../codec/stored.ts';
import { Adopt, defineKind, Handle, type Describe, allocOwned } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';
import { assertCanBlock, load, store } from '../wait/futex.ts';
import {
  checkFunction, COMPLETE, completeOnce, INCOMPLETE, onceState, POISONED, runOnce, runOnceAsync,
  waitOnce, waitOnceAsync, type RunOptions,
} from './once.ts';
import { allocWithValue, dropCell, takeCell, writeCell } from './value_cell.ts';

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
const INSERT: RunOptions = { ...INIT, call: 'OnceLock.tryInsert()', alternative: 'OnceLock.tryInsertAsync()' };

/**
 * What OnceLock.tryInsert() did (Rust's `Result<&T, (&T, T)>`): `ok` when `value` is
 * now the cell's; otherwise `value` is the cell's value and `rejected` the one handed
 * back, untouched (endpoints in it were not moved).
 */
export type TryInsert<T> = { ok: true; value: T } | { ok: false; value: T; rejected: T };

/** A new OnceLock-like object of `kind` that already holds `value` (encoded first: bad input allocates nothing). */
function allocComplete(kind: number, value: unknown): number {
  const p = allocWithValue(kind, CELL_BYTES - 8, VALUE, value);
  store(heap().i32, (p >> 2) + 2, COMPLETE);
  return p;
}

/**
 * A cell written once (Rust's `std::sync::OnceLock`). Every thread sees the value the one
 * successful initialiser stored; handles inside it arrive as live handles.
 *
 * `new OnceLock()` is empty; `new OnceLock(value)` starts with `value` (Rust's
 * `OnceLock::from`), which may itself be a handle: endpoints in it move into the cell.
 * The value a handle returns is decoded once and cached, so reading it again takes no new
 * references; handles inside it are borrowed from this OnceLock handle and are closed
 * with it (clone an endpoint to keep it longer).
 *
 * @example
 * ```ts
 * const CONFIG = shared('config', () => new OnceLock<{ url: string }>());
 * const cfg = CONFIG.getOrInit(() => ({ url: 'http://localhost' })); // the same in every thread
 * ```
 *
 * @remarks
 * Blocking / async: `getOrInit(f)` / `getOrInitAsync(f, { signal })`, `getOrTryInit` (and
 * async), `wait()` / `waitAsync()`, `tryInsert` (and async); `get()`, `set(v)` (false if
 * already set) and `take()` / `intoInner()` never wait.
 *
 * Ordering: every read that finds the value sees everything the initialiser wrote.
 * Unlike `Once`, a throwing initialiser does not poison: the cell stays empty and the
 * next caller runs its own initialiser.
 *
 * Holder death: an initialiser whose thread ends or is killed leaves the cell empty and
 * wakes the waiters, one of which initialises it.
 *
 * @throws `TypeError` for a value the codec cannot carry or a blocking call where
 * blocking is impossible; what the initialiser throws is rethrown to its caller.
 */
export class OnceLock<T> extends Handle {
  #cached = false;
  #value: T | undefined;
  readonly #decoded: Decoded = [];

  constructor(...initial: [value?: T]) {
    const [first] = initial;
    super(
      first instanceof Adopt ? first.offset
      : initial.length === 0 ? allocOwned(Kind.OnceLock, CELL_BYTES - 8)
      : allocComplete(Kind.OnceLock, first),
    );
  }

  /** @internal */
  protected get kindName(): string {
    return 'OnceLock';
  }

  /** @internal */
  protected override describe(render: Describe): string {
    const value = this.get();
    return value === undefined ? render('OnceLock<uninit>') : render('OnceLock<init>', { value });
  }

  protected override dropRef(): void {
    this.#forget(); // a closed handle answers nothing, not even from its cache
    super.dropRef();
  }

  /** The value, or undefined while it is not set. */
  get(): T | undefined {
    if (this.#cached) return this.#value;
    this.checkOpen();
    return onceState(this.offset) === COMPLETE ? this.#load() : undefined;
  }

  /**
   * Sets the value unless one is set (waiting while another thread initialises). True
   * if this call set it. False (Rust's `Err(value)`) leaves `value` untouched: nothing
   * in it was encoded or moved, so it is still the caller's, endpoints included. (The
   * value is encoded only by the call that holds the run, whose value is always stored;
   * a call that loses a race waits for the winner's run and encodes nothing.)
   */
  set(value: T): boolean {
    if (this.#cached) return false;
    this.checkOpen();
    return runOnce(this.offset, () => writeValue(this.offset, value), SET);
  }

  /**
   * Sets the value unless one is set (waiting while another thread initialises), and
   * returns the cell's value either way, with the rejected value handed back (Rust's
   * try_insert). See TryInsert.
   */
  tryInsert(value: T): TryInsert<T> {
    if (!this.#cached) {
      this.checkOpen();
      const inserted = runOnce(this.offset, () => writeValue(this.offset, value), INSERT);
      // Read back what was stored: endpoints in `value` have moved into the cell.
      const current = this.#load();
      if (inserted) return { ok: true, value: current };
    }
    return { ok: false, value: this.#value as T, rejected: value };
  }

  /** tryInsert() keeping the event loop running while another caller initialises; `signal` as for getOrInitAsync. */
  async tryInsertAsync(value: T, options?: WaitOptions): Promise<TryInsert<T>> {
    const signal = checkSignal(options, 'OnceLock.tryInsertAsync()');
    if (!this.#cached) {
      this.checkOpen();
      const inserted = await runOnceAsync(this.offset, async () => writeValue(this.offset, value), INSERT, signal);
      const current = this.#load();
      if (inserted) return { ok: true, value: current };
    }
    return { ok: false, value: this.#value as T, rejected: value };
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

  /**
   * getOrInit() for an `f` that may fail (Rust's get_or_try_init): if `f` throws, the
   * error reaches this caller and the cell stays empty for the next one.
   */
  getOrTryInit(f: () => T): T {
    checkFunction(f, 'OnceLock.getOrTryInit(f)');
    return this.getOrInit(f);
  }

  /** getOrTryInit() with an async `f`: a rejection leaves the cell empty. `signal` as for getOrInitAsync. */
  getOrTryInitAsync(f: () => Promise<T>, options?: WaitOptions): Promise<T> {
    checkSignal(options, 'OnceLock.getOrTryInitAsync()');
    checkFunction(f, 'OnceLock.getOrTryInitAsync(f)');
    return this.getOrInitAsync(f, options);
  }

  /**
   * Takes the value out, leaving the cell empty (undefined if it had none). Needs this
   * handle to hold the only reference to the OnceLock (Rust takes `&mut self`): with
   * other handles alive, anywhere, it throws and changes nothing. Handles read from
   * the value before are closed; the value returned owns its own.
   */
  take(): T | undefined {
    this.#checkSole('OnceLock.take()');
    this.#forget();
    if (onceState(this.offset) !== COMPLETE) return undefined; // empty, or this thread's own init still runs
    // Empty first: a thread killed between the two leaves an empty cell whose stale
    // block the next set() or the drop frees, never a set cell without its value.
    completeOnce(this.offset, INCOMPLETE);
    return takeCell<T>(valueIndex(this.offset));
  }

  /** take(), then close this handle (Rust's into_inner). Needs the only reference, as take() does. */
  intoInner(): T | undefined {
    const value = this.take();
    this.close();
    return value;
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

  #checkSole(call: string): void {
    this.checkOpen();
    const refs = load(heap().i32, (this.offset >> 2) + 1);
    if (refs !== 1) {
      throw new Error(
        `${call} needs the only reference to the OnceLock (Rust takes &mut self), but ${refs - 1} other ` +
          `handle${refs === 2 ? '' : 's'} (here, in other threads, or inside values and messages) share it`,
      );
    }
  }

  /** Drops this handle's decoded copy and the handles it borrowed. */
  #forget(): void {
    this.#cached = false;
    this.#value = undefined;
    releaseDecoded(this.#decoded);
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
 * A value made on first access by `init` (Rust's `std::sync::LazyLock`). A throwing
 * `init` poisons it, and later accesses throw {@link PoisonError}.
 *
 * `init` is a function, and functions do not travel between threads. So sending a
 * LazyLock (as a spawn argument, in a message or inside another value) forces it first,
 * in the sending thread: the receiving thread always finds the value made (or the
 * poison) and never needs `init`. If forcing throws, the send throws that error and
 * nothing is sent.
 *
 * @example
 * ```ts
 * const TABLE = new LazyLock(() => buildLookupTable());
 * spawn((t: LazyLock<number[]>) => t.value[42], TABLE).join(); // made once, here, before sending
 * ```
 *
 * @remarks
 * `value` / `force()` block while another thread runs `init`; `get()` never forces.
 * Ordering: every thread that sees the value sees everything `init` wrote.
 * Holder death: a thread that ends or is killed inside `init` poisons the LazyLock, and
 * its waiters get PoisonError instead of waiting.
 */
export class LazyLock<T> extends Handle {
  readonly #init: (() => T) | undefined;
  #cached = false;
  #value: T | undefined;
  readonly #decoded: Decoded = [];

  constructor(init: () => T);
  /** @internal */
  constructor(init: (() => T) | Adopt);
  constructor(init: (() => T) | Adopt) {
    if (!(init instanceof Adopt)) checkFunction(init, 'new LazyLock(init)');
    super(init instanceof Adopt ? init.offset : allocOwned(Kind.LazyLock, CELL_BYTES - 8));
    this.#init = init instanceof Adopt ? undefined : init;
  }

  /** @internal */
  protected get kindName(): string {
    return 'LazyLock';
  }

  /** @internal Never forces the value. */
  protected override describe(render: Describe): string {
    const value = this.get();
    return value === undefined ? render('LazyLock<unforced>') : render('LazyLock<forced>', { value });
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

  /** The value, made now if it is not yet (Rust's LazyLock::force): the same as `value`. */
  force(): T {
    return this.value;
  }

  /** The value if it has been made, else undefined, without making it (Rust's LazyLock::get). Undefined if poisoned. */
  get(): T | undefined {
    if (this.#cached) return this.#value;
    this.checkOpen();
    if (onceState(this.offset) !== COMPLETE) return undefined;
    this.#value = readValue<T>(this.offset, this.#decoded);
    this.#cached = true;
    return this.#value;
  }

  /** `LazyLock.force(lazy)`, as Rust spells it: lazy.force(). */
  static force<T>(lazy: LazyLock<T>): T {
    return checkLazy(lazy, 'LazyLock.force(lazy)').force();
  }

  /** `LazyLock.get(lazy)`, as Rust spells it: lazy.get(). */
  static get<T>(lazy: LazyLock<T>): T | undefined {
    return checkLazy(lazy, 'LazyLock.get(lazy)').get();
  }

  /** A LazyLock travels forced: its receivers have no initialiser. */
  /** @internal */
  override prepareShare(): void {
    void this.value;
  }
}

function checkLazy<T>(lazy: LazyLock<T>, call: string): LazyLock<T> {
  if (!(lazy instanceof LazyLock)) throw new TypeError(`${call}: expected a LazyLock, got ${describeValue(lazy)}`);
  return lazy;
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
