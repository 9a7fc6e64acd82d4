// The value a lock protects, in one i32 field of the lock (its *tag*) and, for a
// lock's cell, the IN_PLACE_BYTES after it (its *payload*).
//
// Stored cells (OnceLock, OnceCell) hold the offset of a stored value (codec bytes +
// handle refs, codec/stored.ts), or 0 for undefined. Lock cells (Mutex, RwLock) also
// keep the common small values in place, so that `g.value++` on a Mutex<number>
// costs a few loads and stores instead of a codec round trip. The tag's low 3 bits
// say which (heap offsets are 8-aligned, so an offset has them clear):
//
//   tag            value                  payload
//   0              undefined              -
//   offset         a stored value         -
//   1              null                   -
//   2 | b << 3     boolean b              -
//   3              number (any f64)       f64: -0 and NaN kept
//   4              bigint in 64 bits      i64
//   5 | n << 3     string of n <= 16      UTF-16 code units, two per u32 (lone surrogates kept)
//
// Everything else (objects, longer strings, larger bigints) is stored. The payload is
// read and written with plain accesses: only the lock's holder touches it, and the
// lock word's atomic operations order those accesses between holders.
//
// Guards decode a stored value on first access (once per lock) and write it back on
// release if it was read or assigned, so in-place changes to objects persist. An
// in-place value is read from the cell (nothing to decode); one assigned is kept by
// the guard and written at the release, like any write-back (a thread that ends
// holding the guard changes nothing, and a value's handles leave it exactly at the
// unlock).
//
// Handles inside the value (codec/stored.ts has the rule): the handles a guard decoded
// are borrowed, each with a ref of its own, valid while the guard is held; the guard
// gives those refs back when it releases, whether or not it writes back. A write-back
// carries the block's refs of the handles still in the value over into the new block,
// so they stay alive across any number of lock cycles; a handle no longer in the value
// (replaced, removed) is released exactly then. To keep a handle beyond the guard,
// clone() it (endpoints) or pass it on (spawn, send) while the guard is held.

import { codecs } from '../codec/index.ts';
import {
  Carry, dropValue, forgetHeld, holdTaken, loadHeld, loadValue, releaseDecoded, returnHeld, storeValueHeld, type Decoded, type Held,
} from '../codec/stored.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { heap, heapCovering, type Heap } from '../heap/heap.ts';
import { allocOwned, Role } from '../heap/handle.ts';
import { exchange, load, store } from '../wait/futex.ts';

/**
 * Allocates an object of `kind` whose i32 field `field` holds `value`, encoded first:
 * an unencodable value or a full heap throws with nothing left behind.
 */
export function allocWithValue(kind: number, bodyBytes: number, field: number, value: unknown, role: Role = Role.Plain): number {
  const held = value === undefined ? undefined : storeValueHeld(codecs.structured, value);
  try {
    // The value moves from this thread's hands into the object as the object is
    // allocated and recorded: one kill-safe section (see allocOwned()).
    return allocOwned(kind, bodyBytes, role, (p) => {
      store(heap().i32, (p >> 2) + field, held?.p ?? 0);
      if (held) forgetHeld(held);
    });
  } catch (e) {
    // Refused (heap full): the value is the caller's again, the endpoints the encoding
    // moved back in its own handles (returnHeld()).
    if (held) returnHeld(held);
    throw e;
  }
}

/**
 * Decodes the content of field `at`. Its handles own refs of their own, given back
 * when they are closed (or, for a value cached for a handle's lifetime, at GC).
 */
export function readCell<T>(at: number): T {
  const p = load(heap().i32, at);
  return (p === 0 ? undefined : loadValue(codecs.structured, p, false)) as T;
}

/** Replaces the content of field `at`. Throws (TypeError, RangeError) with the old value kept. */
export function writeCell(at: number, value: unknown): void {
  swapIn(at, value === undefined ? undefined : storeValueHeld(codecs.structured, value));
}

/**
 * Puts the held block `held` (or nothing) into field `at` and drops the old one, in one
 * kill-safe section: a kill leaves every value and the handles in it in exactly one
 * place the runtime can see (the field, this thread's table).
 */
function swapIn(at: number, held: Held | undefined, isBlock = (old: number) => old !== 0, carried?: readonly boolean[]): void {
  enterCritical();
  try {
    const old = exchange(heap().i32, at, held?.p ?? 0);
    if (held) forgetHeld(held);
    if (isBlock(old)) dropValue(old, carried);
  } finally {
    leaveCritical();
  }
}

/** Empties field `at`, releasing the value's handles. */
export function dropCell(at: number): void {
  swapIn(at, undefined);
}

/** Takes the value out of field `at`, leaving it empty: its handles' refs move into the result. */
export function takeCell<T>(at: number): T {
  let held: Held | undefined;
  enterCritical();
  try {
    const p = exchange(heap().i32, at, 0);
    if (p !== 0) held = holdTaken(p);
  } finally {
    leaveCritical();
  }
  return (held === undefined ? undefined : loadHeld(codecs.structured, held)) as T;
}

// ---- Lock cells: small values in place -------------------------------------------

/** Bytes of a lock cell's payload, right after its tag (which sits 4 bytes before an 8-aligned offset). */
export const IN_PLACE_BYTES = 32;
/** Longest string (in UTF-16 code units) a lock keeps in place; longer ones are stored. */
export const IN_PLACE_CHARS = IN_PLACE_BYTES >> 1;

const STORED = 0, NULL = 1, BOOLEAN = 2, NUMBER = 3, BIGINT = 4, STRING = 5;
const KIND_BITS = 7;

/** What peek() returns for a cell whose value is stored, not in place. */
export const ENCODED: unique symbol = Symbol('encoded');

/** The in-place kind `v` would take, or -1 if it must be stored. `undefined` is STORED with tag 0. */
function inPlaceKind(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return NUMBER;
    case 'boolean':
      return BOOLEAN;
    case 'undefined':
      return STORED;
    case 'string':
      return v.length <= IN_PLACE_CHARS ? STRING : -1;
    case 'bigint':
      return BigInt.asIntN(64, v) === v ? BIGINT : -1;
    case 'object':
      return v === null ? NULL : -1;
    default:
      return -1;
  }
}

/** True if the tag names a stored block (not empty, not in place). */
const isStoredBlock = (tag: number): boolean => tag !== 0 && (tag & KIND_BITS) === STORED;

/** Writes `v`, of in-place kind `kind`, into the cell whose tag is at i32 index `at`: payload first, then tag. */
function writeInPlace(h: Heap, at: number, v: unknown, kind: number): void {
  switch (kind) {
    case STORED: // undefined
      h.i32[at] = 0;
      return;
    case NULL:
      h.i32[at] = NULL;
      return;
    case BOOLEAN:
      h.i32[at] = BOOLEAN | ((v as boolean) ? 8 : 0);
      return;
    case NUMBER:
      h.f64[(at + 1) >> 1] = v as number;
      h.i32[at] = NUMBER;
      return;
    case BIGINT:
      h.i64[(at + 1) >> 1] = v as bigint;
      h.i32[at] = BIGINT;
      return;
    default: {
      const s = v as string;
      const n = s.length;
      for (let k = 0, w = at + 1; k < n; k += 2, w++) h.u32[w] = s.charCodeAt(k) | ((k + 1 < n ? s.charCodeAt(k + 1) : 0) << 16);
      h.i32[at] = STRING | (n << 3);
    }
  }
}

/** The value in place in the cell whose tag is `tag`, at i32 index `at`. */
function readInPlace(h: Heap, at: number, tag: number): unknown {
  switch (tag & KIND_BITS) {
    case NULL:
      return null;
    case BOOLEAN:
      return (tag & 8) !== 0;
    case NUMBER:
      return h.f64[(at + 1) >> 1];
    case BIGINT:
      return h.i64[(at + 1) >> 1];
    default: {
      const n = tag >>> 3;
      let s = '';
      for (let k = 0, w = at + 1; k < n; k += 2, w++) {
        const pair = h.u32[w];
        s += k + 1 < n ? String.fromCharCode(pair & 0xffff, pair >>> 16) : String.fromCharCode(pair & 0xffff);
      }
      return s;
    }
  }
}

/** Fixed-length views covering a lock cell whose tag is at i32 index `at`. */
export const cellViews = (at: number): Heap => heapCovering((at + 1) * 4 + IN_PLACE_BYTES);

/**
 * Allocates an object of `kind` whose lock cell has its tag at i32 field `field` (odd,
 * so the payload after it is 8-aligned) and holds `value`: in place when it can be,
 * else stored first, so an unencodable value or a full heap throws with nothing left behind.
 */
export function allocWithLockValue(kind: number, bodyBytes: number, field: number, value: unknown, role: Role = Role.Plain): number {
  const inPlace = inPlaceKind(value);
  if (inPlace < 0) return allocWithValue(kind, bodyBytes, field, value, role);
  return allocOwned(kind, bodyBytes, role, (p) => writeInPlace(cellViews((p >> 2) + field), (p >> 2) + field, value, inPlace));
}

/**
 * The value of the lock cell at `at` if it is in place (or undefined), else ENCODED.
 * The caller holds the lock.
 */
export function peek(h: Heap, at: number): unknown {
  const tag = h.i32[at];
  if ((tag & KIND_BITS) !== STORED) return readInPlace(h, at, tag);
  return tag === 0 ? undefined : ENCODED;
}

/**
 * Whether `v` can be written with put() into the lock cell at `at`: it is of an
 * in-place kind and the cell holds no stored value (whose handles a write-back must
 * release, see GuardValue).
 */
export function fits(h: Heap, at: number, v: unknown): boolean {
  return !isStoredBlock(h.i32[at]) && inPlaceKind(v) >= 0;
}

/** Writes `v`, which fits(), into the lock cell at `at`. The caller holds the lock exclusively. */
export function put(h: Heap, at: number, v: unknown): void {
  writeInPlace(h, at, v, inPlaceKind(v));
}

/** Empties the lock cell at `at`, releasing a stored value's handles. */
export function dropLockCell(at: number): void {
  const old = exchange(cellViews(at).i32, at, 0);
  if (isStoredBlock(old)) dropValue(old);
}

/** Takes the value out of the lock cell at `at`, leaving it empty: a stored value's handle refs move into the result. */
export function takeLockCell<T>(at: number): T {
  const h = cellViews(at);
  const tag = h.i32[at];
  if (!isStoredBlock(tag)) {
    const v = peek(h, at);
    h.i32[at] = 0;
    return v as T;
  }
  // The block leaves the cell into this thread's hands in one kill-safe section (see Held).
  let held: Held;
  enterCritical();
  try {
    held = holdTaken(exchange(h.i32, at, 0));
  } finally {
    leaveCritical();
  }
  return loadHeld(codecs.structured, held) as T;
}

/**
 * The guard side of a lock cell once a stored value is involved (guards handle an
 * in-place value alone, see fits()): decoded lazily (once), written back on release
 * when it was read or assigned, in place if it fits by then. The caller holds the
 * lock (exclusively, for set() and flush()) while it uses this.
 */
export class GuardValue<T> {
  // True while #value is the value, to be written back at flush() (decoded or assigned).
  #loaded = false;
  #value: T | undefined;
  readonly #decoded: Decoded = [];
  readonly #h: Heap;

  constructor(private readonly at: number) {
    this.#h = cellViews(at);
  }

  get(): T {
    if (this.#loaded) return this.#value as T;
    const tag = this.#h.i32[this.at];
    if (!isStoredBlock(tag)) return peek(this.#h, this.at) as T;
    this.#value = loadValue(codecs.structured, tag, false, this.#decoded) as T;
    this.#loaded = true;
    return this.#value;
  }

  set(v: T): void {
    this.#value = v;
    this.#loaded = true;
  }

  /**
   * Writes the value back if it was read or set, then forgets it and gives back the
   * borrowed handles' refs, whether the write-back succeeded or not. On failure
   * (TypeError for an unsendable value, RangeError for a full heap) the old value stays.
   */
  flush(): void {
    if (!this.#loaded) {
      releaseDecoded(this.#decoded);
      return;
    }
    const v = this.#value;
    this.#loaded = false;
    this.#value = undefined;
    try {
      const i = this.#h.i32;
      const old = i[this.at];
      const kind = inPlaceKind(v);
      if (kind >= 0) {
        // In place now: the old block (if any) goes, with the handles it held, in the
        // same kill-safe section.
        enterCritical();
        try {
          writeInPlace(this.#h, this.at, v, kind);
          if (isStoredBlock(old)) dropValue(old);
        } finally {
          leaveCritical();
        }
        return;
      }
      const carry = isStoredBlock(old) ? new Carry(old, this.#decoded) : undefined;
      const held = storeValueHeld(codecs.structured, v, carry);
      if (held.p === old) {
        forgetHeld(held); // encodes to what is there: nothing to swap
        return;
      }
      // Swap first, drop after: the field never names a freed block.
      swapIn(this.at, held, isStoredBlock, carry?.carried);
    } finally {
      releaseDecoded(this.#decoded);
    }
  }

  /** Forgets the value without writing it (read guards, poisoned releases); gives back the borrowed refs. */
  forget(): void {
    this.#loaded = false;
    this.#value = undefined;
    releaseDecoded(this.#decoded);
  }
}
