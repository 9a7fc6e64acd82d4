// Layout of the runtime block at the start of the shared heap. Offsets are in bytes;
// the `I_` constants are the matching Int32Array indexes.

export const MAGIC = 0x77656674; // "weft"
export const LAYOUT_VERSION = 2;

export const I_MAGIC = 0;
export const I_VERSION = 1;
/** High-water mark: end of the highest page ever handed out. */
export const I_TOP = 2;
/** Largest size the heap may grow to. */
export const I_MAX = 3;
/** Next thread id to hand out (main is 1). */
export const I_NEXT_THREAD_ID = 4;
/** Offset of the `shared()` registry's lock word and list head. */
export const I_REGISTRY_LOCK = 5;
export const I_REGISTRY_HEAD = 6;
/** Supervisor mailbox: offset of its queue block (0 until the supervisor exists). */
export const I_SUPERVISOR = 7;
/** Offset of the main thread's record. */
export const I_MAIN_THREAD = 8;
/** Bytes handed out and not yet freed, for diagnostics and tests. */
export const I_LIVE_BYTES = 9;
/** Offset of page 0 of the arena (see arenaGeometry). */
export const I_ARENA = 10;
/** Number of pages in the arena. */
export const I_PAGES = 11;
/** Page-map word below which no page is free (a hint, see alloc.ts). */
export const I_PAGE_HINT = 12;
/** Offset of the idle workers' hand-off block (0 until the supervisor made it, see thread/mailbox.ts). */
export const I_HANDOFF = 13;

/** Free-list heads, one 64-bit word per small size class: (tag << 32) | offset. */
export const FREE_LISTS_BYTE = 64;
/** Small blocks of 16 B .. 2 KiB (header included) are carved from single pages. */
export const SMALL_CLASSES = 8;
export const RUNTIME_BYTES = 1024;
/** The page map (one bit per page, 1 = taken) follows the runtime block. */
export const PAGE_MAP_BYTE = RUNTIME_BYTES;
export const PAGE_SHIFT = 12;
export const PAGE_BYTES = 1 << PAGE_SHIFT;

export interface ArenaGeometry {
  /** Offset of page 0 (page-aligned, after the page map). */
  readonly arena: number;
  /** Pages that fit between the arena start and the heap limit. */
  readonly pages: number;
  /** 32-bit words of the page map. */
  readonly mapWords: number;
}

/** Where the page map and the arena lie in a heap that may grow to `maxBytes`. */
export function arenaGeometry(maxBytes: number): ArenaGeometry {
  const mapWords = Math.ceil(Math.floor(maxBytes / PAGE_BYTES) / 32);
  const arena = Math.ceil((PAGE_MAP_BYTE + mapWords * 4) / PAGE_BYTES) * PAGE_BYTES;
  return { arena, pages: Math.max(0, Math.floor((maxBytes - arena) / PAGE_BYTES)), mapWords };
}

export const DEFAULT_HEAP_BYTES = 4 << 20;
export const DEFAULT_MAX_HEAP_BYTES = 1 << 30;
/** Smallest heap: the runtime block, the page map and a few pages. */
export const MIN_HEAP_BYTES = 64 << 10;
/** Offsets are 32-bit signed integers. */
export const HARD_MAX_HEAP_BYTES = 2 ** 31 - 8;
