// The one shared heap: a growable SharedArrayBuffer created by the main thread at
// first use, handed to every thread weft starts, and joined by foreign workers
// through runtimeHandle() / attach().

import {
  arenaGeometry, DEFAULT_HEAP_BYTES, DEFAULT_MAX_HEAP_BYTES, HARD_MAX_HEAP_BYTES, I_ARENA, I_MAGIC, I_MAX,
  I_NEXT_THREAD_ID, I_PAGES, I_TOP, I_VERSION, LAYOUT_VERSION, MAGIC, MIN_HEAP_BYTES, PAGE_MAP_BYTE, RUNTIME_BYTES,
} from './layout.ts';
import { load, store } from '../wait/futex.ts';

/** This thread's views of the shared heap. They track the buffer as it grows. */
export interface Heap {
  readonly sab: SharedArrayBuffer;
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly u32: Uint32Array;
  readonly i64: BigInt64Array;
  readonly f64: Float64Array;
  readonly dv: DataView;
}

/**
 * Options of {@link configure}: `heapBytes` (initial size of the shared buffer) and
 * `maxHeapBytes` (the most it may grow to). Both are in bytes.
 */
export interface HeapOptions {
  /** Initial size of the shared heap in bytes (default 4 MiB). */
  heapBytes?: number;
  /** Size the heap may grow to (default 1 GiB, at most 2 GiB). */
  maxHeapBytes?: number;
}

let current: Heap | undefined;
let options: Required<HeapOptions> = { heapBytes: DEFAULT_HEAP_BYTES, maxHeapBytes: DEFAULT_MAX_HEAP_BYTES };
const onAttach: Array<(h: Heap, created: boolean) => void> = [];

/**
 * Views over `sab`: length-tracking (they follow the buffer as it grows) unless a
 * fixed `bytes` length is given.
 */
export function views(sab: SharedArrayBuffer, bytes?: number): Heap {
  return {
    sab,
    u8: new Uint8Array(sab, 0, bytes),
    i32: new Int32Array(sab, 0, bytes === undefined ? undefined : bytes >> 2),
    u32: new Uint32Array(sab, 0, bytes === undefined ? undefined : bytes >> 2),
    i64: new BigInt64Array(sab, 0, bytes === undefined ? undefined : bytes >> 3),
    f64: new Float64Array(sab, 0, bytes === undefined ? undefined : bytes >> 3),
    dv: new DataView(sab, 0, bytes),
  };
}

// In V8, every access through a length-tracking view of a growable buffer takes a
// slow path: measured 5x for plain reads and 2x for Atomics. heap() stays correct by
// default; hot paths that know the offsets they touch use heapCovering(), whose
// fixed-length views are remade only when an offset lies beyond them.
let fixed: Heap | undefined;

/** Fast fixed-length views of this thread's heap that reach at least byte `end`. */
export function heapCovering(end: number): Heap {
  const f = fixed;
  return f !== undefined && end <= f.u8.length ? f : refreshFixed(end);
}

function refreshFixed(end: number): Heap {
  const sab = heap().sab;
  const n = sab.byteLength;
  if (end > n) throw new RangeError(`weft: offset ${end} lies beyond the heap (${n} bytes)`);
  fixed = views(sab, n);
  return fixed;
}

/**
 * Sets the shared heap's initial and maximum size in bytes ({@link HeapOptions}). Only
 * before weft is first used (the first handle or spawn creates the heap).
 *
 * @example
 * ```ts
 * configure({ heapBytes: 64 << 20, maxHeapBytes: 1 << 30 });
 * ```
 *
 * @throws `Error` once the heap exists; `RangeError` for sizes out of range.
 */
export function configure(opts: HeapOptions): void {
  if (current) {
    throw new Error('configure() must be called before weft is first used: the shared heap already exists');
  }
  const next = { ...options, ...opts };
  for (const [k, v] of Object.entries(next)) {
    if (!Number.isInteger(v) || v < MIN_HEAP_BYTES || v > HARD_MAX_HEAP_BYTES) {
      throw new RangeError(`configure(): ${k} must be an integer number of bytes between ${MIN_HEAP_BYTES} and ${HARD_MAX_HEAP_BYTES}, got ${v}`);
    }
  }
  if (next.heapBytes > next.maxHeapBytes) {
    throw new RangeError(`configure(): heapBytes (${next.heapBytes}) exceeds maxHeapBytes (${next.maxHeapBytes})`);
  }
  options = next;
}

/** Registers a hook run once the heap of this thread exists (created or attached). */
export function whenAttached(f: (h: Heap, created: boolean) => void): void {
  onAttach.push(f);
  if (current) f(current, false);
}

let creator: (() => boolean) | undefined;

/**
 * Says whether this thread may create the heap (the process's main thread). Set by
 * the platform layer; a thread that may not must be attached first.
 */
export function setHeapCreator(mayCreate: () => boolean): void {
  creator = mayCreate;
}

/** This thread's heap, created on first use by the main thread. */
export function heap(): Heap {
  return current ?? create();
}

export function isHeapReady(): boolean {
  return current !== undefined;
}

function create(): Heap {
  if (creator && !creator()) {
    throw new Error(
      'weft is not attached in this worker: the worker was not started by weft. ' +
        'Post runtimeHandle() to it and call attach(handle) there before using weft.',
    );
  }
  const sab = new SharedArrayBuffer(options.heapBytes, { maxByteLength: options.maxHeapBytes });
  const h = views(sab);
  const { arena, pages, mapWords } = arenaGeometry(options.maxHeapBytes);
  ensureLength(h, arena);
  // Bits past the last page stay taken, so the page map never offers them.
  for (let w = pages >> 5; w < mapWords; w++) {
    const first = Math.max(0, pages - w * 32);
    store(h.i32, (PAGE_MAP_BYTE >> 2) + w, first >= 32 ? 0 : ~0 << first);
  }
  store(h.i32, I_VERSION, LAYOUT_VERSION);
  store(h.i32, I_ARENA, arena);
  store(h.i32, I_PAGES, pages);
  store(h.i32, I_TOP, arena);
  store(h.i32, I_MAX, options.maxHeapBytes);
  store(h.i32, I_NEXT_THREAD_ID, 1);
  store(h.i32, I_MAGIC, MAGIC);
  current = h;
  for (const f of onAttach) f(h, true);
  return h;
}

/** Joins this thread to an existing heap (worker bootstrap, attach()). */
export function attachHeap(sab: SharedArrayBuffer): Heap {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < RUNTIME_BYTES) {
    throw new TypeError('attach(): expected the value returned by runtimeHandle() in another thread');
  }
  if (current) {
    if (current.sab === sab) return current;
    throw new Error('attach(): this thread already uses a different weft heap');
  }
  const h = views(sab);
  if (load(h.i32, I_MAGIC) !== MAGIC || load(h.i32, I_VERSION) !== LAYOUT_VERSION) {
    throw new TypeError('attach(): the buffer is not a weft heap of this version');
  }
  current = h;
  for (const f of onAttach) f(h, false);
  return h;
}

/** Ensures the buffer is at least `bytes` long, growing it (any thread may). */
export function ensureLength(h: Heap, bytes: number): void {
  const max = h.sab.maxByteLength;
  while (h.sab.byteLength < bytes) {
    const want = Math.min(max, Math.max(bytes, h.sab.byteLength * 2));
    try {
      h.sab.grow(want);
    } catch (e) {
      // Another thread may have grown it past `want` meanwhile; only a real failure remains.
      if (h.sab.byteLength >= bytes) return;
      if (h.sab.byteLength >= want) continue;
      throw new RangeError(`weft heap could not grow to ${want} bytes: ${(e as Error).message}`);
    }
  }
}
