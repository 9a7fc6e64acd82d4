// Entry of every worker weft starts: the supervisor, or a pooled worker that runs
// the threads it is given, one at a time. Importing the package index here (the same
// module a thread's own `import('weft')` resolves to) keeps one weft instance per
// thread.
//
// A worker is reused for a next thread only if the last one left it at rest: no
// timers, sockets or other handles still active, and the globals it added removed.
// Otherwise the worker exits and the supervisor boots a fresh one. Thread-locals
// always start fresh (local.ts). Modules a thread imported stay loaded, as the
// platform offers no way to unload them.
//
// It also exports weft's API: an application bundle ships this entry as a bundle of
// its own (weft-worker.mjs, see platform/node.ts), and `import('weft')` in its
// threads is pointed at it.

import { attachHeap } from '../heap/heap.ts';
import * as weft from '../index.ts';
import { host } from '../platform/host.ts';
export * from '../index.ts';
import { setCurrentRecord } from './current.ts';
import { newRecord, recordField, R_STATE, State } from './record.ts';
import { runThread } from './run.ts';
import { runSupervisor } from './supervisor.ts';
import { cas, load, store, wait } from '../wait/futex.ts';
import { releaseRef } from '../heap/handle.ts';
import { I_HANDOFF } from '../heap/layout.ts';
import { HAND_FREE, HAND_IDLE, handQueued } from './mailbox.ts';
import { setWakeWord } from '../channel/signal.ts';

// What `import('weft')` inside a spawned function resolves to where the host cannot
// resolve the bare name itself (browsers' workers have no import map; see
// host.threadSource). A symbol key: the globals a thread adds are compared by name.
Object.defineProperty(globalThis, Symbol.for('weft.module'), { value: weft });

void host.launchData().then(({ role, sab, wake, hand }) => {
  const h = attachHeap(sab);
  if (wake !== undefined) setWakeWord(wake);
  if (role === 'supervisor') {
    const r = newRecord();
    store(h.i32, recordField(r, R_STATE), State.Running);
    setCurrentRecord(r);
    void runSupervisor(sab);
    host.postToParent('ready');
    return;
  }
  const globalsAtRest = new Set(Object.getOwnPropertyNames(globalThis));
  const atRest = (): boolean => host.atRest() && removeNewGlobals(globalsAtRest);
  if (hand !== undefined) return waitForHandOff(h.i32, hand, atRest);
  host.onParentMessage((record) => {
    // The thread ends when its function settles, not when its event loop drains;
    // what it left running decides whether this worker can be reused.
    void runThread(record as number).then(
      () => host.afterPending(() => (atRest() ? host.postToParent('ready') : host.exitWorker(0))),
      () => host.exitWorker(1),
    );
  });
  host.postToParent('ready');
});

/**
 * A pooled worker for unnamed threads with a hand-off word (mailbox.ts): it sleeps on
 * the word while idle (an idle worker has nothing else to do, so blocking is fine) and
 * runs whatever record a spawner or the supervisor puts there.
 */
function waitForHandOff(i: Int32Array, word: number, atRest: () => boolean): void {
  const queued = handQueued(load(i, I_HANDOFF) >> 2);
  const idle = (): void => {
    // FREE until the supervisor marks this worker idle after its boot; a spurious wake
    // (a notify meant for a worker this word served before) just waits again.
    let record: number;
    while ((record = load(i, word)) <= 0) wait(i, word, record);
    void runThread(record).then(
      () =>
        host.afterPending(() => {
          // Left something running: the supervisor finds the ended record in the word
          // when this worker is gone, and gives back its count.
          if (!atRest()) return host.exitWorker(0);
          // Moving the word off the record takes its count. If the supervisor took the
          // record first, it is killing this worker for it: take no further step.
          if (cas(i, word, record, HAND_FREE) !== record) for (;;) wait(i, word, HAND_FREE);
          releaseRef(record);
          // Idle first, then look at the queue; the supervisor counts a queued record
          // first, then looks for idle workers. Sequentially consistent both, so either
          // it finds this worker idle or this worker sees the record queued and asks.
          store(i, word, HAND_IDLE);
          if (load(i, queued) > 0) host.postToParent('idle');
          idle();
        }),
      () => host.exitWorker(1),
    );
  };
  host.postToParent('ready');
  idle();
}

function removeNewGlobals(keep: Set<string>): boolean {
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (!keep.has(name) && !Reflect.deleteProperty(globalThis, name)) return false;
  }
  return true;
}
