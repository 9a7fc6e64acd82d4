// Semaphore: FIFO-fair counting semaphore (tokio's semantics) in the heap. Acquirers
// that cannot be served at once take a ticket and are served in ticket order, so a
// large acquire(n) is not starved by a stream of small ones.
//
// Each acquire is a Permit object in the heap, owned like any handle: if the thread
// dies while queued, the Permit's drop gives up its ticket (the line moves on); if it
// dies holding permits, the drop returns them. Nobody is left waiting for a dead thread.

import { alloc } from '../heap/alloc.ts';
import { Adopt, allocObject, defineKind, Handle, releaseRef, retain } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { runAsync, runSync, type Op } from '../wait/driver.ts';
import { add, assertCanBlock, cas, load, notify, store } from '../wait/futex.ts';

// Semaphore fields.
const PERMITS = 2, NEXT = 3, SERVING = 4, CLOSED = 5, ABANDONED = 6;
// Permit fields.
const SEM = 2, TICKET = 3, COUNT = 4, STATE = 5;
const QUEUED = 0, HOLDING = 1, DONE = 2;

/** The semaphore was closed: no permits will be handed out. */
export class AcquireError extends Error {
  constructor() {
    super('the semaphore is closed');
    this.name = 'AcquireError';
  }
}

function tryTake(i: Int32Array, b: number, n: number): boolean {
  for (let p = load(i, b + PERMITS); p >= n; p = load(i, b + PERMITS)) {
    if (cas(i, b + PERMITS, p, p - n) === p) return true;
  }
  return false;
}

function isAbandoned(i: Int32Array, b: number, ticket: number): boolean {
  for (let e = load(i, b + ABANDONED); e !== 0; e = load(i, e >> 2)) if (load(i, (e >> 2) + 1) === ticket) return true;
  return false;
}

/** Ends ticket `t`'s turn (if it is the one served) and skips tickets whose owners died. */
function advance(sem: number, t: number): void {
  const i = heap().i32;
  const b = sem >> 2;
  if (cas(i, b + SERVING, t, t + 1) !== t) return;
  for (let s = t + 1; isAbandoned(i, b, s) && cas(i, b + SERVING, s, s + 1) === s; s++);
  notify(i, b + SERVING);
}

function addPermits(sem: number, n: number): void {
  const i = heap().i32;
  add(i, (sem >> 2) + PERMITS, n);
  notify(i, (sem >> 2) + PERMITS);
}

/** Permits held; release() (or `using`) gives them back. */
export class Permit extends Handle {
  /** @internal Made by Semaphore.acquire*(). */
  constructor(adopt: Adopt) {
    super(adopt.offset);
  }

  protected get kindName(): string {
    return 'Permit';
  }

  /** Returns the permits to the semaphore. Idempotent. */
  release(): void {
    this.close();
  }
}

export class Semaphore extends Handle {
  constructor(permits: number | Adopt) {
    if (!(permits instanceof Adopt)) checkCount(permits, 'new Semaphore(permits)');
    super(permits instanceof Adopt ? permits.offset : allocObject(Kind.Semaphore, 20));
    if (!(permits instanceof Adopt)) store(heap().i32, (this.offset >> 2) + PERMITS, permits);
  }

  protected get kindName(): string {
    return 'Semaphore';
  }

  availablePermits(): number {
    this.checkOpen();
    return load(heap().i32, (this.offset >> 2) + PERMITS);
  }

  addPermits(n: number): void {
    this.checkOpen();
    checkCount(n, 'Semaphore.addPermits(n)');
    addPermits(this.offset, n);
  }

  /**
   * Closes the semaphore for every thread: waiting and future acquires throw
   * AcquireError. (`using` only releases this handle.)
   */
  close(): void {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    store(i, b + CLOSED, 1);
    notify(i, b + SERVING);
    notify(i, b + PERMITS);
  }

  /** Takes `n` permits now if no one is queued and enough are free; else undefined. */
  tryAcquire(n = 1): Permit | undefined {
    const { i, b } = this.#enter(n);
    if (load(i, b + NEXT) !== load(i, b + SERVING) || !tryTake(i, b, n)) return undefined;
    return this.#permit(n, HOLDING, 0);
  }

  /** Blocks until `n` permits are ours, in FIFO order with other acquirers. */
  acquire(n = 1): Permit {
    const { i, b } = this.#enter(n);
    assertCanBlock('Semaphore.acquire()', 'acquireAsync()');
    if (load(i, b + NEXT) === load(i, b + SERVING) && tryTake(i, b, n)) return this.#permit(n, HOLDING, 0);
    return this.#served(runSync(this.#queue(n), Infinity));
  }

  async acquireAsync(n = 1): Promise<Permit> {
    const { i, b } = this.#enter(n);
    if (load(i, b + NEXT) === load(i, b + SERVING) && tryTake(i, b, n)) return this.#permit(n, HOLDING, 0);
    return this.#served(await runAsync(this.#queue(n), Infinity));
  }

  /** Takes a ticket, waits for its turn, then for `n` permits. */
  *#queue(n: number): Op<Permit> {
    const i = heap().i32;
    const b = this.offset >> 2;
    const ticket = add(i, b + NEXT, 1);
    const permit = this.#permit(n, QUEUED, ticket);
    try {
      for (let s; (s = load(i, b + SERVING)) !== ticket; ) {
        this.#checkClosed(i, b);
        yield { index: b + SERVING, expected: s };
      }
      while (!tryTake(i, b, n)) {
        this.#checkClosed(i, b);
        const p = load(i, b + PERMITS);
        if (p < n) yield { index: b + PERMITS, expected: p };
      }
    } catch (e) {
      permit.release(); // gives up the ticket
      throw e;
    }
    return permit;
  }

  #enter(n: number): { i: Int32Array; b: number } {
    this.checkOpen();
    checkCount(n, 'Semaphore.acquire(n)');
    const i = heap().i32;
    const b = this.offset >> 2;
    this.#checkClosed(i, b);
    return { i, b };
  }

  #checkClosed(i: Int32Array, b: number): void {
    if (load(i, b + CLOSED) !== 0) throw new AcquireError();
  }

  #permit(n: number, state: number, ticket: number): Permit {
    const p = allocObject(Kind.SemaphorePermit, 16);
    const i = heap().i32;
    retain(this.offset);
    store(i, (p >> 2) + SEM, this.offset);
    store(i, (p >> 2) + TICKET, ticket);
    store(i, (p >> 2) + COUNT, n);
    store(i, (p >> 2) + STATE, state);
    return new Permit(new Adopt(p));
  }

  #served(permit: Permit): Permit {
    const i = heap().i32;
    store(i, (permit.offset >> 2) + STATE, HOLDING);
    advance(this.offset, load(i, (permit.offset >> 2) + TICKET));
    return permit;
  }
}

function checkCount(n: number, call: string): void {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 30) {
    throw new RangeError(`${call}: expected an integer from 0 to 2^30, got ${String(n)}`);
  }
}

defineKind(Kind.Semaphore, { name: 'Semaphore', wrap: (p) => new Semaphore(new Adopt(p)) });
defineKind(Kind.SemaphorePermit, {
  name: 'Permit',
  wrap: (p) => new Permit(new Adopt(p)),
  // The last reference to a Permit is gone: released, dropped, or its thread ended.
  drop(p) {
    const i = heap().i32;
    const sem = load(i, (p >> 2) + SEM);
    const state = load(i, (p >> 2) + STATE);
    store(i, (p >> 2) + STATE, DONE);
    if (state === HOLDING) addPermits(sem, load(i, (p >> 2) + COUNT));
    else if (state === QUEUED) {
      // Mark the ticket abandoned first, then move the line on if it is this ticket's
      // turn; advance() checks the marks after moving, so one of the two sees the other.
      const ticket = load(i, (p >> 2) + TICKET);
      const b = sem >> 2;
      const mark = alloc(8);
      store(i, (mark >> 2) + 1, ticket);
      for (let head = load(i, b + ABANDONED); ; head = load(i, b + ABANDONED)) {
        store(i, mark >> 2, head);
        if (cas(i, b + ABANDONED, head, mark) === head) break;
      }
      advance(sem, ticket);
    }
    releaseRef(sem);
  },
});
