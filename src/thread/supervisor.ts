// The supervisor: a dedicated worker that owns every Worker weft creates. It never
// blocks (it waits on its heap mailbox with waitAsync), so it always hears a
// worker's `exit` event, even while every other thread is blocked in Atomics.wait,
// and it finishes the record of any thread that died without finishing itself.
//
// A warm pool of booted workers makes spawn cheap. A worker runs one thread at a
// time (never several: blocking primitives would deadlock them) and comes back to
// the pool when its thread ended and left it at rest (see worker_main.ts).

import { releaseRef } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { load } from '../wait/futex.ts';
import { outsideCritical } from './critical.ts';
import { completeRecord, storeOutcome } from './finish.ts';
import { launch, type HostWorker } from './launch.ts';
import { panicKnown } from './panic_report.ts';
import { Op, take, takeNow } from './mailbox.ts';
import { describeThread, isTerminal, recordField, Reason, R_CRITICAL, R_STACK, R_STATE, State, threadName } from './record.ts';
import { availableParallelism } from './sleep.ts';
import { allocWakeWord } from '../channel/signal.ts';

const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism()));
/** Pooled workers failing to boot in a row before the threads queued for one are failed. */
const MAX_POOL_BOOT_FAILURES = 3;
/** Idle workers kept beyond this are let go. */
const MAX_IDLE = 2 * POOL_SIZE;
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
  const wakeWords: number[] = []; // wake words of workers that are gone, to lend again

  const count = (m: Map<string, number>, name: string, by: number): void => {
    const n = (m.get(name) ?? 0) + by;
    if (n === 0) m.delete(name);
    else m.set(name, n);
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
    const { record, error } = slot;
    if (!slot.booted) {
      if (record === 0) count(booting, slot.name, -1);
      const why = error instanceof Error ? error.message : `worker exited with code ${code}`;
      const fail = (r: number): void => {
        names.delete(r);
        panic(r, new Error(`could not start ${describeThread(r)}: ${why}`, { cause: error }), Reason.Killed);
        done(r);
      };
      // A dedicated worker (own stack size) fails its own thread only.
      if (record !== 0) return fail(record);
      if (++poolBootFailures < MAX_POOL_BOOT_FAILURES) return dispatch();
      // Stop booting; the next spawn tries once more.
      return queue.splice(0).forEach(fail);
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

  /** Idle workers beyond MAX_IDLE are let go, those of other names (the rarest reused) first. */
  const trimPool = (): void => {
    while (pool.length > MAX_IDLE) {
      const named = pool.findIndex((s) => s.name !== UNNAMED_WORKER);
      const [slot] = pool.splice(named >= 0 ? named : 0, 1);
      slot.worker.terminate();
    }
  };

  /** Boots a worker named `name`: for the pool (record 0), or dedicated to `record` (own stack size). */
  const start = (name: string, record = 0, stackBytes = 0): void => {
    // spawn() rounded the stack size up to one the worker can boot with.
    const wake = wakeWords.pop() ?? allocWakeWord();
    const slot: Slot = { worker: undefined!, name, pooled: stackBytes === 0, record, booted: false, terminated: false, error: undefined, wake };
    slot.worker = launch({ role: 'thread', sab, wake }, { name, stackBytes: stackBytes || undefined }, {
      error: (e) => (slot.error = e),
      exit: (code) => exited(slot, code),
      message: (m) => {
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
        pool.push(slot);
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
      const at = pool.findIndex((s) => s.name === name);
      if (at < 0) {
        count(waiting, name, 1);
        q++;
        continue;
      }
      const [slot] = pool.splice(at, 1);
      queue.splice(q, 1);
      names.delete(record);
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
    for (const [name, n] of waiting) for (let k = coming.get(name) ?? 0; k < n; k++) start(name);
    if (poolBootFailures >= MAX_POOL_BOOT_FAILURES) return;
    const idle = pool.filter((s) => s.name === UNNAMED_WORKER).length;
    for (let k = idle + (booting.get(UNNAMED_WORKER) ?? 0) + byRecord.size; k < POOL_SIZE; k++) start(UNNAMED_WORKER);
  };

  const terminate = (record: number): void => {
    const slot = byRecord.get(record);
    const queued = queue.indexOf(record);
    if (slot) {
      // The thread may be between two steps that must not be separated (critical.ts);
      // the kill lands once it is out. If it ended meanwhile, its worker may already
      // run another thread, which must not be killed. The request's count keeps the
      // record alive until then.
      void outsideCritical(recordField(record, R_CRITICAL)).then(() => {
        if (slot.record === record) {
          slot.terminated = true;
          slot.worker.terminate();
        }
        releaseRef(record);
      });
      return;
    }
    if (queued >= 0) {
      queue.splice(queued, 1);
      names.delete(record);
      panic(record, new Error(`${describeThread(record)} was terminated`), Reason.Killed);
      done(record);
    }
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
          queue.push(record);
          names.set(record, name);
          dispatch();
        }
      } else {
        terminate(record); // gives back the count that came with the request
      }
    }
  }
}
