// The value a lock protects: a stored value (codec bytes + handle refs) in the heap,
// referenced from one i32 field of the lock. Guards decode it on first access and
// write it back on release, so in-place changes to objects persist.

import { codecs } from '../codec/index.ts';
import { dropValue, loadValue, storeValue } from '../codec/stored.ts';
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

export function dropCell(at: number): void {
  const old = exchange(heap().i32, at, 0);
  if (old !== 0) dropValue(old);
}

/**
 * The guard side: lazily decoded value, written back on release when it was touched.
 * `release` runs the lock's own unlock; a failed write-back still unlocks, then throws.
 */
export class GuardValue<T> {
  #loaded = false;
  #value: T | undefined;

  constructor(private readonly at: number) {}

  get(): T {
    if (!this.#loaded) {
      this.#value = readCell<T>(this.at);
      this.#loaded = true;
    }
    return this.#value as T;
  }

  set(v: T): void {
    this.#value = v;
    this.#loaded = true;
  }

  /** Writes the value back if it was read or set; forgets it either way. */
  flush(): void {
    if (!this.#loaded) return;
    const v = this.#value;
    this.#loaded = false;
    this.#value = undefined;
    if (v === undefined && load(heap().i32, this.at) === 0) return;
    writeCell(this.at, v);
  }

  /** Forgets the decoded value without writing it (read guards, poisoned releases). */
  forget(): void {
    this.#loaded = false;
    this.#value = undefined;
  }
}
