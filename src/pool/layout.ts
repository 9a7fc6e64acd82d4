// Numbers the pool side and its threads share. poolThreadMain (pool_thread.ts) is sent
// as source and cannot import them, so it spells the same numbers out; a test checks
// that the two agree.

/**
 * A task's state: two i32 words, [state, thread], in a slot of the pool's state table
 * (or, when every slot is taken, in a small SharedArray of the task's own).
 *
 * The state word is `gen << GEN_SHIFT | code`. A slot is reused once its task is over,
 * with the next generation, so a stale message (a task cancelled and freed while still
 * queued) fails every CAS it tries and is skipped. The thread word is `-1 - gen` until
 * a pool thread claims the task, then that thread's number.
 */
export const TaskState = {
  QUEUED: 0,
  /** Cancelled while queued (map's signal, cancel(), terminate()): no thread will run it. */
  CANCELLED: 1,
  DONE: 2,
  /** terminate() claimed the running task: its thread is being killed. */
  KILLING: 3,
  /** A pool thread runs it; the thread word says which. */
  RUNNING: 4,
} as const;
export const GEN_SHIFT = 3;
export const CODE_MASK = (1 << GEN_SHIFT) - 1;
/** Generations wrap here, so that `gen << GEN_SHIFT` stays a positive i32. */
export const GEN_MASK = (1 << (31 - GEN_SHIFT)) - 1;
/** Slots in a pool's state table: tasks queued, running or not yet joined at once beyond this get a table of their own. */
export const STATE_SLOTS = 4096;
/**
 * The doorbell, the last two words of the state table (pool_thread.ts says how it is
 * rung): SEQ, bumped after each task queued, and SPINNER, the number + 1 of the idle
 * pool thread spinning for the next task (0: none).
 */
export const Doorbell = { SEQ: STATE_SLOTS * 2, SPINNER: STATE_SLOTS * 2 + 1 } as const;
/** Words of the state table: the slots, then the doorbell. */
export const STATE_WORDS = STATE_SLOTS * 2 + 2;

/** 64-bit words per pool thread in the statistics table. */
export const ROW = 8;
/** Words of a row. */
export const Stat = {
  BUSY: 0,
  COMPLETED: 1,
  FAILED: 2,
  CANCELLED: 3,
  WAIT_NS: 4,
  WAIT_MAX_NS: 5,
  RUN_NS: 6,
} as const;

/**
 * Message kinds. CALL: fn(...args). MAP_CHUNK: fn over the items in args. MAP_SHARED:
 * fn over the items of a shared Float64Array, claimed in blocks from a shared cursor
 * (args is [array, cursor, block]), numeric results written back in place.
 */
export const TaskKind = { CALL: 0, MAP_CHUNK: 1, MAP_SHARED: 2 } as const;
