// A thread's side of the model checker. While a thread runs under a model, every
// operation of src/wait/futex.ts is replaced by a scheduling point: the thread stops,
// the checker's strategy picks which thread goes on, and only that one runs. The
// pick is made by the stopping thread itself, over the control block (control.ts),
// so a thread that goes on costs no wake-up; a switch hands the token to the next
// thread with one notify on its grant word.
//
// Waits and wakes are modelled, not performed: a wait whose word still holds the
// expected value blocks the thread in the model (it sleeps on its grant word), and a
// notify marks the model's waiters on that word runnable, oldest first. A timed wait
// may time out at any later pick (strategy.ts), which moves the virtual clock to its
// deadline: under the model performance.now() reads that clock, so deadlines, naps
// and timeouts are decided by the schedule, never by how fast the machine is.
//
// Async waits (waitAsync) register an entry and return a promise. A thread gives the
// token up when its event loop has nothing left to run (a macrotask after its last
// step: idleCheck); it is then runnable again once one of its entries was woken, and
// resolves those entries when it gets the token back. A thread that runs JavaScript
// without the token (a timer or I/O callback of its own) asks for it at its next point.
//
// The checker's bookkeeping uses raw Atomics on the control block only.

import { heap } from '../heap/heap.ts';
import { RUNTIME_BYTES } from '../heap/layout.ts';
import { retain } from '../heap/handle.ts';
import { recordField, R_STATE, isTerminal } from '../thread/record.ts';
import { rawOps, setOps, type FutexOps, type WaitResult } from '../wait/futex.ts';
import { ModelAbort } from './abort.ts';
import {
  Control, E_KEY, E_SEQ, E_SLOT, E_STATE, E_TIMED, earliestTimedEntry, Entry, Failure, F_CLOCK, G_ABORT, G_END,
  G_FAIL_KIND, G_FAIL_SLOT, G_LIVE, G_MAIN_LEFT, G_MAX_STEPS, G_SEQ, G_STEP, G_SWITCHES, G_THREADS, G_TOKEN, END_FAILED,
  END_OK, MAX_ASYNC, MAX_THREADS, NO_TOKEN, Op, State, T_ASYNC, T_ASYNC_TIMED, T_GRANT, T_KEY, T_OP, T_PRIO, T_RECORD,
  T_AT_FAIL, T_RESULT, T_SEQ, T_STATE, T_STEPS, T_TIMED, T_WOKEN, Wake,
} from './control.ts';
import { modelHooks, type ModelTicket } from './hooks.ts';
import { choose, initialPriority, NONE, TIMEOUT } from './strategy.ts';

/** Virtual milliseconds each scheduling point takes: time moves on, if slowly, while threads spin. */
const STEP_MS = 0.001;
/** How often a thread waiting for the token looks around (free token, stalled model). */
const POLL_MS = 20;
/** A model whose step count stands still this long has a thread stuck outside weft. */
export const STALL_MS = 30_000;
/** Operations a thread may take after a failure before it is stopped (a spin loop nobody ends), and again after each stop. */
const ABORT_BUDGET = 1_000_000;

let c: Control | undefined;
let self = -1;
/** This spawned thread's record (0 on the main thread). */
let ownRecord = 0;
let heapSab: SharedArrayBuffer | undefined;
/** > 0 while the checker itself uses weft functions (retain): their operations are not points. */
let suspended = 0;
let abortSteps = 0;
/** Resolvers of this thread's pending async waits, by entry. */
const pending = new Map<number, { resolve: (r: WaitResult) => void; reject: (e: unknown) => void }>();
let idleArmed = false;
/** Bumped when an idle period ends, so a stale wait for the token from it does nothing. */
let idleGeneration = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;
const realNow = performance.now.bind(performance);

const later = (f: () => void): unknown => (typeof setImmediate === 'function' ? setImmediate(f) : setTimeout(f, 0));
const cancelLater = (h: unknown): void =>
  typeof clearImmediate === 'function' ? clearImmediate(h as ReturnType<typeof setImmediate>) : clearTimeout(h as ReturnType<typeof setTimeout>);
/** The pending idle check (cancelled when the thread leaves, so its worker is at rest for the next thread). */
let idleTimer: unknown;

function ctl(): Control {
  return c!;
}

function aborted(): boolean {
  return c!.get(G_ABORT) !== 0;
}

/** Identifies the word a wait or notify is on: its heap byte offset, or a key of this thread for a private buffer. */
function keyOf(view: Int32Array | BigInt64Array, index: number): number {
  if (view.buffer === heapSab) return view.byteOffset + index * view.BYTES_PER_ELEMENT;
  return -1 - self; // a word of this thread's own (sleep, naps): nobody else can wake it
}

// ---------------------------------------------------------------------------------
// Failure and the token

/**
 * Ends the execution as failed (first failure wins): from now on waits throw
 * ModelAbort and every other operation runs unscheduled, so each thread unwinds.
 */
export function fail(k: Control, kind: number, slot: number): void {
  if (Atomics.compareExchange(k.i32, G_END, 0, END_FAILED) !== 0) return;
  k.set(G_FAIL_KIND, kind);
  k.set(G_FAIL_SLOT, slot);
  const n = k.get(G_THREADS);
  for (let t = 0; t < n; t++) k.set(k.slot(t, T_AT_FAIL), k.state(t));
  k.set(G_ABORT, 1);
  for (let t = 0; t < n; t++) {
    Atomics.add(k.i32, k.slot(t, T_GRANT), 1);
    Atomics.notify(k.i32, k.slot(t, T_GRANT));
  }
  Atomics.notify(k.i32, G_END);
  Atomics.notify(k.i32, G_LIVE);
}

/** Applies a timeout pick to slot `t`: its wait ends "timed-out" and the clock moves to its deadline. */
function timeOut(k: Control, t: number): void {
  let deadline: number;
  if (k.state(t) === State.Blocked) {
    k.set(k.slot(t, T_RESULT), Wake.TimedOut);
    k.setState(t, State.Ready);
    deadline = k.f64[k.slotDeadline(t)];
  } else {
    const e = earliestTimedEntry(k, t);
    k.set(k.entry(e, E_STATE), Entry.TimedOut);
    k.set(k.slot(t, T_WOKEN), k.get(k.slot(t, T_WOKEN)) + 1);
    deadline = k.f64[k.entryDeadline(e)];
  }
  if (deadline > k.f64[F_CLOCK]) k.f64[F_CLOCK] = deadline;
}

/** Carries out a pick: times out what it names, then lets its thread run (this thread's own state is already set). */
function give(k: Control, pick: number): void {
  const t = pick & ~TIMEOUT;
  if ((pick & TIMEOUT) !== 0) timeOut(k, t);
  k.set(G_TOKEN, t);
  k.setState(t, State.Running);
  if (t === self) return;
  k.set(G_SWITCHES, k.get(G_SWITCHES) + 1);
  Atomics.add(k.i32, k.slot(t, T_GRANT), 1);
  Atomics.notify(k.i32, k.slot(t, T_GRANT));
}

/** Lets go of the token: nobody can go on now, but a thread outside weft may come back (arrive). */
function releaseToken(k: Control): void {
  k.set(G_TOKEN, NO_TOKEN);
  // A thread that arrived while this one decided takes it at once.
  const n = k.get(G_THREADS);
  for (let t = 0; t < n; t++) {
    if (k.state(t) === State.Ready && Atomics.compareExchange(k.i32, G_TOKEN, NO_TOKEN, t) === NO_TOKEN) {
      give(k, t);
      return;
    }
  }
}

/**
 * Nothing can run. Returns true if some thread may still act by itself (it is starting,
 * or waits in its event loop for something outside weft): the token is let go. Else
 * the execution is over: finished if every thread ended, a deadlock otherwise.
 */
function nothingToRun(k: Control): boolean {
  const n = k.get(G_THREADS);
  let live = false;
  for (let t = 0; t < n; t++) {
    const s = k.state(t);
    if (s === State.Arriving || (s === State.Idle && k.get(k.slot(t, T_ASYNC)) === 0)) {
      releaseToken(k);
      return true;
    }
    if (s !== State.Done && s !== State.Unborn) live = true;
  }
  if (!live) {
    if (k.get(G_MAIN_LEFT) !== 0 && Atomics.compareExchange(k.i32, G_END, 0, END_OK) === 0) Atomics.notify(k.i32, G_END);
    return false;
  }
  fail(k, k.get(G_MAIN_LEFT) !== 0 ? Failure.LeftBlocked : Failure.Deadlock, self);
  return false;
}

/** Sleeps until this thread is given the token (grant word moved from `g`), taking a free one if it is Ready. */
function waitGrant(k: Control, g: number): void {
  const at = k.slot(self, T_GRANT);
  let step = k.get(G_STEP);
  let since = Date.now();
  for (;;) {
    Atomics.wait(k.i32, at, g, POLL_MS);
    if (Atomics.load(k.i32, at) !== g || aborted()) return;
    if (k.state(self) === State.Ready && Atomics.compareExchange(k.i32, G_TOKEN, NO_TOKEN, self) === NO_TOKEN) {
      k.setState(self, State.Running);
      return;
    }
    const now = k.get(G_STEP);
    if (now !== step) [step, since] = [now, Date.now()];
    else if (Date.now() - since > STALL_MS) fail(k, Failure.Stalled, k.get(G_TOKEN));
  }
}

/** Having set this thread's state, carries out `pick` and, unless it is this thread, waits for the token. */
function handOff(k: Control, pick: number): void {
  if ((pick & ~TIMEOUT) === self) return give(k, pick);
  const g = Atomics.load(k.i32, k.slot(self, T_GRANT));
  give(k, pick);
  waitGrant(k, g);
}

/** This thread runs JavaScript without the token (back from its event loop): asks for it. */
function arrive(k: Control): void {
  idleGeneration++;
  const g = Atomics.load(k.i32, k.slot(self, T_GRANT));
  if (Atomics.compareExchange(k.i32, k.slot(self, T_STATE), State.Idle, State.Ready) !== State.Idle) return; // given meanwhile
  armIdle(); // it gives the token up again once its event loop is idle
  if (Atomics.compareExchange(k.i32, G_TOKEN, NO_TOKEN, self) === NO_TOKEN) {
    k.setState(self, State.Running);
    return;
  }
  waitGrant(k, g);
}

// ---------------------------------------------------------------------------------
// Scheduling points

/** Stops here until the strategy lets this thread go on. */
function point(op: number, yielding = false): void {
  const k = ctl();
  if (k.get(G_ABORT) !== 0) return abortedStep();
  // A thread whose record is complete runs to its end without stopping: the runtime
  // hands its worker to a waiting spawn as soon as the record is complete, and a
  // spawn must never wait for a thread the model holds back.
  if (ownRecord !== 0 && isTerminal(Atomics.load(heap().i32, recordField(ownRecord, R_STATE)))) return;
  if (k.state(self) !== State.Running) {
    // JavaScript of this thread that runs without the token (a timer, or a finalizer
    // giving back a collected handle's ref while the body awaits): its plain atomics run
    // as they are, only its waits and notifies need the model.
    if (op === Op.Atomic || op === Op.Yield) return;
    arrive(k);
  }
  if (k.get(G_ABORT) !== 0) return;
  const step = k.get(G_STEP) + 1;
  k.set(G_STEP, step);
  k.set(k.slot(self, T_STEPS), k.get(k.slot(self, T_STEPS)) + 1);
  k.set(k.slot(self, T_OP), op);
  k.f64[F_CLOCK] += STEP_MS;
  if (step > k.get(G_MAX_STEPS)) return fail(k, Failure.TooManySteps, self);
  if (k.get(k.slot(self, T_WOKEN)) > 0) resolveWoken(k);
  k.setState(self, State.Ready);
  handOff(k, choose(k, self, yielding));
}

function abortedStep(): void {
  // After a failure threads run free; one that spins forever on a word nobody will
  // change is stopped here rather than left burning a core. Once per budget, not at
  // every step past it: unwinding takes steps too (its panic is stored, its record
  // completed), and a thread whose unwinding threw never left the model, so the model
  // waited out UNWIND_MS and had its worker killed.
  if (++abortSteps % ABORT_BUDGET === 0) throw new ModelAbort();
}

/**
 * An atomic operation as a scheduling point. Those on the runtime block (thread ids,
 * the main thread's record, the supervisor's mailbox, heap geometry) are not: they are
 * weft's own bookkeeping, and some are read once per thread, lazily, which would make
 * a schedule's steps depend on what the thread ran before.
 */
function atomic<V extends Int32Array | BigInt64Array, A extends unknown[], R>(f: (v: V, i: number, ...a: A) => R): (v: V, i: number, ...a: A) => R {
  return (v: V, i: number, ...a: A): R => {
    if (suspended === 0 && (v.buffer !== heapSab || v.byteOffset + i * v.BYTES_PER_ELEMENT >= RUNTIME_BYTES)) point(Op.Atomic);
    return f(v, i, ...a);
  };
}

function checkedWait(view: Int32Array, index: number, expected: number, ms?: number): WaitResult {
  if (suspended > 0) return rawOps.wait(view, index, expected, ms);
  point(Op.Wait);
  const k = ctl();
  if (aborted()) throw new ModelAbort();
  if (Atomics.load(view, index) !== expected) return 'not-equal';
  const timed = ms !== undefined && ms !== Infinity && !Number.isNaN(ms);
  if (timed && ms <= 0) return 'timed-out';
  k.set(k.slot(self, T_KEY), keyOf(view, index));
  k.set(k.slot(self, T_SEQ), nextSeq(k));
  k.set(k.slot(self, T_TIMED), timed ? 1 : 0);
  k.f64[k.slotDeadline(self)] = timed ? k.f64[F_CLOCK] + ms : Infinity;
  k.set(k.slot(self, T_RESULT), Wake.None);
  k.setState(self, State.Blocked);
  const pick = choose(k, self, false);
  if (pick === NONE) {
    const g = Atomics.load(k.i32, k.slot(self, T_GRANT));
    if (nothingToRun(k)) waitGrant(k, g);
  } else handOff(k, pick);
  if (aborted()) throw new ModelAbort();
  return k.get(k.slot(self, T_RESULT)) === Wake.TimedOut ? 'timed-out' : 'ok';
}

function nextSeq(k: Control): number {
  const s = k.get(G_SEQ) + 1;
  k.set(G_SEQ, s);
  return s;
}

function checkedNotify(view: Int32Array, index: number, count?: number): number {
  if (suspended > 0) return rawOps.notify(view, index, count);
  point(Op.Notify);
  const k = ctl();
  if (aborted()) return Atomics.notify(view, index, count);
  const key = keyOf(view, index);
  const max = count === undefined || count === Infinity ? Infinity : Math.max(0, Math.trunc(count));
  // The model's waiters on this word, threads and async entries alike, oldest first.
  const waiters: Array<[seq: number, slot: number, entry: number]> = [];
  const n = k.get(G_THREADS);
  for (let t = 0; t < n; t++) {
    if (k.state(t) === State.Blocked && k.get(k.slot(t, T_KEY)) === key) waiters.push([k.get(k.slot(t, T_SEQ)), t, -1]);
  }
  for (let e = 0; e < MAX_ASYNC; e++) {
    if (k.get(k.entry(e, E_STATE)) === Entry.Pending && k.get(k.entry(e, E_KEY)) === key) {
      waiters.push([k.get(k.entry(e, E_SEQ)), k.get(k.entry(e, E_SLOT)), e]);
    }
  }
  waiters.sort((a, b) => a[0] - b[0]);
  let woken = 0;
  for (const [, t, e] of waiters) {
    if (woken >= max) break;
    woken++;
    if (e < 0) {
      k.set(k.slot(t, T_RESULT), Wake.Notified);
      k.setState(t, State.Ready);
    } else {
      k.set(k.entry(e, E_STATE), Entry.Notified);
      k.set(k.entry(e, E_SEQ), nextSeq(k)); // resolved in wake order
      k.set(k.slot(t, T_WOKEN), k.get(k.slot(t, T_WOKEN)) + 1);
    }
  }
  // Threads outside the model (the supervisor) sleep on the real word.
  const rest = max - woken;
  return woken + (rest > 0 ? Atomics.notify(view, index, rest === Infinity ? undefined : rest) : 0);
}

function checkedWaitAsync(view: Int32Array, index: number, expected: number, ms?: number): Promise<WaitResult> {
  if (suspended > 0) return rawOps.waitAsync(view, index, expected, ms);
  point(Op.WaitAsync);
  const k = ctl();
  if (aborted()) return Promise.reject(new ModelAbort());
  if (Atomics.load(view, index) !== expected) return Promise.resolve('not-equal');
  const timed = ms !== undefined && ms !== Infinity && !Number.isNaN(ms);
  if (timed && ms <= 0) return Promise.resolve('timed-out');
  let e = 0;
  while (e < MAX_ASYNC && k.get(k.entry(e, E_STATE)) !== Entry.Free) e++;
  if (e === MAX_ASYNC) throw new RangeError(`weft/check: more than ${MAX_ASYNC} async waits pending at once in one model`);
  k.set(k.entry(e, E_SLOT), self);
  k.set(k.entry(e, E_KEY), keyOf(view, index));
  k.set(k.entry(e, E_SEQ), nextSeq(k));
  k.set(k.entry(e, E_TIMED), timed ? 1 : 0);
  k.f64[k.entryDeadline(e)] = timed ? k.f64[F_CLOCK] + ms : Infinity;
  k.set(k.entry(e, E_STATE), Entry.Pending);
  k.set(k.slot(self, T_ASYNC), k.get(k.slot(self, T_ASYNC)) + 1);
  if (timed) k.set(k.slot(self, T_ASYNC_TIMED), k.get(k.slot(self, T_ASYNC_TIMED)) + 1);
  armIdle();
  return new Promise((resolve, reject) => pending.set(e, { resolve, reject }));
}

/** Resolves this thread's woken async waits, in the order they were woken. */
function resolveWoken(k: Control): void {
  const woken: Array<[seq: number, entry: number]> = [];
  for (let e = 0; e < MAX_ASYNC; e++) {
    const s = k.get(k.entry(e, E_STATE));
    if ((s === Entry.Notified || s === Entry.TimedOut) && k.get(k.entry(e, E_SLOT)) === self) woken.push([k.get(k.entry(e, E_SEQ)), e]);
  }
  woken.sort((a, b) => a[0] - b[0]);
  for (const [, e] of woken) {
    const timedOut = k.get(k.entry(e, E_STATE)) === Entry.TimedOut;
    freeEntry(k, e);
    k.set(k.slot(self, T_WOKEN), k.get(k.slot(self, T_WOKEN)) - 1);
    const p = pending.get(e);
    pending.delete(e);
    p?.resolve(timedOut ? 'timed-out' : 'ok');
  }
}

function freeEntry(k: Control, e: number): void {
  if (k.get(k.entry(e, E_TIMED)) !== 0) k.set(k.slot(self, T_ASYNC_TIMED), k.get(k.slot(self, T_ASYNC_TIMED)) - 1);
  k.set(k.slot(self, T_ASYNC), k.get(k.slot(self, T_ASYNC)) - 1);
  k.set(k.entry(e, E_STATE), Entry.Free);
}

/** After a failure: this thread's async waits reject, so what awaits them unwinds. */
function rejectPending(): void {
  const all = [...pending.values()];
  pending.clear();
  for (const p of all) p.reject(new ModelAbort());
}

// ---------------------------------------------------------------------------------
// Idle: the thread's event loop has nothing to run

function armIdle(): void {
  if (idleArmed) return;
  idleArmed = true;
  idleTimer = later(idleCheck);
}

function idleCheck(): void {
  idleArmed = false;
  const k = c;
  if (k === undefined) return;
  if (aborted()) return rejectPending();
  if (k.state(self) !== State.Running) return;
  if (k.get(k.slot(self, T_WOKEN)) > 0) {
    resolveWoken(k);
    return armIdle();
  }
  k.setState(self, State.Idle);
  k.set(k.slot(self, T_OP), Op.Idle);
  const pick = choose(k, self, false);
  if (pick !== NONE && (pick & ~TIMEOUT) === self) {
    give(k, pick); // one of its own async waits timed out
    resolveWoken(k);
    return armIdle();
  }
  const g = Atomics.load(k.i32, k.slot(self, T_GRANT));
  if (pick === NONE) {
    if (!nothingToRun(k)) return rejectPending();
  } else give(k, pick);
  awaitGrant(k, g, ++idleGeneration);
}

/** Waits in the event loop for the token (an idle thread whose async wait was woken gets it). */
function awaitGrant(k: Control, g: number, generation: number): void {
  const at = k.slot(self, T_GRANT);
  let step = k.get(G_STEP);
  let since = Date.now();
  const again = (): void => {
    if (generation !== idleGeneration || c !== k) return; // this idle period ended another way
    if (Atomics.load(k.i32, at) === g) {
      const now = k.get(G_STEP);
      if (now !== step) [step, since] = [now, Date.now()];
      else if (Date.now() - since > STALL_MS) fail(k, Failure.Stalled, k.get(G_TOKEN));
      const r = Atomics.waitAsync(k.i32, at, g, POLL_MS);
      if (r.async) void r.value.then(again);
      else later(again);
      return;
    }
    idleGeneration++;
    if (aborted()) return rejectPending();
    resolveWoken(k);
    armIdle();
  };
  again();
}

// ---------------------------------------------------------------------------------
// Entering and leaving

const checkedOps: FutexOps = {
  load: atomic(rawOps.load),
  store: atomic(rawOps.store),
  add: atomic(rawOps.add),
  sub: atomic(rawOps.sub),
  and: atomic(rawOps.and),
  or: atomic(rawOps.or),
  xor: atomic(rawOps.xor),
  exchange: atomic(rawOps.exchange),
  cas: atomic(rawOps.cas),
  load64: atomic(rawOps.load64),
  store64: atomic(rawOps.store64),
  cas64: atomic(rawOps.cas64),
  add64: atomic(rawOps.add64),
  sub64: atomic(rawOps.sub64),
  and64: atomic(rawOps.and64),
  or64: atomic(rawOps.or64),
  xor64: atomic(rawOps.xor64),
  exchange64: atomic(rawOps.exchange64),
  wait: checkedWait,
  notify: checkedNotify,
  waitAsync: checkedWaitAsync,
};

function oneStep<A extends unknown[], R>(f: (...a: A) => R, ...a: A): R {
  suspended++;
  try {
    return f(...a);
  } finally {
    suspended--;
  }
}

function spinYield(): void {
  if (suspended === 0) point(Op.Yield, true);
}

/** performance.now() under the model: the virtual clock (the real one again after a failure). */
function modelNow(): number {
  const k = c;
  return k === undefined || aborted() ? realNow() : k.f64[F_CLOCK];
}

const spawnHook = {
  begin(): ModelTicket {
    const k = ctl();
    if (suspended === 0) point(Op.Spawn);
    const n = k.get(G_THREADS);
    if (n >= MAX_THREADS) throw new RangeError(`weft/check: a model may have at most ${MAX_THREADS} threads, the main thread included`);
    k.set(G_THREADS, n + 1);
    k.setState(n, State.Unborn);
    k.set(k.slot(n, T_PRIO), initialPriority(k));
    suspended++;
    return [k.offset, n];
  },

  cancelled(): void {
    suspended--;
  },

  started(record: number, [, t]: ModelTicket): void {
    const k = ctl();
    retain(record); // kept until the execution is over, for its report (model.ts releases it)
    suspended--;
    k.set(k.slot(t, T_RECORD), record);
    Atomics.add(k.i32, G_LIVE, 1);
    // The thread may have arrived already (Ready): the supervisor had the record since post().
    Atomics.compareExchange(k.i32, k.slot(t, T_STATE), State.Unborn, State.Arriving);
    const i = heap().i32;
    const since = Date.now();
    while (k.state(t) === State.Arriving) {
      if (isTerminal(Atomics.load(i, recordField(record, R_STATE)))) {
        // It could not start (its worker failed to boot): its joiners see the panic.
        if (Atomics.compareExchange(k.i32, k.slot(t, T_STATE), State.Arriving, State.Done) === State.Arriving) {
          Atomics.sub(k.i32, G_LIVE, 1);
        }
        break;
      }
      if (aborted()) break;
      if (Date.now() - since > STALL_MS) {
        fail(k, Failure.Stalled, t);
        break;
      }
      Atomics.wait(k.i32, k.slot(t, T_STATE), State.Arriving, POLL_MS);
    }
  },
};

function install(k: Control, slot: number): void {
  c = k;
  self = slot;
  heapSab = heap().sab;
  abortSteps = 0;
  idleArmed = false;
  pending.clear();
  setOps(checkedOps, spinYield, oneStep);
  modelHooks.spawn = spawnHook;
  Object.defineProperty(performance, 'now', { value: modelNow, configurable: true, writable: true });
  // A thread waiting for the token in its event loop sleeps in Atomics.waitAsync, which
  // does not keep a Node event loop alive.
  keepAlive = setInterval(() => {}, 1 << 30);
}

function uninstall(): void {
  setOps(undefined);
  modelHooks.spawn = undefined;
  delete (performance as { now?: unknown }).now;
  if (keepAlive !== undefined) clearInterval(keepAlive);
  keepAlive = undefined;
  pending.clear();
  if (idleArmed) cancelLater(idleTimer);
  idleArmed = false;
  idleGeneration++;
  c = undefined;
  self = -1;
  ownRecord = 0;
}

/** The main thread starts an execution: it holds the token (model.ts made slot 0). */
export function enterMain(k: Control): void {
  install(k, 0);
}

/** A spawned thread joins its model before its function runs, and waits for its first turn. */
export function enterThread(ticket: ModelTicket, record: number): void {
  const k = new Control(ticket[0]);
  install(k, ticket[1]);
  ownRecord = record;
  const g = Atomics.load(k.i32, k.slot(self, T_GRANT));
  k.setState(self, State.Ready);
  Atomics.notify(k.i32, k.slot(self, T_STATE)); // the spawner waits for this
  waitGrant(k, g);
}

/** The thread has ended (its record is complete): it leaves the model and lets the next one run. */
export function leaveThread(): void {
  const k = c;
  if (k === undefined) return;
  const isMain = self === 0;
  if (!aborted() && k.state(self) !== State.Running) arrive(k);
  // Async waits nobody awaits any more (a dropped recvAsync, say) go with the thread.
  for (let e = 0; e < MAX_ASYNC; e++) {
    if (k.get(k.entry(e, E_STATE)) !== Entry.Free && k.get(k.entry(e, E_SLOT)) === self) freeEntry(k, e);
  }
  k.set(k.slot(self, T_WOKEN), 0);
  k.setState(self, State.Done);
  k.set(k.slot(self, T_OP), Op.End);
  if (isMain) k.set(G_MAIN_LEFT, 1);
  if (!aborted()) {
    const pick = choose(k, self, false);
    if (pick === NONE) nothingToRun(k);
    else give(k, pick);
  }
  // Last: once the live count is 0 the model returns and may reset this block for its
  // next execution or free it (the next model's block may take its place). A thread
  // that looked at it after (held up by a loaded machine past its count) would act in
  // that execution as its old slot: a fresh execution is not aborted, so it picked a
  // thread, gave the token or declared a deadlock there. Atomic: threads unwinding
  // after a failure leave without the token. The notify may land on a word reused
  // since, which is a spurious wake-up.
  Atomics.sub(k.i32, G_LIVE, 1);
  Atomics.notify(k.i32, G_LIVE);
  uninstall();
}

/** The slot of the calling thread in its model (-1 outside one). */
export function currentSlot(): number {
  return self;
}
