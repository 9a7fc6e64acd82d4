// Per-thread table of the references a thread holds, kept in the heap like Linux's
// robust futex list: while the thread lives only it writes the table; when it ends
// (or is killed) the runtime releases every entry still there, so endpoints close
// and refcounts drop even for a thread that never ran its own cleanup.
//
// Table block: [capacity, freeHead, used, _, entries...]. A live entry is a ref
// (positive: offset | role); a free entry holds -(next free index + 2).
//
// Plain (non-atomic) accesses are enough: only the owning thread touches the table
// while it lives, and the runtime reads it only after the thread has ended. This
// keeps the bookkeeping cheap on hot paths such as Mutex lock/unlock.
//
// A pooled worker runs one thread after another, and the next thread's record (so
// its table cell) may sit at the very offset of the previous one. So the calling
// thread's tables are told apart by a generation, not by cell: it changes when the
// thread's table is set and when it is drained, and bookkeeping made under an older
// generation (a handle collected late, a guard kept across threads) must not touch
// the current table.

import { alloc, free } from './alloc.ts';
import { heap, heapCovering } from './heap.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';

const CAP = 0, FREE_HEAD = 1, USED = 2, ENTRIES = 4;
const INITIAL_CAPACITY = 60;

let thisCell = -1;
let generation = 0;

/** Makes the table whose offset is at i32 index `cell` the calling thread's. */
export function setThisThreadCell(cell: number): void {
  thisCell = cell;
  generation++;
}

/** i32 index of the calling thread's table cell, or -1 before it has one. */
export function thisThreadCell(): number {
  return thisCell;
}

/** Generation of the calling thread's table: equal only while the same table is live. */
export function ownedGeneration(): number {
  return generation;
}

/** Allocates an empty table. */
export function newOwnedTable(capacity = INITIAL_CAPACITY): number {
  const t = alloc((ENTRIES + capacity) * 4);
  const i = heap().i32;
  i[(t >> 2) + CAP] = capacity;
  i[(t >> 2) + FREE_HEAD] = -1;
  return t;
}

/** Fast views covering the table whose offset is in `cell` (hot path: every lock). */
function tableViews(cell: number): Int32Array {
  let i = heapCovering(cell * 4 + 4).i32;
  const t = i[cell];
  if (t + 16 > i.length * 4) i = heapCovering(t + 16).i32;
  const end = t + (ENTRIES + i[(t >> 2) + CAP]) * 4;
  return end > i.length * 4 ? heapCovering(end).i32 : i;
}

/** Records `ref` in the table whose offset is stored at i32 index `cell`; returns its slot. */
export function ownedAdd(cell: number, ref: number): number {
  let i = tableViews(cell);
  let t = i[cell];
  let b = t >> 2;
  const freeHead = i[b + FREE_HEAD];
  let slot: number;
  if (freeHead >= 0) {
    slot = freeHead;
    i[b + FREE_HEAD] = -i[b + ENTRIES + slot] - 2;
  } else {
    slot = i[b + USED];
    const cap = i[b + CAP];
    if (slot === cap) {
      // Grow: the new table is complete before the cell points at it, so a
      // supervisor reading after this thread died sees one table or the other; and
      // the switch is one kill-safe section, so a kill leaks neither table.
      enterCritical();
      try {
        const bigger = newOwnedTable(cap * 2);
        i = heapCovering(bigger + (ENTRIES + cap * 2) * 4).i32;
        const nb = bigger >> 2;
        i.copyWithin(nb + ENTRIES, b + ENTRIES, b + ENTRIES + cap);
        i[nb + FREE_HEAD] = -1;
        i[cell] = bigger;
        free(t);
        t = bigger;
        b = nb;
      } finally {
        leaveCritical();
      }
    }
    i[b + USED] = slot + 1;
  }
  i[b + ENTRIES + slot] = ref;
  return slot;
}

/** Removes the entry at `slot` and returns the ref it held. */
export function ownedRemove(cell: number, slot: number): number {
  const i = tableViews(cell);
  const b = i[cell] >> 2;
  const ref = i[b + ENTRIES + slot];
  i[b + ENTRIES + slot] = -i[b + FREE_HEAD] - 2;
  i[b + FREE_HEAD] = slot;
  return ref;
}

/** The live refs in the table, oldest slot first; reads only (the owner, or anyone once it ended). */
export function ownedRefs(cell: number): number[] {
  if (heapCovering(cell * 4 + 4).i32[cell] === 0) return [];
  const i = tableViews(cell);
  const b = i[cell] >> 2;
  const refs: number[] = [];
  for (let s = 0; s < i[b + USED]; s++) if (i[b + ENTRIES + s] > 0) refs.push(i[b + ENTRIES + s]);
  return refs;
}

/** Whether a ref is a mark (a lock held, a claim: roles 4–6), not a count; role 7 marks a value block, which holds counts. */
const isMark = (ref: number): boolean => (ref & 7) >= 4 && (ref & 7) < 7;

/**
 * Empties the table, handing each live ref to `release`: marks first, then counted refs
 * and value blocks (most recent slot first in each pass). A mark is released while the counted ref that
 * keeps its object alive is still there, wherever the free list put the two.
 */
export function ownedDrain(cell: number, release: (ref: number) => void): void {
  // Once drained, entries recorded earlier by this thread are gone: end their generation.
  if (cell === thisCell) generation++;
  const i = heap().i32;
  const t = i[cell];
  if (t === 0) return;
  const b = t >> 2;
  for (const marks of [true, false]) {
    for (let s = i[b + USED] - 1; s >= 0; s--) {
      const ref = i[b + ENTRIES + s];
      if (ref > 0 && isMark(ref) === marks) {
        ownedRemove(cell, s);
        release(ref);
      }
    }
  }
}

/** Frees the (drained) table. */
export function ownedFree(cell: number): void {
  const i = heap().i32;
  const t = i[cell];
  if (t !== 0) {
    i[cell] = 0;
    free(t);
  }
}
