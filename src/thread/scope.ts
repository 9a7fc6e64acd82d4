// Scoped threads. A scope is a heap object counting its running threads and listing
// their records, so that any thread holding the scope can spawn on it and the thread
// that opened it can wait for all of them, then look for a panic nobody joined.
// Rust ties scoped threads to the scope with lifetimes; here spawning on an ended
// scope throws instead.
//
// The scope is a joiner of each of its threads (panic_report.ts): a panic it throws as
// "a scoped thread panicked" is delivered, not printed. When the scope ends it stops
// being a joiner, so another panic that nobody joins is printed then.

import { Adopt, allocObject, defineKind, Handle, releaseRef, retain } from '../heap/handle.ts';
import { PanicError } from './errors.ts';
import { panicOf, ScopedJoinHandle } from './join_handle.ts';
import { addJoiner, dropJoiner, panicDelivered } from './panic_report.ts';
import { spawnOnScope, type Entry, type EntryArgs, type EntryResult, type ModuleEntry } from './spawn.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { add, assertCanBlock, cas, load, notify, store, wait, waitAsync } from '../wait/futex.ts';
import { recordField, R_JOINED, R_SCOPE, R_SCOPE_NEXT, R_STATE, State } from './record.ts';

const S_RUNNING = 2; // threads spawned and not yet ended
const S_HEAD = 3; // most recently spawned record
const S_ENDED = 4; // 1 once the scope function and its threads are done

/**
 * Threads spawned on a scope (Rust's `std::thread::Scope`) all end before
 * {@link scope} or {@link scopeAsync} returns. `s.spawn(f, ...args)` returns a
 * {@link ScopedJoinHandle}. Made by `scope()`, not constructed directly.
 */
export class Scope extends Handle {
  /** @internal Scopes are made by scope() and scopeAsync(). */
  constructor(adopt = new Adopt(allocObject(Kind.Scope, 12))) {
    super(adopt.offset);
  }

  /** @internal */
  protected get kindName(): string {
    return 'Scope';
  }

  spawn<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): ScopedJoinHandle<Awaited<R>>;
  spawn<F = unknown>(entry: URL | ModuleEntry, ...args: EntryArgs<F>): ScopedJoinHandle<EntryResult<F>>;
  spawn(entry: Entry, ...args: unknown[]): ScopedJoinHandle<unknown> {
    return spawnOnScope(this, entry, args);
  }
}

/** Throws, changing nothing, unless threads can still be spawned on `s`. */
export function scopeCheckOpen(s: Scope): void {
  if (s.released || load(heap().i32, (s.offset >> 2) + S_ENDED) !== 0) {
    throw new TypeError('cannot spawn on a scope that has already ended (scoped threads must be spawned inside scope(f))');
  }
}

/**
 * Calls `f` with a scope and returns its result once every thread spawned on the
 * scope has ended. A thread that panicked and was not joined makes it throw
 * PanicError "a scoped thread panicked"; a throw from `f` is rethrown after the
 * threads ended.
 */
export function scope<T>(f: (s: Scope) => T): T {
  const s = new Scope();
  try {
    let result: T;
    try {
      result = f(s);
    } finally {
      waitScope(s.offset);
    }
    checkScope(s.offset);
    return result;
  } finally {
    endScope(s);
  }
}

/**
 * Like {@link scope}, waiting without blocking the event loop; `f` may be async.
 *
 * @example
 * ```ts
 * const counts = await scopeAsync(async (s) => {
 *   const hs = [1, 2].map((n) => s.spawn((n: number) => n * n, n));
 *   return Promise.all(hs.map((h) => h.joinAsync()));
 * }); // [1, 4]
 * ```
 */
export async function scopeAsync<T>(f: (s: Scope) => T | Promise<T>): Promise<T> {
  const s = new Scope();
  try {
    let result: T;
    try {
      result = await f(s);
    } finally {
      await waitScopeAsync(s.offset);
    }
    checkScope(s.offset);
    return result;
  } finally {
    endScope(s);
  }
}

function checkScope(scope: number): void {
  const r = unjoinedPanic(scope);
  if (r !== 0) {
    panicDelivered(r);
    const p = panicOf(r);
    throw new PanicError('a scoped thread panicked', p.threadId, p.threadName, p.cause);
  }
}

defineKind(Kind.Scope, {
  name: 'Scope',
  wrap: (offset) => new Scope(new Adopt(offset)),
  drop(offset) {
    const i = heap().i32;
    for (let r = load(i, (offset >> 2) + S_HEAD); r !== 0; ) {
      const next = load(i, recordField(r, R_SCOPE_NEXT));
      releaseRef(r);
      r = next;
    }
  },
});

/** The scope stops being a joiner of its threads, and its opener's handle is closed. */
function endScope(s: Scope): void {
  const i = heap().i32;
  for (let r = load(i, (s.offset >> 2) + S_HEAD); r !== 0; r = load(i, recordField(r, R_SCOPE_NEXT))) dropJoiner(r);
  s.close();
}

/** Counts a new thread into the scope before it is started. */
export function scopeAddThread(scope: number, record: number): void {
  const i = heap().i32;
  if (load(i, (scope >> 2) + S_ENDED) !== 0) {
    throw new TypeError('cannot spawn on a scope that has already ended');
  }
  add(i, (scope >> 2) + S_RUNNING, 1);
  retain(record);
  addJoiner(record);
  store(i, recordField(record, R_SCOPE), scope);
  for (;;) {
    const head = load(i, (scope >> 2) + S_HEAD);
    store(i, recordField(record, R_SCOPE_NEXT), head);
    if (cas(i, (scope >> 2) + S_HEAD, head, record) === head) return;
  }
}

/** Called once per scoped thread, by whoever completes it. */
export function scopeThreadEnded(scope: number): void {
  const i = heap().i32;
  if (add(i, (scope >> 2) + S_RUNNING, -1) === 1) notify(i, (scope >> 2) + S_RUNNING);
}

/** Blocks until every thread spawned on the scope has ended. */
function waitScope(scope: number): void {
  assertCanBlock('scope()', 'scopeAsync()');
  const i = heap().i32;
  for (let n; (n = load(i, (scope >> 2) + S_RUNNING)) !== 0; ) wait(i, (scope >> 2) + S_RUNNING, n);
  store(i, (scope >> 2) + S_ENDED, 1);
}

async function waitScopeAsync(scope: number): Promise<void> {
  const i = heap().i32;
  for (let n; (n = load(i, (scope >> 2) + S_RUNNING)) !== 0; ) await waitAsync(i, (scope >> 2) + S_RUNNING, n);
  store(i, (scope >> 2) + S_ENDED, 1);
}

/** The record of the earliest spawned thread that panicked and was not joined, or 0. */
function unjoinedPanic(scope: number): number {
  const i = heap().i32;
  let found = 0;
  for (let r = load(i, (scope >> 2) + S_HEAD); r !== 0; r = load(i, recordField(r, R_SCOPE_NEXT))) {
    if (load(i, recordField(r, R_STATE)) === State.Panicked && load(i, recordField(r, R_JOINED)) === 0) found = r;
  }
  return found;
}
