// Waiting for the runtime to be quiet before reading the heap: killed workers are
// replaced and pooled workers come back asynchronously, so a figure read at once could
// count what is still in flight.
import { heapStats } from '../../src/index.ts';

export const delay = (ms: number): Promise<void> => new Promise<void>((r) => setTimeout(r, ms));

/** Live heap bytes once they have not changed for 200 ms (waiting at most `maxMs`). */
export async function settledLive(maxMs = 4000): Promise<number> {
  let live = heapStats().live;
  for (let still = 0, k = 0; still < 20 && k < maxMs / 10; k++) {
    await delay(10);
    const now = heapStats().live;
    still = now === live ? still + 1 : 0;
    live = now;
  }
  return live;
}
