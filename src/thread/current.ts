// Which thread this is: the record of the running thread, set once per thread.
// The main thread's record (id 1, "main") is made together with the heap.

import { setOwnedCell } from '../heap/handle.ts';
import { heap, whenAttached } from '../heap/heap.ts';
import { I_MAIN_THREAD } from '../heap/layout.ts';
import { load, store } from '../wait/futex.ts';
import { setCriticalWord } from './critical.ts';
import { newRecord, recordField, recordId, R_CRITICAL, R_NAME, R_OWNED, R_STATE, State } from './record.ts';
import { codecs } from '../codec/index.ts';
import { storeValue } from '../codec/stored.ts';

let record = 0;
let id = 0;
let unwinding = false;

whenAttached((h, created) => {
  if (!created) return;
  const r = newRecord();
  store(h.i32, recordField(r, R_STATE), State.Running);
  store(h.i32, recordField(r, R_NAME), storeValue(codecs.utf8, 'main'));
  store(h.i32, I_MAIN_THREAD, r);
  adopt(r, false);
});

/** `killable`: a weft thread, which JoinHandle.terminate() can kill (critical.ts). */
function adopt(r: number, killable: boolean): void {
  record = r;
  id = recordId(r);
  unwinding = false;
  setOwnedCell(recordField(r, R_OWNED));
  setCriticalWord(killable ? recordField(r, R_CRITICAL) : -1);
}

/** Id of the calling thread (as current().id, without making a handle). */
export function currentThreadId(): number {
  if (record === 0) currentRecord();
  return id;
}

/** Record of the calling thread. */
export function currentRecord(): number {
  if (record === 0) heap();
  if (record === 0) throw new Error('weft: this thread has no record (not started by weft and not attached)');
  return record;
}

/**
 * Makes `r` the calling thread's record: at attach(), and each time a pooled worker
 * starts its next thread (the previous one has ended and released what it owned).
 * `killable`: a thread weft started, so kill-safe sections apply (critical.ts).
 */
export function setCurrentRecord(r: number, killable = false): void {
  adopt(r, killable);
}

export function mainRecord(): number {
  return load(heap().i32, I_MAIN_THREAD);
}

/**
 * True while this thread ends in a panic (Rust's `std::thread::panicking`): from the moment
 * its function threw (or its promise rejected) until it has ended, that is, while its
 * thread-local destructors run. JavaScript cannot tell a `finally` block or a `using`
 * disposal that an exception is passing through, so those see false. Always false on the
 * main thread and on attached workers.
 *
 * @example
 * ```ts
 * const log = threadLocal(() => [] as string[], { dispose: (lines) => { if (panicking()) flushToDisk(lines); } });
 * ```
 */
export function panicking(): boolean {
  return unwinding;
}

/** The running thread's function threw: it now ends in a panic (run.ts). */
export function beginPanic(): void {
  unwinding = true;
}
