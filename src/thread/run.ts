// Running a thread inside its worker: take the spawn spec from the record, call the
// entry, run thread-local destructors, publish the outcome and release what the thread
// owns. The worker then returns to the pool or ends (worker_main.ts).

import { codecs } from '../codec/index.ts';
import { holdTaken, loadHeld, type Held } from '../codec/stored.ts';
import { enterCritical, leaveCritical } from './critical.ts';
import { heap } from '../heap/heap.ts';
import { exchange, store } from '../wait/futex.ts';
import { beginPanic, setCurrentRecord } from './current.ts';
import { completeRecord, storeOutcome } from './finish.ts';
import { fromSources, tsxApiUrls } from './launch.ts';
import { panicKnown } from './panic_report.ts';
import { resetThreadLocals, runLocalDestructors } from './local.ts';
import { recordField, Reason, R_SPEC, R_STATE, State } from './record.ts';
import './transpiler_helpers.ts';
import type { ModelTicket } from '../check/hooks.ts';

/** What to run, as stored in the record by spawn(). */
export interface SpawnSpec {
  source?: string;
  module?: string;
  export?: string;
  args: unknown[];
  /** Set when spawned under weft/check: the model the thread joins. */
  check?: ModelTicket;
}

function fromSource(source: string): (...args: unknown[]) => unknown {
  try {
    return (0, eval)(`(${source}\n)`);
  } catch (e) {
    // Method shorthand (`run(x) { ... }`) is not an expression on its own.
    if (!(e instanceof SyntaxError)) throw e;
    const holder = (0, eval)(`({${source}\n})`) as Record<string, (...args: unknown[]) => unknown>;
    return Object.values(holder)[0];
  }
}

let tsxRegistered = false;

/**
 * The modules this worker's threads have loaded, by URL. `import()` of a module already
 * loaded gives the same namespace, but it still runs the resolve hooks of any loader
 * registered in the worker (tsx's run on a thread of their own): about 0.35 ms per
 * spawn, against a map lookup. A failed import is not kept: the next spawn tries again.
 */
const modules = new Map<string, Record<string, unknown>>();

async function fromModule(url: string, name: string): Promise<(...args: unknown[]) => unknown> {
  let mod = modules.get(url);
  if (mod === undefined) {
    if (/\.[cm]?tsx?$/.test(new URL(url).pathname) && !tsxRegistered && !fromSources) {
      const apis = tsxApiUrls();
      if (apis === undefined) throw new Error(`cannot load TypeScript module ${url}: install tsx, or build the module to JavaScript`);
      for (const api of apis) ((await import(api)) as { register(): void }).register();
      tsxRegistered = true;
    }
    mod = (await import(url)) as Record<string, unknown>;
    modules.set(url, mod);
  }
  // A CommonJS module's exports object is its default export; Node finds named exports
  // only in code it can analyse, which tsx's compiled TypeScript is not (and its
  // `export default` is the object's `default`).
  const cjs = mod.default;
  const f = typeof mod[name] === 'function' || typeof cjs !== 'object' || cjs === null ? mod[name] : (cjs as Record<string, unknown>)[name];
  if (typeof f !== 'function') {
    throw new TypeError(`module ${url} has no export '${name}' that is a function (exports: ${Object.keys(mod).join(', ') || 'none'})`);
  }
  return f as (...args: unknown[]) => unknown;
}

const CLOSURE_HINT =
  ' (functions given to spawn() are sent as source text, so closures are not carried: ' +
  'pass the value as an argument instead, e.g. spawn((x) => use(x), x))';

/** weft/check's thread side, loaded by the first thread spawned under a model. */
let model: typeof import('../check/runtime.ts') | undefined;

/**
 * Takes the thread's spawn spec out of its record into its own hands in one kill-safe
 * section (see Held): killed while decoding it, the thread still gives back the
 * handles passed to it.
 */
function takeSpec(i: Int32Array, record: number): SpawnSpec {
  let held: Held;
  enterCritical();
  try {
    held = holdTaken(exchange(i, recordField(record, R_SPEC), 0));
  } finally {
    leaveCritical();
  }
  return loadHeld(codecs.structured, held) as SpawnSpec;
}

export async function runThread(record: number): Promise<void> {
  setCurrentRecord(record, true);
  resetThreadLocals();
  const i = heap().i32;
  store(i, recordField(record, R_STATE), State.Running);
  let ok = true;
  let value: unknown;
  let reason: number = Reason.Threw;
  let spec: SpawnSpec | undefined;
  try {
    spec = takeSpec(i, record);
    const f = spec.source !== undefined ? fromSource(spec.source) : await fromModule(spec.module!, spec.export ?? 'default');
    if (spec.check !== undefined) (model = await import('../check/runtime.ts')).enterThread(spec.check, record);
    value = await f(...spec.args);
  } catch (e) {
    ok = false;
    value = e;
    beginPanic(); // thread-local destructors see panicking()
    if (e instanceof RangeError && /call stack size/.test(e.message)) reason = Reason.StackOverflow;
    else if (e instanceof ReferenceError && spec?.source !== undefined && /is not defined/.test(e.message)) {
      e.message += CLOSURE_HINT;
    }
  }
  try {
    runLocalDestructors();
  } catch (e) {
    if (ok) {
      ok = false;
      value = e;
    }
  }
  ok = storeOutcome(record, ok, value, reason);
  if (!ok) panicKnown(record);
  completeRecord(record, ok ? State.Done : State.Panicked);
  model?.leaveThread();
}
