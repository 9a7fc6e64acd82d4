// Lock-free allocator over the shared heap: power-of-two size classes, one Treiber
// free list per class, and a bump pointer for fresh memory that grows the buffer.
//
// Lock-free on purpose: a worker can be terminated at any instruction, and a lock
// held by a dead thread would stop every allocation in the process. Here a thread
// killed mid-operation leaks at most the one block it was taking.
//
// Each block starts with an 8-byte header: [size class, state]. Free-list heads are
// 64-bit words (tag << 32 | offset); the tag changes on every successful CAS, so a
// block popped and pushed back meanwhile (ABA) cannot be mistaken for the old head.

import { heap, ensureLength, type Heap } from './heap.ts';
import { FREE_LISTS_BYTE, I_LIVE_BYTES, I_MAX, I_TOP, SIZE_CLASSES } from './layout.ts';
import { add, cas, cas64, load, load64, store } from '../wait/futex.ts';

const HEADER = 8;
const MIN_BLOCK = 16;
const STATE_FREE = 0x0f4ee;
const STATE_USED = 0x05ed;
const TAG_ONE = 1n << 32n;
const OFFSET_MASK = 0xffffffffn;

function sizeClass(bytes: number): number {
  const need = Math.max(MIN_BLOCK, bytes + HEADER);
  return Math.max(0, 32 - Math.clz32(need - 1) - 4);
}

export function blockSize(cls: number): number {
  return MIN_BLOCK << cls;
}

function heapFull(h: Heap, bytes: number): RangeError {
  const max = load(h.i32, I_MAX);
  return new RangeError(
    `weft heap is full: cannot allocate ${bytes} bytes (heap limit ${max} bytes). ` +
      'Raise the limit with configure({ maxHeapBytes }) before weft is first used, or release handles and messages you no longer need.',
  );
}

/**
 * Allocates at least `bytes` bytes and returns the block's offset (8-byte aligned).
 * The memory is zeroed unless `zero` is false. Throws RangeError when the heap is full;
 * nothing is changed then.
 */
export function alloc(bytes: number, zero = true): number {
  if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new RangeError(`alloc: invalid size ${bytes}`);
  const h = heap();
  const cls = sizeClass(bytes);
  if (cls >= SIZE_CLASSES) throw heapFull(h, bytes);
  let block = pop(h, cls);
  if (block === 0) {
    try {
      block = bump(h, blockSize(cls), bytes);
    } catch (full) {
      // The buffer is at its limit, but a free block of a larger class still serves
      // (whole: it goes back to its own list when freed). Only then is the heap full.
      for (let larger = cls + 1; block === 0 && larger < SIZE_CLASSES; larger++) block = pop(h, larger);
      if (block === 0) throw full;
    }
  }
  const size = blockSize(load(h.i32, block >> 2));
  const p = block + HEADER;
  store(h.i32, (block >> 2) + 1, STATE_USED);
  if (zero) h.u8.fill(0, p, block + size);
  add(h.i32, I_LIVE_BYTES, size);
  return p;
}

/** Takes a block off the free list of class `cls`, or returns 0. */
function pop(h: Heap, cls: number): number {
  const head = FREE_LISTS_BYTE / 8 + cls;
  for (;;) {
    const old = load64(h.i64, head);
    const off = Number(old & OFFSET_MASK);
    if (off === 0) return 0;
    // `off` may be popped and reused by another thread before our CAS; then the tag
    // has moved on and the CAS fails, so reading a stale `next` here is harmless.
    const next = load(h.i32, (off + HEADER) >> 2);
    const tag = (old & ~OFFSET_MASK) + TAG_ONE;
    if (cas64(h.i64, head, old, tag | BigInt(next >>> 0)) === old) return off;
  }
}

function bump(h: Heap, size: number, requested: number): number {
  const max = load(h.i32, I_MAX);
  for (;;) {
    const top = load(h.i32, I_TOP);
    const end = top + size;
    if (end > max || end > 2 ** 31 - 1) throw heapFull(h, requested);
    if (cas(h.i32, I_TOP, top, end) === top) {
      ensureLength(h, end);
      store(h.i32, top >> 2, sizeClass(size - HEADER));
      return top;
    }
  }
}

/** Returns a block from alloc() to its free list. Freeing twice throws. */
export function free(p: number): void {
  const h = heap();
  const block = p - HEADER;
  if ((block & 7) !== 0 || block < 0) throw new Error(`free: ${p} is not a heap block`);
  if (cas(h.i32, (block >> 2) + 1, STATE_USED, STATE_FREE) !== STATE_USED) {
    throw new Error(`free: block at ${p} is not allocated (double free?)`);
  }
  const cls = load(h.i32, block >> 2);
  add(h.i32, I_LIVE_BYTES, -blockSize(cls));
  const head = FREE_LISTS_BYTE / 8 + cls;
  for (;;) {
    const old = load64(h.i64, head);
    store(h.i32, p >> 2, Number(old & OFFSET_MASK));
    const tag = (old & ~OFFSET_MASK) + TAG_ONE;
    if (cas64(h.i64, head, old, tag | BigInt(block)) === old) return;
  }
}

/** Usable bytes of the block at `p` (at least what was asked of alloc). */
export function usableSize(p: number): number {
  const h = heap();
  return blockSize(load(h.i32, (p - HEADER) >> 2)) - HEADER;
}

export interface HeapStats {
  /** Current length of the shared buffer. */
  byteLength: number;
  /** Largest length it may grow to. */
  maxByteLength: number;
  /** Bytes ever carved from the buffer (free blocks are reused before this grows). */
  reserved: number;
  /** Bytes in blocks currently allocated. */
  live: number;
}

export function heapStats(): HeapStats {
  const h = heap();
  return {
    byteLength: h.sab.byteLength,
    maxByteLength: load(h.i32, I_MAX),
    reserved: load(h.i32, I_TOP),
    live: load(h.i32, I_LIVE_BYTES),
  };
}
