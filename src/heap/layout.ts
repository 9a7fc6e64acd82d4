// Layout of the runtime block at the start of the shared heap. Offsets are in bytes;
// the `I_` constants are the matching Int32Array indexes.

export const MAGIC = 0x77656674; // "weft"
export const LAYOUT_VERSION = 1;

export const I_MAGIC = 0;
export const I_VERSION = 1;
/** Bump pointer: first byte never handed out yet. */
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

/** Free-list heads, one 64-bit word per size class: (tag << 32) | offset. */
export const FREE_LISTS_BYTE = 64;
export const SIZE_CLASSES = 27; // 16 B .. 1 GiB
export const RUNTIME_BYTES = 1024;

export const DEFAULT_HEAP_BYTES = 4 << 20;
export const DEFAULT_MAX_HEAP_BYTES = 1 << 30;
/** Offsets are 32-bit signed integers. */
export const HARD_MAX_HEAP_BYTES = 2 ** 31 - 8;
