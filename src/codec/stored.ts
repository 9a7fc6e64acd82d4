// A value kept in the heap: [byte length, ref count, refs..., bytes...]. Used where a
// value outlives the call that made it (join results, spawn arguments, Mutex and
// OnceLock values). The refs are counted references to handles inside the value,
// so the block can be dropped without decoding it.
//
// Lock values are decoded and written back many times while their handles stay in
// them. The rule that keeps every count exact without garbage collection:
// - a non-taking decode gives each handle a ref of its own (a clone of the block's),
//   recorded in a `Decoded` list; whoever decoded gives those back with
//   releaseDecoded() when the borrow ends (a guard's release);
// - a write-back (`Carry`) that meets a handle decoded from the block it replaces takes
//   that block's ref over as it is, and the old block is then dropped without it. A
//   handle that stays in the value never has its count lowered, so an endpoint count
//   never touches zero; a handle that left the value loses the block's ref right then.

import { alloc, free } from '../heap/alloc.ts';
import { heap, heapCovering } from '../heap/heap.ts';
import { adoptRef, cloneHandle, releaseRef, type Handle } from '../heap/handle.ts';
import { load, store } from '../wait/futex.ts';
import { decodeRange, encodeWith, type Codec } from './codec.ts';

/** The handles a non-taking loadValue() made, by index in the block; each owns a ref of its own. */
export type Decoded = Array<Handle | undefined>;

/** Gives back the refs of decoded handles (closing each; one moved away is already given). */
export function releaseDecoded(decoded: Decoded): void {
  for (const h of decoded) h?.[Symbol.dispose](); // drops the ref only: close() of some kinds (Semaphore) acts on the object
  decoded.length = 0;
}

/**
 * A write-back replacing the block at `from`, whose handles were decoded into `decoded`.
 * After storeValue(), `carried[k]` says that the new block took over ref k of `from`:
 * drop `from` with dropValue(from, carried).
 */
export class Carry {
  readonly carried: boolean[] = [];
  constructor(
    readonly from: number,
    readonly decoded: Decoded,
  ) {}
}

/**
 * Encodes `value` into a new heap block and returns its offset. Throws (TypeError for
 * unencodable values, RangeError when the heap is full) with nothing changed. With
 * `carry`, returns `carry.from` itself when the value encodes to exactly what it holds.
 */
export function storeValue<T>(codec: Codec<T>, value: T, carry?: Carry): number {
  const handles: Handle[] = [];
  return storeEncoded(encodeWith(codec, value, handles), handles, carry);
}

/** Stores bytes a codec produced, with counted refs to the handles it met. */
export function storeEncoded(bytes: Uint8Array, handles: Handle[], carry?: Carry): number {
  const n = handles.length;
  // For each handle, the index of the ref it takes over from carry.from, or -1.
  const from: number[] = new Array<number>(n).fill(-1);
  if (carry) {
    const claimed: boolean[] = [];
    for (let k = 0; k < n; k++) {
      const j = carry.decoded.indexOf(handles[k]);
      if (j >= 0 && !claimed[j]) {
        claimed[j] = true;
        from[k] = j;
      }
    }
    if (holdsExactly(carry.from, bytes, from)) {
      for (let k = 0; k < n; k++) carry.carried[k] = true;
      return carry.from;
    }
  }
  // A closed handle's shareRef() throws its TypeError before any side effect. A carried
  // one may have been closed by its user: the block's own ref is still good.
  for (let k = 0; k < n; k++) if (from[k] < 0 && handles[k].released) handles[k].shareRef();
  const p = alloc(8 + 4 * n + bytes.length, false);
  const h = heapCovering(p + 8 + 4 * n + bytes.length);
  store(h.i32, p >> 2, bytes.length);
  store(h.i32, (p >> 2) + 1, n);
  // The bytes first: an encoder may reuse its buffer, and taking a ref can run code
  // that encodes (a LazyLock forces itself). Refs last, once nothing else can fail.
  h.u8.set(bytes, p + 8 + 4 * n);
  const src = carry ? carry.from >> 2 : 0;
  for (let k = 0; k < n; k++) {
    const j = from[k];
    store(h.i32, (p >> 2) + 2 + k, j >= 0 ? load(h.i32, src + 2 + j) : handles[k].shareRef());
  }
  if (carry) for (const j of from) if (j >= 0) carry.carried[j] = true;
  return p;
}

/** Whether block `p` holds `bytes` with its own refs in order (`from[k] === k`). */
function holdsExactly(p: number, bytes: Uint8Array, from: number[]): boolean {
  const h = heap();
  if (load(h.i32, p >> 2) !== bytes.length || load(h.i32, (p >> 2) + 1) !== from.length) return false;
  for (let k = 0; k < from.length; k++) if (from[k] !== k) return false;
  const start = p + 8 + 4 * from.length;
  const u8 = heapCovering(start + bytes.length).u8;
  for (let k = 0; k < bytes.length; k++) if (u8[start + k] !== bytes[k]) return false;
  return true;
}

/**
 * Decodes the value at `p`. With `take`, the block's refs move into the new handles
 * and the block is freed; otherwise the block stays and each handle gets its own ref,
 * recorded in `decoded` when given (see releaseDecoded()).
 */
export function loadValue<T>(codec: Codec<T>, p: number, take: boolean, decoded?: Decoded): T {
  const h = heap();
  const len = load(h.i32, p >> 2);
  const n = load(h.i32, (p >> 2) + 1);
  const refAt = (k: number) => load(h.i32, (p >> 2) + 2 + k);
  const made: Decoded = decoded ?? [];
  const handle = (k: number): Handle => {
    if (!(k >= 0 && k < n)) throw new TypeError(`stored value: handle index ${k} out of range`);
    let x = made[k];
    if (!x) {
      const ref = refAt(k);
      x = made[k] = take ? adoptRef(ref) : cloneHandle(ref);
    }
    return x;
  };
  const start = p + 8 + 4 * n;
  let value: T;
  try {
    value = decodeRange(codec, heapCovering(start + len).u8, start, start + len, handle);
  } catch (e) {
    // A decoder that failed midway: the refs it took are given back now, not at GC.
    if (!take) releaseDecoded(made);
    throw e;
  }
  if (take) {
    // Refs the decoder did not ask for still have to be given back.
    for (let k = 0; k < n; k++) if (!made[k]) releaseRef(refAt(k));
    free(p);
  }
  return value;
}

/** Drops a stored value without decoding it: releases its refs (all but the carried ones) and frees the block. */
export function dropValue(p: number, carried?: readonly boolean[]): void {
  const h = heap();
  const n = load(h.i32, (p >> 2) + 1);
  for (let k = 0; k < n; k++) if (!carried?.[k]) releaseRef(load(h.i32, (p >> 2) + 2 + k));
  free(p);
}
