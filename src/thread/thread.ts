// Thread: a handle on a thread's record. The same record backs JoinHandle (a ref
// with the Join role), so either can travel to other threads in messages.

import { dropValue } from '../codec/stored.ts';
import { Adopt, cloneHandle, defineKind, Handle, Role } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedFree } from '../heap/owned.ts';
import { load, store } from '../wait/futex.ts';
import { currentRecord } from './current.ts';
import { addJoiner, dropJoiner } from './panic_report.ts';
import { unparkRecord } from './parker.ts';
import { recordField, recordId, R_NAME, R_OWNED, R_RESULT, R_SPEC, threadName } from './record.ts';

/**
 * A thread of this process, as seen from any thread: `id` (unique, never reused),
 * `name`, and `unpark()` to wake it from {@link park}. `current()` is the calling
 * thread's; `JoinHandle.thread` a spawned one's.
 *
 * @example
 * ```ts
 * const h = new Builder().name('worker').spawn(async () => {
 *   const { park, current } = await import('weft'); // a thread sees its imports, not the caller's
 *   park();
 *   return current().name;
 * });
 * h.thread.unpark();
 * h.join(); // 'worker'
 * ```
 */
export class Thread extends Handle {
  #name: string | undefined | null = null;

  /** @internal Threads are made by spawn() and current(). */
  /** @internal */
  constructor(adopt: Adopt) {
    super(adopt.offset);
  }

  /** @internal */
  protected get kindName(): string {
    return 'Thread';
  }

  /** @internal */
  protected override describe(): string {
    const name = this.name;
    return `Thread #${this.id}${name === undefined ? '' : ` '${name}'`}`;
  }

  /** Unique in the process and never reused; the main thread is 1. */
  get id(): number {
    return recordId(this.offset);
  }

  /** The name given with Builder.name(), 'main' for the main thread, else undefined. */
  get name(): string | undefined {
    if (this.#name === null) this.#name = threadName(this.offset);
    return this.#name;
  }

  /** Wakes the thread if it is parked, or makes its next park() return at once. */
  unpark(): void {
    unparkRecord(this.offset);
  }
}

let joinWrapper: ((record: number) => Handle) | undefined;

/** Lets the JoinHandle module build handles for refs with the Join role. */
export function setJoinWrapper(f: (record: number) => Handle): void {
  joinWrapper = f;
}

defineKind(Kind.Thread, {
  name: 'Thread',
  wrap: (offset, role) => (role === Role.Join && joinWrapper ? joinWrapper(offset) : new Thread(new Adopt(offset))),
  // A Join ref counts as a joiner; moving a JoinHandle keeps its ref, so only a copy
  // (a stored value read without taking it) or a release changes the count.
  retainRole(offset, role) {
    if (role === Role.Join) addJoiner(offset);
  },
  releaseRole(offset, role) {
    if (role === Role.Join) dropJoiner(offset);
  },
  drop(offset) {
    const i = heap().i32;
    for (const field of [R_RESULT, R_SPEC, R_NAME]) {
      const p = load(i, recordField(offset, field));
      if (p !== 0) {
        store(i, recordField(offset, field), 0);
        dropValue(p);
      }
    }
    ownedFree(recordField(offset, R_OWNED));
  },
});

let self: Thread | undefined;

/**
 * The calling thread (Rust's `std::thread::current`). On the main thread: id 1, name 'main'.
 *
 * @example
 * ```ts
 * spawn(async () => { const { current } = await import('weft'); return current().id; }).join(); // e.g. 2
 * ```
 */
export function current(): Thread {
  if (!self || self.released || self.offset !== currentRecord()) {
    // A count of its own, taken and recorded in one kill-safe section (cloneHandle).
    self = cloneHandle(currentRecord(), (r) => new Thread(new Adopt(r)));
  }
  return self;
}

