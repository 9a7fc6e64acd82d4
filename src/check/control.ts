// The checker's control block: one heap block shared by every thread of a model,
// read and written with raw Atomics only (never the instrumented futex operations,
// which would make the checker's own bookkeeping scheduling points). Only the thread
// holding the token (the one the checker let run) changes it, except where a slot's
// comment says otherwise, so plain reads between two Atomics are consistent.

import { heap } from '../heap/heap.ts';

/** Most threads one execution may have, the main thread included. */
export const MAX_THREADS = 24;
/** Most pending async waits of all threads together. */
export const MAX_ASYNC = 256;

// Global words (i32 indexes relative to the block).
/** Slot of the thread that may run, or NO_TOKEN. */
export const G_TOKEN = 0;
/** Scheduling points taken in this execution. */
export const G_STEP = 1;
/** Slots handed out (the main thread is slot 0). */
export const G_THREADS = 2;
/** 0 while running; END_OK or END_FAILED once over. The main thread sleeps on it. */
export const G_END = 3;
/** Set once a failure was found: waits throw, everything else runs unscheduled. */
export const G_ABORT = 4;
/** A Failure code. */
export const G_FAIL_KIND = 5;
/** The slot the failure is about (-1: none). */
export const G_FAIL_SLOT = 6;
/** Random number generator state (xorshift32). */
export const G_RNG = 7;
/** Strategy code (strategy.ts). */
export const G_STRATEGY = 8;
/** Strategy parameter: stay bias (random, per mille) or depth d (PCT). */
export const G_PARAM = 9;
/** Order of blocking and waking, for FIFO wake-ups. */
export const G_SEQ = 10;
/** Step budget: a livelock shows as an execution that never ends. */
export const G_MAX_STEPS = 11;
/** Context switches taken (statistics). */
export const G_SWITCHES = 12;
/** 1 once the body has returned (the main thread left the model). */
export const G_MAIN_LEFT = 13;
/** Threads that have not left the model (spawned threads count from their start). Leaving, a thread's last touch of the block. */
export const G_LIVE = 14;
/** Next priority handed out below every other (PCT change points, yields). */
export const G_LOW_PRIO = 15;
/** PCT change points: steps at which the running thread drops to the lowest priority. */
export const G_CHANGE = 16;
export const MAX_CHANGE = 8;
/** Steps taken while another thread could have gone on: PCT's length k counts these. */
export const G_PSTEP = 24;
/** f64 index of the virtual clock (milliseconds, as performance.now()). */
export const F_CLOCK = 0;
const GLOBAL_WORDS = 40;

// Thread slots.
const SLOT_BASE = GLOBAL_WORDS;
const SLOT_WORDS = 16;
export const T_STATE = 0;
/** Bumped (and notified) to let the thread run. */
export const T_GRANT = 1;
/** Wait key of a blocked thread (see keys in runtime.ts). */
export const T_KEY = 2;
/** G_SEQ when it blocked. */
export const T_SEQ = 3;
/** 1 if its blocking wait has a timeout. */
export const T_TIMED = 4;
/** How its wait ended: Wake. */
export const T_RESULT = 5;
/** PCT priority (higher runs first). */
export const T_PRIO = 6;
/** Its thread record. */
export const T_RECORD = 7;
/** Its async waits that are pending (registered, not yet resolved). */
export const T_ASYNC = 8;
/** Of those, the ones woken (or timed out) and not yet resolved. */
export const T_WOKEN = 9;
/** Of the pending ones, those with a timeout. */
export const T_ASYNC_TIMED = 10;
/** The operation it stopped at (Op), for reports. */
export const T_OP = 11;
/** Scheduling points it took. */
export const T_STEPS = 12;
/** Its state when the execution failed (for the report: threads move on as they unwind). */
export const T_AT_FAIL = 13;
/** f64 index (relative to the f64 view of the block) of its wait deadline. */
const F_SLOT_BASE = 1;

// Async wait entries.
const ENTRY_BASE = SLOT_BASE + MAX_THREADS * SLOT_WORDS;
const ENTRY_WORDS = 6;
export const E_STATE = 0;
export const E_SLOT = 1;
export const E_KEY = 2;
export const E_SEQ = 3;
export const E_TIMED = 4;
const F_ENTRY_BASE = F_SLOT_BASE + MAX_THREADS;

const I32_WORDS = ENTRY_BASE + MAX_ASYNC * ENTRY_WORDS;
const F64_START = Math.ceil((I32_WORDS * 4) / 8) * 8; // byte offset of the f64 area for deadlines
/** Bytes of the control block. */
export const CONTROL_BYTES = F64_START + (F_ENTRY_BASE + MAX_ASYNC) * 8;

export const NO_TOKEN = -1;
export const END_OK = 1;
export const END_FAILED = 2;

/** Thread states. */
export const State = {
  /** Slot reserved by spawn(), thread not posted yet. */
  Unborn: 0,
  /** Posted; the spawner waits for it to reach its first point. */
  Arriving: 1,
  /** Stopped at a scheduling point, may be chosen. */
  Ready: 2,
  /** Holds the token. */
  Running: 3,
  /** In a blocking wait. */
  Blocked: 4,
  /** Back in its event loop (async waits pending, or waiting for something outside weft). */
  Idle: 5,
  Done: 6,
} as const;

/** How a wait ended. */
export const Wake = { None: 0, Notified: 1, TimedOut: 2 } as const;

/** Async entry states. */
export const Entry = { Free: 0, Pending: 1, Notified: 2, TimedOut: 3 } as const;

/** Operations threads stop at, for reports. */
export const Op = {
  Atomic: 1,
  Wait: 2,
  WaitAsync: 3,
  Notify: 4,
  Yield: 5,
  Spawn: 6,
  Idle: 7,
  End: 8,
} as const;

/** What went wrong. */
export const Failure = {
  None: 0,
  Deadlock: 1,
  LeftBlocked: 2,
  BodyThrew: 3,
  ThreadPanicked: 4,
  TooManySteps: 5,
  Stalled: 6,
} as const;

/** Views of one control block. */
export class Control {
  readonly i32: Int32Array;
  readonly f64: Float64Array;

  constructor(readonly offset: number) {
    const sab = heap().sab;
    this.i32 = new Int32Array(sab, offset, I32_WORDS);
    this.f64 = new Float64Array(sab, offset + F64_START, F_ENTRY_BASE + MAX_ASYNC);
  }

  /** i32 index of word `field` of slot `t`. */
  slot(t: number, field: number): number {
    return SLOT_BASE + t * SLOT_WORDS + field;
  }

  /** i32 index of word `field` of async entry `e`. */
  entry(e: number, field: number): number {
    return ENTRY_BASE + e * ENTRY_WORDS + field;
  }

  /** f64 index of slot `t`'s deadline. */
  slotDeadline(t: number): number {
    return F_SLOT_BASE + t;
  }

  entryDeadline(e: number): number {
    return F_ENTRY_BASE + e;
  }

  get(index: number): number {
    return Atomics.load(this.i32, index);
  }

  set(index: number, value: number): void {
    Atomics.store(this.i32, index, value);
  }

  state(t: number): number {
    return Atomics.load(this.i32, this.slot(t, T_STATE));
  }

  setState(t: number, s: number): void {
    Atomics.store(this.i32, this.slot(t, T_STATE), s);
  }

  /** Zeroes everything: the start of an execution. */
  reset(): void {
    this.i32.fill(0);
    this.f64.fill(0);
  }
}

/** The pending timed async wait of slot `t` with the earliest deadline (-1: none). */
export function earliestTimedEntry(c: Control, t: number): number {
  let best = -1;
  for (let e = 0; e < MAX_ASYNC; e++) {
    if (c.get(c.entry(e, E_STATE)) !== Entry.Pending || c.get(c.entry(e, E_SLOT)) !== t || c.get(c.entry(e, E_TIMED)) === 0) continue;
    if (best < 0 || c.f64[c.entryDeadline(e)] < c.f64[c.entryDeadline(best)]) best = e;
  }
  return best;
}
