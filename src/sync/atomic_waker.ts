// AtomicWaker: tokio's AtomicWaker across threads. One thread at a time registers
// ("wake me"), any thread wakes it. It is the building block of user-made primitives:
// the waiting side runs `register(); if (ready()) ...; wait()` and the producing side
// `makeReady(); wake()`, and no wake-up falls between the check and the wait.
//
// Object words after the [kind, refcount] header:
//   STATE    WAITING 0, or the bits REGISTERING 1 and WAKING 2 (tokio's state machine)
//   WAKER    record of the registered thread (a counted reference: tokio's Waker clone), or 0
//   PENDING  1 when a wake() found nobody registered: the next register() claims it
//   WOKEN    what the last wake() did: a count of wakes (high 16 bits) and the low 16
//            bits of the id of the thread it woke; waiters sleep on this word
//
// STATE is a small lock on WAKER, PENDING and WOKEN with two ways in. register() (and
// take()) enter by WAITING -> REGISTERING and must leave by REGISTERING -> WAITING;
// wake() enters by setting WAKING, and only if it found WAITING. A wake() that finds
// REGISTERING still sets WAKING and returns: the registering side sees WAKING when it
// tries to leave and wakes itself (its next wait returns at once), so a wake concurrent
// with a register is never lost and wake() never waits. A register() that finds WAKING
// does the same (a wake is under way, which may or may not have seen it) without
// registering. Unlike tokio, which drops a register() that races another, concurrent
// register() calls are serialised: the later one spins until the window of the first
// is over, then registers, so the last to get in is the registered thread.
//
// A wait sleeps on WOKEN. The handle remembers the WOKEN it read inside its last
// register() window; the wake that takes a registration writes WOKEN (one more wake,
// the woken thread's tag) before it leaves its window, then notifies. The sleeper
// compares WOKEN with its snapshot in the futex operation itself, so a wake between its
// check and its sleep ends the sleep at once. When WOKEN moved by exactly one wake and
// that wake names another thread, the wake was not ours (our registration was replaced
// before it): the waiter takes the new value as its snapshot and sleeps on. When it
// moved by more (the waiter was not running in between), the waiter returns, a
// permitted spurious wake-up rather than a guess. Tags are the low bits of thread ids,
// so a collision can only make a wake-up spurious, never lose one. A wait consumes the
// wake-ups seen so far (several coalesce into one, as in tokio); one that comes while
// the handle does not wait is kept: a later register() carries it over.
//
// Memory ordering. JS Atomics are sequentially consistent, so every access here is at
// least as strong as tokio's AcqRel/Acquire/Release; what the protocol needs is:
// - WAKER and PENDING are only touched inside a window (REGISTERING or WAKING held),
//   and windows exclude each other through read-modify-writes on STATE, so each
//   window sees every write of the one before it.
// - The user's pattern: the producer writes its data, then wake() does its RMW on
//   STATE; the consumer does register()'s RMW on STATE, then reads the data. Those RMWs
//   are totally ordered. If wake()'s RMW comes first, register() reads a STATE written
//   after it (a release sequence of RMWs), so the data written before the wake is
//   visible to the consumer's check. If register()'s window came first, wake() finds
//   WAITING and our record in WAKER, and delivers through WOKEN. If wake() lands inside
//   the window, it leaves WAKING, which register()'s closing CAS cannot miss. (The
//   check after register() would see data written before such a wake anyway; the
//   REGISTERING/WAKING hand-off is what keeps the promise for every wake that comes
//   after register() began, data or not, and what lets wake() never wait.)
// - WOKEN is written inside the wake's window, so a register() that follows it reads
//   the new value as its snapshot and is not woken by a wake that came before it.
//
// Kill safety (thread/critical.ts): each window, together with taking or giving back
// the record reference it moves, is one kill-safe section, so a thread killed in
// register(), wake() or take() never leaves REGISTERING or WAKING set (which would
// stall every later register, or drop every later wake) nor a reference uncounted.
// A registered thread that dies leaves its record in WAKER: a wake then names it in
// WOKEN for nobody and gives the reference back, and the next register() replaces it.
// A thread killed while waiting leaves nothing behind (a sleeper holds no shared state).

import { describeValue } from '../heap/describe.ts';
import { Adopt, adoptRef, defineKind, releaseRef, retain, allocOwned } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { currentRecord, currentThreadId } from '../thread/current.ts';
import { recordId } from '../thread/record.ts';
import type { Thread } from '../thread/thread.ts';
import { Backoff } from '../wait/backoff.ts';
import { checkSignal, deadlineOf, runAsync, runSync, SPIN, type Op, type WaitOptions } from '../wait/driver.ts';
import { and, assertCanBlock, cas, checkTimeout, exchange, load, notify, or, store } from '../wait/futex.ts';
import { PIN, PinnedHandle, UNPIN } from './mutex.ts';

// i32 fields after the [kind, refcount] header.
const STATE = 2, WAKER = 3, PENDING = 4, WOKEN = 5;
const OBJECT_BYTES = 24;
const WAITING = 0, REGISTERING = 1, WAKING = 2;

const TAG_MASK = 0xffff;
const tagOf = (threadId: number): number => threadId & TAG_MASK;
/** WOKEN after one more wake, of the thread tagged `tag`. */
const nextWoken = (woken: number, tag: number): number => (((woken >>> 16) + 1) << 16) | tag;

/**
 * Whether the wakes between the WOKEN values `seen` and `now` may include one of the
 * thread tagged `tag`. The only sure no: no wake, or exactly one, of another thread.
 */
function mayBeWoken(seen: number, now: number, tag: number): boolean {
  if (now === seen) return false;
  return (((now >>> 16) - (seen >>> 16)) & 0xffff) !== 1 || (now & TAG_MASK) === tag;
}

const words = (offset: number): Int32Array => heapCovering(offset + OBJECT_BYTES).i32;

/** What one attempt at register() came to. */
const BUSY = 0, REGISTERED = 1, WOKEN_NOW = 2;
type Attempt = typeof BUSY | typeof REGISTERED | typeof WOKEN_NOW;

/**
 * One attempt to register the record `me`: BUSY if another register() or take() is in
 * its window (retry), else REGISTERED or WOKEN_NOW (a wake-up is already due: one that
 * came during the window, one under way, or one stored while nobody was registered).
 * `snapshot[0]` receives WOKEN as read in the window.
 */
function tryRegister(i: Int32Array, b: number, me: number, snapshot: [number]): Attempt {
  enterCritical();
  try {
    const s = cas(i, b + STATE, WAITING, REGISTERING);
    if (s === WAKING) {
      // A wake() is in its window; whether it saw our previous registration or not, it
      // happens after this register() began: count it as ours (tokio wakes the new waker).
      snapshot[0] = load(i, b + WOKEN);
      return WOKEN_NOW;
    }
    if (s !== WAITING) return BUSY;
    // The window: WAKER and PENDING are ours until STATE leaves REGISTERING.
    snapshot[0] = load(i, b + WOKEN);
    const old = load(i, b + WAKER);
    if (old !== me) {
      retain(me);
      store(i, b + WAKER, me);
    }
    let outcome: Attempt = exchange(i, b + PENDING, 0) === 1 ? WOKEN_NOW : REGISTERED;
    let woke = false;
    if (cas(i, b + STATE, REGISTERING, WAITING) !== REGISTERING) {
      // A wake() set WAKING during the window and left it to us: it takes our
      // registration, as any wake does, and wakes us. Clearing STATE ends its window too.
      store(i, b + WAKER, 0);
      store(i, b + STATE, WAITING);
      woke = true;
      outcome = WOKEN_NOW;
    }
    // References given back once the window is closed, still in the section: a kill
    // in between would leave them counted forever.
    if (old !== me && old !== 0) releaseRef(old);
    if (woke) releaseRef(me);
    return outcome;
  } finally {
    leaveCritical();
  }
}

/** Where a wait stands: the WOKEN value it has accounted for. */
interface Watch {
  seen: number;
}

/**
 * Sleeps on WOKEN until it records a wake that may be ours (true), or until the
 * deadline (false). Wakes of other threads move `watch.seen` on.
 */
function* sleepOn(i: Int32Array, at: number, tag: number, watch: Watch): Op<boolean> {
  const ours = (): boolean => {
    const now = load(i, at);
    if (now === watch.seen) return false;
    const mine = mayBeWoken(watch.seen, now, tag);
    watch.seen = now;
    return mine;
  };
  // Spin a little first: a producer that is awake usually wakes us within a microsecond.
  for (;;) {
    if (ours()) return true;
    if (yield SPIN) break;
  }
  for (;;) {
    let expired: boolean;
    try {
      expired = yield { index: at, expected: watch.seen };
    } catch (e) {
      // Aborted: a wake that came first is ours (the driver returns it), else nothing
      // was taken and the registration stays as it was.
      if (ours()) return true;
      throw e;
    }
    if (ours()) return true;
    if (expired) return false;
  }
}

function checkMs(ms: unknown, call: string): number | undefined {
  if (ms !== undefined && typeof ms !== 'number') {
    throw new TypeError(`${call}: ms must be a number of milliseconds or undefined, got ${describeValue(ms)}`);
  }
  return checkTimeout(ms, call);
}

/**
 * tokio's `AtomicWaker`, across threads: the building block for your own primitives.
 * `register()` makes the calling thread the one `wake()` wakes (replacing any thread
 * registered before); `wait()` / `waitAsync()` then sleep until such a wake. A wake
 * between `register()` and the wait is never lost, and a `wake()` with nobody registered
 * is kept for the next `register()`. One waiting thread at a time (for many waiters,
 * {@link Notify} or {@link Condvar}).
 *
 * @example
 * ```ts
 * // consumer
 * for (;;) {
 *   waker.register();
 *   if (ready.load()) break;
 *   waker.wait();
 * }
 * // producer
 * ready.store(1);
 * waker.wake();
 * ```
 *
 * @remarks
 * Blocking / async: `wait(ms?)` (returns false on timeout) / `waitAsync({ signal })`.
 * Wake-ups may be spurious (one stored earlier and not needed, a waiter that slept
 * through several wakes): re-check the condition, as with a Condvar.
 *
 * Ordering: what the waking thread wrote before `wake()` is visible to the woken thread
 * after its wait returns. `take()` returns the registered {@link Thread} and clears it.
 *
 * Holder death: a registered thread that ends or is killed is simply forgotten; a thread
 * killed inside `register()` or `wake()` leaves the state usable (each window is one
 * kill-safe section).
 */
export class AtomicWaker extends PinnedHandle {
  // This handle's side of the protocol, in this thread: the WOKEN value accounted for
  // (read by its first register(), then moved on by register() and the waits), and a
  // wake-up found due and not yet consumed by a wait.
  #seen: number | undefined;
  #woken = false;

  constructor();
  /** @internal */
  constructor(...args: [] | [Adopt]);
  constructor(...args: [] | [Adopt]) {
    const [adopt] = args;
    if (args.length > 0 && !(adopt instanceof Adopt)) {
      throw new TypeError(`new AtomicWaker() takes no arguments, got ${describeValue(adopt)}`);
    }
    super(adopt instanceof Adopt ? adopt.offset : allocOwned(Kind.AtomicWaker, OBJECT_BYTES - 8));
  }

  /** @internal */
  protected get kindName(): string {
    return 'AtomicWaker';
  }

  /**
   * Makes the calling thread the one wake() wakes: its next wait() or waitAsync()
   * through this handle returns once a wake() comes after this call began (at once if
   * one came meanwhile, or if a wake() found nobody registered before). Replaces the
   * registration of any other thread. Serialised with other register() and take()
   * calls; never waits for a wake().
   */
  register(): void {
    this.checkOpen();
    const i = words(this.offset);
    const b = this.offset >> 2;
    const me = currentRecord();
    const snapshot: [number] = [0];
    let outcome = tryRegister(i, b, me, snapshot);
    if (outcome === BUSY) {
      // Another register() or take() is in its window: a few atomics, inside a kill-safe
      // section of its thread, so it ends soon (and we spin outside any section of ours).
      const backoff = new Backoff();
      do {
        backoff.snooze();
        outcome = tryRegister(i, b, me, snapshot);
      } while (outcome === BUSY);
    }
    // A wake of our previous registration that no wait has consumed stays due. The
    // snapshot was read in the window, so it covers a wake that took that registration
    // just before this call got in.
    const carried = this.#seen !== undefined && mayBeWoken(this.#seen, snapshot[0], tagOf(currentThreadId()));
    if (outcome === WOKEN_NOW || carried) this.#woken = true;
    this.#seen = snapshot[0];
  }

  /**
   * Wakes the registered thread and removes its registration; with nobody registered,
   * stores the wake-up for the next register(). Never blocks. Wake-ups coalesce: one
   * that meets another under way is covered by it.
   */
  wake(): void {
    this.checkOpen();
    const i = words(this.offset);
    const b = this.offset >> 2;
    // A wake-up is stored already (PENDING is 1 only while nobody is registered, or in a
    // register() window that is about to claim it and wake itself): ours coalesces with
    // it. This keeps a producer that wakes on every item down to one load per item.
    if (load(i, b + PENDING) === 1) return;
    enterCritical();
    try {
      // Not WAITING: a register() in its window sees our WAKING bit and wakes itself,
      // or another wake() is in its window and does the job for both.
      if (or(i, b + STATE, WAKING) !== WAITING) return;
      const taken = exchange(i, b + WAKER, 0);
      if (taken !== 0) store(i, b + WOKEN, nextWoken(load(i, b + WOKEN), tagOf(recordId(taken))));
      else store(i, b + PENDING, 1);
      and(i, b + STATE, ~WAKING);
      if (taken !== 0) {
        notify(i, b + WOKEN);
        releaseRef(taken);
      }
    } finally {
      leaveCritical();
    }
  }

  /**
   * Removes the registration without waking, and returns the thread that was
   * registered (undefined if none). `take()?.unpark()` does not wake a wait(): a
   * wake() does. A wake() that meets take() in its window counts as coming after it:
   * with nobody registered, it is stored for the next register().
   */
  take(): Thread | undefined {
    this.checkOpen();
    const i = words(this.offset);
    const b = this.offset >> 2;
    for (const backoff = new Backoff(); ; backoff.snooze()) {
      enterCritical();
      try {
        // take() enters like register() (wake() leaves REGISTERING to its holder) and
        // waits out a wake() under way, so it never swallows one.
        if (cas(i, b + STATE, WAITING, REGISTERING) !== WAITING) continue;
        const taken = exchange(i, b + WAKER, 0);
        if (cas(i, b + STATE, REGISTERING, WAITING) !== REGISTERING) {
          store(i, b + PENDING, 1);
          store(i, b + STATE, WAITING);
        }
        if (taken === 0) return undefined;
        try {
          return adoptRef(taken) as Thread; // the waker's reference moves into the handle
        } catch (e) {
          releaseRef(taken); // no room to record it (heap full): give it back
          throw e;
        }
      } finally {
        leaveCritical();
      }
    }
  }

  /**
   * Blocks until a wake-up for this thread's registration (see register()); returns
   * true then, or false once `ms` milliseconds passed without one (the registration
   * stays, so a later wait still sees a later wake). Throws TypeError if register() was
   * never called through this handle: nothing could wake the wait.
   */
  wait(ms?: number): boolean {
    const timeout = checkMs(ms, 'AtomicWaker.wait()');
    this.checkOpen();
    assertCanBlock('AtomicWaker.wait()', 'AtomicWaker.waitAsync()');
    this.#registered('AtomicWaker.wait()');
    if (this.#consumeDue()) return true;
    const watch: Watch = { seen: this.#seen! };
    const woken = runSync(sleepOn(words(this.offset), (this.offset >> 2) + WOKEN, tagOf(currentThreadId()), watch), deadlineOf(timeout));
    this.#seen = watch.seen;
    return woken;
  }

  /**
   * wait() without blocking the event loop. Aborting `signal` rejects with its reason
   * and takes nothing: the registration and any later wake-up stay for the next wait.
   * Closing this handle while it waits takes effect once the wait ends.
   */
  async waitAsync(options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'AtomicWaker.waitAsync()');
    this.checkOpen();
    this.#registered('AtomicWaker.waitAsync()');
    if (this.#consumeDue()) return;
    const start = this.#seen!;
    const watch: Watch = { seen: start };
    this[PIN]();
    try {
      await runAsync(sleepOn(words(this.offset), (this.offset >> 2) + WOKEN, tagOf(currentThreadId()), watch), Infinity, signal);
    } finally {
      // Unless a register() or another wait of this handle moved it on meanwhile.
      if (this.#seen === start) this.#seen = watch.seen;
      this[UNPIN]();
    }
  }

  #registered(call: string): void {
    if (this.#seen === undefined) {
      throw new TypeError(
        `${call}: this AtomicWaker handle was never registered; call register() first ` +
          '(then check your condition, then wait)',
      );
    }
  }

  /** Takes a wake-up already due (found by register(), or recorded in WOKEN since); true if there was one. */
  #consumeDue(): boolean {
    const now = load(words(this.offset), (this.offset >> 2) + WOKEN);
    const due = this.#woken || mayBeWoken(this.#seen!, now, tagOf(currentThreadId()));
    this.#woken = false;
    this.#seen = now;
    return due;
  }
}

defineKind(Kind.AtomicWaker, {
  name: 'AtomicWaker',
  wrap: (p) => new AtomicWaker(new Adopt(p)),
  // The last reference is gone: give back the registered thread's record.
  drop(p) {
    const r = exchange(words(p), (p >> 2) + WAKER, 0);
    if (r !== 0) releaseRef(r);
  },
});
