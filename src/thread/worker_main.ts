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
import { store } from '../wait/futex.ts';
import { setWakeWord } from '../channel/signal.ts';

// What `import('weft')` inside a spawned function resolves to where the host cannot
// resolve the bare name itself (browsers' workers have no import map; see
// host.threadSource). A symbol key: the globals a thread adds are compared by name.
Object.defineProperty(globalThis, Symbol.for('weft.module'), { value: weft });

void host.launchData().then(({ role, sab, wake }) => {
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

function removeNewGlobals(keep: Set<string>): boolean {
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    if (!keep.has(name) && !Reflect.deleteProperty(globalThis, name)) return false;
  }
  return true;
}
