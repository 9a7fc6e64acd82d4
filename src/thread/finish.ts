// Ending a thread: the same steps whether the thread ends itself or the supervisor
// ends it for a dead worker. Exactly one of them makes the terminal transition, and
// that one does the scope accounting and wakes the joiners.

import { codecs } from '../codec/index.ts';
import { dropValue, forgetHeld, storeValueHeld, type Held } from '../codec/stored.ts';
import { enterCritical, leaveCritical } from './critical.ts';
import { releaseRef, Role, ROLE_MASK } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { ownedDrain } from '../heap/owned.ts';
import { cas, exchange, load, notify, store } from '../wait/futex.ts';
import { recordField, R_OWNED, R_REASON, R_RESULT, R_SCOPE, R_STATE, isTerminal } from './record.ts';
import { scopeThreadEnded } from './scope.ts';

/** Stores what a thread produced: its result, or the payload it panicked with. */
export function storeOutcome(record: number, ok: boolean, value: unknown, reason: number = 0): boolean {
  const i = heap().i32;
  let held: Held;
  try {
    held = storeValueHeld(codecs.structured, value);
  } catch (e) {
    // An unencodable result is the thread's failure; an unencodable payload is
    // kept as text so the joiner still learns what happened.
    if (ok) return storeOutcome(record, false, e, 0);
    held = storeValueHeld(codecs.structured, new Error(String(value)));
  }
  // Held until it is in the record, in one kill-safe section with the swap.
  enterCritical();
  try {
    const old = exchange(i, recordField(record, R_RESULT), held.p);
    forgetHeld(held);
    if (old !== 0) dropValue(old);
    store(i, recordField(record, R_REASON), reason);
  } finally {
    leaveCritical();
  }
  return ok;
}

/** Gives back one entry of an ended thread's table: a ref, or a value block it had in hand. */
function releaseOwned(ref: number): void {
  if ((ref & ROLE_MASK) === Role.Value) dropValue(ref - Role.Value);
  else releaseRef(ref);
}

/**
 * Releases everything the thread still owns (endpoints close, held locks are poisoned
 * and released), then publishes the terminal state. Returns false if the thread had
 * already been completed.
 */
export function completeRecord(record: number, terminal: number): boolean {
  const i = heap().i32;
  const state = load(i, recordField(record, R_STATE));
  if (isTerminal(state)) return false;
  ownedDrain(recordField(record, R_OWNED), releaseOwned);
  if (cas(i, recordField(record, R_STATE), state, terminal) !== state) return false;
  const scope = load(i, recordField(record, R_SCOPE));
  if (scope !== 0) scopeThreadEnded(scope);
  notify(i, recordField(record, R_STATE));
  return true;
}
