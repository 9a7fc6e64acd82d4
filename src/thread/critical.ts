// Kill-safe sections. Some changes to shared state take two steps that must not be
// separated by a thread's death: take a lock word, then record the hold in the
// owned table (so the runtime can release it if the thread dies); drop a ref from
// the table, then give it back. A kill between the two leaves state that no cleanup
// can see. Worker termination lands between any two instructions (even between two
// Atomics calls), so the steps cannot be made adjacent enough; instead, since every
// kill of a weft thread goes through the supervisor (JoinHandle.terminate()), a kill
// waits for the thread to leave such a section.
//
// The handshake is Dekker's, on one word of the thread's record: the thread sets IN
// and then reads KILL; the supervisor sets KILL and then reads IN. Both are
// read-modify-writes on the same word, so one of them sees the other: either the
// thread sees KILL and stops before its first step, or the supervisor sees IN and
// waits until the thread clears it (the thread then notifies and stops). A thread
// that stopped only sleeps until the supervisor's terminate() ends it.
//
// Sections nest (a depth count per thread) and never wait or run user code, so a
// kill is delayed by a few instructions at most.

import { heapCovering } from '../heap/heap.ts';
import { and, load, notify, or, wait, waitAsync } from '../wait/futex.ts';

/** Bits of the record's critical word. */
export const IN = 1;
export const KILL = 2;

// i32 index of this thread's critical word (-1 where no kill can come: the main
// thread, or before the runtime has a record here), and a view covering it (the
// record never moves, and a fixed-length view of the growable heap stays valid).
let word = -1;
let words: Int32Array = new Int32Array(0);
let depth = 0;

/** Points kill-safe sections at the critical word of the thread now running here (-1: none). */
export function setCriticalWord(index: number): void {
  word = index;
  words = index < 0 ? new Int32Array(0) : heapCovering((index + 1) << 2).i32;
  depth = 0;
}

/** Enters a section that a kill of this thread waits for. Pair with leaveCritical() (try/finally). */
export function enterCritical(): void {
  if (depth++ > 0 || word < 0) return;
  if ((or(words, word, IN) & KILL) !== 0) stop();
}

export function leaveCritical(): void {
  if (--depth > 0 || word < 0) return;
  if ((and(words, word, ~IN) & KILL) !== 0) stop();
}

/**
 * This thread is being killed: it clears IN, wakes the supervisor waiting for that,
 * and takes no further step until the kill lands.
 */
function stop(): never {
  and(words, word, ~IN);
  notify(words, word);
  for (;;) wait(words, word, KILL);
}

/**
 * The supervisor's side: marks the thread whose critical word is at i32 index `at` as
 * being killed, and resolves once it is outside any kill-safe section (it then takes
 * no further step there).
 */
export async function outsideCritical(at: number): Promise<void> {
  const i = heapCovering((at + 1) << 2).i32;
  for (let s = or(i, at, KILL) | KILL; (s & IN) !== 0; s = load(i, at)) await waitAsync(i, at, s);
}
