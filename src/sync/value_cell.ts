// The value a lock protects: a stored value (codec bytes + handle refs) in the heap,
// referenced from one i32 field of the lock. Guards decode it on first access and
// write it back on release, so in-place changes to objects persist.
//
// Handles inside the value (codec/stored.ts has the rule): the handles a guard decoded
// are borrowed, each with a ref of its own, valid while the guard is held; the guard
// gives those refs back when it releases, whether or not it writes back. A write-back
// carries the block's refs of the handles still in the value over into the new block,
// so they stay alive across any number of lock cycles; a handle no longer in the value
// (replaced, removed) is released exactly then. To keep a handle beyond the guard,
// clone() it (endpoints) or pass it on (spawn, send) while the guard is held.

import { codecs } from '../codec/index.ts';
import { Carry, dropValue, loadValue, releaseDecoded, storeValue, type Decoded } from '../codec/stored.ts';
import { heap } from '../heap/heap.ts';
import { allocObject } from '../heap/handle.ts';
import { exchange, load, store } from '../wait/futex.ts';

/**
 * Allocates an object of `kind` whose i32 field `field` holds `value`, encoded first:
 * an unencodable value or a full heap throws with nothing left behind.
 */
export function allocWithValue(kind: number, bodyBytes: number, field: number, value: unknown): number {
  const v = value === undefined ? 0 : storeValue(codecs.structured, value);
  let p: number;
  try {
    p = allocObject(kind, bodyBytes);
  } catch (e) {
    if (v !== 0) dropValue(v);
    throw e;
  }
  store(heap().i32, (p >> 2) + field, v);
  return p;
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
  const p = value === undefined ? 0 : storeValue(codecs.structured, value);
  const old = exchange(heap().i32, at, p);
  if (old !== 0) dropValue(old);
}

/** Empties field `at`, releasing the value's handles. */
export function dropCell(at: number): void {
  const old = exchange(heap().i32, at, 0);
  if (old !== 0) dropValue(old);
}

/** Takes the value out of field `at`, leaving it empty: its handles' refs move into the result. */
export function takeCell<T>(at: number): T {
  const p = exchange(heap().i32, at, 0);
  return (p === 0 ? undefined : loadValue(codecs.structured, p, true)) as T;
}

/**
 * The guard side: lazily decoded value, written back on release when it was touched.
 * The caller holds the lock (exclusively, for flush()) while it uses this.
 */
export class GuardValue<T> {
  #loaded = false;
  #value: T | undefined;
  readonly #decoded: Decoded = [];

  constructor(private readonly at: number) {}

  get(): T {
    if (!this.#loaded) {
      const p = load(heap().i32, this.at);
      this.#value = (p === 0 ? undefined : loadValue(codecs.structured, p, false, this.#decoded)) as T;
      this.#loaded = true;
    }
    return this.#value as T;
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
    if (!this.#loaded) return;
    const v = this.#value;
    this.#loaded = false;
    this.#value = undefined;
    try {
      const i = heap().i32;
      const old = load(i, this.at);
      if (v === undefined && old === 0) return;
      const carry = old === 0 ? undefined : new Carry(old, this.#decoded);
      const p = v === undefined ? 0 : storeValue(codecs.structured, v, carry);
      if (p === old) return; // encodes to what is there: nothing to swap
      // Swap first, drop after: the field never names a freed block.
      exchange(i, this.at, p);
      if (old !== 0) dropValue(old, carry?.carried);
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
