// Lock-free allocator over the shared heap: a page map for memory of any size and
// per-class free lists for small blocks carved from pages.
//
// - The arena after the runtime block is cut into 4 KiB pages. The page map holds
//   one bit per page (1 = taken). A large block (more than 2 KiB) takes a run of
//   consecutive pages; freeing it clears their bits, so free neighbours coalesce by
//   construction and any run of free pages serves any later size.
// - Small blocks (16 B .. 2 KiB, powers of two, header included) come from pages
//   carved for one size class. Each class has a Treiber free list; the head is a
//   64-bit word (tag << 32 | offset) whose tag changes on every successful CAS, so a
//   block popped and pushed back meanwhile (ABA) cannot be mistaken for the old head.
//   Alloc/free of a small block is one CAS on that head: the fast path.
// - When pages run out, drain() takes every small free list whole, gives back each
//   page all of whose blocks were on it, and puts the rest back. So memory freed as
//   small blocks becomes whole pages again for any size.
//
// Lock-free on purpose: a worker can be terminated at any instruction, and a lock
// held by a dead thread would stop every allocation in the process (a foreign worker's
// death is not even observable). Every shared step here is a single atomic operation
// that leaves the structures consistent; a thread killed between two steps only leaks
// what it held privately at that moment: the block or page run it was taking or
// giving back, or, inside drain(), the free blocks it had taken for sorting.
//
// Each block starts with an 8-byte header: [size, state]. Size is the small class
// (0..7) or minus the number of pages of a large block; state tells allocated from
// free so that freeing twice is caught.

import { ensureLength, heap, heapCovering, type Heap } from './heap.ts';
import {
  FREE_LISTS_BYTE, I_ARENA, I_LIVE_BYTES, I_MAX, I_PAGE_HINT, I_PAGES, I_TOP, PAGE_BYTES, PAGE_MAP_BYTE,
  PAGE_SHIFT, SMALL_CLASSES,
} from './layout.ts';
import { add, and, cas, cas64, checking, load, load64, store, unscheduled } from '../wait/futex.ts';

const HEADER = 8;
const MIN_BLOCK = 16;
const MAX_SMALL = MIN_BLOCK << (SMALL_CLASSES - 1);
const STATE_FREE = 0x0f4ee;
const STATE_USED = 0x05ed;
const TAG_ONE = 1n << 32n;
const OFFSET_MASK = 0xffffffffn;
const MAP = PAGE_MAP_BYTE >> 2;
const FULL = -1;

// The arena's geometry is fixed when the heap is made; read once per thread.
let arena = 0;
let pageCount = 0;

function geometry(): Heap {
  const h = heap();
  if (arena === 0) {
    arena = load(h.i32, I_ARENA);
    pageCount = load(h.i32, I_PAGES);
  }
  return h;
}

const smallClass = (need: number): number => Math.max(0, 32 - Math.clz32(need - 1) - 4);
const smallSize = (cls: number): number => MIN_BLOCK << cls;
const pageOffset = (page: number): number => arena + page * PAGE_BYTES;

function heapFull(bytes: number): RangeError {
  return new RangeError(
    `weft heap is full: cannot allocate ${bytes} bytes (heap limit ${load(heap().i32, I_MAX)} bytes). ` +
      'Raise the limit with configure({ maxHeapBytes }) before weft is first used, or release handles and messages you no longer need.',
  );
}

function tooLarge(bytes: number): RangeError {
  return new RangeError(
    `weft cannot allocate ${bytes} bytes: the largest block this heap can hold is ${pageCount * PAGE_BYTES - HEADER} bytes ` +
      `(heap limit ${load(heap().i32, I_MAX)} bytes). Raise it with configure({ maxHeapBytes }) before weft is first used, or ask for less.`,
  );
}

/**
 * Allocates at least `bytes` bytes and returns the block's offset (8-byte aligned).
 * The memory is zeroed unless `zero` is false. Throws RangeError for a size the heap
 * can never hold or when the heap is full; nothing is changed then.
 */
export function alloc(bytes: number, zero = true): number {
  // Under weft/check an allocation is one step, not a scheduling point per atomic: the
  // allocator is the runtime's malloc, and how many steps it takes depends on what
  // earlier runs left in the heap, which would keep a schedule from replaying.
  return checking ? unscheduled(allocBlock, bytes, zero) : allocBlock(bytes, zero);
}

function allocBlock(bytes: number, zero: boolean): number {
  geometry();
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new RangeError(`alloc: the size must be a non-negative integer number of bytes, got ${bytes}`);
  }
  if (bytes > pageCount * PAGE_BYTES - HEADER) throw tooLarge(bytes);
  const need = bytes + HEADER;
  let block: number;
  let size: number;
  if (need <= MAX_SMALL) {
    block = allocSmall(smallClass(need), bytes);
    size = smallSize(load(heapCovering(block + HEADER).i32, block >> 2));
  } else {
    const pages = Math.ceil(need / PAGE_BYTES);
    block = takeRun(pages, bytes);
    size = pages * PAGE_BYTES;
  }
  const h = heapCovering(block + size);
  store(h.i32, (block >> 2) + 1, STATE_USED);
  if (zero) h.u8.fill(0, block + HEADER, block + size);
  add(h.i32, I_LIVE_BYTES, size);
  return block + HEADER;
}

function allocSmall(cls: number, bytes: number): number {
  const block = pop(cls) || carve(cls);
  if (block !== 0) return block;
  drain();
  const again = pop(cls) || carve(cls);
  if (again !== 0) return again;
  // No page is left, but a free block of a larger class still serves (whole: it goes
  // back to its own list when freed). Only then is the heap full.
  for (let larger = cls + 1; larger < SMALL_CLASSES; larger++) {
    const spare = pop(larger);
    if (spare !== 0) return spare;
  }
  throw heapFull(bytes);
}

/** Takes a run of `pages` pages for a large block and writes its header. */
function takeRun(pages: number, bytes: number): number {
  let first = takePages(pages);
  if (first < 0) {
    drain();
    first = takePages(pages);
  }
  if (first < 0) throw heapFull(bytes);
  const block = pageOffset(first);
  store(heapCovering(block + HEADER).i32, block >> 2, -pages);
  return block;
}

/** Takes a block off the free list of class `cls`, or returns 0. */
function pop(cls: number): number {
  const head = FREE_LISTS_BYTE / 8 + cls;
  let h = heapCovering(FREE_LISTS_BYTE + SMALL_CLASSES * 8);
  for (;;) {
    const old = load64(h.i64, head);
    const off = Number(old & OFFSET_MASK);
    if (off === 0) return 0;
    if (off + 2 * HEADER > h.u8.length) h = heapCovering(off + 2 * HEADER);
    // `off` may be popped and reused by another thread before our CAS (even drained
    // and its page reused); then the tag has moved on and the CAS fails, so reading
    // a stale `next` here is harmless.
    const next = load(h.i32, (off + HEADER) >> 2);
    const tag = (old & ~OFFSET_MASK) + TAG_ONE;
    if (cas64(h.i64, head, old, tag | BigInt(next >>> 0)) === old) return off;
  }
}

/** Pushes the chain first..last (linked through their `next` words) onto list `cls`. */
function pushChain(h: Heap, cls: number, first: number, last: number): void {
  const head = FREE_LISTS_BYTE / 8 + cls;
  for (;;) {
    const old = load64(h.i64, head);
    store(h.i32, (last + HEADER) >> 2, Number(old & OFFSET_MASK));
    const tag = (old & ~OFFSET_MASK) + TAG_ONE;
    if (cas64(h.i64, head, old, tag | BigInt(first)) === old) return;
  }
}

/** Empties list `cls` in one step and returns its first block (0 if it was empty). */
function takeAll(h: Heap, cls: number): number {
  const head = FREE_LISTS_BYTE / 8 + cls;
  for (;;) {
    const old = load64(h.i64, head);
    const off = Number(old & OFFSET_MASK);
    if (off === 0) return 0;
    if (cas64(h.i64, head, old, (old & ~OFFSET_MASK) + TAG_ONE) === old) return off;
  }
}

/**
 * Cuts a fresh page into blocks of class `cls`: returns the first, lists the rest.
 * Returns 0 when no page is free.
 */
function carve(cls: number): number {
  const page = takePages(1);
  if (page < 0) return 0;
  const base = pageOffset(page);
  const size = smallSize(cls);
  const h = heapCovering(base + PAGE_BYTES);
  // The blocks are private until pushChain publishes them with its CAS.
  for (let b = base; b < base + PAGE_BYTES; b += size) {
    store(h.i32, b >> 2, cls);
    store(h.i32, (b >> 2) + 1, STATE_FREE);
    store(h.i32, (b + HEADER) >> 2, b + size);
  }
  pushChain(h, cls, base + size, base + PAGE_BYTES - size);
  return base;
}

/**
 * Gives back to the page map every page all of whose small blocks are free. Each list
 * is taken whole (so no other thread can pop from it meanwhile), sorted by page, and
 * what stays is pushed back.
 */
function drain(): void {
  const counts = new Uint16Array(pageCount);
  for (let cls = 0; cls < SMALL_CLASSES; cls++) {
    const h = heapCovering(heap().sab.byteLength);
    const chain = takeAll(h, cls);
    if (chain === 0) continue;
    const perPage = PAGE_BYTES / smallSize(cls);
    const touched: number[] = [];
    for (let b = chain; b !== 0; b = h.i32[(b + HEADER) >> 2]) {
      const page = (b - arena) >> PAGE_SHIFT;
      if (counts[page]++ === 0) touched.push(page);
    }
    let first = 0;
    let last = 0;
    for (let b = chain; b !== 0; ) {
      const next = h.i32[(b + HEADER) >> 2];
      if (counts[(b - arena) >> PAGE_SHIFT] !== perPage) {
        if (last === 0) first = b;
        else h.i32[(last + HEADER) >> 2] = b;
        last = b;
      }
      b = next;
    }
    if (last !== 0) pushChain(h, cls, first, last);
    for (const page of touched) {
      if (counts[page] === perPage) releasePages(page, 1);
      counts[page] = 0;
    }
  }
}

/**
 * Takes `n` consecutive free pages, lowest first, and makes sure the buffer covers
 * them. Returns the first page's index, or -1 when no such run exists.
 */
function takePages(n: number): number {
  const h = heapCovering(PAGE_MAP_BYTE + Math.ceil(pageCount / 32) * 4);
  const hint = load(h.i32, I_PAGE_HINT);
  let first = scanPages(h, n, hint);
  // The hint may have moved past a page freed meanwhile: look once from the start
  // before calling the heap full.
  if (first < 0 && hint > 0) first = scanPages(h, n, 0);
  if (first < 0) return -1;
  const end = pageOffset(first + n);
  try {
    ensureLength(h, end);
  } catch (e) {
    releasePages(first, n);
    throw e;
  }
  for (let top = load(h.i32, I_TOP); top < end; ) {
    const seen = cas(h.i32, I_TOP, top, end);
    if (seen === top) break;
    top = seen;
  }
  return first;
}

/** First-fit search of the page map from word `from`; claims and returns the run. */
function scanPages(h: Heap, n: number, from: number): number {
  const words = Math.ceil(pageCount / 32);
  let runStart = 0;
  let runLength = 0;
  let firstOpen = -1;
  for (let w = from; w < words; w++) {
    const bits = load(h.i32, MAP + w);
    if (bits === FULL) {
      runLength = 0;
      continue;
    }
    if (firstOpen < 0) firstOpen = w;
    if (bits === 0 && runLength + 32 < n) {
      if (runLength === 0) runStart = w * 32;
      runLength += 32;
      continue;
    }
    for (let b = 0; b < 32; b++) {
      if ((bits & (1 << b)) !== 0) {
        runLength = 0;
        continue;
      }
      if (runLength === 0) runStart = w * 32 + b;
      if (++runLength < n) continue;
      if (claimPages(h, runStart, n)) {
        if (firstOpen > from) cas(h.i32, I_PAGE_HINT, from, firstOpen);
        return runStart;
      }
      // Another thread took a page of the run first: look again from its start.
      runLength = 0;
      w = (runStart >> 5) - 1;
      break;
    }
  }
  return -1;
}

/** Mask of `count` bits from bit `bit` of a map word. */
const bitMask = (bit: number, count: number): number => (count === 32 ? FULL : (((1 << count) - 1) << bit) | 0);

/** Sets the bits of pages first..first+n-1, one word per CAS; undoes them if one was taken. */
function claimPages(h: Heap, first: number, n: number): boolean {
  for (let page = first; page < first + n; ) {
    const count = Math.min(32 - (page & 31), first + n - page);
    const mask = bitMask(page & 31, count);
    const index = MAP + (page >> 5);
    for (;;) {
      const old = load(h.i32, index);
      if ((old & mask) !== 0) {
        releasePages(first, page - first);
        return false;
      }
      if (cas(h.i32, index, old, old | mask) === old) break;
    }
    page += count;
  }
  return true;
}

/** Clears the bits of pages first..first+n-1 and lowers the search hint to them. */
function releasePages(first: number, n: number): void {
  if (n === 0) return;
  const h = heapCovering(PAGE_MAP_BYTE + Math.ceil(pageCount / 32) * 4);
  for (let page = first; page < first + n; ) {
    const count = Math.min(32 - (page & 31), first + n - page);
    and(h.i32, MAP + (page >> 5), ~bitMask(page & 31, count));
    page += count;
  }
  const word = first >> 5;
  for (let hint = load(h.i32, I_PAGE_HINT); hint > word; ) {
    const seen = cas(h.i32, I_PAGE_HINT, hint, word);
    if (seen === hint) break;
    hint = seen;
  }
}

/** Reads and checks the header of the block at `p`; returns the block's offset. */
function blockOf(p: number, call: string): number {
  geometry();
  const block = p - HEADER;
  if (!Number.isInteger(p) || (block & 7) !== 0 || block < arena || block >= arena + pageCount * PAGE_BYTES || p + HEADER > heap().sab.byteLength) {
    throw new Error(`${call}: ${p} is not a heap block`);
  }
  return block;
}

/** Returns a block from alloc() to the heap. Freeing twice throws. */
export function free(p: number): void {
  if (checking) unscheduled(freeBlock, p);
  else freeBlock(p);
}

function freeBlock(p: number): void {
  const block = blockOf(p, 'free');
  const h = heapCovering(p + HEADER);
  const size = load(h.i32, block >> 2);
  if (size >= SMALL_CLASSES || size < -pageCount || cas(h.i32, (block >> 2) + 1, STATE_USED, STATE_FREE) !== STATE_USED) {
    throw new Error(`free: block at ${p} is not allocated (double free?)`);
  }
  if (size >= 0) {
    add(h.i32, I_LIVE_BYTES, -smallSize(size));
    pushChain(h, size, block, block);
  } else {
    add(h.i32, I_LIVE_BYTES, size * PAGE_BYTES);
    releasePages((block - arena) >> PAGE_SHIFT, -size);
  }
}

/** Usable bytes of the block at `p` (at least what was asked of alloc). */
export function usableSize(p: number): number {
  const block = blockOf(p, 'usableSize');
  const size = load(heapCovering(p).i32, block >> 2);
  return (size >= 0 ? smallSize(size) : -size * PAGE_BYTES) - HEADER;
}

/**
 * What {@link heapStats} reports of the shared heap: its length, how far it may grow,
 * and the bytes in use.
 */
export interface HeapStats {
  /** Current length of the shared buffer. */
  byteLength: number;
  /** Largest length it may grow to. */
  maxByteLength: number;
  /** Peak: end of the highest page ever handed out (the buffer need not grow below it). */
  reserved: number;
  /** Bytes in blocks currently allocated. */
  live: number;
  /**
   * Bytes allocations can still use: free pages, and free small blocks (which serve
   * their size, and return to whole pages when the heap runs short).
   */
  free: number;
}

/**
 * Measures the shared heap, from any thread: `{ byteLength, maxByteLength, reserved, live, ... }`.
 *
 * @example
 * ```ts
 * const before = heapStats().live;
 * const [tx, rx] = channel(); tx.close(); rx.close();
 * heapStats().live === before; // true: closing both ends freed the channel
 * ```
 */
export function heapStats(): HeapStats {
  const h = geometry();
  const live = load(h.i32, I_LIVE_BYTES);
  return {
    byteLength: h.sab.byteLength,
    maxByteLength: load(h.i32, I_MAX),
    reserved: load(h.i32, I_TOP),
    live,
    free: pageCount * PAGE_BYTES - live,
  };
}
