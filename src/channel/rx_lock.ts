// The receivers' lock of a channel with more than one receiver. The flavors' receive
// code was written for one receiver, which moves the head with plain reads and writes
// and decodes a message in place before the slot can be reused; with several
// receivers each take runs under this lock instead of being rewritten around CASes.
// A sole receiver never takes it (see layout.ts), so the common case pays nothing.
//
// Rust's futex mutex states: 0 free, 1 locked, 2 locked with sleepers. The hold is
// recorded in the thread's owned table (Role.Held), so if the thread is killed
// holding it, the runtime releases it (the Channel kind's releaseRole) and the other
// receivers go on.

import { currentOwnedCell, Role } from '../heap/handle.ts';
import { ownedAdd, ownedRemove } from '../heap/owned.ts';
import { Backoff } from '../wait/backoff.ts';
import { canBlock, cas, exchange, notify, wait } from '../wait/futex.ts';

const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;

/** Takes the lock at i32 index `index` for the channel at `p`; returns the owned-table slot to unlock with. */
export function lockRx(i: Int32Array, index: number, p: number): number {
  if (cas(i, index, FREE, LOCKED) !== FREE) contend(i, index);
  return ownedAdd(currentOwnedCell(), p + Role.Held);
}

function contend(i: Int32Array, index: number): void {
  const backoff = new Backoff();
  for (;;) {
    if (!backoff.isCompleted()) {
      backoff.snooze();
      if (cas(i, index, FREE, LOCKED) === FREE) return;
      continue;
    }
    // The holder only decodes one message: sleeping is rare. Where blocking is not
    // allowed (a browser main thread) keep spinning; the hold is short and a killed
    // holder's lock is released by the runtime.
    if (exchange(i, index, CONTENDED) === FREE) return;
    if (canBlock()) wait(i, index, CONTENDED);
    else backoff.reset();
  }
}

export function unlockRx(i: Int32Array, index: number, slot: number): void {
  ownedRemove(currentOwnedCell(), slot);
  releaseRx(i, index);
}

/** Frees the lock (also for a thread that died holding it). */
export function releaseRx(i: Int32Array, index: number): void {
  if (exchange(i, index, FREE) === CONTENDED) notify(i, index);
}
