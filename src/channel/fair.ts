// Fairness of async receiving to the event loop. A message that is already queued is
// returned without waiting, and an `await` on it resumes as a microtask: a loop of
// `await rx.recvAsync()` (or `for await`) over a flooded channel would never let a
// timer, an I/O callback or a MessagePort message run. So async receives share a time
// slice: once receiving has gone on for SLICE_MS without the loop getting a turn, the
// next one first yields to the macrotask queue.

/** How long async receives may run on ready messages before the event loop gets a turn. */
const SLICE_MS = 4;
/** Receives between two looks at the clock (performance.now() costs more than a take). */
const CHECK_EVERY = 32;

let sliceEnd = 0;
let untilCheck = CHECK_EVERY;

const macrotask: () => Promise<void> =
  typeof setImmediate === 'function'
    ? () => new Promise((resolve) => setImmediate(resolve))
    : () =>
        new Promise((resolve) => {
          const { port1, port2 } = new MessageChannel();
          port1.onmessage = () => {
            port1.close();
            resolve();
          };
          port2.postMessage(null);
        });

/**
 * Called before an async receive that will not wait: a promise to await first when
 * the slice is used up, else undefined (most calls: one decrement).
 */
export function fairTurn(): Promise<void> | undefined {
  if (--untilCheck > 0) return undefined;
  untilCheck = CHECK_EVERY;
  const now = performance.now();
  if (now < sliceEnd) return undefined;
  const first = sliceEnd === 0 || now - sliceEnd > SLICE_MS;
  sliceEnd = now + SLICE_MS;
  // A slice starts at the first check after a pause; only a continuous run yields.
  return first ? undefined : macrotask().then(() => {
    sliceEnd = performance.now() + SLICE_MS;
  });
}

/** An async receive waited (the event loop ran meanwhile): a new slice starts. */
export function waited(): void {
  sliceEnd = 0;
  untilCheck = CHECK_EVERY;
}
