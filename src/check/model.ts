// model(): runs a body many times, each under one schedule (strategy.ts) of the
// threads it spawns, and rejects with the seed of the first schedule that fails.
//
// The body runs on the calling thread (slot 0 of the model), which holds the token at
// the start. Spawned threads join the model from spawn() (hooks.ts, runtime.ts). An
// execution is over when the body has returned and every thread has ended; it failed
// if the body threw, a thread panicked with nobody joining it, every live thread was
// blocked (deadlock, or threads left blocked once the body returned), or it ran past
// its step budget (a livelock). After a failure, waits throw ModelAbort so each thread
// unwinds and ends; the report names where the blocked threads were waiting.

import { codecs } from '../codec/index.ts';
import { loadValue } from '../codec/stored.ts';
import { alloc, free } from '../heap/alloc.ts';
import { releaseRef, retain } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { describeValue } from '../heap/describe.ts';
import { mainRecord } from '../thread/current.ts';
import { post, Op as MailboxOp } from '../thread/mailbox.ts';
import { panicDelivered } from '../thread/panic_report.ts';
import { isTerminal, recordField, recordId, R_JOINED, R_RESULT, R_STATE, State as RecordState, threadName } from '../thread/record.ts';
import { ensureSupervisor } from '../thread/spawn.ts';
import { isModelAbort } from './abort.ts';
import {
  Control, CONTROL_BYTES, END_FAILED, Failure, F_CLOCK, G_END, G_FAIL_KIND, G_FAIL_SLOT, G_LIVE, G_MAX_STEPS, G_PSTEP, G_STEP,
  G_SWITCHES, G_THREADS, G_TOKEN, State, T_AT_FAIL, T_KEY, T_OP, T_PRIO, T_RECORD,
} from './control.ts';
import { enterMain, fail, leaveThread, STALL_MS } from './runtime.ts';
import { describeSchedule, initialPriority, scheduleOf, seedOf, startSchedule, variantsOf, type Schedule } from './strategy.ts';

export interface ModelOptions {
  /** Executions to run, each under another schedule (default 1000). Ignored with `seed`. */
  schedules?: number;
  /** Replays the one schedule a failure printed. */
  seed?: number;
  /** Only this family of schedules (default: both, in turn). */
  strategy?: 'random' | 'pct';
  /** Scheduling points one execution may take before it counts as a livelock (default 20000). */
  maxSteps?: number;
  /** Stops early, after the execution during which this many milliseconds have passed (the count run is returned). */
  timeLimit?: number;
}

export interface ModelResult {
  /** Executions run (each under its own schedule). */
  schedules: number;
  /** Scheduling points over all executions. */
  steps: number;
  /** Context switches over all executions. */
  switches: number;
}

const DEFAULT_SCHEDULES = 1000;
const DEFAULT_MAX_STEPS = 20_000;
/** How long the threads of a failed execution get to unwind before they are terminated. */
const UNWIND_MS = 10_000;

function checkOptions(options: unknown): ModelOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw new TypeError(`model(): options must be an object, got ${describeValue(options)}`);
  const o = options as ModelOptions;
  const count = (name: keyof ModelOptions, min: number): void => {
    const v = o[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
      throw new RangeError(`model(): options.${name} must be an integer >= ${min}, got ${describeValue(v)}`);
    }
  };
  count('schedules', 1);
  count('maxSteps', 1);
  if (o.timeLimit !== undefined && (typeof o.timeLimit !== 'number' || !(o.timeLimit > 0))) {
    throw new RangeError(`model(): options.timeLimit must be a positive number of milliseconds, got ${describeValue(o.timeLimit)}`);
  }
  if (o.strategy !== undefined && o.strategy !== 'random' && o.strategy !== 'pct') {
    throw new RangeError(`model(): options.strategy must be 'random' or 'pct', got ${describeValue(o.strategy)}`);
  }
  if (o.seed !== undefined) scheduleOf(o.seed);
  return o;
}

let running = false;

/**
 * Runs `body` under many schedules of the threads it spawns; rejects with an Error
 * holding the seed of the first schedule under which it fails
 * (`model(body, { seed })` replays that schedule).
 */
export async function model(body: () => void | Promise<void>, options?: ModelOptions): Promise<ModelResult> {
  if (typeof body !== 'function') throw new TypeError(`model(): body must be a function, got ${describeValue(body)}`);
  const o = checkOptions(options);
  if (running) throw new Error('model(): another model is running in this thread; await it first (models do not nest)');
  running = true;
  ensureSupervisor(); // started outside any schedule
  const block = alloc(CONTROL_BYTES);
  const k = new Control(block);
  const replay = o.seed !== undefined;
  const total = replay ? 1 : (o.schedules ?? DEFAULT_SCHEDULES);
  const only = variantsOf(o.strategy);
  const base = (Math.random() * 2 ** 32) >>> 0;
  const started = Date.now();
  const result: ModelResult = { schedules: 0, steps: 0, switches: 0 };
  let expected = 64;
  let clean = true;
  // Waiting for an execution's end sleeps in Atomics.waitAsync, which does not keep a
  // Node event loop alive: without this the process could exit under a pending model.
  const alive = setInterval(() => {}, 1 << 30);
  try {
    while (result.schedules < total) {
      const n = result.schedules;
      const seed = replay ? o.seed! : seedOf(base, n, expected, only?.[n % only.length]);
      const schedule = scheduleOf(seed);
      const outcome = await execute(k, schedule, body, o.maxSteps ?? DEFAULT_MAX_STEPS);
      result.schedules++;
      result.steps += outcome.steps;
      result.switches += outcome.switches;
      expected = Math.max(expected, outcome.psteps);
      clean = outcome.clean;
      if (outcome.failure !== undefined) {
        const where = replay ? 'replaying' : `under schedule ${n + 1} of ${total}`;
        throw new Error(
          `weft/check: ${outcome.failure} (${where}, ${describeSchedule(schedule)}; seed ${seed}: replay with model(body, { seed: ${seed} }))`,
          { cause: outcome.cause },
        );
      }
      if (o.timeLimit !== undefined && Date.now() - started >= o.timeLimit) break;
    }
    return result;
  } finally {
    // A thread that never unwound may still read the block: then it is left to it.
    if (clean) free(block);
    clearInterval(alive);
    running = false;
  }
}

interface Outcome {
  failure?: string;
  cause?: unknown;
  steps: number;
  /** Steps where a switch could happen (PCT's k). */
  psteps: number;
  switches: number;
  /** Every thread of the execution ended (the control block is no longer read). */
  clean: boolean;
}

async function execute(k: Control, schedule: Schedule, body: () => void | Promise<void>, maxSteps: number): Promise<Outcome> {
  k.reset();
  startSchedule(k, schedule);
  k.set(G_MAX_STEPS, maxSteps);
  k.set(G_THREADS, 1);
  k.set(G_LIVE, 1);
  k.set(G_TOKEN, 0);
  k.set(k.slot(0, T_RECORD), mainRecord());
  k.set(k.slot(0, T_PRIO), initialPriority(k));
  k.setState(0, State.Running);
  k.f64[F_CLOCK] = performance.now();

  let thrown: { error: unknown } | undefined;
  enterMain(k);
  try {
    const r = body();
    if (r !== null && typeof r === 'object' && typeof (r as Promise<void>).then === 'function') await r;
  } catch (e) {
    thrown = { error: e };
  }
  if (thrown !== undefined && !isModelAbort(thrown.error)) fail(k, Failure.BodyThrew, 0);
  leaveThread();

  const clean = await waitForEnd(k);
  const records = spawnedRecords(k);
  let failure: string | undefined;
  let cause: unknown;
  if (k.get(G_END) === END_FAILED) {
    failure = describeFailure(k, snapshot(k), thrown);
    cause = k.get(G_FAIL_KIND) === Failure.BodyThrew ? thrown?.error : undefined;
  } else {
    // A thread that panicked and that nobody joined fails the execution too.
    for (const r of records) {
      const i = heap().i32;
      if (Atomics.load(i, recordField(r, R_STATE)) === RecordState.Panicked && Atomics.load(i, recordField(r, R_JOINED)) === 0) {
        const payload = panicPayload(r);
        failure = `${describeRecord(r)} panicked and nobody joined it: ${payload instanceof Error ? `${payload.name}: ${payload.message}` : String(payload)}`;
        cause = payload;
        break;
      }
    }
  }
  for (const r of records) {
    // Panics of threads the checker stopped are part of its report, not the program's.
    if (failure !== undefined) panicDelivered(r);
    releaseRef(r);
  }
  return { failure, cause, steps: k.get(G_STEP), psteps: k.get(G_PSTEP), switches: k.get(G_SWITCHES), clean };
}

/**
 * Waits until the execution is over and every thread has left it (after a failure:
 * unwound, or terminated after UNWIND_MS). A thread's last touch of the control block
 * is its count in G_LIVE (runtime.ts leaveThread): only then may the block be freed or
 * reset, as a thread still in leaveThread would otherwise act in the next execution.
 */
async function waitForEnd(k: Control): Promise<boolean> {
  let step = k.get(G_STEP);
  let since = Date.now();
  for (;;) {
    const end = k.get(G_END);
    if (end !== 0 && k.get(G_LIVE) <= 0) return true;
    const failed = end === END_FAILED;
    if (failed && Date.now() - since > UNWIND_MS) {
      // Threads that will not unwind (spinning outside weft, say) are killed.
      for (const r of spawnedRecords(k)) {
        if (!isTerminal(Atomics.load(heap().i32, recordField(r, R_STATE)))) {
          retain(r);
          post(MailboxOp.Terminate, r);
        }
      }
      await sleepAsyncRaw(1000);
      return false;
    }
    // Once over (every thread Done, or unwinding), only the live count moves.
    const word = end !== 0 ? G_LIVE : G_END;
    const r = Atomics.waitAsync(k.i32, word, k.get(word), 100);
    if (r.async) await r.value;
    const now = k.get(G_STEP);
    if (now !== step) [step, since] = [now, Date.now()];
    else if (end === 0 && Date.now() - since > STALL_MS) fail(k, Failure.Stalled, k.get(G_TOKEN));
  }
}

const sleepAsyncRaw = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnedRecords(k: Control): number[] {
  const out: number[] = [];
  const n = k.get(G_THREADS);
  for (let t = 1; t < n; t++) {
    const r = k.get(k.slot(t, T_RECORD));
    if (r !== 0) out.push(r);
  }
  return out;
}

interface Stuck {
  slot: number;
  record: number;
  state: number;
  op: number;
  key: number;
}

function snapshot(k: Control): Stuck[] {
  const out: Stuck[] = [];
  const n = k.get(G_THREADS);
  for (let t = 0; t < n; t++) {
    out.push({ slot: t, record: k.get(k.slot(t, T_RECORD)), state: k.get(k.slot(t, T_AT_FAIL)), op: k.get(k.slot(t, T_OP)), key: k.get(k.slot(t, T_KEY)) });
  }
  return out;
}

function describeRecord(r: number): string {
  const name = threadName(r);
  return `thread ${name === undefined ? '<unnamed>' : `'${name}'`} (id ${recordId(r)})`;
}

function panicPayload(r: number): unknown {
  const p = Atomics.load(heap().i32, recordField(r, R_RESULT));
  if (p === 0) return undefined;
  try {
    return loadValue(codecs.structured, p, false);
  } catch (e) {
    return e;
  }
}

/** The first frames of a ModelAbort's stack outside weft's own waiting code: where the thread waited. */
function waitedAt(e: unknown): string | undefined {
  if (!(e instanceof Error) || typeof e.stack !== 'string') return undefined;
  const frames = e.stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at ') && !/[/\\]src[/\\](check|wait)[/\\]/.test(l));
  return frames.length === 0 ? undefined : frames.slice(0, 4).join(' <- ');
}

const STATE_WORDS: Record<number, string> = {
  [State.Blocked]: 'blocked in a wait',
  [State.Idle]: 'waiting in its event loop (async waits pending)',
  [State.Ready]: 'runnable',
  [State.Running]: 'running',
  [State.Arriving]: 'starting',
};

function describeFailure(k: Control, stuck: Stuck[], thrown: { error: unknown } | undefined): string {
  const kind = k.get(G_FAIL_KIND);
  const slot = k.get(G_FAIL_SLOT);
  const name = (s: Stuck): string => (s.record === 0 ? `thread #${s.slot}` : describeRecord(s.record));
  const threads = stuck
    .filter((s) => s.state !== State.Done && s.state !== State.Unborn)
    .map((s) => {
      let where = STATE_WORDS[s.state] ?? 'in an unknown state';
      if (s.state === State.Blocked && s.key >= 0) where += ` on heap byte ${s.key}`;
      const abort = s.slot === 0 ? thrown?.error : s.record !== 0 ? panicPayload(s.record) : undefined;
      const at = isModelAbort(abort) ? waitedAt(abort) : undefined;
      return `${name(s)} ${where}${at !== undefined ? ` at ${at}` : ''}`;
    });
  const list = threads.length > 0 ? `: ${threads.join('; ')}` : '';
  switch (kind) {
    case Failure.Deadlock:
      return `deadlock: every thread is blocked with nobody left to wake it${list}`;
    case Failure.LeftBlocked:
      return `the body returned with threads left blocked forever (a lost wake-up?)${list}`;
    case Failure.BodyThrew: {
      const e = thrown?.error;
      return `the body threw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    }
    case Failure.TooManySteps:
      return `an execution took more than ${k.get(G_MAX_STEPS)} scheduling points: a livelock, or a spin loop that never yields (call yieldNow() in it); raise options.maxSteps if the body is that long${list}`;
    case Failure.Stalled:
      return `no thread took a step for ${STALL_MS / 1000} s while ${slot === 0 ? 'the main thread' : `thread #${slot} of the model`} was to go on: it waits for something outside weft, never started, or its worker died${list}`;
    default:
      return `failed (${kind})${list}`;
  }
}
