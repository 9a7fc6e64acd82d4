// The supervisor's mailbox in the heap: any thread posts, the supervisor takes.
// Posting is a lock-free push onto a stack of small nodes; the supervisor swaps the
// whole stack out at once and reverses it, so requests are handled in post order.
// The supervisor only sleeps on an empty mailbox, so a post that finds it empty is
// the only one that needs to notify.

import { alloc, free } from '../heap/alloc.ts';
import { heap } from '../heap/heap.ts';
import { I_HANDOFF, I_SUPERVISOR } from '../heap/layout.ts';
import { cas, exchange, load, notify, store, waitAsync } from '../wait/futex.ts';

export const Op = {
  /** Start the thread whose record is `arg`. */
  Spawn: 1,
  /** Kill the thread whose record is `arg`. */
  Terminate: 2,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export interface Request {
  op: Op;
  arg: number;
}

export function post(op: Op, arg: number): void {
  const i = heap().i32;
  const node = alloc(12);
  store(i, (node >> 2) + 1, op);
  store(i, (node >> 2) + 2, arg);
  for (;;) {
    const head = load(i, I_SUPERVISOR);
    store(i, node >> 2, head);
    if (cas(i, I_SUPERVISOR, head, node) === head) {
      if (head === 0) notify(i, I_SUPERVISOR, 1);
      return;
    }
  }
}

/** Takes every posted request, oldest first, waiting (asynchronously) while there are none. */
export async function take(): Promise<Request[]> {
  const i = heap().i32;
  while (load(i, I_SUPERVISOR) === 0) await waitAsync(i, I_SUPERVISOR, 0);
  return takeNow();
}

/** Takes every posted request, oldest first (none if the mailbox is empty). */
export function takeNow(): Request[] {
  const i = heap().i32;
  let head = exchange(i, I_SUPERVISOR, 0);
  const out: Request[] = [];
  while (head !== 0) {
    const b = head >> 2;
    out.push({ op: load(i, b + 1) as Op, arg: load(i, b + 2) });
    const next = load(i, b);
    free(head);
    head = next;
  }
  return out.reverse();
}

// The hand-off block: idle pooled workers for unnamed threads wait on a word of their
// own here, so spawn() can give a record straight to one (one CAS and one notify)
// instead of through the supervisor's event loop and a postMessage. Block layout, in
// i32 words: [capacity, queued, word 0 .. word capacity-1]. `queued` counts unnamed
// records waiting in the supervisor's queue (see supervisor.ts for its use).
//
// A word is FREE (no worker waits on it, or its worker is busy with something the
// supervisor tracks), IDLE (its worker waits for a record), or a record offset: the
// record handed to the worker, with the count that came with the spawn. Whoever moves
// the word off the record takes that count: the worker once its thread ended (it
// gives it back), or the supervisor (to kill the worker, or when it died).

export const HAND_FREE = 0;
export const HAND_IDLE = -1;
const H_CAPACITY = 0;
const H_QUEUED = 1;
const H_WORDS = 2;

/** Makes the hand-off block with `capacity` words (supervisor, once). Returns its i32 index. */
export function createHandOff(capacity: number): number {
  const i = heap().i32;
  const block = alloc((H_WORDS + capacity) * 4);
  const b = block >> 2;
  store(i, b + H_CAPACITY, capacity);
  store(i, I_HANDOFF, block);
  return b;
}

/** i32 index of hand-off word `k` of the block at i32 index `b`. */
export const handWord = (b: number, k: number): number => b + H_WORDS + k;

/** i32 index of the block's count of unnamed records queued at the supervisor. */
export const handQueued = (b: number): number => b + H_QUEUED;

/**
 * Gives `record` (with one count for the worker) to an idle worker, if there is one.
 * Call it inside a kill-safe section (critical.ts): the CAS that hands the record over
 * and the notify that wakes the worker must not be separated by a kill.
 */
export function handOff(record: number): boolean {
  const i = heap().i32;
  const block = load(i, I_HANDOFF);
  if (block === 0) return false;
  const b = block >> 2;
  const n = load(i, b + H_CAPACITY);
  for (let k = 0; k < n; k++) {
    const at = b + H_WORDS + k;
    if (load(i, at) === HAND_IDLE && cas(i, at, HAND_IDLE, record) === HAND_IDLE) {
      notify(i, at, 1);
      return true;
    }
  }
  return false;
}
