// spawn() and Builder: validate the entry and options, write a record with the spawn
// spec, and hand it to the supervisor. Everything that can fail for bad input fails
// here, synchronously, before any thread exists.

import { codecs } from '../codec/index.ts';
import { dropHeld, forgetHeld, returnHeld, storeValueHeld, type Held } from '../codec/stored.ts';
import { Adopt, currentOwnedCell, releaseRef, retain, Role } from '../heap/handle.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { heap } from '../heap/heap.ts';
import { canBlock, store } from '../wait/futex.ts';
import { modelHooks } from '../check/hooks.ts';
import { SpawnError } from './errors.ts';
import { JoinHandle, ScopedJoinHandle } from './join_handle.ts';
import { host } from '../platform/host.ts';
import { Boot, BootStatus, launch, type HostWorker } from './launch.ts';
import { handOff, Op, post } from './mailbox.ts';
import { enterCritical, leaveCritical } from './critical.ts';
import { newRecord, recordField, R_JOINERS, R_NAME, R_SPEC, R_STACK } from './record.ts';
import type { SpawnSpec } from './run.ts';
import { scopeAddThread, scopeCheckOpen, type Scope } from './scope.ts';
import { failPosted } from './supervisor.ts';

/** A thread entry given as a module: its `export` (default export if omitted) is called. */
export interface ModuleEntry {
  module: string | URL;
  export?: string;
}

/** Any function a thread can run; `spawn<typeof f>(moduleEntry, ...)` takes one to type a module entry. */
export type ThreadFunction = (...args: never[]) => unknown;

export type Entry = ThreadFunction | URL | ModuleEntry;

/** The arguments of a module entry typed as `F`: F's parameters if F is a function, else anything. */
export type EntryArgs<F> = F extends ThreadFunction ? Parameters<F> : unknown[];
/** What joining a module entry typed as `F` gives: F's awaited result if F is a function, else F itself. */
export type EntryResult<F> = F extends ThreadFunction ? Awaited<ReturnType<F>> : F;

interface Options {
  name?: string;
  stackSize?: number;
  scope?: Scope;
}

/** Smallest stack a worker starts with: below ~512 KiB V8 cannot even load the worker's modules. */
export const MIN_STACK_BYTES = 1 << 20;
/** Largest stack size kept (the record stores it in an i32); larger requests get this. */
const MAX_STACK_BYTES = 1 << 30;

let supervisor: BootStatus | undefined;
/** Set when the supervisor could not be launched at all. */
let launchFailure: SpawnError | undefined;

/** How long the first spawn waits for the runtime to boot before it gives up (and the next spawn waits again). */
const BOOT_TIMEOUT_MS = 60_000;

/**
 * Starts the supervisor worker (main thread only; other threads find it running) and
 * waits until it has booted, so that a runtime that cannot start fails the spawn with
 * its cause instead of leaving every later join() blocked with nobody to wake it.
 */
export function ensureSupervisor(): void {
  if (!host.isMainThread) return;
  if (supervisor === undefined && launchFailure === undefined) startSupervisor();
  if (launchFailure) throw launchFailure;
  const status = supervisor!;
  if (status.state === Boot.Starting && canBlock()) {
    const deadline = performance.now() + BOOT_TIMEOUT_MS;
    for (let left = BOOT_TIMEOUT_MS; status.state === Boot.Starting && left > 0; left = deadline - performance.now()) {
      Atomics.wait(status.words, 0, Boot.Starting, left);
    }
    if (status.state === Boot.Starting) {
      throw new SpawnError(`weft's runtime worker did not finish starting within ${BOOT_TIMEOUT_MS / 1000} s; nothing was spawned`);
    }
  }
  if (status.state === Boot.Failed) {
    throw new SpawnError(`weft could not start its runtime worker, so no thread can start: ${status.failure}`);
  }
}

function startSupervisor(): void {
  const status = new BootStatus();
  let w: HostWorker;
  const failed = (): SpawnError => new SpawnError(`weft could not start its runtime worker, so no thread can start: ${status.failure}`);
  try {
    w = launch({ role: 'supervisor', sab: heap().sab }, { name: 'weft supervisor', status: status.words }, {
      message() {},
      error(e) {
        // A failed boot is reported to the next spawn through the status words.
        if (status.state !== Boot.Failed) {
          console.error('weft: the supervisor thread failed; threads can no longer be started or cleaned up', e);
        }
      },
      exit() {
        // Where the main thread cannot wait for the boot (a browser's), spawns were
        // posted before the failure was known: their joiners learn it now.
        if (status.state === Boot.Failed) failPosted(failed());
      },
    });
  } catch (e) {
    launchFailure = new SpawnError(`weft cannot start threads: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    return;
  }
  supervisor = status;
  // An idle supervisor must not keep the process alive; live threads do not either,
  // exactly as returning from main ends a Rust process.
  w.unref();
}

/**
 * The URL of a module entry. A relative path would be resolved against the caller's
 * module, as import() does, but weft cannot learn the caller reliably; so it asks for
 * a URL or an absolute path rather than guess (the process's working directory would
 * be a silent wrong guess).
 */
function moduleUrlOf(m: unknown): string {
  if (m instanceof URL) return m.href;
  if (typeof m !== 'string') throw new SpawnError(`spawn(): \`module\` must be a URL or a string, got ${m === null ? 'null' : typeof m}`);
  // Before the scheme test: a Windows drive letter looks like a URL scheme.
  const path = host.pathToUrl(m);
  if (path !== undefined) return path;
  if (/^[a-z][a-z0-9+.-]*:/i.test(m)) {
    try {
      return new URL(m).href;
    } catch (e) {
      throw new SpawnError(`spawn(): invalid module URL '${m}'`, { cause: e });
    }
  }
  throw new SpawnError(
    `spawn(): module '${m}' is not a URL or an absolute path, and weft cannot tell which module it is relative to; ` +
      `resolve it where you call spawn: spawn({ module: new URL('${m}', import.meta.url) })`,
  );
}

function specOf(entry: Entry, args: unknown[]): SpawnSpec {
  if (typeof entry === 'function') {
    const source = Function.prototype.toString.call(entry);
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new SpawnError('cannot spawn a native or bound function: its source is not available; pass an inline function or a module entry');
    }
    return { source: host.threadSource(source), args };
  }
  const isUrl = entry instanceof URL;
  if (!isUrl && (typeof entry !== 'object' || entry === null || !('module' in entry))) {
    throw new SpawnError(`spawn() expects a function, a URL, or { module, export? }, got ${entry === null ? 'null' : typeof entry}`);
  }
  const name = isUrl ? undefined : entry.export;
  if (name !== undefined && typeof name !== 'string') throw new SpawnError('spawn(): `export` must be a string');
  return { module: moduleUrlOf(isUrl ? entry : entry.module), export: name, args };
}

/**
 * Creates the record, hands it to a worker or the supervisor, and returns `own(record)`:
 * the caller's handle, adopting the record's first count.
 *
 * Kill safety (critical.ts): from the moment the record exists this thread's owned table
 * holds that count (as the JoinHandle it becomes), so a kill at any point gives it back
 * with the thread; the count for the worker is taken and handed over, and the handle
 * takes the table entry over, in one kill-safe section.
 */
function spawnWith<H>(entry: Entry, args: unknown[], opts: Options, own: (record: number) => H): H {
  const spec = specOf(entry, args);
  if (opts.name !== undefined && typeof opts.name !== 'string') throw new SpawnError('thread name must be a string');
  if (opts.scope) scopeCheckOpen(opts.scope);
  // Everything that can refuse the spawn runs before the record exists, so a refused
  // spawn leaves nothing behind; encoding the spec is last, as it moves endpoints.
  ensureSupervisor();
  const model = modelHooks.spawn; // set while this thread runs under weft/check: the thread joins the model
  if (model !== undefined) spec.check = model.begin();
  const i = heap().i32;
  const cell = currentOwnedCell();
  // Encoded into blocks this thread holds (codec/stored.ts: a kill drops them) until the
  // record takes them. storeValueHeld throws TypeError (naming the path) for an
  // argument that cannot be sent, with nothing moved.
  let name: Held | undefined;
  let stored: Held;
  try {
    if (opts.name !== undefined) name = storeValueHeld(codecs.utf8, opts.name);
    stored = storeValueHeld(codecs.structured, spec);
  } catch (e) {
    if (name !== undefined) dropHeld(name);
    if (spec.check !== undefined) model!.cancelled();
    throw e;
  }
  let record = 0;
  let entrySlot = -1;
  // Drops the record (and what was stored in it) with the table entry that holds it.
  const forget = (): void => {
    enterCritical();
    try {
      releaseRef(ownedRemove(cell, entrySlot));
    } finally {
      leaveCritical();
    }
  };
  try {
    enterCritical();
    try {
      record = newRecord();
      store(i, recordField(record, R_JOINERS), 1); // the JoinHandle the caller makes of this count
      entrySlot = ownedAdd(cell, record + Role.Join);
      // The record takes the blocks over: dropped with it from here on.
      if (name !== undefined) store(i, recordField(record, R_NAME), name.p);
      store(i, recordField(record, R_STACK), opts.stackSize ?? 0);
      store(i, recordField(record, R_SPEC), stored.p);
      if (name !== undefined) forgetHeld(name);
      forgetHeld(stored);
    } catch (e) {
      // The heap is full (no record, or no room to record it): nothing took the blocks,
      // and the arguments' endpoints go back to their handles.
      if (record !== 0) releaseRef(record);
      if (name !== undefined) dropHeld(name);
      returnHeld(stored);
      throw e;
    } finally {
      leaveCritical();
    }
    if (opts.scope) scopeAddThread(opts.scope.offset, record);
  } catch (e) {
    if (spec.check !== undefined) model!.cancelled();
    if (entrySlot >= 0) forget();
    throw e;
  }
  // Unnamed threads on the default stack go straight to an idle pooled worker if there
  // is one (mailbox.ts); under weft/check every spawn goes through the supervisor,
  // whose steps the model does not schedule.
  const direct = opts.name === undefined && (opts.stackSize ?? 0) === 0 && spec.check === undefined;
  let handle: H;
  let handed = false;
  enterCritical();
  try {
    retain(record); // the count that goes with the record to its worker
    try {
      if (!(direct && handOff(record))) post(Op.Spawn, record);
      handed = true;
    } catch (e) {
      releaseRef(record); // the heap is full: nothing was handed over
      throw e;
    }
    handle = own(record);
    ownedRemove(cell, entrySlot); // the handle recorded the count itself
  } catch (e) {
    // Handed over but no handle (the heap is full): the thread runs, nobody joins it.
    if (!handed && spec.check !== undefined) model!.cancelled();
    forget();
    throw e;
  } finally {
    leaveCritical();
  }
  if (spec.check !== undefined) model!.started(record, spec.check);
  return handle;
}

/** Scope.spawn(): like spawn(), the handle made in the kill-safe section that hands the thread over. */
export function spawnOnScope(scope: Scope, entry: Entry, args: unknown[]): ScopedJoinHandle<unknown> {
  return spawnWith(entry, args, { scope }, (r) => new ScopedJoinHandle(new Adopt(r)));
}

/**
 * Runs `fn(...args)` on a new thread and returns its {@link JoinHandle} (Rust's
 * `std::thread::spawn`). `fn` is sent as source: it sees its arguments, globals and what it
 * imports (`await import('weft')` works), not the caller's closure. Arguments are checked
 * against `fn`'s parameters; `join()` gives its (awaited) result.
 *
 * @example
 * ```ts
 * const h = spawn((data: number[]) => data.reduce((a, b) => a + b, 0), [1, 2, 3]);
 * h.join(); // 6
 * const later = spawn(async (ms: number) => { const { sleepAsync } = await import('weft'); await sleepAsync(ms); return ms; }, 10);
 * await later.joinAsync(); // 10
 * ```
 *
 * @remarks
 * Arguments travel like messages: handles are shared (locks, atomics) or moved (endpoints,
 * JoinHandles, Permits), plain data is copied. The thread's uncaught error reaches
 * `join()` as {@link PanicError}.
 *
 * @throws `TypeError` for an argument the codec cannot carry (nothing is started);
 * {@link SpawnError} when the thread cannot be started.
 */
export function spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>>;
/**
 * Runs a module's export (default if omitted) on a new thread. Name the export's type
 * and the arguments are checked against it and the result typed as its (awaited)
 * result; name any other type and it is taken as the result's type, unchecked.
 *
 * ```ts
 * // job.ts: export function run(n: number): string { ... }
 * const h = spawn<typeof import('./job.ts').run>({ module: new URL('./job.ts', import.meta.url), export: 'run' }, 21);
 * h.join(); // string
 * ```
 */
export function spawn<F = unknown>(entry: URL | ModuleEntry, ...args: EntryArgs<F>): JoinHandle<EntryResult<F>>;
export function spawn(entry: Entry, ...args: unknown[]): JoinHandle<unknown> {
  return spawnWith(entry, args, {}, (r) => new JoinHandle(new Adopt(r)));
}

/**
 * Configures a thread before spawning it (Rust's `std::thread::Builder`): `name(s)` (shown
 * in panics, `current().name` and the inspector) and `stackSize(bytes)`.
 *
 * @example
 * ```ts
 * const h = new Builder().name('hasher').stackSize(4 << 20).spawn((s: string) => s.length, 'abc');
 * h.thread.name; // 'hasher'
 * h.join();      // 3
 * ```
 *
 * @throws `TypeError` / `RangeError` for a name that is not a string or a size that is not a
 * positive integer; {@link SpawnError} from `spawn` when the thread cannot be started.
 */
export class Builder {
  #name: string | undefined;
  #stackSize: number | undefined;

  name(name: string): this {
    if (typeof name !== 'string') throw new TypeError('Builder.name(): name must be a string');
    this.#name = name;
    return this;
  }

  /**
   * Stack size in bytes. As in Rust, a size below the platform's working minimum is
   * rounded up to it: a thread's stack also runs the JavaScript engine's start-up
   * (module loading), which needs about half a MiB, so MIN_STACK_BYTES is used at least.
   */
  stackSize(bytes: number): this {
    if (!Number.isInteger(bytes) || bytes <= 0) {
      throw new RangeError(`Builder.stackSize(): expected a positive integer number of bytes, got ${bytes}`);
    }
    this.#stackSize = Math.min(MAX_STACK_BYTES, Math.max(MIN_STACK_BYTES, bytes));
    return this;
  }

  spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>>;
  spawn<F = unknown>(entry: URL | ModuleEntry, ...args: EntryArgs<F>): JoinHandle<EntryResult<F>>;
  spawn(entry: Entry, ...args: unknown[]): JoinHandle<unknown> {
    return spawnWith(entry, args, { name: this.#name, stackSize: this.#stackSize }, (r) => new JoinHandle(new Adopt(r)));
  }

  spawnScoped<A extends unknown[], R>(scope: Scope, fn: (...args: A) => R, ...args: A): ScopedJoinHandle<Awaited<R>>;
  spawnScoped<F = unknown>(scope: Scope, entry: URL | ModuleEntry, ...args: EntryArgs<F>): ScopedJoinHandle<EntryResult<F>>;
  spawnScoped(scope: Scope, entry: Entry, ...args: unknown[]): ScopedJoinHandle<unknown> {
    return spawnWith(entry, args, { name: this.#name, stackSize: this.#stackSize, scope }, (r) => new ScopedJoinHandle(new Adopt(r)));
  }
}
