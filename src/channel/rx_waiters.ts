// The waiting receivers of a channel with more than one receiver (MPMC).
//
// A single receiver names its thread's wake word in the channel's observer field
// (signal.ts). Once the receiver is cloned, several threads may wait at once, so each
// waiting receiver also writes its word into a table of the channel, and a sender that
// has to wake the receiving side signals every word in it: a broadcast, so a wake can
// never be lost to a waiter that is leaving (timed out, aborted) — the others are woken
// too and one of them takes the message; the rest find nothing and sleep again.
//
// The table is a chain of chunks [next, word × (CHUNK - 1)], linked but never unlinked
// or freed until the channel is dropped, so a sender walking it never reads freed
// memory. Entries are claimed by CAS from 0 and cleared by their owner: lock-free, so a
// thread killed while registered leaves only a stale word (a spurious wake at most).

import { alloc, free } from '../heap/alloc.ts';
import { heapCovering } from '../heap/heap.ts';
import { cas, load, store } from '../wait/futex.ts';
import { signal } from './signal.ts';

const CHUNK = 8;
const CHUNK_BYTES = CHUNK * 4;

function chunkView(chunk: number): Int32Array {
  return heapCovering(chunk + CHUNK_BYTES).i32;
}

/**
 * Writes `word` into a free entry of the table whose first chunk is at i32 index
 * `head` of the channel (0 there: no table yet). Returns the entry's i32 index, for
 * unregister(). Throws RangeError (nothing registered) when the heap is full.
 */
export function register(i: Int32Array, head: number, word: number): number {
  let link = head;
  let view = i;
  for (;;) {
    let chunk = load(view, link);
    if (chunk === 0) {
      const fresh = alloc(CHUNK_BYTES);
      const v = chunkView(fresh);
      store(v, (fresh >> 2) + 1, word);
      if (cas(view, link, 0, fresh) === 0) return (fresh >> 2) + 1;
      free(fresh);
      chunk = load(view, link);
    }
    view = chunkView(chunk);
    const c = chunk >> 2;
    for (let k = 1; k < CHUNK; k++) {
      if (load(view, c + k) === 0 && cas(view, c + k, 0, word) === 0) return c + k;
    }
    link = c;
  }
}

export function unregister(entry: number): void {
  store(heapCovering((entry + 1) << 2).i32, entry, 0);
}

/** Wakes every registered waiter. */
export function wakeAll(i: Int32Array, head: number): void {
  let chunk = load(i, head);
  while (chunk !== 0) {
    const v = chunkView(chunk);
    const c = chunk >> 2;
    for (let k = 1; k < CHUNK; k++) {
      const word = load(v, c + k);
      if (word !== 0) signal(word);
    }
    chunk = load(v, c);
  }
}

/** Frees the table, once the channel is dropped. */
export function freeTable(i: Int32Array, head: number): void {
  let chunk = load(i, head);
  while (chunk !== 0) {
    const next = load(chunkView(chunk), chunk >> 2);
    free(chunk);
    chunk = next;
  }
}
