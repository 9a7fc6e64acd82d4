// The handle model every weft primitive shares. A primitive is an object in the
// heap whose first 8 bytes are [kind, refcount]; a Handle is this thread's small JS
// object over it. A *ref* names one counted reference: the object's offset with a
// role in its low 3 bits (offsets are 8-aligned). Roles let a reference carry more
// than memory ownership: a Sender ref also counts as a live sender of its channel.
//
// Each Handle owns one ref, recorded in its thread's owned table (owned.ts), and
// gives it back through close(), Symbol.dispose, the end of its thread, or a
// FinalizationRegistry when the JS object is collected unclosed.

import { alloc, free } from './alloc.ts';
import { heap } from './heap.ts';
import { ownedAdd, ownedRemove } from './owned.ts';
import { add, load, store } from '../wait/futex.ts';

export const ROLE_MASK = 7;
/**
 * What a ref stands for besides one count on the object: Plain (nothing more),
 * Sender / Receiver (a channel endpoint), Join (a JoinHandle on a thread record).
 * Held and HeldShared are not counted at all: they mark a lock (or a read lock, a
 * running Once) the thread holds, so the runtime can poison and release it if the
 * thread ends holding it; they are recorded in the owned table only.
 */
export const Role = { Plain: 0, Sender: 1, Receiver: 2, Join: 3, Held: 4, HeldShared: 5 } as const;

const isHeld = (role: Role): boolean => role === Role.Held || role === Role.HeldShared;

/**
 * Passed to a handle class's constructor by its kind's wrap() to adopt an existing
 * object instead of creating one. Not exported from the package, so user code can
 * only create new objects.
 */
export class Adopt {
  constructor(
    readonly offset: number,
    readonly role: Role = Role.Plain,
  ) {}
}
export type Role = (typeof Role)[keyof typeof Role];

/** How a kind of heap object is released and wrapped. Registered once per kind id. */
export interface KindSpec {
  readonly name: string;
  /** Builds this thread's handle for a ref that the caller hands over (adopts). */
  wrap(offset: number, role: Role): Handle;
  /** Takes the role part of a new ref (e.g. one more sender of a channel). */
  retainRole?(offset: number, role: Role): void;
  /** Gives back the role part of a ref (e.g. one sender of a channel). */
  releaseRole?(offset: number, role: Role): void;
  /** Frees what the object owns besides its own block, when the last ref is gone. */
  drop?(offset: number): void;
}

const kinds: Array<KindSpec | undefined> = [];

/** Registers kind `id`. Ids are fixed constants so that every thread agrees on them. */
export function defineKind(id: number, spec: KindSpec): void {
  if (kinds[id] && kinds[id] !== spec) throw new Error(`weft: kind ${id} defined twice`);
  kinds[id] = spec;
}

export function kindOf(offset: number): number {
  return load(heap().i32, offset >> 2);
}

function spec(offset: number): KindSpec {
  const k = kinds[kindOf(offset)];
  if (!k) throw new Error(`weft: no kind registered for the object at ${offset} (kind ${kindOf(offset)})`);
  return k;
}

/** Allocates a heap object of `kind` with `bodyBytes` after the header; refcount 1. */
export function allocObject(kind: number, bodyBytes: number): number {
  const p = alloc(8 + bodyBytes);
  const i = heap().i32;
  store(i, (p >> 2) + 1, 1);
  store(i, p >> 2, kind);
  return p;
}

/** Adds one plain reference to the object at `offset`. */
export function retain(offset: number): void {
  add(heap().i32, (offset >> 2) + 1, 1);
}

/** Makes a new ref equal to `ref` (same object and role) and returns it. */
export function cloneRef(ref: number): number {
  const role = (ref & ROLE_MASK) as Role;
  const offset = ref - role;
  retain(offset);
  if (role !== Role.Plain) spec(offset).retainRole?.(offset, role);
  return ref;
}

/** Gives back one ref (role part first); the last one drops and frees the object. */
export function releaseRef(ref: number): void {
  const role = (ref & ROLE_MASK) as Role;
  const offset = ref - role;
  const k = spec(offset);
  if (role !== Role.Plain) k.releaseRole?.(offset, role);
  if (isHeld(role)) return;
  const before = add(heap().i32, (offset >> 2) + 1, -1);
  if (before === 1) {
    k.drop?.(offset);
    store(heap().i32, offset >> 2, 0);
    free(offset);
  } else if (before < 1) {
    throw new Error(`weft: reference count underflow on ${k.name} at ${offset}`);
  }
}

/** Builds this thread's handle for `ref`, taking it over (the caller's count moves in). */
export function adoptRef(ref: number): Handle {
  const role = (ref & ROLE_MASK) as Role;
  return spec(ref - role).wrap(ref - role, role);
}

let ownedCell = -1;

/** Points handle bookkeeping at this thread's owned table (i32 index of its cell). */
export function setOwnedCell(cell: number): void {
  ownedCell = cell;
}

export function currentOwnedCell(): number {
  if (ownedCell < 0) throw new Error('weft: this thread has no runtime record yet');
  return ownedCell;
}

// Backstop for handles dropped without close(): the held value names the owned-table
// slot that still holds the ref. A worker runs one thread after another, so a handle
// of an earlier thread may be collected later: its table was drained when that thread
// ended, and the cell no longer matches.
const finalizer = new FinalizationRegistry<{ cell: number; slot: number }>(({ cell, slot }) => {
  if (cell === ownedCell) releaseRef(ownedRemove(cell, slot));
});

const CLOSED = -1;
const MOVED = -2;

/** Base class of every weft primitive's handle. */
export abstract class Handle {
  /** Offset of the object in the shared heap; equal in every thread. */
  readonly offset: number;
  readonly #role: Role;
  readonly #cell: number;
  #slot: number;

  /** Adopts one existing ref (from allocObject, a message, or a retain). */
  protected constructor(offset: number, role: Role = Role.Plain) {
    this.offset = offset;
    this.#role = role;
    this.#cell = currentOwnedCell();
    this.#slot = ownedAdd(this.#cell, offset + role);
    finalizer.register(this, { cell: this.#cell, slot: this.#slot }, this);
  }

  /** False once the thread that made this handle has ended (its refs were released). */
  #owned(): boolean {
    return this.#cell === ownedCell;
  }

  /** Human name of the handle kind, for error messages. */
  protected abstract get kindName(): string;

  /** Throws if this handle was closed or moved to another thread. */
  protected checkOpen(): void {
    if (this.#slot < 0 || !this.#owned()) {
      throw new TypeError(
        this.#slot === MOVED
          ? `${this.kindName} was moved (passed to spawn, sent, or stored in a value) and cannot be used here` +
            (typeof (this as { clone?: unknown }).clone === 'function' ? '; to keep one here, pass clone() instead' : '')
          : this.#slot === CLOSED ? `${this.kindName} is closed`
          : `${this.kindName} belongs to a thread that has ended`,
      );
    }
  }

  get isClosed(): boolean {
    return this.#slot < 0 || !this.#owned();
  }

  /** Gives this handle's reference back. Idempotent. */
  close(): void {
    this.dropRef();
  }

  [Symbol.dispose](): void {
    this.dropRef();
  }

  /** Gives this handle's reference back; what close() and `using` do unless a kind gives close() its own meaning. */
  protected dropRef(): void {
    if (this.#slot < 0) return;
    const slot = this.#slot;
    this.#slot = CLOSED;
    finalizer.unregister(this);
    if (this.#owned()) releaseRef(ownedRemove(this.#cell, slot));
  }

  /**
   * Makes a ref to put in a message: by default a new plain reference. Kinds override
   * this to clone with a role (Sender) or to move (Receiver, see moveRef()).
   * Called only once the message is sure to be written.
   */
  shareRef(): number {
    this.checkOpen();
    return cloneRef(this.offset + this.#role);
  }

  /** Hands this handle's own ref over to a message; the handle becomes unusable. */
  protected moveRef(): number {
    this.checkOpen();
    const slot = this.#slot;
    this.#slot = MOVED;
    finalizer.unregister(this);
    return ownedRemove(this.#cell, slot);
  }
}
