// The word a thread sleeps on while it waits to receive. A receiving side has one
// owner thread at a time, so rather than one futex word per channel, every receiver,
// oneshot receiver and select of a thread waits on the thread's own word, and the
// channel records which word that is (its observer field). A sender that finds a
// receiver waiting bumps that word and notifies it: one wake, however many receivers
// (or selects) the thread is waiting on.
//
// A word is never freed: a channel may still name it after its receiver moved on, and
// a stale name must never point into reused memory (it costs the word's next owner a
// spurious wake at most). So the supervisor lends each worker it starts a word and
// takes it back when the worker is gone, for the next worker: a killed worker leaks
// nothing, and there are never more words than workers alive at once. Threads
// without a lent word (the main thread, attached workers) allocate their own once.

import { alloc } from '../heap/alloc.ts';
import { add, notify } from '../wait/futex.ts';
import { heapCovering } from '../heap/heap.ts';

let word = 0;

/** Makes `index` (see allocWakeWord) the calling worker's wake word. */
export function setWakeWord(index: number): void {
  word = index;
}

/** A new wake word, for the supervisor to lend. */
export function allocWakeWord(): number {
  return alloc(4) >> 2;
}

/** i32 index of the calling thread's wake word. */
export function signalIndex(): number {
  if (word === 0) word = allocWakeWord();
  return word;
}

/** Wakes every wait on the word at i32 index `index` (0: nobody to wake). */
export function signal(index: number): void {
  if (index === 0) return;
  const i = heapCovering((index + 1) << 2).i32;
  add(i, index, 1);
  notify(i, index);
}
