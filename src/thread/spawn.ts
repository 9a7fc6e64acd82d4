// spawn() and Builder: validate the entry and options, write a record with the spawn
// spec, and hand it to the supervisor. Everything that can fail for bad input fails
// here, synchronously, before any thread exists.

import { isMainThread } from 'node:worker_threads';
import { codecs } from '../codec/index.ts';
import { storeValue } from '../codec/stored.ts';
import { Adopt, releaseRef, retain } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { store } from '../wait/futex.ts';
import { SpawnError } from './errors.ts';
import { JoinHandle, ScopedJoinHandle } from './join_handle.ts';
import { launch } from './launch.ts';
import { Op, post } from './mailbox.ts';
import { newRecord, recordField, R_NAME, R_SPEC, R_STACK } from './record.ts';
import type { SpawnSpec } from './run.ts';
import { scopeAddThread, type Scope } from './scope.ts';

/** A thread entry given as a module: its `export` (default export if omitted) is called. */
export interface ModuleEntry {
  module: string | URL;
  export?: string;
}

export type Entry = ((...args: never[]) => unknown) | URL | ModuleEntry;

interface Options {
  name?: string;
  stackSize?: number;
  scope?: Scope;
}

let supervisorStarted = false;

/** Starts the supervisor worker (main thread only; other threads find it running). */
export function ensureSupervisor(): void {
  if (supervisorStarted || !isMainThread) return;
  supervisorStarted = true;
  const w = launch({ role: 'supervisor', sab: heap().sab });
  // An idle supervisor must not keep the process alive; live threads do not either,
  // exactly as returning from main ends a Rust process.
  w.unref();
  w.on('error', (e) => {
    console.error('weft: the supervisor thread failed; threads can no longer be started or cleaned up', e);
  });
}

function specOf(entry: Entry, args: unknown[]): SpawnSpec {
  if (typeof entry === 'function') {
    const source = Function.prototype.toString.call(entry);
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new SpawnError('cannot spawn a native or bound function: its source is not available; pass an inline function or a module entry');
    }
    return { source, args };
  }
  const isUrl = entry instanceof URL;
  if (!isUrl && (typeof entry !== 'object' || entry === null || !('module' in entry))) {
    throw new SpawnError(`spawn() expects a function, a URL, or { module, export? }, got ${entry === null ? 'null' : typeof entry}`);
  }
  const m = isUrl ? entry : entry.module;
  const name = isUrl ? undefined : entry.export;
  if (name !== undefined && typeof name !== 'string') throw new SpawnError('spawn(): `export` must be a string');
  let url: string;
  try {
    url = m instanceof URL ? m.href : /^[a-z][a-z0-9+.-]*:/i.test(m) ? m : new URL(m, `file://${process.cwd()}/`).href;
  } catch (e) {
    throw new SpawnError(`spawn(): invalid module ${String(m)}`, { cause: e });
  }
  return { module: url, export: name, args };
}

/** Creates the record and posts it; returns the record with one count for the caller. */
export function spawnRecord(entry: Entry, args: unknown[], opts: Options): number {
  const spec = specOf(entry, args);
  if (opts.name !== undefined && typeof opts.name !== 'string') throw new SpawnError('thread name must be a string');
  const i = heap().i32;
  const record = newRecord();
  try {
    // storeValue throws TypeError (naming the path) for an argument that cannot be sent.
    store(i, recordField(record, R_SPEC), storeValue(codecs.structured, spec));
    if (opts.name !== undefined) store(i, recordField(record, R_NAME), storeValue(codecs.utf8, opts.name));
    store(i, recordField(record, R_STACK), opts.stackSize ?? 0);
    if (opts.scope) scopeAddThread(opts.scope.offset, record);
  } catch (e) {
    releaseRef(record);
    throw e;
  }
  ensureSupervisor();
  retain(record); // the supervisor's count
  post(Op.Spawn, record);
  return record;
}

/**
 * Runs `fn(...args)` on a new thread. `fn` is sent as source: it sees its arguments,
 * globals and what it imports (`await import('weft')` works), not the caller's closure.
 */
export function spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>>;
/** Runs a module's export (default if omitted) on a new thread. */
export function spawn<R = unknown>(entry: URL | ModuleEntry, ...args: unknown[]): JoinHandle<R>;
export function spawn(entry: Entry, ...args: unknown[]): JoinHandle<unknown> {
  return new JoinHandle(new Adopt(spawnRecord(entry, args, {})));
}

/** Configures a thread before spawning it: name and stack size. */
export class Builder {
  #name: string | undefined;
  #stackSize: number | undefined;

  name(name: string): this {
    if (typeof name !== 'string') throw new TypeError('Builder.name(): name must be a string');
    this.#name = name;
    return this;
  }

  /** Stack size in bytes (at least 256 KiB is used). */
  stackSize(bytes: number): this {
    if (!Number.isInteger(bytes) || bytes <= 0) {
      throw new RangeError(`Builder.stackSize(): expected a positive integer number of bytes, got ${bytes}`);
    }
    this.#stackSize = bytes;
    return this;
  }

  spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>>;
  spawn<R = unknown>(entry: URL | ModuleEntry, ...args: unknown[]): JoinHandle<R>;
  spawn(entry: Entry, ...args: unknown[]): JoinHandle<unknown> {
    return new JoinHandle(new Adopt(spawnRecord(entry, args, { name: this.#name, stackSize: this.#stackSize })));
  }

  spawnScoped<A extends unknown[], R>(scope: Scope, fn: (...args: A) => R, ...args: A): ScopedJoinHandle<Awaited<R>>;
  spawnScoped<R = unknown>(scope: Scope, entry: URL | ModuleEntry, ...args: unknown[]): ScopedJoinHandle<R>;
  spawnScoped(scope: Scope, entry: Entry, ...args: unknown[]): ScopedJoinHandle<unknown> {
    return new ScopedJoinHandle(new Adopt(spawnRecord(entry, args, { name: this.#name, stackSize: this.#stackSize, scope })));
  }
}
