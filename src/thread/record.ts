// A thread's record in the heap: identity, parker, join packet and the table of refs
// it owns. It is a heap object (kind Thread), so Thread and JoinHandle handles in any
// thread point at the same record, and the supervisor can finish it for a dead worker.

import { allocObject } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { I_NEXT_THREAD_ID } from '../heap/layout.ts';
import { newOwnedTable } from '../heap/owned.ts';
import { codecs } from '../codec/index.ts';
import { loadValue } from '../codec/stored.ts';
import { add, load, store } from '../wait/futex.ts';

// i32 field indexes, relative to the record's offset >> 2 (0 and 1 are the header).
export const R_ID = 2;
/** Join packet state, one of `State`; waited on by joiners. */
export const R_STATE = 3;
/** Parker word: EMPTY 0, PARKED -1, NOTIFIED 1 (Rust's futex parker). */
export const R_PARKER = 4;
/** i32 index of this field is the owned-table cell (see owned.ts). */
export const R_OWNED = 5;
/** Stored value: the result (Done) or the panic payload (Panicked). */
export const R_RESULT = 6;
/** Name as a stored utf8 block (0: unnamed). */
export const R_NAME = 7;
/** Stored value: what to run (spawn spec) until the thread takes it. */
export const R_SPEC = 8;
/** Scope object the thread belongs to (0: none). */
export const R_SCOPE = 9;
/** Set to 1 once a joiner took the result (a joined panic is not a scope's panic). */
export const R_JOINED = 10;
/** Requested stack size in bytes (0: default). */
export const R_STACK = 11;
/** Why a panicked thread ended, one of `Reason`. */
export const R_REASON = 12;
/** Next record in its scope's list of threads. */
export const R_SCOPE_NEXT = 13;
/** Who may still receive the outcome: one per Join ref, plus the scope of a scoped thread (panic_report.ts). */
export const R_JOINERS = 14;
/** Whether a panic is to be printed or delivered, one of `Report` (panic_report.ts). */
export const R_REPORT = 15;
/** Kill-safe section word: IN while the thread is in one, KILL once a kill waits for it (critical.ts). */
export const R_CRITICAL = 16;
const RECORD_BODY_BYTES = 15 * 4;

export const Reason = {
  Threw: 0,
  StackOverflow: 1,
  /** Ended by process.exit(), terminate(), a crash outside its function, or failing to start. */
  Killed: 2,
} as const;

export const State = {
  /** Created, not started yet. */
  Pending: 0,
  Running: 1,
  Done: 2,
  Panicked: 3,
} as const;

/** A panic's report state: nothing to report, not yet printed nor delivered, printed or delivered. */
export const Report = { None: 0, Pending: 1, Settled: 2 } as const;

export const isTerminal = (state: number): boolean => state >= State.Done;

/** Creates a record with a fresh, never reused thread id. */
export function newRecord(): number {
  const r = allocObject(Kind.Thread, RECORD_BODY_BYTES);
  const i = heap().i32;
  const b = r >> 2;
  store(i, b + R_ID, add(i, I_NEXT_THREAD_ID, 1));
  store(i, b + R_OWNED, newOwnedTable());
  return r;
}

export const recordField = (record: number, field: number): number => (record >> 2) + field;

export function recordId(record: number): number {
  return load(heap().i32, recordField(record, R_ID));
}

export function threadName(record: number): string | undefined {
  const p = load(heap().i32, recordField(record, R_NAME));
  return p === 0 ? undefined : loadValue(codecs.utf8, p, false);
}

/** `thread '<name>'` as Rust prints it in panic messages. */
export function describeThread(record: number): string {
  return `thread '${threadName(record) ?? '<unnamed>'}'`;
}
