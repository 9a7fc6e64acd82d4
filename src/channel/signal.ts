// The word a thread sleeps on while it waits to receive. A receiving side has one
// owner thread at a time, so rather than one futex word per channel, every receiver,
// oneshot receiver and select of a thread waits on the thread's own word, and the
// channel records which word that is (its observer field). A sender that finds a
// receiver waiting bumps that word and notifies it: one wake, however many receivers
// (or selects) the thread is waiting on.
//
// The word is allocated once per worker and never freed: a channel may still name it
// after its receiver moved on, and a stale name must never point into reused memory
// (it costs the old owner a spurious wake at most).

import { alloc } from '../heap/alloc.ts';
import { add, notify } from '../wait/futex.ts';
import { heapCovering } from '../heap/heap.ts';

let word = 0;

/** i32 index of the calling thread's wake word. */
export function signalIndex(): number {
  if (word === 0) word = alloc(4) >> 2;
  return word;
}

/** Wakes every wait on the word at i32 index `index` (0: nobody to wake). */
export function signal(index: number): void {
  if (index === 0) return;
  const i = heapCovering((index + 1) << 2).i32;
  add(i, index, 1);
  notify(i, index);
}
