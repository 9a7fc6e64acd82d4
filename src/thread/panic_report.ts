// Printing a panic as Rust's default hook does (`thread '<name>' panicked: <payload
// and stack>` on stderr), once, and only for a panic nobody will receive. A joined
// panic reaches its joiner as PanicError and prints nothing; so does a scoped
// thread's panic that its scope throws as "a scoped thread panicked". Any other panic
// is printed at the first moment it is known that nobody will receive it:
//  - when the thread panics, if no joiner is left (panicKnown);
//  - when the last joiner goes without it delivered: the JoinHandle is closed,
//    collected, or released with its thread's owned table, or the scope ends
//    (dropJoiner);
//  - when the process exits, for JoinHandles the main thread still holds unjoined.
// Exits and kills are not panics of the thread's own making and are never printed.
//
// Joiners are counted in the record (R_JOINERS): one per Join ref (a JoinHandle that
// moves keeps its ref, so the count), plus one for the scope of a scoped thread.
// R_REPORT says who acts: the panicking side sets Pending once the payload is stored,
// and whoever moves it Pending -> Settled with one CAS prints it (or, for join and
// scope, delivers it). So a panic is never both printed and delivered, nor printed twice.
//
// The race that matters: the thread panics on one thread while the last JoinHandle is
// released on another. The panicking side writes R_REPORT (Pending), then reads
// R_JOINERS; the releasing side writes R_JOINERS (to 0), then reads R_REPORT. These are
// sequentially consistent Atomics, so all four fall in one total order, in which one
// of the two writes comes first: if it is the panicking side's, the releaser's read
// comes after it and sees Pending; otherwise the panicking side's read sees 0 joiners.
// So at least one side goes on to the CAS (if both do, the CAS picks one) and the
// panic cannot be skipped by both. With weaker orderings both reads could see the old
// values (the store-buffer outcome), and the panic would vanish.
//
// Written straight to file descriptor 2 on Node (host.printError): a worker's
// process.stderr is forwarded through the parent thread's event loop, which may be
// blocked in join() or about to exit, and the report would come late or never.

import { codecs } from '../codec/index.ts';
import { loadValue, releaseDecoded, type Decoded } from '../codec/stored.ts';
import { ROLE_MASK, Role } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { ownedRefs } from '../heap/owned.ts';
import { host } from '../platform/host.ts';
import { add, cas, load } from '../wait/futex.ts';
import { currentRecord, mainRecord } from './current.ts';
import { describeThread, recordField, Reason, Report, R_JOINERS, R_OWNED, R_REASON, R_REPORT, R_RESULT } from './record.ts';

/** One more holder that may receive the thread's outcome (a Join ref, or the thread's scope). */
export function addJoiner(record: number): void {
  add(heap().i32, recordField(record, R_JOINERS), 1);
}

/** A holder gave up receiving the outcome; the last one prints a pending panic. */
export function dropJoiner(record: number): void {
  const i = heap().i32;
  if (add(i, recordField(record, R_JOINERS), -1) === 1 && load(i, recordField(record, R_REPORT)) === Report.Pending) {
    printOnce(record);
  }
}

/**
 * The thread panicked (not exited or killed) and its payload is stored; its record is
 * not completed yet, so the report comes before anything the thread owned is released
 * (Rust prints before unwinding).
 */
export function panicKnown(record: number): void {
  const i = heap().i32;
  // Only from None: the supervisor may learn of a crash after the thread itself had
  // reported its panic, and a reported panic must not become pending again.
  cas(i, recordField(record, R_REPORT), Report.None, Report.Pending);
  if (load(i, recordField(record, R_JOINERS)) === 0) printOnce(record);
}

/** A joiner (join, or a scope) is about to deliver the panic: it must not be printed. */
export function panicDelivered(record: number): void {
  cas(heap().i32, recordField(record, R_REPORT), Report.Pending, Report.Settled);
}

function printOnce(record: number): void {
  if (cas(heap().i32, recordField(record, R_REPORT), Report.Pending, Report.Settled) === Report.Pending) print(record);
}

function payloadText(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  try {
    return typeof value === 'string' ? value : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Prints `thread '<name>' panicked: <payload and stack>` (or the stack overflow line) to stderr. */
function print(record: number): void {
  const i = heap().i32;
  const reason = load(i, recordField(record, R_REASON));
  // Killed after it had panicked (terminate() while it reported): the outcome is now the kill.
  if (reason === Reason.Killed) return;
  const who = describeThread(record);
  let text: string;
  if (reason === Reason.StackOverflow) text = `${who} has overflowed its stack`;
  else {
    // Read in place; handles inside the payload get refs of their own, given back at once.
    const decoded: Decoded = [];
    text = `${who} panicked: ${payloadText(loadValue(codecs.structured, load(i, recordField(record, R_RESULT)), false, decoded))}`;
    releaseDecoded(decoded);
  }
  host.printError(text);
}

let watchChecked = false;

/**
 * Called for each JoinHandle made: on the main thread, makes sure that at process exit
 * the panics of threads it still holds unjoined are printed (nobody will join them now).
 * Other threads release their handles when they end, which prints what is left.
 */
export function watchUnjoinedAtExit(): void {
  if (watchChecked) return;
  watchChecked = true;
  if (currentRecord() !== mainRecord()) return;
  host.onExit(() => {
    for (const ref of ownedRefs(recordField(mainRecord(), R_OWNED))) {
      if ((ref & ROLE_MASK) === Role.Join) printOnce(ref - Role.Join);
    }
  });
}
