// Notify, tokio's task notification, across threads. Waiters sleep (asynchronously) on
// one sequence word. notifyOne hands a token to a waiter, or stores the single permit
// when nobody waits; notifyWaiters wakes only those waiting now (a generation bump)
// and stores nothing. A waiter reads the sequence before it checks anything, so a
// notify that lands between its check and its sleep still wakes it: the register-
// then-check / publish-then-wake handoff of tokio's AtomicWaker.

import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { add, cas, load, notify, store, waitAsync } from '../wait/futex.ts';

const SEQ = 2, WAITERS = 3, PERMIT = 4, TOKENS = 5, GENERATION = 6;

function take(i: Int32Array, at: number): boolean {
  for (let n = load(i, at); n > 0; n = load(i, at)) if (cas(i, at, n, n - 1) === n) return true;
  return false;
}

export class Notify extends Handle {
  constructor(adopt?: Adopt) {
    super(adopt?.offset ?? allocObject(Kind.Notify, 20));
  }

  protected get kindName(): string {
    return 'Notify';
  }

  /** Wakes one waiter, or lets the next notified() return at once (at most one permit). */
  notifyOne(): void {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    if (load(i, b + WAITERS) === 0) {
      store(i, b + PERMIT, 1);
      add(i, b + SEQ, 1); // a waiter between its checks and its sleep sees this
    } else {
      add(i, b + TOKENS, 1);
      add(i, b + SEQ, 1);
      notify(i, b + SEQ, 1);
    }
  }

  /** Wakes every current waiter; stores no permit. */
  notifyWaiters(): void {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    add(i, b + GENERATION, 1);
    add(i, b + SEQ, 1);
    if (load(i, b + WAITERS) > 0) notify(i, b + SEQ);
  }

  /** Resolves at the next notifyOne (or a stored permit) or notifyWaiters. */
  async notified(): Promise<void> {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    if (cas(i, b + PERMIT, 1, 0) === 1) return;
    const gen = load(i, b + GENERATION);
    add(i, b + WAITERS, 1);
    try {
      for (;;) {
        const seq = load(i, b + SEQ);
        if (take(i, b + TOKENS) || cas(i, b + PERMIT, 1, 0) === 1 || load(i, b + GENERATION) !== gen) return;
        await waitAsync(i, b + SEQ, seq);
      }
    } finally {
      add(i, b + WAITERS, -1);
    }
  }
}

defineKind(Kind.Notify, { name: 'Notify', wrap: (p) => new Notify(new Adopt(p)) });
