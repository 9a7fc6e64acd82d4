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
//
// Messages pass through a thread's hands as blocks: encoded but not yet published, or
// taken from a channel but not yet decoded. Kill safety (thread/critical.ts) needs every
// ref to sit in exactly one place the runtime can see at any instruction, so such a
// block is `Held`: recorded in the thread's owned table (Role.Value) in the kill-safe
// section that fills it with refs, forgotten in the one that publishes it, and emptied
// ref by ref (each adoption and the clearing of its slot in one section) when decoded.
//
// A message that is not delivered after all (a rendezvous offer withdrawn, a receiver
// gone) is given back rather than decoded: its block remembers the handles it was
// encoded from, and returnHeld() puts each moved endpoint's ref back into the very
// handle it came from, so the caller's objects work again as if never passed.

import { alloc, free } from '../heap/alloc.ts';
import { heap, heapCovering } from '../heap/heap.ts';
import { adoptRef, cloneHandle, currentOwnedCell, releaseRef, Role, type Handle } from '../heap/handle.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
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

/** A stored value in this thread's hands, recorded at `entry` of its owned table (-1: not recorded, it is where it belongs). */
export class Held {
  constructor(
    readonly p: number,
    readonly entry: number,
    /**
     * Refs carried over from the block this one replaces, as [index, ref]: until the
     * swap they belong to the old block, so they are written into this one only by
     * forgetHeld(), in the section that swaps the blocks (a kill before it drops this
     * block without them).
     */
    readonly pending: ReadonlyArray<readonly [number, number]> = [],
    /** The handles the value was encoded from, by index in the block (messages: see returnHeld()). */
    readonly from?: readonly Handle[],
  ) {}
}

/** Stores bytes a codec produced, with counted refs to the handles it met. */
export function storeEncoded(bytes: Uint8Array, handles: Handle[], carry?: Carry): number {
  return storeBlock(bytes, handles, carry, false) as number;
}

/**
 * Like storeValue(), recording the block as held by this thread (see Held) until it is
 * published. Without `carry`, the block remembers the handles it came from, so a value
 * refused after all (a OnceCell set that lost its claim) can be given back with returnHeld().
 */
export function storeValueHeld<T>(codec: Codec<T>, value: T, carry?: Carry): Held {
  const handles: Handle[] = [];
  const bytes = encodeWith(codec, value, handles);
  return carry ? (storeBlock(bytes, handles, carry, true) as Held) : storeHeld(bytes, handles);
}

/** Like storeEncoded(), recording the block as held by this thread (see Held), with the handles it came from. */
export function storeHeld(bytes: Uint8Array, handles: Handle[]): Held {
  const held = storeBlock(bytes, handles, undefined, true) as Held;
  return handles.length === 0 ? held : new Held(held.p, held.entry, held.pending, handles);
}

/** Forgets a held block: call in the kill-safe section that publishes it where another thread can find it. */
export function forgetHeld(held: Held): void {
  const i = heap().i32;
  for (const [k, ref] of held.pending) store(i, (held.p >> 2) + 2 + k, ref);
  if (held.entry >= 0) ownedRemove(currentOwnedCell(), held.entry);
}

/** Records a block this thread has just taken over: call in the kill-safe section that takes it. */
export function holdTaken(p: number): Held {
  return new Held(p, ownedAdd(currentOwnedCell(), p + Role.Value));
}

/**
 * Records a published block this thread has just taken back (a withdrawn offer), keeping
 * the handles it came from: call in the kill-safe section that takes it back.
 */
export function holdAgain(held: Held): Held {
  return new Held(held.p, ownedAdd(currentOwnedCell(), held.p + Role.Value), held.pending, held.from);
}

/**
 * Gives an undelivered held message or refused value (storeHeld(), or storeValueHeld()
 * without a carry: no carried refs) back to the handles it was encoded from and frees it:
 * each endpoint's ref that the encoding moved out of its handle goes back into that
 * handle, usable again; a ref the encoding took besides (a shared primitive's clone; a
 * handle whose record finds no room) is released. One kill-safe section, so a kill
 * leaves every ref either in the block (held: the runtime drops it) or where it goes.
 */
export function returnHeld(held: Held): void {
  enterCritical();
  try {
    // The block's record goes first: its slot in the table is then free for a ref going
    // back, so a table that cannot grow (heap full, the very reason a value may be
    // refused) still takes back every ref the encoding moved out of it.
    forgetHeld(held);
    const n = load(heap().i32, (held.p >> 2) + 1);
    for (let k = 0; k < n; k++) {
      const at = (held.p >> 2) + 2 + k;
      const ref = load(heap().i32, at);
      if (ref === 0) continue;
      if (held.from?.[k]?.restoreRef(ref) !== true) releaseRef(ref);
      store(heap().i32, at, 0);
    }
    dropValue(held.p);
  } finally {
    leaveCritical();
  }
}

/** Drops a held block undelivered. */
export function dropHeld(held: Held): void {
  enterCritical();
  try {
    forgetHeld(held);
    dropValue(held.p);
  } finally {
    leaveCritical();
  }
}

function storeBlock(bytes: Uint8Array, handles: Handle[], carry: Carry | undefined, hold: boolean): number | Held {
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
      return hold ? new Held(carry.from, -1) : carry.from; // a block already in place: nothing to hold
    }
  }
  // A closed handle's shareRef() throws its TypeError before any side effect. A carried
  // one may have been closed by its user: the block's own ref is still good.
  for (let k = 0; k < n; k++) if (from[k] < 0 && handles[k].released) handles[k].shareRef();
  // What may wait or run code (a LazyLock forcing itself) runs first. It may encode, so
  // the bytes, maybe the encoder's reused buffer, are copied out of its way.
  if (n > 0) bytes = bytes.slice();
  for (let k = 0; k < n; k++) if (from[k] < 0) handles[k].prepareShare();
  // The block, the refs taken into it (a moved handle's ref leaves this thread's table
  // here) and, when held, its record: one kill-safe section, so a kill leaves each ref
  // in the table or in a recorded block.
  enterCritical();
  try {
    const p = alloc(8 + 4 * n + bytes.length, false);
    const h = heapCovering(p + 8 + 4 * n + bytes.length);
    store(h.i32, p >> 2, bytes.length);
    store(h.i32, (p >> 2) + 1, n);
    h.u8.set(bytes, p + 8 + 4 * n);
    const src = carry ? carry.from >> 2 : 0;
    const pending: Array<[number, number]> = [];
    for (let k = 0; k < n; k++) {
      const j = from[k];
      let ref = j >= 0 ? load(h.i32, src + 2 + j) : handles[k].shareRef();
      if (j >= 0 && hold) {
        pending.push([k, ref]); // still the old block's until the swap (see Held.pending)
        ref = 0;
      }
      store(h.i32, (p >> 2) + 2 + k, ref);
    }
    if (carry) for (const j of from) if (j >= 0) carry.carried[j] = true;
    if (!hold) return p;
    const held = holdTaken(p);
    return pending.length === 0 ? held : new Held(p, held.entry, pending);
  } finally {
    leaveCritical();
  }
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
  return take ? takeBlock(codec, p, -1) : readBlock(codec, p, decoded ?? []);
}

/** Decodes a held block, taking its refs (see Held), and frees it. */
export function loadHeld<T>(codec: Codec<T>, held: Held): T {
  return takeBlock(codec, held.p, held.entry);
}

function readBlock<T>(codec: Codec<T>, p: number, made: Decoded): T {
  const n = load(heap().i32, (p >> 2) + 1);
  const handle = (k: number): Handle => {
    checkIndex(k, n);
    return (made[k] ??= cloneHandle(load(heap().i32, (p >> 2) + 2 + k)));
  };
  try {
    return decodeBlock(codec, p, handle);
  } catch (e) {
    // A decoder that failed midway: the refs it took are given back now, not at GC.
    releaseDecoded(made);
    throw e;
  }
}

/**
 * Decodes block `p` taking its refs: each adoption clears the ref's place in the block
 * in the same kill-safe section, so a kill leaves it in the block or in the new
 * handle, never both. Refs the decoder did not ask for are given back, and the block
 * freed (and, held at `entry`, forgotten), even when decoding fails.
 */
function takeBlock<T>(codec: Codec<T>, p: number, entry: number): T {
  const n = load(heap().i32, (p >> 2) + 1);
  const made: Decoded = [];
  const handle = (k: number): Handle => {
    checkIndex(k, n);
    let x = made[k];
    if (!x) {
      enterCritical();
      try {
        const i = heap().i32;
        x = made[k] = adoptRef(load(i, (p >> 2) + 2 + k));
        store(i, (p >> 2) + 2 + k, 0);
      } finally {
        leaveCritical();
      }
    }
    return x;
  };
  try {
    return decodeBlock(codec, p, handle);
  } catch (e) {
    releaseDecoded(made);
    throw e;
  } finally {
    enterCritical();
    try {
      if (entry >= 0) ownedRemove(currentOwnedCell(), entry);
      dropValue(p);
    } finally {
      leaveCritical();
    }
  }
}

function checkIndex(k: number, n: number): void {
  if (!(k >= 0 && k < n)) throw new TypeError(`stored value: handle index ${k} out of range`);
}

function decodeBlock<T>(codec: Codec<T>, p: number, handle: (k: number) => Handle): T {
  const len = load(heap().i32, p >> 2);
  const start = p + 8 + 4 * load(heap().i32, (p >> 2) + 1);
  return decodeRange(codec, heapCovering(start + len).u8, start, start + len, handle);
}

/**
 * Drops a stored value without decoding it: releases its refs (all but the carried
 * ones, and those a taking decode already moved out: 0) and frees the block.
 */
export function dropValue(p: number, carried?: readonly boolean[]): void {
  const n = load(heap().i32, (p >> 2) + 1);
  for (let k = 0; k < n; k++) {
    const ref = load(heap().i32, (p >> 2) + 2 + k);
    if (ref !== 0 && !carried?.[k]) releaseRef(ref);
  }
  free(p);
}
