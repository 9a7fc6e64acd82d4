// The supervisor: a dedicated worker that owns every Worker weft creates. It never
// blocks (it waits on its heap mailbox with waitAsync), so it always hears a
// worker's `exit` event, even while every other thread is blocked in Atomics.wait,
// and it finishes the record of any thread that died without finishing itself.
//
// A warm pool of booted workers makes spawn cheap. A worker runs one thread at a
// time (never several: blocking primitives would deadlock them) and comes back to
// the pool when its thread ended and left it at rest (see worker_main.ts).

import type { Worker } from 'node:worker_threads';
import { releaseRef } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { load } from '../wait/futex.ts';
import { outsideCritical } from './critical.ts';
import { completeRecord, storeOutcome } from './finish.ts';
import { launch } from './launch.ts';
import { panicKnown } from './panic_report.ts';
import { Op, take } from './mailbox.ts';
import { describeThread, isTerminal, recordField, Reason, R_CRITICAL, R_STACK, R_STATE, State } from './record.ts';
import { availableParallelism } from './sleep.ts';

const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism()));
/** Pooled workers failing to boot in a row before the threads queued for one are failed. */
const MAX_POOL_BOOT_FAILURES = 3;
/** Idle workers kept beyond this are let go. */
const MAX_IDLE = 2 * POOL_SIZE;

/** One worker and the thread it runs (0 while it waits in the pool). */
interface Slot {
  worker: Worker;
  record: number;
  booted: boolean;
  terminated: boolean;
  error: unknown;
}

export async function runSupervisor(sab: SharedArrayBuffer): Promise<never> {
  const pool: Slot[] = []; // booted, waiting for a thread
  const queue: number[] = []; // records waiting for a pooled worker, in spawn order
  const byRecord = new Map<number, Slot>();
  let booting = 0;

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
    if (!slot.booted) booting--;
    const at = pool.indexOf(slot);
    if (at >= 0) pool.splice(at, 1);
    const { record, error } = slot;
    if (!slot.booted) {
      const why = error instanceof Error ? error.message : `worker exited with code ${code}`;
      const fail = (r: number): void => {
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
  };

  const start = (record: number, stackBytes: number): void => {
    // spawn() rounded the size up to a stack the worker can boot with.
    const limits = stackBytes > 0 ? { stackSizeMb: stackBytes / 2 ** 20 } : undefined;
    const slot: Slot = { worker: launch({ role: 'thread', sab }, limits), record, booted: false, terminated: false, error: undefined };
    if (record !== 0) byRecord.set(record, slot);
    booting++;
    slot.worker.on('error', (e) => (slot.error = e));
    slot.worker.on('exit', (code) => exited(slot, code));
    slot.worker.on('message', (m) => {
      if (m !== 'ready') return;
      if (!slot.booted) {
        slot.booted = true;
        booting--;
        if (slot.record === 0) poolBootFailures = 0;
        // A dedicated worker (own stack size) runs its thread and is not pooled.
        if (slot.record !== 0) return slot.worker.postMessage(slot.record);
      } else {
        // Its thread has ended and the worker is at rest again.
        done(slot.record);
        slot.record = 0;
        if (limits !== undefined || pool.length >= MAX_IDLE) return void slot.worker.terminate();
      }
      pool.push(slot);
      dispatch();
    });
  };

  const dispatch = (): void => {
    while (queue.length > 0 && pool.length > 0) {
      const slot = pool.shift()!;
      slot.record = queue.shift()!;
      byRecord.set(slot.record, slot);
      slot.worker.postMessage(slot.record);
    }
    // Boot workers only for threads that have none coming, and to keep POOL_SIZE
    // workers in all: busy ones come back to the pool when their thread ends, and a
    // boot running beside them would take CPU from the threads doing the work.
    const refill = poolBootFailures < MAX_POOL_BOOT_FAILURES;
    while (pool.length + booting < queue.length || (refill && pool.length + booting + byRecord.size < POOL_SIZE)) start(0, 0);
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
          void slot.worker.terminate();
        }
        releaseRef(record);
      });
      return;
    }
    if (queued >= 0) {
      queue.splice(queued, 1);
      panic(record, new Error(`${describeThread(record)} was terminated`), Reason.Killed);
      done(record);
    }
    releaseRef(record);
  };

  dispatch();
  for (;;) {
    for (const { op, arg: record } of await take()) {
      if (op === Op.Spawn) {
        const stack = load(heap().i32, recordField(record, R_STACK));
        if (stack > 0) start(record, stack);
        else {
          queue.push(record);
          dispatch();
        }
      } else {
        terminate(record); // gives back the count that came with the request
      }
    }
  }
}
