// Notify, tokio's task notification, across threads, as a ticket line in the heap.
//
// A waiter takes a ticket (TAIL += 1) unless a permit is stored, in which case it
// takes the permit instead; both live in one word, so "wake a waiter or store the
// permit" is decided atomically against waiters arriving. notifyOne hands the turn
// to the oldest ticket (HEAD += 1), or stores the permit when HEAD has caught up
// with TAIL; notifyWaiters moves HEAD up to TAIL, waking exactly the waiters that
// hold a ticket now and storing nothing. Waiters sleep (waitAsync) on HEAD: each
// reads HEAD, checks its ticket and sleeps only while HEAD is unchanged, and every
// move of HEAD is followed by a notify, so no wake is lost. HEAD moves only when a
// ticket is outstanding: nobody waiting, nobody notified.
//
// A waiter that sleeps keeps a small node recorded in its owned table. If its thread
// dies, the runtime calls releaseRole on the node: a ticket not yet served is marked
// dead, and notifyOne skips it; a ticket served by notifyOne but never picked up
// passes that notification on. Nodes of dead waiters are freed with the Notify. A
// node is a heap object of this kind (the runtime releases kind objects only); it
// is freed directly, never through its refcount, so drop() sees Notify objects only.
//
// A waiter aborted through `{ signal }` (tokio: a dropped Notified) gives its ticket up
// the same way, but without leaving a node behind, since cancelling is routine (a wait
// with a timeout, in a loop): it marks its ticket dead in one of SLOT_COUNT slots
// (indexed by ticket), which notifyOne clears when it skips the ticket. Whoever clears
// a mark owns its outcome: notifyOne skips the ticket, the aborted waiter that finds
// itself served by notifyOne passes the notification on. A dead ticket at HEAD is
// retired at once (HEAD += 1, through a RETIRING mark that a racing notifyOne takes
// over), so a lone waiter cancelling over and over leaves nothing behind. Only when a
// slot is taken by an older dead ticket (SLOT_COUNT cancelled waiters stuck behind a
// live one) does the waiter fall back to the node list.
//
// Kill-safe sections (thread/critical.ts) keep the node and its ticket in step: the
// node is made and recorded in one, a ticket is taken and written into the node in
// one, and a waiter that is done or aborted forgets its node and settles its ticket in
// one. A thread killed between two of those steps would hold a ticket no node names,
// and the notifyOne handed to it would be lost.

import { free } from '../heap/alloc.ts';
import { Adopt, allocObject, currentOwnedCell, defineKind, Handle, releaseRef, retain, Role, allocOwned } from '../heap/handle.ts';
import { heapCovering } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { currentThreadId } from '../thread/current.ts';
import { checkSignal, type WaitOptions } from '../wait/driver.ts';
import { cas, load, notify, store, waitAsync } from '../wait/futex.ts';
import { describeValue } from '../heap/describe.ts';
import { ABORTED, raceAbort } from '../wait/driver.ts';

// Notify fields: TAIL = next ticket << 1 | PERMIT; HEAD = oldest ticket not yet
// served; BROADCAST = TAIL's ticket at the last notifyWaiters; DEAD = dead waiters'
// nodes (a stack linked through NODE_NEXT).
const TAIL = 2, HEAD = 3, BROADCAST = 4, DEAD = 5, SLOTS = 6;
const SLOT_COUNT = 32;
// Node fields. CLAIM settles who passes on a dead waiter's turn: notifyOne or releaseRole.
const NODE_NEXT = 2, NODE_NOTIFY = 3, NODE_TICKET = 4, NODE_CLAIM = 5;
/** Sizes, header included. */
const NOTIFY_BYTES = 24 + 4 * SLOT_COUNT, NODE_BYTES = 24;
// A slot mark names its ticket by the bits above the slot index, and its state.
const MARK_DEAD = 1, MARK_RETIRING = 2;
const slotOf = (b: number, ticket: number): number => b + SLOTS + (ticket & (SLOT_COUNT - 1));
const markOf = (ticket: number, state: number): number => ((ticket >>> 5) << 2) | state;
const ticketOfMark = (mark: number, slot: number): number => ((mark >>> 2) << 5) | slot;

const PERMIT = 1;
// Tickets count modulo 2^31 (TAIL keeps the permit bit below them).
const TICKETS = 0x7fffffff;
const NO_TICKET = -1;
const ticketOf = (tail: number): number => tail >>> 1;
/** True when ticket `a` comes before `b` (so `a` is served once HEAD is `b`). */
function before(a: number, b: number): boolean {
  const d = (b - a) & TICKETS;
  return d !== 0 && d <= 2 ** 30;
}

const words = (offset: number): Int32Array => heapCovering(offset + NOTIFY_BYTES).i32;
const nodeWords = (node: number): Int32Array => heapCovering(node + NODE_BYTES).i32;

/** Hands the turn to the oldest live ticket, or stores the permit if nobody waits. */
function notifyOne(offset: number): void {
  const i = words(offset);
  const b = offset >> 2;
  for (;;) {
    // HEAD before TAIL: a HEAD equal to the TAIL read after it is HEAD now.
    const head = load(i, b + HEAD);
    const tail = load(i, b + TAIL);
    if (head === ticketOf(tail)) {
      if ((tail & PERMIT) !== 0 || cas(i, b + TAIL, tail, tail | PERMIT) === tail) return;
      continue;
    }
    if (cas(i, b + HEAD, head, (head + 1) & TICKETS) !== head) continue;
    if (clearMark(i, b, head)) continue; // an aborted waiter's ticket: skip it
    const dead = deadNode(i, b, head);
    if (dead === 0) {
      notify(i, b + HEAD);
      return;
    }
    // Its waiter died: skip it, unless its releaseRole took that on.
    const n = nodeWords(dead);
    if (cas(n, (dead >> 2) + NODE_CLAIM, 0, 1) !== 0) return;
  }
}

/**
 * Clears the mark of `ticket` (dead, or being retired by a helper whose HEAD move has
 * failed), just moved past by HEAD. True if there was one: the ticket is skipped.
 */
function clearMark(i: Int32Array, b: number, ticket: number): boolean {
  const at = slotOf(b, ticket);
  for (let m = load(i, at); m === markOf(ticket, MARK_DEAD) || m === markOf(ticket, MARK_RETIRING); m = load(i, at)) {
    if (cas(i, at, m, 0) === m) return true;
  }
  return false; // no mark, or its waiter claimed it first (and passes the turn on)
}

/**
 * Gives up the ticket of an aborted waiter through its slot. False if the slot holds
 * another dead ticket's mark (the caller falls back to its node).
 */
function abandonTicket(offset: number, ticket: number): boolean {
  const i = words(offset);
  const b = offset >> 2;
  const at = slotOf(b, ticket);
  const dead = markOf(ticket, MARK_DEAD);
  if (cas(i, at, 0, dead) !== 0) return false;
  // Marked first, then HEAD read, while notifyOne moves HEAD first, then reads marks.
  if (before(ticket, load(i, b + HEAD))) {
    const byBroadcast = before(ticket, load(i, b + BROADCAST));
    // Served before we left: if by notifyOne and we clear our mark first, it is ours to pass on.
    if (cas(i, at, dead, 0) === dead && !byBroadcast) notifyOne(offset);
  } else retireDeadAtHead(i, b);
  return true;
}

/** Moves HEAD past dead tickets at its front, so cancelled waiters do not pile up. */
function retireDeadAtHead(i: Int32Array, b: number): void {
  for (;;) {
    const head = load(i, b + HEAD);
    if (head === ticketOf(load(i, b + TAIL))) return;
    const at = slotOf(b, head);
    const dead = markOf(head, MARK_DEAD), retiring = markOf(head, MARK_RETIRING);
    if (cas(i, at, dead, retiring) !== dead) return;
    // If this fails, notifyOne or notifyWaiters moved HEAD first and clears the mark.
    if (cas(i, b + HEAD, head, (head + 1) & TICKETS) !== head) return;
    cas(i, at, retiring, 0);
  }
}

/** Clears the marks of tickets in [from, to), which a notifyWaiters has just moved HEAD past. */
function clearMarksBetween(i: Int32Array, b: number, from: number, to: number): void {
  for (let k = 0; k < SLOT_COUNT; k++) {
    const m = load(i, b + SLOTS + k);
    if (m === 0) continue;
    const t = ticketOfMark(m, k);
    if (!before(t, from) && before(t, to)) cas(i, b + SLOTS + k, m, 0);
  }
}

function deadNode(i: Int32Array, b: number, ticket: number): number {
  for (let n = load(i, b + DEAD); n !== 0; n = load(nodeWords(n), (n >> 2) + NODE_NEXT)) {
    if (load(nodeWords(n), (n >> 2) + NODE_TICKET) === ticket) return n;
  }
  return 0;
}

/** A waiter's node, recorded in its thread's owned table while it sleeps. */
interface Sleeper {
  readonly node: number;
  readonly cell: number;
  readonly slot: number;
  readonly thread: number;
}

/** Makes a waiter's node and records it, in one kill-safe section. */
function sleeper(offset: number): Sleeper {
  const cell = currentOwnedCell();
  enterCritical();
  try {
    const node = allocObject(Kind.Notify, NODE_BYTES - 8);
    const n = nodeWords(node);
    store(n, (node >> 2) + NODE_NOTIFY, offset);
    store(n, (node >> 2) + NODE_TICKET, NO_TICKET);
    retain(offset); // the node keeps the Notify alive until it is done with it
    try {
      return { node, cell, slot: ownedAdd(cell, node + Role.Held), thread: currentThreadId() };
    } catch (e) {
      releaseRef(offset);
      freeNode(node);
      throw e;
    }
  } finally {
    leaveCritical();
  }
}

/**
 * Takes the stored permit (returning NO_TICKET) or else a ticket, which it writes into
 * the waiter's node in the same kill-safe section: a dead waiter's ticket is always
 * named by its node, so releaseRole can give it up.
 */
function takeTicket(offset: number, s: Sleeper): number {
  const i = words(offset);
  const at = (offset >> 2) + TAIL;
  enterCritical();
  try {
    for (let t = load(i, at); ; ) {
      const seen = cas(i, at, t, (t & PERMIT) !== 0 ? t & ~PERMIT : (t + 2) | 0);
      if (seen !== t) {
        t = seen;
        continue;
      }
      if ((t & PERMIT) !== 0) return NO_TICKET;
      store(nodeWords(s.node), (s.node >> 2) + NODE_TICKET, ticketOf(t));
      return ticketOf(t);
    }
  } finally {
    leaveCritical();
  }
}

function freeNode(node: number): void {
  store(nodeWords(node), node >> 2, 0);
  free(node);
}

/**
 * A notification between threads (tokio's `Notify`): `notified()` waits until
 * `notifyOne()` or `notifyWaiters()`.
 *
 * @example
 * ```ts
 * const shutdown = new Notify();
 * const worker = spawn(async (stop: Notify) => {
 *   await stop.notified(); // returns once notified
 *   return 'stopped';
 * }, shutdown);
 * shutdown.notifyOne();
 * await worker.joinAsync(); // 'stopped'
 * ```
 *
 * @remarks
 * Async only: `notified({ signal })` returns a Promise (a thread that must block uses a
 * {@link Condvar} or a channel instead). Aborting it takes no notification.
 *
 * Semantics: `notifyOne()` wakes the longest-waiting waiter (FIFO), or stores one permit
 * when nobody waits, which the next `notified()` consumes at once (at most one permit is
 * stored). `notifyWaiters()` wakes every thread waiting now and stores nothing.
 * Ordering: what the notifier wrote before notifying is visible to the woken waiter.
 *
 * Holder death: a waiter that ends or is killed before its turn is skipped; a
 * notification handed to a waiter that died is passed on to the next one.
 */
export class Notify extends Handle {
  constructor();
  /** @internal */
  constructor(adopt?: Adopt);
  constructor(adopt?: Adopt) {
    if (adopt !== undefined && !(adopt instanceof Adopt)) {
      throw new TypeError(`new Notify() takes no arguments, got ${describeValue(adopt)}`);
    }
    super(adopt?.offset ?? allocOwned(Kind.Notify, NOTIFY_BYTES - 8));
  }

  /** @internal */
  protected get kindName(): string {
    return 'Notify';
  }

  /** Wakes the longest-waiting waiter, or, if none waits, lets the next notified() return at once. */
  notifyOne(): void {
    this.checkOpen();
    notifyOne(this.offset);
  }

  /** Wakes every waiter waiting now; stores no permit. */
  notifyWaiters(): void {
    this.checkOpen();
    const i = words(this.offset);
    const b = this.offset >> 2;
    const tail = ticketOf(load(i, b + TAIL));
    // BROADCAST first (releaseRole reads it after HEAD), and it only moves forward.
    for (let bc = load(i, b + BROADCAST); before(bc, tail); bc = load(i, b + BROADCAST)) {
      if (cas(i, b + BROADCAST, bc, tail) === bc) break;
    }
    for (let head = load(i, b + HEAD); before(head, tail); head = load(i, b + HEAD)) {
      if (cas(i, b + HEAD, head, tail) === head) {
        clearMarksBetween(i, b, head, tail);
        notify(i, b + HEAD);
        return;
      }
    }
  }

  /**
   * Resolves at a notifyOne meant for this call (or at once, taking a stored permit),
   * or at a notifyWaiters. The call is registered when made, not when awaited.
   * Aborting `signal` rejects with its reason and gives the place in line up; a
   * notifyOne that had already chosen this call goes to the next waiter (or is stored).
   */
  async notified(options?: WaitOptions): Promise<void> {
    const signal = checkSignal(options, 'Notify.notified()');
    this.checkOpen();
    const i = words(this.offset);
    const b = this.offset >> 2;
    const tail = load(i, b + TAIL);
    if ((tail & PERMIT) !== 0 && cas(i, b + TAIL, tail, tail & ~PERMIT) === tail) return;
    // The node first: once we hold a ticket, nothing may fail.
    const s = sleeper(this.offset);
    const ticket = takeTicket(this.offset, s);
    if (ticket === NO_TICKET) return this.#done(s);
    return this.#sleep(s, ticket, signal);
  }

  async #sleep(s: Sleeper, ticket: number, signal: AbortSignal | undefined): Promise<void> {
    const i = words(this.offset);
    const at = (this.offset >> 2) + HEAD;
    for (let head = load(i, at); !before(ticket, head); head = load(i, at)) {
      const sleep = waitAsync(i, at, head);
      if (signal === undefined) await sleep;
      else if ((await raceAbort(sleep, signal)) === ABORTED) {
        notify(i, at); // settles our abandoned sleep; the others re-check and sleep again
        this.#abandon(s, ticket);
        throw signal.reason;
      }
    }
    this.#done(s);
  }

  /**
   * Gives up the place in line of an aborted waiter, unless its thread ended meanwhile
   * (releaseRole has it then). One kill-safe section: once the node is forgotten, the
   * ticket must be given up.
   */
  #abandon(s: Sleeper, ticket: number): void {
    if (currentThreadId() !== s.thread) return;
    enterCritical();
    try {
      ownedRemove(s.cell, s.slot);
      if (abandonTicket(this.offset, ticket)) freeNode(s.node);
      else retireNode(s.node);
      releaseRef(this.offset); // last: it may free the Notify
    } finally {
      leaveCritical();
    }
  }

  /** Frees the node of a waiter that is done, unless its thread ended meanwhile (releaseRole has it then); one kill-safe section. */
  #done(s: Sleeper): void {
    if (currentThreadId() !== s.thread) return;
    enterCritical();
    try {
      ownedRemove(s.cell, s.slot);
      freeNode(s.node);
      releaseRef(this.offset);
    } finally {
      leaveCritical();
    }
  }
}

defineKind(Kind.Notify, {
  name: 'Notify',
  wrap: (p) => new Notify(new Adopt(p)),
  // Only waiter nodes are held: this waiter's thread died.
  releaseRole(node) {
    const offset = load(nodeWords(node), (node >> 2) + NODE_NOTIFY);
    retireNode(node);
    releaseRef(offset);
  },
  // The Notify itself is gone: free the nodes of dead waiters.
  drop(p) {
    for (let node = load(words(p), (p >> 2) + DEAD); node !== 0; ) {
      const next = load(nodeWords(node), (node >> 2) + NODE_NEXT);
      freeNode(node);
      node = next;
    }
  },
});

/**
 * Gives up the place in line of a waiter that will never return, through its node:
 * a ticket not yet served is pushed on the dead list (notifyOne skips it); one served
 * by notifyOne passes the notification on. Node-less waiters (no ticket) are freed.
 */
function retireNode(node: number): void {
  const n = nodeWords(node);
  const offset = load(n, (node >> 2) + NODE_NOTIFY);
  const ticket = load(n, (node >> 2) + NODE_TICKET);
  const i = words(offset);
  const b = offset >> 2;
  if (ticket !== NO_TICKET) {
    // Marked first, then HEAD read, while notifyOne moves HEAD first, then looks for
    // marks: at least one of the two sees the other, and CLAIM picks one.
    for (let top = load(i, b + DEAD); ; top = load(i, b + DEAD)) {
      store(n, (node >> 2) + NODE_NEXT, top);
      if (cas(i, b + DEAD, top, node) === top) break;
    }
    const served = before(ticket, load(i, b + HEAD));
    const byBroadcast = before(ticket, load(i, b + BROADCAST));
    // Woken by notifyOne but never to return: wake another waiter instead.
    if (served && !byBroadcast && cas(n, (node >> 2) + NODE_CLAIM, 0, 1) === 0) notifyOne(offset);
  } else freeNode(node); // it died before taking a ticket
}
