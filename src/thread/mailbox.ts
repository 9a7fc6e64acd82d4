// The supervisor's mailbox in the heap: any thread posts, the supervisor takes.
// Posting is a lock-free push onto a stack of small nodes; the supervisor swaps the
// whole stack out at once and reverses it, so requests are handled in post order.
// The supervisor only sleeps on an empty mailbox, so a post that finds it empty is
// the only one that needs to notify.

import { alloc, free } from '../heap/alloc.ts';
import { heap } from '../heap/heap.ts';
import { I_SUPERVISOR } from '../heap/layout.ts';
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
