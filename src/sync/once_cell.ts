// OnceCell<T>, tokio's async cell: EMPTY → INITIALIZING → READY in one state word.
// Whoever moves it to INITIALIZING runs its init; the others wait asynchronously on
// the word. A failed init (or the initialising thread dying: Role.Held) puts it back
// to EMPTY and wakes the waiters, one of which then runs its own init.

import { Adopt, allocObject, currentOwnedCell, defineKind, Handle, Role } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { cas, exchange, load, notify, waitAsync } from '../wait/futex.ts';
import { dropCell, readCell, writeCell } from './value_cell.ts';

const STATE = 2, VALUE = 3;
const EMPTY = 0, INITIALIZING = 1, READY = 2;

/** OnceCell.set() on a cell that has (or is getting) a value. */
export class SetError extends Error {
  readonly kind: 'AlreadyInitialized' | 'Initializing';

  constructor(kind: 'AlreadyInitialized' | 'Initializing') {
    super(kind === 'AlreadyInitialized' ? 'the OnceCell already has a value' : 'the OnceCell is being initialised');
    this.name = 'SetError';
    this.kind = kind;
  }
}

function settle(offset: number, to: number): void {
  const i = heap().i32;
  exchange(i, (offset >> 2) + STATE, to);
  notify(i, (offset >> 2) + STATE);
}

export class OnceCell<T> extends Handle {
  constructor(adopt?: Adopt) {
    super(adopt?.offset ?? allocObject(Kind.OnceCell, 8));
  }

  protected get kindName(): string {
    return 'OnceCell';
  }

  /** The value, or undefined if the cell is not initialised. */
  get(): T | undefined {
    this.checkOpen();
    return load(heap().i32, (this.offset >> 2) + STATE) === READY ? readCell<T>((this.offset >> 2) + VALUE) : undefined;
  }

  initialized(): boolean {
    this.checkOpen();
    return load(heap().i32, (this.offset >> 2) + STATE) === READY;
  }

  /** Sets the value; throws SetError if it has one or is being initialised. */
  set(value: T): void {
    this.checkOpen();
    const seen = cas(heap().i32, (this.offset >> 2) + STATE, EMPTY, INITIALIZING);
    if (seen !== EMPTY) throw new SetError(seen === READY ? 'AlreadyInitialized' : 'Initializing');
    this.#publish(() => writeCell((this.offset >> 2) + VALUE, value));
  }

  /** The value, running `f` to make it if the cell is empty; concurrent callers wait. */
  async getOrInit(f: () => Promise<T> | T): Promise<T> {
    this.checkOpen();
    const i = heap().i32;
    const at = (this.offset >> 2) + STATE;
    for (;;) {
      const s = load(i, at);
      if (s === READY) return readCell<T>(at + 1);
      if (s === INITIALIZING) {
        await waitAsync(i, at, INITIALIZING);
        continue;
      }
      if (cas(i, at, EMPTY, INITIALIZING) !== EMPTY) continue;
      const cell = currentOwnedCell();
      const slot = ownedAdd(cell, this.offset + Role.Held);
      let value: T;
      try {
        value = await f();
        writeCell(at + 1, value);
      } catch (e) {
        ownedRemove(cell, slot);
        settle(this.offset, EMPTY);
        throw e;
      }
      ownedRemove(cell, slot);
      settle(this.offset, READY);
      return readCell<T>(at + 1);
    }
  }

  /** Like getOrInit; a rejected `f` leaves the cell empty and the next waiter runs its own. */
  getOrTryInit(f: () => Promise<T>): Promise<T> {
    return this.getOrInit(f);
  }

  /** Takes the value out, leaving the cell empty. */
  take(): T | undefined {
    this.checkOpen();
    const i = heap().i32;
    if (cas(i, (this.offset >> 2) + STATE, READY, INITIALIZING) !== READY) return undefined;
    const v = readCell<T>((this.offset >> 2) + VALUE);
    dropCell((this.offset >> 2) + VALUE);
    settle(this.offset, EMPTY);
    return v;
  }

  #publish(write: () => void): void {
    try {
      write();
    } catch (e) {
      settle(this.offset, EMPTY);
      throw e;
    }
    settle(this.offset, READY);
  }
}

defineKind(Kind.OnceCell, {
  name: 'OnceCell',
  wrap: (p) => new OnceCell(new Adopt(p)),
  releaseRole: (p) => settle(p, EMPTY),
  drop: (p) => dropCell((p >> 2) + VALUE),
});
