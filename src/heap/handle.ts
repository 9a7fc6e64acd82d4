// The handle model every weft primitive shares. A primitive is an object in the
// heap whose first 8 bytes are [kind, refcount]; a Handle is this thread's small JS
// object over it. A *ref* names one counted reference: the object's offset with a
// role in its low 3 bits (offsets are 8-aligned). Roles let a reference carry more
// than memory ownership: a Sender ref also counts as a live sender of its channel.
//
// Each Handle owns one ref, recorded in its thread's owned table (owned.ts), and
// gives it back through close(), Symbol.dispose, the end of its thread, or a
// FinalizationRegistry when the JS object is collected unclosed.
//
// Kill safety (thread/critical.ts): a ref must be counted exactly as long as some
// owner the runtime can see holds it. So taking a new ref and recording it
// (cloneHandle), and forgetting a recorded ref and giving it back (dropRef, the
// finalizer), each run in one kill-safe section: a kill lands before or after both.

import { alloc, free } from './alloc.ts';
import { heap } from './heap.ts';
import { ownedAdd, ownedGeneration, ownedRemove, setThisThreadCell, thisThreadCell } from './owned.ts';
import { cas, load, store, unscheduled } from '../wait/futex.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';

// The typings use Symbol.dispose / Symbol.asyncDispose, which TypeScript's own lib declares
// from 5.2 on; declared here too (as @types/node does) so consumers on TypeScript 5.0 and 5.1
// type-check them without skipLibCheck. Identical `unique symbol` declarations merge.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
    readonly asyncDispose: unique symbol;
  }
}

export const ROLE_MASK = 7;
/**
 * What a ref stands for besides one count on the object: Plain (nothing more),
 * Sender / Receiver (a channel endpoint), Join (a JoinHandle on a thread record).
 * Held and HeldShared are not counted at all: they mark a lock (or a read lock, a
 * running Once) the thread holds, so the runtime can poison and release it if the
 * thread ends holding it; they are recorded in the owned table only.
 */
/**
 * Claim marks a channel sender's claim in progress (a permit taken, the rendezvous
 * slot claimed), given back to the channel if the thread ends before it publishes.
 * Roles from Held up are marks, never counted (owned.ts drains them first).
 */
/**
 * Value marks a stored value block in this thread's hands (codec/stored.ts): a message
 * encoded but not yet published, or taken from a channel but not yet decoded. The block
 * holds counted refs, so if the thread ends with it, the runtime drops the block. It is
 * not a ref to a kind's object and never goes through releaseRef().
 */
export const Role = { Plain: 0, Sender: 1, Receiver: 2, Join: 3, Held: 4, HeldShared: 5, Claim: 6, Value: 7 } as const;

const isHeld = (role: Role): boolean => role >= Role.Held;

/**
 * Passed to a handle class's constructor by its kind's wrap() to adopt an existing
 * object instead of creating one. User code cannot make one: the class is not
 * exported from the package, and `x instanceof Adopt` checks a private brand that
 * only this constructor gives, so an object made with Adopt.prototype (or a proxy of
 * a real token) is refused. Tokens are made and consumed inside weft, never handed out.
 * @internal
 */
export class Adopt {
  readonly #brand = true;
  readonly offset: number;
  readonly role: Role;

  constructor(offset: number, role: Role = Role.Plain) {
    this.offset = offset;
    this.role = role;
    Object.freeze(this);
  }

  static [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && #brand in x;
  }
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
  if (!k) {
    // Freeing clears the kind, so a ref to a freed object lands here instead of
    // acting on whatever reuses its block.
    throw new Error(
      `weft: no live object at ${offset} (kind word ${kindOf(offset)}): it was already freed, ` +
        'so a reference to it was released twice or used after its last release',
    );
  }
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

/**
 * Adds one plain reference to the object at `offset`. A count of zero means the
 * object is gone: reviving it would hand out a block the allocator may reuse.
 */
export function retain(offset: number): void {
  const i = heap().i32;
  for (let count = load(i, (offset >> 2) + 1); ; ) {
    if (count < 1) throw new Error(`weft: cannot take a reference to the object at ${offset}: it was already freed`);
    const seen = cas(i, (offset >> 2) + 1, count, count + 1);
    if (seen === count) return;
    count = seen;
  }
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
  const i = heap().i32;
  if (!isHeld(role) && load(i, (offset >> 2) + 1) < 1) {
    throw new Error(`weft: ${k.name} at ${offset} has no reference left to release (released twice?)`);
  }
  if (role !== Role.Plain) k.releaseRole?.(offset, role);
  if (isHeld(role)) return;
  // Decrement only a positive count, so a double release throws instead of driving
  // the count negative and freeing the block twice.
  for (let count = load(i, (offset >> 2) + 1); ; ) {
    if (count < 1) throw new Error(`weft: ${k.name} at ${offset} has no reference left to release (released twice?)`);
    const seen = cas(i, (offset >> 2) + 1, count, count - 1);
    if (seen !== count) {
      count = seen;
      continue;
    }
    if (count === 1) {
      k.drop?.(offset);
      store(heap().i32, offset >> 2, 0);
      free(offset);
    }
    return;
  }
}

/** Builds this thread's handle for `ref`, taking it over (the caller's count moves in). */
export function adoptRef(ref: number): Handle {
  const role = (ref & ROLE_MASK) as Role;
  return spec(ref - role).wrap(ref - role, role);
}

/** A ref taken and recorded ahead of the construction of its handle (cloneHandle()). */
let recorded: { readonly ref: number; readonly slot: number; readonly generation: number } | undefined;

/** Objects allocated and recorded ahead of their handle's construction (allocOwned()), by ref. */
const allocated = new Map<number, { readonly slot: number; readonly generation: number }>();

/**
 * Allocates a heap object of `kind` for a handle about to be constructed on it with
 * `role`: allocates it, runs `init` on it (plain stores that cannot fail) and records
 * its ref in this thread's table, in one kill-safe section, so a kill leaves it either
 * unallocated or recorded (released when the thread ends). The handle's constructor
 * adopts the record.
 */
export function allocOwned(kind: number, bodyBytes: number, role: Role = Role.Plain, init?: (p: number) => void): number {
  heap(); // the first use of the heap sets up this thread's table
  const cell = currentOwnedCell();
  enterCritical();
  try {
    const p = allocObject(kind, bodyBytes);
    let slot: number;
    try {
      slot = ownedAdd(cell, p + role);
    } catch (e) {
      // The table could not grow (heap full): the object goes, untouched.
      store(heap().i32, p >> 2, 0);
      free(p);
      throw e;
    }
    init?.(p);
    allocated.set(p + role, { slot, generation: ownedGeneration() });
    return p;
  } finally {
    leaveCritical();
  }
}

/**
 * Builds this thread's handle on a new ref equal to `ref`: by `make`, else by the
 * kind's wrap(). The ref is taken and recorded in the owned table in one kill-safe
 * section, and the handle's constructor adopts that entry, so no kill can leave the
 * count raised with nobody recorded as holding it. If the handle is not built, the
 * ref is given back.
 */
export function cloneHandle<H extends Handle = Handle>(ref: number, make?: (offset: number, role: Role) => H): H {
  const role = (ref & ROLE_MASK) as Role;
  const cell = currentOwnedCell();
  enterCritical();
  try {
    cloneRef(ref);
    recorded = { ref, slot: ownedAdd(cell, ref), generation: ownedGeneration() };
  } finally {
    leaveCritical();
  }
  try {
    return make ? make(ref - role, role) : (spec(ref - role).wrap(ref - role, role) as H);
  } finally {
    const left = recorded;
    recorded = undefined;
    if (left !== undefined) forget(left.slot);
  }
}

/** Removes the entry at `slot` of this thread's table and gives its ref back, in one kill-safe section. */
function forget(slot: number): void {
  enterCritical();
  try {
    releaseRef(ownedRemove(thisThreadCell(), slot));
  } finally {
    leaveCritical();
  }
}

/** Points handle bookkeeping at this thread's owned table (i32 index of its cell). */
export function setOwnedCell(cell: number): void {
  setThisThreadCell(cell);
}

export function currentOwnedCell(): number {
  const cell = thisThreadCell();
  if (cell < 0) throw new Error('weft: this thread has no runtime record yet');
  return cell;
}

/** What the finalizer needs of a handle: where its ref is recorded, and under which table. */
interface Registration {
  readonly generation: number;
  readonly slot: number;
}

// Backstop for handles dropped without close(): releases the ref still recorded in the
// handle's slot. A worker runs one thread after another, so a handle of an earlier
// thread may be collected while a later one runs, maybe with its table in the same
// cell: that table's generation differs, so the stale cleanup does nothing (the
// earlier thread's refs were released when it ended).
function releaseCollected({ generation, slot }: Registration): void {
  if (generation === ownedGeneration()) forget(slot);
}

// Under weft/check a collected handle's release is no step of any schedule: when the
// collector runs is up to the engine, so its steps would keep a schedule from replaying.
const finalizer = new FinalizationRegistry<Registration>((r) => unscheduled(releaseCollected, r));

let registrationOf: (h: Handle) => Registration | undefined;

/**
 * Runs what the finalizer does when `handle` is collected unclosed, now: tests cannot
 * time garbage collection. The handle counts as collected afterwards (closed).
 */
export function collectForTesting(handle: Handle): void {
  const registration = registrationOf(handle);
  if (registration !== undefined) releaseCollected(registration);
}

const CLOSED = -1;
const MOVED = -2;

// Node's console.log / util.inspect hook, by its registered symbol: no node: import here.
export const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/**
 * Renders a handle's description: a head such as `Semaphore<2 permits>`, and optionally
 * a body of fields shown after it (`{ value: 3 }`), inspected by Node like any object.
 * A kind calls it while what the body holds is valid (a lock's guard still held).
 */
export type Describe = (head: string, body?: Readonly<Record<string, unknown>>) => string;

type Inspect = (value: unknown, options: object) => string;

/** A body's field for toString(): strings quoted, handles by their own toString(). */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Handle || typeof v !== 'object' || v === null) return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/**
 * A handle's hold on its ref: the owned-table slot that records it (or MOVED, CLOSED)
 * under the table generation the handle was made in, and whether a close is waiting
 * for the handle's last use (PinnedHandle). One object of one shape for every kind:
 * a check through the handle itself (`this.#field` in Handle's code) sees every kind's
 * class and, in a program that uses several, turns megamorphic: a Mutex's lock+unlock
 * measured 78 ns against 29 ns. A kind keeps its handle's RefState in a field of its
 * own and checks it with isOpen(), loads that always see this one shape.
 * @internal
 */
export class RefState {
  closing = false;
  constructor(
    public slot: number,
    readonly generation: number,
  ) {}
}

/** True while a handle may be used: not closed or moved, and made by the thread now running here. @internal */
export function isOpen(r: RefState): boolean {
  return r.slot >= 0 && !r.closing && r.generation === ownedGeneration();
}

/** Base class of every weft primitive's handle. */
export abstract class Handle {
  /** Offset of the object in the shared heap; equal in every thread. @internal */
  readonly offset: number;
  readonly #role: Role;
  readonly #ref: RefState;

  static {
    registrationOf = (h) => {
      const ref = h.#ref;
      if (ref.slot < 0) return undefined;
      const registration = { generation: ref.generation, slot: ref.slot };
      ref.slot = CLOSED;
      finalizer.unregister(h);
      return registration;
    };
  }

  /** Adopts one existing ref (from allocObject, a message, or a retain). */
  protected constructor(offset: number, role: Role = Role.Plain) {
    this.offset = offset;
    this.#role = role;
    const generation = ownedGeneration();
    const r = recorded;
    const a = allocated.get(offset + role);
    let slot: number;
    if (r !== undefined && r.ref === offset + role && r.generation === generation) {
      recorded = undefined;
      slot = r.slot;
    } else if (a !== undefined) {
      allocated.delete(offset + role);
      // An older generation's record was released with its thread's table.
      slot = a.generation === generation ? a.slot : ownedAdd(currentOwnedCell(), offset + role);
    } else {
      slot = ownedAdd(currentOwnedCell(), offset + role);
    }
    this.#ref = new RefState(slot, generation);
    finalizer.register(this, { generation, slot }, this);
  }

  /** False once the thread that made this handle has ended (its refs were released). */
  #owned(): boolean {
    return this.#ref.generation === ownedGeneration();
  }

  /**
   * This handle's hold on its ref, for a kind's hot path to keep in a field of its own
   * and check with isOpen() (see RefState). @internal
   */
  protected get refState(): RefState {
    return this.#ref;
  }

  /** Human name of the handle kind, for error messages. @internal */
  protected abstract get kindName(): string;

  /** Throws if this handle was closed or moved to another thread. */
  protected checkOpen(): void {
    // Kept small (the error is built in #unusable) so that hot paths inline it.
    if (!isOpen(this.#ref)) this.#unusable();
  }

  #unusable(): never {
    const slot = this.#ref.slot;
    throw new TypeError(
      slot === MOVED
        ? `${this.kindName} was moved (passed to spawn, sent, or stored in a value) and cannot be used here` +
          (typeof (this as { clone?: unknown }).clone === 'function' ? '; to keep one here, pass clone() instead' : '')
        : slot === CLOSED || this.#ref.closing ? `${this.kindName} is closed`
        : `${this.kindName} belongs to a thread that has ended`,
    );
  }

  /** True once this handle gave its reference back (closed, moved, or its thread ended). */
  get released(): boolean {
    return !isOpen(this.#ref);
  }

  /**
   * What console.log and toString() show: the kind and what a user cares about of its
   * state (`Mutex<unlocked, poisoned=false> { value: 3 }`), through `render`. Kinds
   * override it; it runs only on an open handle and must not wait.
   * @internal
   */
  protected describe(render: Describe): string {
    return render(this.kindName);
  }

  #describeWith(render: Describe): string {
    if (this.#ref.slot === MOVED) return `${this.kindName} <moved>`;
    if (this.#ref.slot === CLOSED || this.#ref.closing) return `${this.kindName} <closed>`;
    if (!this.#owned()) return `${this.kindName} <of an ended thread>`;
    try {
      return this.describe(render);
    } catch {
      return this.kindName; // e.g. its object was freed under a stale handle
    }
  }

  /** The handle as text: its kind and state, e.g. `Receiver<7 queued>`, `AtomicI32(5)`. */
  toString(): string {
    return this.#describeWith((head, body) =>
      body === undefined ? head : `${head} { ${Object.entries(body).map(([k, v]) => `${k}: ${show(v)}`).join(', ')} }`,
    );
  }

  /** How Node's console.log and util.inspect show the handle: toString() with the body inspected. */
  [inspectCustom](depth: number, options: object, inspect?: Inspect): string {
    return this.#describeWith((head, body) =>
      body === undefined || depth < 0 || typeof inspect !== 'function' ? head : `${head} ${inspect(body, options)}`,
    );
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
    const slot = this.#ref.slot;
    if (slot < 0) return;
    this.#ref.slot = CLOSED;
    finalizer.unregister(this);
    if (this.#owned()) forget(slot);
  }

  /**
   * Does what sharing this handle needs that may wait or run user code (a LazyLock
   * forces its value), before the kill-safe section in which shareRef() runs.
   * @internal
   */
  prepareShare(): void {}

  /**
   * Makes a ref to put in a message: by default a new plain reference. Kinds override
   * this to clone with a role (Sender) or to move (Receiver, see moveRef()).
   * Called only once the message is sure to be written.
   * @internal
   */
  shareRef(): number {
    this.checkOpen();
    return cloneRef(this.offset + this.#role);
  }

  /** Hands this handle's own ref over to a message; the handle becomes unusable. */
  protected moveRef(): number {
    this.checkOpen();
    const slot = this.#ref.slot;
    this.#ref.slot = MOVED;
    finalizer.unregister(this);
    return ownedRemove(thisThreadCell(), slot);
  }

  /**
   * Takes back `ref`, which moveRef() handed from this handle to a message that was not
   * delivered: records it in this thread's table again, so the handle is usable as if it
   * had never been passed. False, with nothing changed, if this handle did not move that
   * ref (it shares, or has it back already) or its record finds no room (heap full).
   * Call in the kill-safe section that takes the ref out of the message.
   * @internal
   */
  restoreRef(ref: number): boolean {
    const r = this.#ref;
    if (r.slot !== MOVED || ref !== this.offset + this.#role || !this.#owned()) return false;
    try {
      r.slot = ownedAdd(currentOwnedCell(), ref);
    } catch (e) {
      if (e instanceof RangeError) return false;
      throw e;
    }
    finalizer.register(this, { generation: r.generation, slot: r.slot }, this);
    return true;
  }
}
