// Baseline: piscina, the task pool Node users reach for. The same work as weft's pool
// rows (bench/weft/pool.ts): one small task at a time (round trip), and a map over
// many small items, each a piscina task as piscina's API has it, and hand-chunked.

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { Case } from '../harness.ts';

const filename = new URL('../workers/piscina-task.mjs', import.meta.url).href;

async function openPool(): Promise<Piscina> {
  const threads = availableParallelism();
  const pool = new Piscina({ filename, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
  // Warm every thread before timing.
  await Promise.all(Array.from({ length: threads * 4 }, (_, k) => pool.run(k)));
  return pool;
}

/** `await pool.run(x)` one after another: the cost of one task's round trip. */
export function piscinaRoundTrip(baseline = true): Case {
  return {
    name: 'piscina run (await each)',
    metric: 'µs/op',
    baseline,
    async open() {
      const pool = await openPool();
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) {
            if ((await pool.run(k)) !== k + 1) throw new Error('wrong result');
          }
          return (performance.now() - start) / 1e3;
        },
        close: () => pool.destroy(),
      };
    },
  };
}

/** `items.length` small items through the pool, results in order. `chunked`: by hand, a few chunks per thread. */
export function piscinaMap(items: number, chunked: boolean, baseline = false): Case {
  return {
    name: chunked ? `piscina, ${items} items hand-chunked` : `piscina run per item (${items} items)`,
    metric: 'ms/op',
    baseline,
    async open() {
      const pool = await openPool();
      const input = Array.from({ length: items }, (_, k) => k);
      const chunk = Math.ceil(items / (availableParallelism() * 4));
      return {
        async run(n) {
          const start = performance.now();
          for (let r = 0; r < n; r++) {
            let out: number[];
            if (chunked) {
              const parts: Promise<number[]>[] = [];
              for (let k = 0; k < items; k += chunk) parts.push(pool.run(input.slice(k, k + chunk)));
              // Merged by a loop: Array.prototype.flat() would cost several times the
              // pool work itself, flattering whoever is compared with it.
              out = new Array<number>(items);
              let at = 0;
              for (const part of await Promise.all(parts)) for (const v of part) out[at++] = v;
            } else {
              out = await Promise.all(input.map((x) => pool.run(x) as Promise<number>));
            }
            if (out.length !== items || out[items - 1] !== items) throw new Error('wrong result');
          }
          return (performance.now() - start) / 1e3;
        },
        close: () => pool.destroy(),
      };
    },
  };
}
