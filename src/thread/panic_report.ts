// Printing a panic, as Rust's default panic hook does: at the moment the thread
// panics, whether or not anyone will join it. The joiner still gets the PanicError;
// printing unconditionally is what makes a panic of a thread nobody joins visible
// without depending on when (or whether) its JoinHandle is collected.
//
// Written straight to file descriptor 2: a worker's process.stderr is forwarded
// through the parent thread's event loop, which may be blocked in join() or about to
// exit, and the report would come late or never.

import { writeSync } from 'node:fs';
import { Reason } from './record.ts';
import { describeThread } from './thread.ts';

function payloadText(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  try {
    return typeof value === 'string' ? value : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Prints `thread '<name>' panicked: <payload and stack>` (or the stack overflow line) to stderr. */
export function reportPanic(record: number, value: unknown, reason: number): void {
  const who = describeThread(record);
  const text = reason === Reason.StackOverflow ? `${who} has overflowed its stack` : `${who} panicked: ${payloadText(value)}`;
  try {
    writeSync(2, `${text}\n`);
  } catch {
    // stderr closed: nothing to report to
  }
}
