// A value kept in the heap: [byte length, ref count, refs..., bytes...]. Used where a
// value outlives the call that made it (join results, spawn arguments, Mutex and
// OnceLock values). The refs are counted references to handles inside the value,
// so the block can be dropped without decoding it.

import { alloc, free } from '../heap/alloc.ts';
import { heap, heapCovering } from '../heap/heap.ts';
import { adoptRef, cloneRef, releaseRef, type Handle } from '../heap/handle.ts';
import { load, store } from '../wait/futex.ts';
import { decodeRange, encodeWith, type Codec } from './codec.ts';

/**
 * Encodes `value` into a new heap block and returns its offset. Throws (TypeError for
 * unencodable values, RangeError when the heap is full) with nothing changed.
 */
export function storeValue<T>(codec: Codec<T>, value: T): number {
  const handles: Handle[] = [];
  return storeEncoded(encodeWith(codec, value, handles), handles);
}

/** Stores bytes a codec produced, with counted refs to the handles it met. */
export function storeEncoded(bytes: Uint8Array, handles: Handle[]): number {
  // A closed handle's shareRef() throws its TypeError before any side effect.
  for (const x of handles) if (x.isClosed) x.shareRef();
  const n = handles.length;
  const p = alloc(8 + 4 * n + bytes.length, false);
  const h = heapCovering(p + 8 + 4 * n + bytes.length);
  store(h.i32, p >> 2, bytes.length);
  store(h.i32, (p >> 2) + 1, n);
  // The bytes first: an encoder may reuse its buffer, and taking a ref can run code
  // that encodes (a LazyLock forces itself). Refs last, once nothing else can fail.
  h.u8.set(bytes, p + 8 + 4 * n);
  for (let k = 0; k < n; k++) store(h.i32, (p >> 2) + 2 + k, handles[k].shareRef());
  return p;
}

/**
 * Decodes the value at `p`. With `take`, the block's refs move into the new handles
 * and the block is freed; otherwise the block stays and each handle gets its own ref.
 */
export function loadValue<T>(codec: Codec<T>, p: number, take: boolean): T {
  const h = heap();
  const len = load(h.i32, p >> 2);
  const n = load(h.i32, (p >> 2) + 1);
  const refAt = (k: number) => load(h.i32, (p >> 2) + 2 + k);
  const made: Array<Handle | undefined> = [];
  const handle = (k: number): Handle => {
    if (!(k >= 0 && k < n)) throw new TypeError(`stored value: handle index ${k} out of range`);
    if (!made[k]) {
      const ref = refAt(k);
      made[k] = adoptRef(take ? ref : cloneRef(ref));
    }
    return made[k];
  };
  const start = p + 8 + 4 * n;
  const value = decodeRange(codec, heapCovering(start + len).u8, start, start + len, handle);
  if (take) {
    // Refs the decoder did not ask for still have to be given back.
    for (let k = 0; k < n; k++) if (!made[k]) releaseRef(refAt(k));
    free(p);
  }
  return value;
}

/** Drops a stored value without decoding it: releases its refs and frees the block. */
export function dropValue(p: number): void {
  const h = heap();
  const n = load(h.i32, (p >> 2) + 1);
  for (let k = 0; k < n; k++) releaseRef(load(h.i32, (p >> 2) + 2 + k));
  free(p);
}
