// OnceCell<T>, tokio's async cell: EMPTY → INITIALIZING → READY in one state word.
// Whoever moves it to INITIALIZING makes the value; the others wait asynchronously on
// the word. A failed init (or the initialising thread dying: Role.Held) puts it back
// to EMPTY and wakes the waiters, one of which then runs its own init.
//
// Cancel safety: tokio drops the future of a cancelled initialiser, which empties the
// cell. A JS promise cannot be dropped, so an initialiser given `{ signal }` races its
// init against the abort: the abort empties the cell at once (waking the waiters, one
// of which runs its own init), and the abandoned init's late result is discarded.
//
// take() frees the stored value while other threads may be decoding it, so readers
// count themselves in the state word (while READY) and take() waits until they are
// out. A reader records itself as Role.HeldShared: if its thread dies mid-read, the
// runtime counts it out.
//
// Kill safety (thread/critical.ts): each state change is made in one kill-safe section
// with the record that lets the runtime undo it (the run's Role.Held, a reader's
// Role.HeldShared), and a value is Held (codec/stored.ts) from encoding until the
// section that publishes it, so a thread killed anywhere leaves the cell EMPTY or READY,
// with its reader count right and no value or endpoint leaked.

import { codecs } from '../codec/index.ts';
import {
  dropHeld, dropValue, forgetHeld, holdTaken, loadHeld, loadValue, releaseDecoded, returnHeld, storeValueHeld, type Decoded, type Held,
} from '../codec/stored.ts';
import { Adopt, currentOwnedCell, defineKind, Handle, Role, type Describe, allocOwned } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { Backoff } from '../wait/backoff.ts';
import { checkSignal, runAsync, type Op, type WaitOptions } from '../wait/driver.ts';
import { add, cas, exchange, load, notify, store } from '../wait/futex.ts';
import { ABORTED, raceAbort } from '../wait/driver.ts';
import { checkFunction, endRun, holdRun, type HeldRun } from './once.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { allocWithValue } from './value_cell.ts';

// i32 fields after the header: state | readers << 2, stored value, and a version
// bumped by each new value (handles cache the decoded value per version).
const STATE = 2, VALUE = 3, VERSION = 4;
const CELL_BYTES = 20;
const EMPTY = 0, INITIALIZING = 1, READY = 2, STATE_MASK = 3, READER = 4;

/**
 * OnceCell.set() on a cell that has (or is getting) a value. `value` is the caller's own
 * value that was not set (tokio's SetError carries it too): endpoints in it are still
 * the caller's and usable, even those a set losing a race had already moved into its
 * encoded copy.
 */
export class SetError<T = unknown> extends Error {
  readonly kind: 'AlreadyInitialized' | 'Initializing';
  readonly value: T;

  constructor(kind: 'AlreadyInitialized' | 'Initializing', value: T) {
    super(kind === 'AlreadyInitialized' ? 'the OnceCell already has a value' : 'the OnceCell is being initialised');
    this.name = 'SetError';
    this.kind = kind;
    this.value = value;
  }

  /** tokio's is_already_init_err. */
  isAlreadyInitError(): boolean {
    return this.kind === 'AlreadyInitialized';
  }

  /** tokio's is_initializing_err. */
  isInitializingError(): boolean {
    return this.kind === 'Initializing';
  }
}

const words = (offset: number): Int32Array => heapCovering(offset + CELL_BYTES).i32;

/** Ends an initialisation or take: publishes EMPTY or READY and wakes the waiters. */
function settle(offset: number, to: number): void {
  const i = words(offset);
  exchange(i, (offset >> 2) + STATE, to);
  notify(i, (offset >> 2) + STATE);
}

/** Stores `p` (a stored value) as the new value and publishes READY; returns its version. */
function publish(offset: number, p: number): number {
  const i = words(offset);
  store(i, (offset >> 2) + VALUE, p);
  const version = add(i, (offset >> 2) + VERSION, 1) + 1;
  settle(offset, READY);
  return version;
}

const NOT_READY = Symbol('not ready');

/**
 * Moves the state from `from` to INITIALIZING and records the run (undone on death by
 * going back to `back`), in one kill-safe section; undefined if the state was not `from`.
 */
function claim(offset: number, from: number, back: number): HeldRun | undefined {
  enterCritical();
  try {
    if (cas(words(offset), (offset >> 2) + STATE, from, INITIALIZING) !== from) return undefined;
    return holdRun(offset, () => settle(offset, back));
  } finally {
    leaveCritical();
  }
}

/** A value to store: its held block, or undefined for the value undefined (no block). */
const hold = <T>(value: T): Held | undefined => (value === undefined ? undefined : storeValueHeld(codecs.structured, value));

/** Ends `run` by publishing `held` as the value, in the kill-safe section that forgets both. False if the run's thread has ended. */
function publishHeld(offset: number, run: HeldRun, held: Held | undefined): boolean {
  let done = false;
  endRun(run, () => {
    if (held) forgetHeld(held);
    publish(offset, held?.p ?? 0);
    done = true;
  });
  return done;
}

/** Sleeps while another caller initialises; returns once the state is anything else. */
function* whileInitializing(i: Int32Array, at: number): Op<void> {
  for (let s = load(i, at); s === INITIALIZING; s = load(i, at)) yield { index: at, expected: s };
}

/**
 * tokio's `OnceCell`: set once (asynchronously or not), read by every thread.
 * `new OnceCell()` is empty; `new OnceCell(value)` starts with `value` (tokio's
 * `OnceCell::new_with`). A handle decodes the value once per value and caches it, so
 * reading it again takes no new references; handles inside it are borrowed from this
 * OnceCell handle until it closes or reads a newer value (`take()` hands them over).
 *
 * @example
 * ```ts
 * const token = new OnceCell<string>();
 * const t = await token.getOrInit(async () => (await fetch(authUrl)).text());
 * token.get(); // the same string, in every thread
 * ```
 *
 * @remarks
 * Async: `getOrInit(f, { signal })` and `getOrTryInit` return Promises (one caller runs
 * `f`, the others wait for its result without blocking); `get()`, `set(v)`,
 * `initialized()`, `take()` and `intoInner()` never wait.
 *
 * Ordering: a read that finds the value sees everything the initialiser wrote. A
 * failing or aborted initialiser leaves the cell empty for the next caller.
 *
 * Holder death: an initialiser whose thread ends or is killed leaves the cell empty and
 * lets a waiting caller initialise it.
 *
 * @throws {@link SetError} from `set()` when the cell is already set or being set.
 */
export class OnceCell<T> extends Handle {
  #version = 0; // version of the cached value; versions start at 1
  #value: T | undefined;
  readonly #decoded: Decoded = [];

  /**
   * A cell holding `value`, or an empty one for undefined (tokio's `new_with(Option<T>)`).
   * `new OnceCell(value)` is the form that stores undefined as a value.
   */
  static newWith<T>(value?: T): OnceCell<T> {
    return value === undefined ? new OnceCell<T>() : new OnceCell<T>(value);
  }

  constructor(...initial: [value?: T]) {
    const [first] = initial;
    let p: number;
    if (first instanceof Adopt) p = first.offset;
    else if (initial.length === 0) p = allocOwned(Kind.OnceCell, CELL_BYTES - 8);
    else {
      p = allocWithValue(Kind.OnceCell, CELL_BYTES - 8, VALUE, first);
      const i = words(p);
      store(i, (p >> 2) + VERSION, 1);
      store(i, (p >> 2) + STATE, READY);
    }
    super(p);
  }

  /** @internal */
  protected get kindName(): string {
    return 'OnceCell';
  }

  /** @internal */
  protected override describe(render: Describe): string {
    const value = this.get();
    return value === undefined ? render('OnceCell<uninit>') : render('OnceCell<init>', { value });
  }

  protected override dropRef(): void {
    this.#version = 0; // a closed handle answers nothing, not even from its cache
    this.#value = undefined;
    releaseDecoded(this.#decoded);
    super.dropRef();
  }

  /** The value, or undefined if the cell is not initialised. */
  get(): T | undefined {
    this.checkOpen();
    const v = this.#read();
    return v === NOT_READY ? undefined : v;
  }

  initialized(): boolean {
    this.checkOpen();
    return (load(words(this.offset), (this.offset >> 2) + STATE) & STATE_MASK) === READY;
  }

  /**
   * Sets the value; throws SetError (carrying `value` back, its endpoints usable) if it
   * has one or is being initialised.
   */
  set(value: T): void {
    this.checkOpen();
    const i = words(this.offset);
    const at = (this.offset >> 2) + STATE;
    const s = load(i, at);
    if (s !== EMPTY) throw setError(s, value);
    // Encode first: an unencodable value throws with the cell untouched.
    const held = hold(value);
    const run = claim(this.offset, EMPTY, EMPTY);
    if (run === undefined) {
      // Lost the race after encoding: the value goes back as it was (tokio's SetError
      // carries it). Each endpoint the encoding moved returns to the caller's own handle,
      // usable again, and the refs taken on shared primitives are released, in one
      // kill-safe section (returnHeld()), so nothing waits for this thread to end.
      if (held) returnHeld(held);
      throw setError(load(i, at), value);
    }
    publishHeld(this.offset, run, held);
  }

  /**
   * The value, running `f` to make it if the cell is empty; concurrent callers (in
   * any thread) wait. If `f` throws or rejects, the cell stays empty, the error goes
   * to this caller, and a waiting caller runs its own `f`. Aborting `signal` rejects
   * with its reason: a waiting caller just leaves, and a caller running `f` empties
   * the cell for the next one (its `f` runs on, but its result is discarded).
   */
  getOrInit(f: () => Promise<T> | T, options?: WaitOptions): Promise<T> {
    return this.#getOrInit(f, options, 'OnceCell.getOrInit');
  }

  /** getOrInit for a fallible `f`: a rejection leaves the cell empty and the next waiter runs its own. */
  getOrTryInit(f: () => Promise<T>, options?: WaitOptions): Promise<T> {
    return this.#getOrInit(f, options, 'OnceCell.getOrTryInit');
  }

  async #getOrInit(f: () => Promise<T> | T, options: WaitOptions | undefined, call: string): Promise<T> {
    const signal = checkSignal(options, `${call}()`);
    checkFunction(f, `${call}(f)`);
    this.checkOpen();
    const i = words(this.offset);
    const at = (this.offset >> 2) + STATE;
    for (;;) {
      const s = load(i, at);
      if ((s & STATE_MASK) === READY) {
        const v = this.#read();
        if (v !== NOT_READY) return v;
      } else if (s === INITIALIZING) {
        await runAsync(whileInitializing(i, at), Infinity, signal);
      } else if (s === EMPTY) {
        const run = claim(this.offset, EMPTY, EMPTY);
        if (run !== undefined) return this.#init(run, f, signal);
      }
    }
  }

  /** Takes the value out, leaving the cell empty (undefined if it has none). */
  take(): T | undefined {
    this.checkOpen();
    const i = words(this.offset);
    const at = (this.offset >> 2) + STATE;
    const backoff = new Backoff();
    let run: HeldRun | undefined;
    for (let s = load(i, at); ; s = load(i, at)) {
      if ((s & STATE_MASK) !== READY) return undefined;
      if (s === READY) {
        if ((run = claim(this.offset, READY, READY)) !== undefined) break;
      } else backoff.snooze(); // readers only decode, never block: they are out soon
    }
    // The value leaves the cell into this thread's hands in one section (see Held).
    let held: Held | undefined;
    enterCritical();
    try {
      const p = exchange(i, (this.offset >> 2) + VALUE, 0);
      if (p !== 0) held = holdTaken(p);
    } finally {
      leaveCritical();
    }
    endRun(run, () => settle(this.offset, EMPTY));
    return (held === undefined ? undefined : loadHeld(codecs.structured, held)) as T;
  }

  /** take(), then close this handle (tokio's into_inner): the value, or undefined if the cell was empty. */
  intoInner(): T | undefined {
    const value = this.take();
    this.close();
    return value;
  }

  /** Runs `f` as the cell's initialiser (the state is INITIALIZING and ours: `run`). */
  async #init(run: HeldRun, f: () => Promise<T> | T, signal: AbortSignal | undefined): Promise<T> {
    let value: T;
    let held: Held | undefined;
    try {
      // A synchronous throw from f is a rejection like any other.
      const made = new Promise<T>((resolve) => resolve(f()));
      if (signal === undefined) value = await made;
      else {
        made.catch(() => {}); // an abandoned init's failure is nobody's to handle
        const outcome = await raceAbort(made, signal);
        if (outcome === ABORTED) throw signal.reason;
        value = outcome;
      }
      held = hold(value);
    } catch (e) {
      endRun(run, () => settle(this.offset, EMPTY));
      throw e;
    }
    if (!publishHeld(this.offset, run, held)) {
      // The thread ended while `f` ran: the runtime emptied the cell for someone else.
      if (held) dropHeld(held);
      throw new Error('OnceCell.getOrInit(): the thread that ran the initialiser has ended');
    }
    // Read back what was stored: endpoints in `value` have moved into the cell.
    const stored = this.#read();
    return stored === NOT_READY ? value : stored;
  }

  /** The value, decoded once per version for this handle; NOT_READY unless READY. */
  #read(): T | typeof NOT_READY {
    const i = words(this.offset);
    const at = (this.offset >> 2) + STATE;
    const cell = currentOwnedCell();
    for (let s = load(i, at); ; ) {
      if ((s & STATE_MASK) !== READY) return NOT_READY;
      // Versions only change through EMPTY: an unchanged version under READY is our value.
      if (load(i, (this.offset >> 2) + VERSION) === this.#version) return this.#value as T;
      // Counting in and recording it: one kill-safe section (left below).
      enterCritical();
      const seen = cas(i, at, s, s + READER);
      if (seen === s) break;
      leaveCritical();
      s = seen;
    }
    // Counted in: record it, so that a thread dying mid-read is counted out.
    let slot = -1;
    try {
      slot = ownedAdd(cell, this.offset + Role.HeldShared);
    } finally {
      if (slot < 0) add(i, at, -READER);
      leaveCritical();
    }
    try {
      const p = load(i, (this.offset >> 2) + VALUE);
      releaseDecoded(this.#decoded); // the older value's borrowed handles
      this.#value = (p === 0 ? undefined : loadValue(codecs.structured, p, false, this.#decoded)) as T;
      this.#version = load(i, (this.offset >> 2) + VERSION);
      return this.#value;
    } finally {
      enterCritical();
      ownedRemove(cell, slot);
      add(i, at, -READER);
      leaveCritical();
    }
  }
}

function setError<T>(s: number, value: T): SetError<T> {
  return new SetError((s & STATE_MASK) === READY ? 'AlreadyInitialized' : 'Initializing', value);
}

defineKind(Kind.OnceCell, {
  name: 'OnceCell',
  wrap: (p) => new OnceCell(new Adopt(p)),
  releaseRole(p, role) {
    if (role === Role.Held) {
      // The initialiser or a taker died. EMPTY holds no value: a taker killed before it
      // moved the value out leaves it here, and it goes with the take.
      const old = exchange(words(p), (p >> 2) + VALUE, 0);
      if (old !== 0) dropValue(old);
      settle(p, EMPTY);
    } else add(words(p), (p >> 2) + STATE, -READER); // a reader died mid-read
  },
  drop(p) {
    const v = load(words(p), (p >> 2) + VALUE);
    if (v !== 0) dropValue(v);
  },
});
