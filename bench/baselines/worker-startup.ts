// Baseline: the cost of a bare `new Worker`, to its first message and to its exit;
// weft's spawn pays this and adds its own set-up. Spawns run one at a time, and each
// worker has exited before the next starts. Beside it, a worker that loads weft as a
// user's program does (plain Node, the built package): what a fresh weft worker pays
// before it is ready.

import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Case } from '../harness.ts';
import { tsWorker } from '../worker.ts';

export type Milestone = 'message' | 'exit';

const helloJs = "require('node:worker_threads').parentPort.postMessage('hello');";
const helloTs = new URL('../workers/hello.ts', import.meta.url);
const helloEsm = new URL('../workers/hello.mjs', import.meta.url);
const distIndex = new URL('../../dist/index.js', import.meta.url);

function spawnCase(name: string, until: Milestone, spawn: () => Worker, baseline?: boolean): Case {
  return {
    name,
    metric: 'ms/op',
    baseline,
    async open() {
      return {
        async run(n) {
          let seconds = 0;
          for (let i = 0; i < n; i++) {
            const start = performance.now();
            const worker = spawn();
            // Both listeners go on at once: a worker that has already exited when its
            // message is read emits 'message' and 'exit' in the same turn.
            let greeted: number | undefined;
            worker.once('message', () => (greeted = performance.now()));
            const [code] = await once(worker, 'exit');
            const exited = performance.now();
            if (code !== 0) throw new Error(`spawned worker exited with code ${code}`);
            if (greeted === undefined) throw new Error('spawned worker exited without its message');
            seconds += ((until === 'message' ? greeted : exited) - start) / 1e3;
          }
          return seconds;
        },
      };
    },
  };
}

/** A worker running a line of plain JavaScript: the floor any spawn pays. */
export function spawnJs(until: Milestone): Case {
  return spawnCase('new Worker (JS)', until, () => new Worker(helloJs, { eval: true }), true);
}

/**
 * A worker whose entry is an ES module file: Node starts its ES module loader in the
 * worker, as it does for weft's worker entry (and for any `type: module` worker).
 */
export function spawnEsm(until: Milestone): Case {
  return spawnCase('new Worker (ES module)', until, () => new Worker(helloEsm, { execArgv: [] }));
}

/**
 * A TypeScript worker through the tsx bootstrap, as weft's own rows load it from
 * source here; the gap to `spawnJs` is loader cost, not weft's.
 */
export function spawnTs(until: Milestone): Case {
  return spawnCase('new Worker (.ts via tsx)', until, () => tsWorker(helloTs));
}

/**
 * A worker importing weft from dist/ (`npm run build`) before its message, as weft's
 * worker entry does: plain Node, without the bench's tsx loader and `weft-source`
 * condition (execArgv: []), so it loads the JavaScript a user's threads load. Left out,
 * with a note, when dist/ has not been built.
 */
export function weftFromDist(until: Milestone): Case[] {
  if (!existsSync(fileURLToPath(distIndex))) {
    console.log(`bench: "fresh worker ready from dist" left out: ${fileURLToPath(distIndex)} is missing (npm run build)`);
    return [];
  }
  const code = `import(${JSON.stringify(distIndex.href)}).then(() => { ${helloJs} });`;
  return [spawnCase('fresh worker ready from dist', until, () => new Worker(code, { eval: true, execArgv: [] }))];
}
