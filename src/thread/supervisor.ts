// The supervisor: a dedicated worker that owns every Worker weft creates. It never
// blocks (it waits on its heap mailbox with waitAsync), so it always hears a
// worker's `exit` event, even while every other thread is blocked in Atomics.wait,
// and it finishes the record of any thread that died without finishing itself.
//
// A warm pool of booted workers makes spawn cheap. A worker runs one thread at a
// time (never several: blocking primitives would deadlock them) and comes back to
// the pool when its thread ended and left it at rest (see worker_main.ts).
//
// Unnamed threads skip the supervisor when they can: up to MAX_IDLE pooled workers for
// them wait on hand-off words (mailbox.ts) rather than for a message, and spawn() puts
// the record straight into an idle one's word. The supervisor does not hear of it; it
// reads the words when it needs to know who runs what (a kill, a worker's exit). Only
// spawns that find no idle worker (and named ones, and dedicated stacks) are posted
// here, and this supervisor hands them out through the words or by message.

import { releaseRef } from '../heap/handle.ts';
import { host } from '../platform/host.ts';
import { heap } from '../heap/heap.ts';
import { add, cas, exchange, load, store } from '../wait/futex.ts';
import { outsideCritical } from './critical.ts';
import { completeRecord, storeOutcome } from './finish.ts';
import { launch, type HostWorker } from './launch.ts';
import { panicKnown } from './panic_report.ts';
import { createHandOff, HAND_FREE, HAND_IDLE, handOff, handQueued, handWord, Op, take, takeNow } from './mailbox.ts';
import { describeThread, isTerminal, recordField, Reason, R_CRITICAL, R_STACK, R_STATE, State, threadName } from './record.ts';
import { availableParallelism } from './sleep.ts';
import { allocWakeWord } from '../channel/signal.ts';

const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism()));
/** Pooled workers failing to boot in a row before the threads queued for one are failed. */
const MAX_POOL_BOOT_FAILURES = 3;
/** Idle workers kept beyond this are let go. */
const MAX_IDLE = 2 * POOL_SIZE;
/** Wake words the supervisor makes when it starts (more are made when more workers are alive at once). */
const WAKE_WORDS_AHEAD = 32;
/** Whether pooled workers for unnamed threads take them through hand-off words (Node) or by message (browsers). */
const handOffWorkers = host.name === 'node';
/** The Worker name of pooled workers for unnamed threads. */
export const UNNAMED_WORKER = 'weft';

/**
 * One worker and the thread it runs (0 while it waits in the pool). A worker carries
 * the name of the threads it runs (the Worker's name is what debuggers and profilers
 * show, and it is fixed when the worker starts), so named threads run on workers of
 * their own name, reused by later threads of the same name.
 */
interface Slot {
  worker: HostWorker;
  name: string;
  /** Returns to the pool after its thread (not a worker dedicated to one thread's stack size). */
  pooled: boolean;
  record: number;
  booted: boolean;
  terminated: boolean;
  error: unknown;
  /** The wake word lent to the worker (channel/signal.ts), taken back when it is gone. */
  wake: number;
  /** Its hand-off word (mailbox.ts), or -1: it gets its threads by message. */
  hand: number;
}

/** Ends a thread that never ran: its joiners get `error` as a PanicError's cause. */
function failUnstarted(record: number, error: Error): void {
  if (!isTerminal(load(heap().i32, recordField(record, R_STATE)))) {
    storeOutcome(record, false, error, Reason.Killed);
    completeRecord(record, State.Panicked);
  }
  releaseRef(record);
}

/**
 * The supervisor could not be started (a browser learns it only after spawn() has
 * returned): fails every request posted to it, so no joiner waits for a thread that
 * will never run. Spawns after this throw SpawnError (spawn.ts).
 */
export function failPosted(error: Error): void {
  for (const { op, arg: record } of takeNow()) {
    if (op === Op.Spawn) failUnstarted(record, new Error(`could not start ${describeThread(record)}: ${error.message}`, { cause: error }));
    else releaseRef(record); // the count that came with a terminate request
  }
}

export async function runSupervisor(sab: SharedArrayBuffer): Promise<never> {
  const pool: Slot[] = []; // booted, waiting for a thread, oldest first
  const queue: number[] = []; // records waiting for a pooled worker, in spawn order
  const byRecord = new Map<number, Slot>();
  const booting = new Map<string, number>(); // pooled workers booting, by name
  const names = new Map<number, string>(); // worker name of each queued record
  // Wake words to lend to workers; a gone worker's word comes back here, as a stale
  // registration may still signal it. Made up front for more workers than the pool
  // usually has alive, so that the live heap does not grow by a word each time a few
  // more workers than ever before are alive at once (what a heap-leak check would see).
  const wakeWords: number[] = Array.from({ length: WAKE_WORDS_AHEAD }, allocWakeWord);
  // Booted workers that get their threads through a hand-off word: idle (HAND_IDLE in
  // the word) or running the record in it. A worker the supervisor takes a record back
  // from (to kill it) leaves this set for byRecord.
  const handSlots = new Set<Slot>();
  const handBlock = createHandOff(MAX_IDLE);
  const freeHands = Array.from({ length: MAX_IDLE }, (_, k) => handWord(handBlock, MAX_IDLE - 1 - k));
  const queuedAt = handQueued(handBlock);

  const count = (m: Map<string, number>, name: string, by: number): void => {
    const n = (m.get(name) ?? 0) + by;
    if (n === 0) m.delete(name);
    else m.set(name, n);
  };

  // Unnamed records queued are counted in the hand-off block: a hand-off worker coming
  // back idle looks at the count to learn that it should say so (worker_main.ts).
  const enqueue = (record: number, name: string): void => {
    queue.push(record);
    names.set(record, name);
    if (name === UNNAMED_WORKER) add(heap().i32, queuedAt, 1);
  };
  const dequeue = (at: number): number => {
    const [record] = queue.splice(at, 1);
    if (names.get(record) === UNNAMED_WORKER) add(heap().i32, queuedAt, -1);
    names.delete(record);
    return record;
  };
  /** The hand-off worker whose word holds `record`. */
  const handHolding = (record: number): Slot | undefined => {
    for (const slot of handSlots) if (load(heap().i32, slot.hand) === record) return slot;
    return undefined;
  };

  // Every record reaches the supervisor with one count of its own, given back here.
  const panic = (record: number, payload: unknown, reason: number): void => {
    if (!isTerminal(load(heap().i32, recordField(record, R_STATE)))) {
      storeOutcome(record, false, payload, reason);
      // An uncaught error outside the thread's function (a timer callback, say) is a
      // panic the thread could not report itself. Kills and exits are not panics.
      if (reason === Reason.Threw) panicKnown(record);
      completeRecord(record, State.Panicked);
    }
  };
  const done = (record: number): void => {
    byRecord.delete(record);
    releaseRef(record);
  };

  // Pooled workers that failed to boot since one last booted. The supervisor booted
  // from the same entry, so this is rare (memory, a broken install); giving up after a
  // few keeps a runtime whose workers can never boot from retrying forever.
  let poolBootFailures = 0;

  const exited = (slot: Slot, code: number): void => {
    wakeWords.push(slot.wake);
    const at = pool.indexOf(slot);
    if (at >= 0) pool.splice(at, 1);
    if (slot.hand >= 0) {
      // Whatever the word holds is now the supervisor's: no spawner hands a record to a
      // FREE word. A record handed over but never started runs on another worker.
      const handed = exchange(heap().i32, slot.hand, HAND_FREE);
      freeHands.push(slot.hand);
      if (handSlots.delete(slot) && handed > 0) {
        if (load(heap().i32, recordField(handed, R_STATE)) === State.Pending) enqueue(handed, UNNAMED_WORKER);
        else {
          slot.record = handed;
          byRecord.set(handed, slot);
        }
      }
    }
    const { record, error } = slot;
    if (!slot.booted) {
      if (record === 0) count(booting, slot.name, -1);
      const why = error instanceof Error ? error.message : `worker exited with code ${code}`;
      const fail = (r: number): void => {
        panic(r, new Error(`could not start ${describeThread(r)}: ${why}`, { cause: error }), Reason.Killed);
        done(r);
      };
      // A dedicated worker (own stack size) fails its own thread only.
      if (record !== 0) return fail(record);
      if (++poolBootFailures < MAX_POOL_BOOT_FAILURES) return dispatch();
      // Stop booting; the next spawn tries once more.
      while (queue.length > 0) fail(dequeue(0));
      return;
    }
    if (record === 0) return dispatch(); // an idle pooled worker died: replace it
    if (error !== undefined) panic(record, error, Reason.Threw);
    else {
      const why = slot.terminated ? 'was terminated' : `exited with code ${code} before finishing`;
      panic(record, new Error(`${describeThread(record)} ${why}`), Reason.Killed);
    }
    done(record);
    dispatch(); // threads may have waited for this worker to come back
  };

  /**
   * Idle workers beyond MAX_IDLE are let go, those of other names (the rarest reused)
   * first. Idle hand-off workers count, but are never more than MAX_IDLE themselves.
   */
  const trimPool = (): void => {
    let idleHands = 0;
    for (const slot of handSlots) if (load(heap().i32, slot.hand) === HAND_IDLE) idleHands++;
    while (pool.length > 0 && pool.length + idleHands > MAX_IDLE) {
      const named = pool.findIndex((s) => s.name !== UNNAMED_WORKER);
      const [slot] = pool.splice(named >= 0 ? named : 0, 1);
      slot.worker.terminate();
    }
  };

  /** Boots a worker named `name`: for the pool (record 0), or dedicated to `record` (own stack size). */
  const start = (name: string, record = 0, stackBytes = 0): void => {
    // spawn() rounded the stack size up to one the worker can boot with.
    const wake = wakeWords.pop() ?? allocWakeWord();
    // Browsers keep the message path: Chromium's warm spawn→join measured 2.2 ms with
    // hand-off words against 0.26 ms by message (an idle hand-off worker posts to this
    // supervisor, then blocks in Atomics.wait within the same task).
    const hand = (handOffWorkers && name === UNNAMED_WORKER && record === 0 && freeHands.pop()) || -1;
    const slot: Slot = { worker: undefined!, name, pooled: stackBytes === 0, record, booted: false, terminated: false, error: undefined, wake, hand };
    const data = { role: 'thread' as const, sab, wake, hand: hand >= 0 ? hand : undefined };
    slot.worker = launch(data, { name, stackBytes: stackBytes || undefined }, {
      error: (e) => (slot.error = e),
      exit: (code) => exited(slot, code),
      message: (m) => {
        // A hand-off worker back at rest found threads queued.
        if (m === 'idle') return dispatch();
        if (m !== 'ready') return;
        if (!slot.booted) {
          slot.booted = true;
          if (slot.record === 0) {
            count(booting, slot.name, -1);
            poolBootFailures = 0;
          } else return slot.worker.post(slot.record); // a dedicated worker runs its thread, and is not pooled
        } else {
          // Its thread has ended and the worker is at rest again.
          done(slot.record);
          slot.record = 0;
          if (stackBytes > 0) return slot.worker.terminate();
        }
        if (slot.hand >= 0) {
          // Booted: it waits on its word from now on.
          handSlots.add(slot);
          store(heap().i32, slot.hand, HAND_IDLE);
        } else pool.push(slot);
        dispatch();
        trimPool();
      },
    });
    if (record !== 0) byRecord.set(record, slot);
    else count(booting, name, 1);
  };

  const dispatch = (): void => {
    const waiting = new Map<string, number>();
    for (let q = 0; q < queue.length; ) {
      const record = queue[q];
      const name = names.get(record)!;
      // The record's count goes into the word with it (mailbox.ts).
      if (name === UNNAMED_WORKER && handOff(record)) {
        dequeue(q);
        continue;
      }
      const at = pool.findIndex((s) => s.name === name);
      if (at < 0) {
        count(waiting, name, 1);
        q++;
        continue;
      }
      const [slot] = pool.splice(at, 1);
      dequeue(q);
      slot.record = record;
      byRecord.set(record, slot);
      slot.worker.post(record);
    }
    // Boot workers only for threads that have none coming (booting, or about to come
    // back: their thread has ended), and to keep POOL_SIZE unnamed workers in all: busy
    // ones come back to the pool when their thread ends, and a boot running beside
    // them would take CPU from the threads doing the work.
    const coming = new Map(booting);
    const i = heap().i32;
    for (const slot of byRecord.values()) {
      if (slot.pooled && slot.booted && isTerminal(load(i, recordField(slot.record, R_STATE)))) count(coming, slot.name, 1);
    }
    for (const slot of handSlots) {
      const r = load(i, slot.hand);
      if (r > 0 && isTerminal(load(i, recordField(r, R_STATE)))) count(coming, slot.name, 1);
    }
    for (const [name, n] of waiting) for (let k = coming.get(name) ?? 0; k < n; k++) start(name);
    if (poolBootFailures >= MAX_POOL_BOOT_FAILURES) return;
    const idle = pool.filter((s) => s.name === UNNAMED_WORKER).length;
    for (let k = idle + (booting.get(UNNAMED_WORKER) ?? 0) + byRecord.size + handSlots.size; k < POOL_SIZE; k++) start(UNNAMED_WORKER);
  };

  /** Kills the thread `record` now, wherever it is (not outside a kill-safe section: see terminate). */
  const kill = (record: number): void => {
    let slot = byRecord.get(record);
    const handed = slot === undefined ? handHolding(record) : undefined;
    // Taking the record out of the word takes it from the worker (which, done with it
    // meanwhile, finds its word changed and waits for the kill) and makes the supervisor
    // its keeper. If the worker moved it out first, it has ended: nothing to kill.
    if (handed && cas(heap().i32, handed.hand, record, HAND_FREE) === record) {
      handSlots.delete(handed);
      handed.record = record;
      byRecord.set(record, handed);
      slot = handed;
    }
    if (slot) {
      slot.terminated = true;
      slot.worker.terminate();
      return;
    }
    const queued = queue.indexOf(record);
    if (queued >= 0) {
      dequeue(queued);
      panic(record, new Error(`${describeThread(record)} was terminated`), Reason.Killed);
      done(record);
    }
  };

  const terminate = (record: number): void => {
    if (byRecord.has(record) || handHolding(record)) {
      // The thread may be between two steps that must not be separated (critical.ts);
      // the kill lands once it is out. If it ended meanwhile, its worker may already
      // run another thread, which must not be killed, so kill() looks again. The
      // request's count keeps the record alive (its offset not reused) until then.
      void outsideCritical(recordField(record, R_CRITICAL)).then(() => {
        kill(record);
        releaseRef(record);
      });
      return;
    }
    kill(record);
    releaseRef(record);
  };

  dispatch();
  for (;;) {
    for (const { op, arg: record } of await take()) {
      if (op === Op.Spawn) {
        const name = threadName(record) ?? UNNAMED_WORKER;
        const stack = load(heap().i32, recordField(record, R_STACK));
        if (stack > 0) start(name, record, stack);
        else {
          enqueue(record, name);
          dispatch();
        }
      } else {
        terminate(record); // gives back the count that came with the request
      }
    }
  }
}
