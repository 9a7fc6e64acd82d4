// Waiting on several receivers at once (crossbeam's select, std's old Select).
//
// Receivers are polled starting at a random index, so an always-ready receiver
// cannot starve the others. When none is ready, the thread registers on every one of
// them (observer = its wake word, plus each flavor's waiting mark: see receivable.ts),
// checks them once more, and sleeps on its word; the first sender to publish on any of
// them wakes it. A disconnected receiver counts as ready, as in crossbeam: completing
// the operation yields its error, so select throws RecvError carrying its index.
// Cloned receivers (MPMC) select like any other: each message is taken by exactly one
// receiver, and every thread waiting on such a channel is woken (layout.ts).
// selectAsync takes { signal }: an abort disarms every receiver and rejects.

import { assertCanBlock, checkTimeout, load } from '../wait/futex.ts';
import { checkSignal, deadlineOf, runAsync, runSync, SPIN, type Op, type WaitOptions } from '../wait/driver.ts';
import { RecvError } from './errors.ts';
import { fairTurn, waited } from './fair.ts';
import type { OneshotReceiver } from './oneshot.ts';
import { DISCONNECTED, EMPTY, endpoint, type HasEndpoint } from './receivable.ts';
import type { Receiver } from './receiver.ts';
import { signalIndex } from './signal.ts';
import { heapCovering } from '../heap/heap.ts';

/** What select() received: the receiver's position in the list, and its message. */
export interface Selected<T = unknown, I extends number = number> {
  /** Position of the receiver in the list given to select. */
  index: I;
  value: T;
}

type Selectable = Receiver<unknown> | OneshotReceiver<unknown>;

/** The message type of a receiver. */
type MessageOf<R> = R extends Receiver<infer T> ? T : R extends OneshotReceiver<infer T> ? T : unknown;

/**
 * select()'s result for a list of receivers: for a tuple, a union with one member per
 * position, so checking `index` narrows `value` to that receiver's message type; for an
 * array, `{ index: number; value: <the union of their message types> }`.
 */
export type SelectedOf<R extends readonly Selectable[]> = {
  [K in keyof R]: K extends `${infer I extends number}` ? Selected<MessageOf<R[K]>, I> : Selected<MessageOf<R[K]>>;
}[number];

/**
 * Receives from whichever receiver is ready first (crossbeam's `select!`). Waits at most
 * `ms` milliseconds (`undefined` then; 0 polls once); forever without `ms`. The result is
 * typed from the list: for a tuple, checking `index` narrows `value` to that receiver's
 * message type.
 *
 * @example
 * ```ts
 * const r = select([numbersRx, namesRx]);
 * if (r.index === 0) r.value.toFixed(1); // number
 * else r.value.toUpperCase();            // string
 * ```
 *
 * @remarks
 * Fairness: receivers are polled from a random start, so an always-ready one cannot
 * starve the others. A disconnected, drained receiver counts as ready (its error is the
 * result). Async twin: {@link selectAsync}.
 *
 * @throws {@link RecvError} with `index` for a receiver whose senders are all gone and
 * that is drained; `TypeError` for an empty list or an item that is not a receiver.
 */
export function select<const R extends readonly Selectable[]>(receivers: R): SelectedOf<R>;
export function select<const R extends readonly Selectable[]>(receivers: R, ms: number | undefined): SelectedOf<R> | undefined;
export function select(receivers: readonly Selectable[], ms?: number): Selected | undefined {
  const t = checkTimeout(ms, 'select()');
  assertCanBlock('select()', 'selectAsync()');
  const start = check(receivers, 'select()');
  return poll(receivers, start) ?? runSync(selectOp(receivers, start), deadlineOf(t));
}

/**
 * {@link select} without blocking the thread. Aborting `options.signal` rejects with its
 * reason and receives nothing.
 *
 * @example
 * ```ts
 * const r = await selectAsync([jobsRx, controlRx] as const, { signal: AbortSignal.timeout(1000) });
 * ```
 */
export function selectAsync<const R extends readonly Selectable[]>(receivers: R, options?: WaitOptions): Promise<SelectedOf<R>>;
export async function selectAsync(receivers: readonly Selectable[], options?: WaitOptions): Promise<Selected> {
  const signal = checkSignal(options, 'selectAsync()');
  const start = check(receivers, 'selectAsync()');
  const turn = fairTurn();
  if (turn !== undefined) {
    await turn;
    signal?.throwIfAborted();
  }
  const ready = poll(receivers, start);
  if (ready) return ready;
  const got = await runAsync(selectOp(receivers, start), Infinity, signal);
  waited();
  return got!;
}

/** Validates the list; returns a random index to start polling from. */
function check(receivers: readonly HasEndpoint[], call: string): number {
  if (!Array.isArray(receivers) || receivers.length === 0) {
    throw new TypeError(`${call} needs a non-empty array of receivers`);
  }
  receivers.forEach((r, k) => {
    if (typeof (r as Partial<HasEndpoint>)?.[endpoint] !== 'function') {
      throw new TypeError(`${call}: receivers[${k}] is not a Receiver or OneshotReceiver`);
    }
  });
  return Math.floor(Math.random() * receivers.length);
}

function poll(receivers: readonly HasEndpoint[], start: number): Selected | undefined {
  const n = receivers.length;
  for (let k = 0; k < n; k++) {
    const index = (start + k) % n;
    const value = receivers[index][endpoint]().tryTake();
    if (value === DISCONNECTED) throw new RecvError(undefined, index);
    if (value !== EMPTY) return { index, value };
  }
  return undefined;
}

function* selectOp(receivers: readonly HasEndpoint[], start: number): Op<Selected | undefined> {
  for (;;) {
    const got = poll(receivers, start);
    if (got) return got;
    if (!(yield SPIN)) continue;
    const word = signalIndex();
    const seq = load(heapCovering((word + 1) << 2).i32, word);
    const ends = receivers.map((r) => r[endpoint]());
    let ready = false;
    let armed = 0;
    let expired: boolean;
    try {
      for (const e of ends) {
        e.observe(word);
        if (e.arm()) ready = true;
        armed++;
      }
      expired = ready ? false : yield { index: word, expected: seq };
    } catch (e) {
      // Aborted (or arming ran out of heap): undo the arms made, on handles still open.
      for (let k = 0; k < armed; k++) if (!receivers[k].released) ends[k].disarm();
      throw e;
    }
    // Each handle is checked before its channel is touched again: it may have been
    // closed while we slept (only possible for selectAsync).
    for (const r of receivers) r[endpoint]();
    for (const e of ends) e.disarm();
    if (expired) return poll(receivers, start);
  }
}
