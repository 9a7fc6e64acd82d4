// weft's thread rows: spawn → join of a trivial thread, from the warm pool and on a
// fresh worker (here, from the sources through tsx, and as a user's program runs it,
// from the built package), and a park/unpark round trip between two threads.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AtomicI32, Builder, current, park, spawn, type Thread } from 'weft';
import { summarize, type Case } from '../harness.ts';

/** spawn → join of a thread returning at once. `fresh` forces a new worker each time. */
export function weftSpawnJoin(fresh: boolean): Case {
  return {
    name: fresh ? 'weft spawn→join (fresh worker)' : 'weft spawn→join (warm pool)',
    metric: 'ms/op',
    async open() {
      // A stack size of its own gives the thread a dedicated worker: the cold path.
      const builder = () => (fresh ? new Builder().stackSize(4 << 20) : new Builder());
      builder().spawn((x: number) => x, 0).join();
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) {
            if (builder().spawn((x: number) => x + 1, k).join() !== k + 1) throw new Error('wrong result');
          }
          return (performance.now() - start) / 1e3;
        },
      };
    },
  };
}

const distIndex = new URL('../../dist/index.js', import.meta.url);
const run = promisify(execFile);

/**
 * A case timed in a child process with plain Node (no tsx, no `weft-source` condition)
 * that imports the built package, as a user's program runs: `setup` is module code that
 * defines `once(k)`, one operation, which returns whether its result was right. The
 * child times its own samples after `warm` operations, calibrated on warm ones.
 */
function fromDistCase(name: string, metric: 'ms/op' | 'µs/op', setup: string, warm: number, baseline?: boolean): Case {
  return {
    name,
    metric,
    baseline,
    async open() {
      throw new Error('measured in a child process');
    },
    async measure(settings) {
      const script = `${setup}
const time = (n) => {
  const start = performance.now();
  for (let k = 0; k < n; k++) if (!once(k)) throw new Error('wrong result');
  return (performance.now() - start) / 1e3;
};
for (let i = 0; i < ${warm}; i++) time(1);
const ops = Math.max(1, Math.round(${settings.sampleSeconds} / Math.min(time(1), time(1))));
for (let i = 0; i < ${settings.warmups}; i++) time(ops);
const seconds = [];
for (let i = 0; i < ${settings.samples}; i++) seconds.push(time(ops));
console.log(JSON.stringify({ ops, seconds }));`;
      const env = { ...process.env, NODE_OPTIONS: '' };
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 120_000 });
      const { ops, seconds } = JSON.parse(stdout) as { ops: number; seconds: number[] };
      return summarize(metric, ops, seconds);
    },
  };
}

/** True when dist/ is built; else says which rows are left out. */
function distBuilt(rows: string): boolean {
  if (existsSync(fileURLToPath(distIndex))) return true;
  console.log(`bench: ${rows} left out: ${fileURLToPath(distIndex)} is missing (npm run build)`);
  return false;
}

/**
 * spawn → join on a fresh worker the way a user's program pays it, from the built
 * package in plain Node. The bench's workers boot through tsx, which costs several
 * times what loading weft does.
 */
export function weftSpawnJoinFromDist(): Case[] {
  const name = 'weft spawn→join (fresh worker, dist)';
  if (!distBuilt(`"${name}"`)) return [];
  // A stack size of its own gives each thread a worker started for it.
  const setup = `const { Builder } = await import(${JSON.stringify(distIndex.href)});
const once = () => new Builder().stackSize(4 << 20).spawn((x) => x + 1, 1).join() === 2;`;
  return [fromDistCase(name, 'ms/op', setup, 1)];
}

/**
 * spawn → join of a module thread (`spawn({ module })`) on a warm worker, from the built
 * package in plain Node: a JavaScript module (the baseline) or a TypeScript one, for
 * which weft registers tsx in the worker on its first such thread (the first spawns,
 * which also load the module, are a warm-up here).
 */
export function weftModuleThreadsFromDist(): Case[] {
  if (!distBuilt('module thread rows')) return [];
  return (['js', 'ts'] as const).map((lang) => {
    const module = new URL(`../workers/module-job.${lang === 'js' ? 'mjs' : 'ts'}`, import.meta.url);
    const setup = `const { spawn } = await import(${JSON.stringify(distIndex.href)});
const module = new URL(${JSON.stringify(module.href)});
const once = (k) => spawn({ module, export: 'run' }, k).join() === k + 1;`;
    const name = `weft spawn→join, ${lang === 'js' ? 'JavaScript' : 'TypeScript'} module thread (dist)`;
    return fromDistCase(name, 'µs/op', setup, 20, lang === 'js');
  });
}

const IDLE = 0, PING = 1, PONG = 2, STOP = 3;

/** Main and a weft thread take turns, each parking until the other unparks it. */
export function weftParkRoundTrip(): Case {
  return {
    name: 'weft park/unpark',
    metric: 'µs/op',
    async open() {
      const turn = new AtomicI32(IDLE);
      const peer = spawn(async (t: AtomicI32, main: Thread) => {
        const { park } = await import('weft');
        for (;;) {
          let v;
          while ((v = t.load()) !== 1 && v !== 3) park();
          if (v === 3) return;
          t.store(2);
          main.unpark();
        }
      }, turn, current());
      const other = peer.thread;
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) {
            turn.store(PING);
            other.unpark();
            while (turn.load() !== PONG) park();
          }
          return (performance.now() - start) / 1e3;
        },
        async close() {
          turn.store(STOP);
          other.unpark();
          await peer.joinAsync();
        },
      };
    },
  };
}
