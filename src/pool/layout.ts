// Numbers the pool side and its threads share. poolThreadMain (pool_thread.ts) is sent
// as source and cannot import them, so it spells the same numbers out; a test checks
// that the two agree.

/** A task's state word (an AtomicI32 that travels with the task). */
export const TaskState = {
  QUEUED: 0,
  /** Cancelled while queued (map's signal, terminate()): no thread will run it. */
  CANCELLED: 1,
  DONE: 2,
  /** terminate() claimed the running task: its thread is being killed. */
  KILLING: 3,
  /** RUNNING_BASE + n: pool thread number n runs it. */
  RUNNING_BASE: 4,
} as const;

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

/** Message kinds. */
export const TaskKind = { CALL: 0, MAP_CHUNK: 1 } as const;
