// Semaphore: a FIFO-fair counting semaphore (tokio's semantics) in the heap. An
// acquirer that cannot be served at once takes a ticket (NEXT += 1) and is served
// in ticket order (SERVING): only the ticket being served takes permits, so a large
// acquire(n) is not starved by a stream of small ones.
//
// Every acquire is a Permit object in the heap, owned like any handle. If its thread
// dies while queued (or an async acquire is aborted), the Permit's drop gives its
// ticket up: it ends the turn if it is the one served, takes the ticket back if
// nobody queued behind it, and otherwise marks it abandoned (the line skips it). If
// it dies holding permits, the drop returns them. Nobody waits for a dead thread.
//
// A Permit is an endpoint: passing it to spawn, sending it or storing it in a value
// moves it, so its permits are returned exactly once, by its last owner.
//
// Each change of a Permit's state happens in one kill-safe section (thread/critical.ts)
// with the change of the semaphore it stands for: taking permits and recording the
// Permit that holds them, taking a ticket and marking it QUEUED, taking the permits,
// marking it HOLDING and moving the line on. A kill between two of those steps would
// lose permits or leave a ticket nobody gives up.

import { alloc, free } from '../heap/alloc.ts';
import { Adopt, allocObject, defineKind, Handle, releaseRef, retain, allocOwned } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { checkSignal, runAsync, runSync, type Op, type WaitOptions } from '../wait/driver.ts';
import { add, assertCanBlock, cas, load, notify, store } from '../wait/futex.ts';
import { describeValue } from '../heap/describe.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';

// Semaphore fields. ABANDONED: stack of [next, ticket] marks of tickets whose owner died.
const PERMITS = 2, NEXT = 3, SERVING = 4, CLOSED = 5, ABANDONED = 6;
const SEMAPHORE_BYTES = 28;
// Permit fields.
const SEM = 2, TICKET = 3, COUNT = 4, STATE = 5;
const PERMIT_BYTES = 24;
// A Permit is NEW until it holds a ticket, QUEUED until served, HOLDING until released.
const NEW = 0, QUEUED = 1, HOLDING = 2, DONE = 3;

const MAX_PERMITS = 2 ** 30 - 1;

/** The semaphore was closed: no permits will be handed out. */
export class AcquireError extends Error {
  constructor() {
    super('the semaphore is closed');
    this.name = 'AcquireError';
  }
}

const semWords = (sem: number): Int32Array => heapCovering(sem + SEMAPHORE_BYTES).i32;
const permitWords = (p: number): Int32Array => heapCovering(p + PERMIT_BYTES).i32;

function checkCount(n: number, call: string): void {
  if (typeof n !== 'number') throw new TypeError(`${call}: expected a number, got ${describeValue(n)}`);
  if (!Number.isInteger(n) || n < 0 || n > MAX_PERMITS) {
    throw new RangeError(`${call}: expected an integer from 0 to ${MAX_PERMITS}, got ${n}`);
  }
}

function tryTake(i: Int32Array, b: number, n: number): boolean {
  for (let p = load(i, b + PERMITS); p >= n; p = load(i, b + PERMITS)) {
    if (cas(i, b + PERMITS, p, p - n) === p) return true;
  }
  return false;
}

const markWords = (mark: number): Int32Array => heapCovering(mark + 8).i32;

function isAbandoned(i: Int32Array, b: number, ticket: number): boolean {
  for (let m = load(i, b + ABANDONED); m !== 0; m = load(markWords(m), m >> 2)) {
    if (load(markWords(m), (m >> 2) + 1) === ticket) return true;
  }
  return false;
}

/** Ends ticket `t`'s turn if it is the one served, skipping abandoned tickets; false if it was not its turn. */
function advance(sem: number, t: number): boolean {
  const i = semWords(sem);
  const b = sem >> 2;
  if (cas(i, b + SERVING, t, (t + 1) | 0) !== t) return false;
  for (let s = (t + 1) | 0; isAbandoned(i, b, s) && cas(i, b + SERVING, s, (s + 1) | 0) === s; s = (s + 1) | 0);
  notify(i, b + SERVING);
  return true;
}

function returnPermits(sem: number, n: number): void {
  const i = semWords(sem);
  add(i, (sem >> 2) + PERMITS, n);
  notify(i, (sem >> 2) + PERMITS);
}

/**
 * Permits held from a {@link Semaphore}. `release()` (or the end of a `using` block)
 * gives them back, once; `forget()` drops them without returning them; `numPermits()`,
 * `merge(other)` and `split(n)` as in tokio.
 *
 * A Permit is an endpoint: passing it to `spawn`, sending it or storing it in a value
 * moves it, so its permits are returned exactly once, by its last owner (also when that
 * owner's thread ends or is killed).
 *
 * @example
 * ```ts
 * const p = sem.acquire(3);
 * const one = p.split(1); // p holds 2, one holds 1
 * one.release();
 * p.release();
 * ```
 */
export class Permit extends Handle {
  /** @internal Made by Semaphore.acquire*(). */
  /** @internal */
  constructor(adopt: Adopt) {
    if (!(adopt instanceof Adopt)) {
      throw new TypeError('a Permit is made by Semaphore.acquire(), acquireAsync() or tryAcquire(), not with new Permit()');
    }
    super(adopt.offset);
  }

  /** @internal */
  protected get kindName(): string {
    return 'Permit';
  }

  /** @internal */
  protected override describe(): string {
    const n = this.numPermits();
    return `Permit<${n} permit${n === 1 ? '' : 's'}>`;
  }

  /** How many permits this Permit holds (tokio's num_permits). */
  numPermits(): number {
    this.checkOpen();
    return load(permitWords(this.offset), (this.offset >> 2) + COUNT);
  }

  /** Returns the permits to the semaphore. Idempotent. */
  release(): void {
    this.close();
  }

  /**
   * Drops this Permit without returning its permits: the semaphore has that many
   * fewer for good (tokio's SemaphorePermit::forget).
   */
  forget(): void {
    this.checkOpen();
    store(permitWords(this.offset), (this.offset >> 2) + STATE, DONE);
    this.close();
  }

  /**
   * Moves the permits of `other` into this Permit and closes `other` without returning
   * them; they return when this Permit is released (tokio's SemaphorePermit::merge).
   * Both must come from the same semaphore.
   */
  merge(other: Permit): void {
    this.checkOpen();
    if (!(other instanceof Permit)) throw new TypeError(`Permit.merge(other): expected a Permit, got ${describeValue(other)}`);
    if (other === this) throw new TypeError('Permit.merge(other): a Permit cannot be merged into itself');
    other.checkOpen();
    const i = permitWords(this.offset);
    const o = permitWords(other.offset);
    if (load(o, (other.offset >> 2) + SEM) !== load(i, (this.offset >> 2) + SEM)) {
      throw new TypeError('Permit.merge(other): other holds permits of a different semaphore');
    }
    // One kill-safe section: a kill between the two stores would count the permits in
    // both Permits (returned twice) or in neither (lost).
    enterCritical();
    try {
      store(o, (other.offset >> 2) + STATE, DONE);
      add(i, (this.offset >> 2) + COUNT, load(o, (other.offset >> 2) + COUNT));
    } finally {
      leaveCritical();
    }
    other.close(); // DONE: its drop returns nothing
  }

  /**
   * Splits `n` of this Permit's permits off into a new Permit, or undefined (nothing
   * changed) if it holds fewer than `n` (tokio's SemaphorePermit::split).
   */
  split(n: number): Permit | undefined {
    this.checkOpen();
    checkCount(n, 'Permit.split(n)');
    const i = permitWords(this.offset);
    const count = load(i, (this.offset >> 2) + COUNT);
    if (n > count) return undefined;
    // The new Permit is made, holding n, in the same kill-safe section as this one
    // gives them up: no kill can leave them counted twice or nowhere.
    enterCritical();
    try {
      const part = makePermit(load(i, (this.offset >> 2) + SEM), n, HOLDING, false);
      store(i, (this.offset >> 2) + COUNT, count - n);
      return part;
    } finally {
      leaveCritical();
    }
  }

  /** @internal */
  override shareRef(): number {
    return this.moveRef();
  }
}

/**
 * A counting semaphore (tokio's `Semaphore`): `acquire()` takes permits, returned when
 * the {@link Permit} is released.
 *
 * @example
 * ```ts
 * const slots = new Semaphore(2); // at most two downloads at once
 * await Promise.all(urls.map(async (url) => {
 *   using _permit = await slots.acquireAsync();
 *   await download(url);
 * }));
 * ```
 *
 * @remarks
 * Blocking / async: `acquire(n = 1)` / `acquireAsync(n, { signal })`, `acquireMany(n)` /
 * `acquireManyAsync(n, { signal })`, and `tryAcquire(n)` / `tryAcquireMany(n)` that never
 * wait. `addPermits(n)`, `forgetPermits(n)`, `availablePermits()`, `close()`, `isClosed()`.
 *
 * Fairness: FIFO. Waiters are served in the order they queued, and only the first in line
 * takes permits, so a large `acquire(n)` is not starved by a stream of small ones.
 * Ordering: an acquire synchronises with the release that gave the permits back.
 *
 * Holder death: permits held by a thread that ends or is killed are returned; a thread
 * that dies while queued gives its place in line up. Nobody waits for a dead thread.
 *
 * @throws {@link AcquireError} from the acquires once the semaphore is closed (queued
 * waiters get it too). `RangeError` for a permit count that is not a non-negative safe
 * integer; `TypeError` for a blocking acquire where blocking is impossible.
 */
export class Semaphore extends Handle {
  /** The most permits a semaphore may hold. */
  static readonly MAX_PERMITS = MAX_PERMITS;

  constructor(permits: number);
  /** @internal */
  constructor(permits: number | Adopt);
  constructor(permits: number | Adopt) {
    if (!(permits instanceof Adopt)) checkCount(permits as number, 'new Semaphore(permits)');
    super(permits instanceof Adopt ? permits.offset : allocOwned(Kind.Semaphore, SEMAPHORE_BYTES - 8));
    if (!(permits instanceof Adopt)) store(semWords(this.offset), (this.offset >> 2) + PERMITS, permits);
  }

  /** @internal */
  protected get kindName(): string {
    return 'Semaphore';
  }

  /** @internal */
  protected override describe(): string {
    const n = this.availablePermits();
    return `Semaphore<${n} permit${n === 1 ? '' : 's'}${this.isClosed() ? ', closed' : ''}>`;
  }

  availablePermits(): number {
    this.checkOpen();
    return load(semWords(this.offset), (this.offset >> 2) + PERMITS);
  }

  /** Adds `n` permits; throws RangeError if that would exceed Semaphore.MAX_PERMITS. */
  addPermits(n: number): void {
    this.checkOpen();
    checkCount(n, 'Semaphore.addPermits(n)');
    const i = semWords(this.offset);
    const at = (this.offset >> 2) + PERMITS;
    for (let p = load(i, at); ; p = load(i, at)) {
      if (p + n > MAX_PERMITS) throw new RangeError(`Semaphore.addPermits(${n}): the semaphore would hold more than ${MAX_PERMITS} permits`);
      if (cas(i, at, p, p + n) === p) break;
    }
    notify(i, at);
  }

  /**
   * Takes up to `n` available permits away for good (tokio's forget_permits); returns
   * how many it took (fewer than `n` if fewer were available). Permits held are untouched.
   */
  forgetPermits(n: number): number {
    this.checkOpen();
    checkCount(n, 'Semaphore.forgetPermits(n)');
    const i = semWords(this.offset);
    const at = (this.offset >> 2) + PERMITS;
    for (let p = load(i, at); ; ) {
      const take = Math.min(p, n);
      if (take === 0) return 0;
      const seen = cas(i, at, p, p - take);
      if (seen === p) return take;
      p = seen;
    }
  }

  /** True once close() was called on the semaphore (by any thread): acquires then throw AcquireError. */
  isClosed(): boolean {
    this.checkOpen();
    return load(semWords(this.offset), (this.offset >> 2) + CLOSED) !== 0;
  }

  /**
   * Closes the semaphore for every thread: waiting and later acquires throw
   * AcquireError. Permits already held stay valid. (`using` only drops this handle.)
   */
  close(): void {
    this.checkOpen();
    const i = semWords(this.offset);
    const b = this.offset >> 2;
    store(i, b + CLOSED, 1);
    notify(i, b + SERVING);
    notify(i, b + PERMITS);
  }

  /** Takes `n` permits if nobody is queued and enough are free; else undefined. */
  tryAcquire(n = 1): Permit | undefined {
    const i = this.#enter(n, 'Semaphore.tryAcquire(n)');
    return this.#fast(i, n);
  }

  /** Blocks until `n` permits are ours, in FIFO order with the other acquirers. */
  acquire(n = 1): Permit {
    const i = this.#enter(n, 'Semaphore.acquire(n)');
    assertCanBlock('Semaphore.acquire()', 'Semaphore.acquireAsync()');
    return this.#fast(i, n) ?? runSync(this.#queue(n), Infinity);
  }

  /**
   * acquire() for event-loop threads. Aborting `signal` rejects with its reason and
   * takes nothing: a queued acquirer gives its turn up, so the line keeps moving.
   */
  async acquireAsync(n = 1, options?: WaitOptions): Promise<Permit> {
    const signal = checkSignal(options, 'Semaphore.acquireAsync()');
    const i = this.#enter(n, 'Semaphore.acquireAsync(n)');
    return this.#fast(i, n) ?? (await runAsync(this.#queue(n), Infinity, signal));
  }

  /** tokio's acquire_many(n), blocking: acquire(n) with `n` required. */
  acquireMany(n: number): Permit {
    checkCount(n, 'Semaphore.acquireMany(n)');
    return this.acquire(n);
  }

  /** tokio's acquire_many(n): acquireAsync(n) with `n` required. */
  async acquireManyAsync(n: number, options?: WaitOptions): Promise<Permit> {
    checkCount(n, 'Semaphore.acquireManyAsync(n)');
    return this.acquireAsync(n, options);
  }

  /** tokio's try_acquire_many(n): tryAcquire(n) with `n` required. */
  tryAcquireMany(n: number): Permit | undefined {
    checkCount(n, 'Semaphore.tryAcquireMany(n)');
    return this.tryAcquire(n);
  }

  /** No line, and enough permits free: takes them, as a Permit made in the same kill-safe section. */
  #fast(i: Int32Array, n: number): Permit | undefined {
    const b = this.offset >> 2;
    if (load(i, b + NEXT) !== load(i, b + SERVING)) return undefined;
    enterCritical();
    try {
      return tryTake(i, b, n) ? makePermit(this.offset, n, HOLDING, true) : undefined;
    } finally {
      leaveCritical();
    }
  }

  /** Takes a ticket, waits for its turn, then for `n` permits. */
  *#queue(n: number): Op<Permit> {
    const i = semWords(this.offset);
    const b = this.offset >> 2;
    // The Permit first: once we hold a ticket, nothing may fail, and its drop gives the ticket up.
    const permit = makePermit(this.offset, n, NEW, false);
    try {
      const ticket = takeTicket(this.offset, permit.offset);
      for (let s; (s = load(i, b + SERVING)) !== ticket; ) {
        this.#checkClosed(i);
        yield { index: b + SERVING, expected: s };
      }
      while (!serve(this.offset, n, permit.offset, ticket)) {
        this.#checkClosed(i);
        const p = load(i, b + PERMITS);
        if (p < n) yield { index: b + PERMITS, expected: p };
      }
    } catch (e) {
      permit.release(); // gives up the ticket
      throw e;
    }
    return permit;
  }

  #enter(n: number, call: string): Int32Array {
    this.checkOpen();
    checkCount(n, call);
    const i = semWords(this.offset);
    this.#checkClosed(i);
    return i;
  }

  #checkClosed(i: Int32Array): void {
    if (load(i, (this.offset >> 2) + CLOSED) !== 0) throw new AcquireError();
  }

}

/**
 * Makes a Permit of semaphore `sem` for `n` permits in `state` (NEW, or HOLDING for
 * permits already taken), recorded in this thread's owned table, in one kill-safe
 * section. If that fails (heap full), `giveBack` says where the permits of a HOLDING
 * one go: back to the semaphore (they were just taken for it), or nowhere (split:
 * they are still counted in the Permit being split).
 */
function makePermit(sem: number, n: number, state: typeof NEW | typeof HOLDING, giveBack: boolean): Permit {
  enterCritical();
  let p = -1;
  try {
    p = allocObject(Kind.SemaphorePermit, PERMIT_BYTES - 8);
    const i = permitWords(p);
    retain(sem);
    store(i, (p >> 2) + SEM, sem);
    store(i, (p >> 2) + TICKET, 0);
    store(i, (p >> 2) + COUNT, n);
    // It holds nothing until its handle is made: a failure there drops it returning nothing.
    store(i, (p >> 2) + STATE, state === HOLDING ? DONE : state);
    const permit = new Permit(new Adopt(p));
    store(i, (p >> 2) + STATE, state);
    return permit;
  } catch (e) {
    if (p >= 0) releaseRef(p);
    if (state === HOLDING && giveBack) returnPermits(sem, n);
    throw e;
  } finally {
    leaveCritical();
  }
}

/** Takes the next ticket of `sem` for the NEW Permit at `permit` and marks it QUEUED, in one kill-safe section. */
function takeTicket(sem: number, permit: number): number {
  const pw = permitWords(permit);
  enterCritical();
  try {
    const ticket = add(semWords(sem), (sem >> 2) + NEXT, 1);
    store(pw, (permit >> 2) + TICKET, ticket);
    store(pw, (permit >> 2) + STATE, QUEUED);
    return ticket;
  } finally {
    leaveCritical();
  }
}

/**
 * The served ticket's last step, in one kill-safe section: takes `n` permits, marks its
 * Permit HOLDING and ends its turn. False (nothing changed) if too few are free.
 */
function serve(sem: number, n: number, permit: number, ticket: number): boolean {
  enterCritical();
  try {
    if (!tryTake(semWords(sem), sem >> 2, n)) return false;
    store(permitWords(permit), (permit >> 2) + STATE, HOLDING);
    advance(sem, ticket);
    return true;
  } finally {
    leaveCritical();
  }
}

defineKind(Kind.Semaphore, {
  name: 'Semaphore',
  wrap: (p) => new Semaphore(new Adopt(p)),
  drop(p) {
    for (let m = load(semWords(p), (p >> 2) + ABANDONED); m !== 0; ) {
      const next = load(markWords(m), m >> 2);
      free(m);
      m = next;
    }
  },
});

defineKind(Kind.SemaphorePermit, {
  name: 'Permit',
  wrap: (p) => new Permit(new Adopt(p)),
  // The last reference to a Permit is gone: released, dropped, or its thread ended.
  drop(p) {
    const i = permitWords(p);
    const sem = load(i, (p >> 2) + SEM);
    const state = load(i, (p >> 2) + STATE);
    store(i, (p >> 2) + STATE, DONE);
    if (state === HOLDING) returnPermits(sem, load(i, (p >> 2) + COUNT));
    else if (state === QUEUED) abandon(sem, load(i, (p >> 2) + TICKET));
    releaseRef(sem);
  },
});

/**
 * Gives up a queued ticket: ends its turn if it is the one served; takes it back if it
 * is the newest (SERVING never passes an unserved ticket that is not marked, so the
 * next acquirer simply gets this number again); otherwise marks it abandoned, then
 * moves the line on if it became this ticket's turn meanwhile. advance() checks the
 * marks after moving, so one of the two sees the other.
 */
function abandon(sem: number, ticket: number): void {
  if (advance(sem, ticket)) return;
  const i = semWords(sem);
  const b = sem >> 2;
  const after = (ticket + 1) | 0;
  if (cas(i, b + NEXT, after, ticket) === after) return;
  const mark = alloc(8);
  const m = markWords(mark);
  store(m, (mark >> 2) + 1, ticket);
  for (let top = load(i, b + ABANDONED); ; top = load(i, b + ABANDONED)) {
    store(m, mark >> 2, top);
    if (cas(i, b + ABANDONED, top, mark) === top) break;
  }
  advance(sem, ticket);
}
