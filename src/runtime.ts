// Joining the runtime from a worker weft did not start: the main thread posts
// runtimeHandle() to it, and the worker calls attach() with it before using weft.

import { attachHeap, heap, setHeapCreator } from './heap/heap.ts';
import { host } from './platform/host.ts';
import { setCurrentRecord } from './thread/current.ts';
import { newRecord, recordField, R_STATE, State } from './thread/record.ts';
import { ensureSupervisor } from './thread/spawn.ts';
import { store } from './wait/futex.ts';

setHeapCreator(() => {
  if (host.isMainThread) host.checkCanCreateHeap();
  return host.isMainThread;
});

const TAG = 'weft.runtime';

/**
 * A structured-clonable token to `postMessage` to a worker weft did not start, which then
 * calls {@link attach} with it to use weft (and the same heap) there.
 *
 * @example
 * ```ts
 * const w = new Worker('./legacy.js');
 * w.postMessage({ weft: runtimeHandle() });
 * ```
 */
export function runtimeHandle(): unknown {
  ensureSupervisor();
  return { [TAG]: 1, sab: heap().sab };
}

/**
 * Joins the calling worker (one weft did not start) to the runtime of the thread that made
 * `handle` with {@link runtimeHandle}: the same heap, so handles received from there work.
 *
 * @example
 * ```ts
 * parentPort.once('message', ({ weft }) => { attach(weft); });
 * ```
 */
export function attach(handle: unknown): void {
  const h = handle as { [TAG]?: number; sab?: SharedArrayBuffer } | null;
  if (typeof h !== 'object' || h === null || h[TAG] !== 1 || !(h.sab instanceof SharedArrayBuffer)) {
    throw new TypeError('attach(): expected the value of runtimeHandle() posted from a weft thread');
  }
  const heapView = attachHeap(h.sab);
  const r = newRecord();
  store(heapView.i32, recordField(r, R_STATE), State.Running);
  setCurrentRecord(r);
}
