// weft's ThreadPool rows: a task's round trip on a warm pool (spawn → join, and
// spawn → joinAsync), and map over many small items. Faced with piscina
// (bench/baselines/piscina.ts) in the same groups.

import { availableParallelism, ThreadPool } from 'weft';
import type { Case } from '../harness.ts';

async function openPool(): Promise<ThreadPool> {
  const pool = new ThreadPool({ threads: availableParallelism() });
  // Every thread booted and warm before timing.
  await pool.map(Array.from({ length: pool.threads * 64 }, (_, k) => k), (x: number) => x + 1);
  for (let k = 0; k < 1000; k++) pool.spawn((x: number) => x + 1, k).join();
  return pool;
}

/** One task at a time: spawn, then wait for its result. `async`: joinAsync instead of a blocking join. */
export function weftPoolRoundTrip(async: boolean): Case {
  return {
    name: async ? 'weft pool spawn→joinAsync' : 'weft pool spawn→join',
    metric: 'µs/op',
    async open() {
      const pool = await openPool();
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) {
            const h = pool.spawn((x: number) => x + 1, k);
            if ((async ? await h.joinAsync() : h.join()) !== k + 1) throw new Error('wrong result');
          }
          return (performance.now() - start) / 1e3;
        },
        close: () => pool.close(),
      };
    },
  };
}

/** pool.map over `items` small items. */
export function weftPoolMap(items: number): Case {
  return {
    name: `weft pool.map (${items} items)`,
    metric: 'ms/op',
    async open() {
      const pool = await openPool();
      const input = Array.from({ length: items }, (_, k) => k);
      return {
        async run(n) {
          const start = performance.now();
          for (let r = 0; r < n; r++) {
            const out = await pool.map(input, (x: number) => x + 1);
            if (out.length !== items || out[items - 1] !== items) throw new Error('wrong result');
          }
          return (performance.now() - start) / 1e3;
        },
        close: () => pool.close(),
      };
    },
  };
}
