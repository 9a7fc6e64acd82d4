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
 * spawn → join on a fresh worker the way a user's program pays it: plain Node in a child
 * process (no tsx, no `weft-source` condition) importing the built package, which times
 * its own samples. The bench's workers boot through tsx, which costs several times what
 * loading weft does. Left out, with a note, when dist/ has not been built.
 */
export function weftSpawnJoinFromDist(): Case[] {
  const name = 'weft spawn→join (fresh worker, dist)';
  if (!existsSync(fileURLToPath(distIndex))) {
    console.log(`bench: "${name}" left out: ${fileURLToPath(distIndex)} is missing (npm run build)`);
    return [];
  }
  return [
    {
      name,
      metric: 'ms/op',
      async open() {
        throw new Error('measured in a child process');
      },
      async measure(settings) {
        const script = `const { Builder } = await import(${JSON.stringify(distIndex.href)});
const fresh = () => new Builder().stackSize(4 << 20).spawn((x) => x + 1, 1).join();
const time = (n) => {
  const start = performance.now();
  for (let k = 0; k < n; k++) if (fresh() !== 2) throw new Error('wrong result');
  return (performance.now() - start) / 1e3;
};
time(1);
const ops = Math.max(1, Math.round(${settings.sampleSeconds} / time(1)));
for (let i = 0; i < ${settings.warmups}; i++) time(ops);
const seconds = [];
for (let i = 0; i < ${settings.samples}; i++) seconds.push(time(ops));
console.log(JSON.stringify({ ops, seconds }));`;
        const env = { ...process.env, NODE_OPTIONS: '' };
        const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 120_000 });
        const { ops, seconds } = JSON.parse(stdout) as { ops: number; seconds: number[] };
        return summarize('ms/op', ops, seconds);
      },
    },
  ];
}

/**
 * spawn → join of a module thread (`spawn({ module })`) on a warm worker, from the built
 * package in plain Node as a user's program runs it: a JavaScript module (the baseline)
 * or a TypeScript one, for which weft registers tsx in the worker on its first such
 * thread (a warm-up here). Left out, with a note, when dist/ has not been built.
 */
export function weftModuleThreadsFromDist(): Case[] {
  if (!existsSync(fileURLToPath(distIndex))) {
    console.log(`bench: module thread rows left out: ${fileURLToPath(distIndex)} is missing (npm run build)`);
    return [];
  }
  return [moduleThreadFromDist('js'), moduleThreadFromDist('ts')];
}

function moduleThreadFromDist(lang: 'js' | 'ts'): Case {
  const name = `weft spawn→join, ${lang === 'js' ? 'JavaScript' : 'TypeScript'} module thread (dist)`;
  const module = new URL(`../workers/module-job.${lang === 'js' ? 'mjs' : 'ts'}`, import.meta.url);
  return {
    name,
    metric: 'µs/op',
    baseline: lang === 'js',
    async open() {
      throw new Error('measured in a child process');
    },
    async measure(settings) {
      const script = `const { spawn } = await import(${JSON.stringify(distIndex.href)});
const module = new URL(${JSON.stringify(module.href)});
const time = (n) => {
  const start = performance.now();
  for (let k = 0; k < n; k++) if (spawn({ module, export: 'run' }, k).join() !== k + 1) throw new Error('wrong result');
  return (performance.now() - start) / 1e3;
};
// The first spawns load the module (and register tsx): calibrate on warm ones.
for (let i = 0; i < 20; i++) time(1);
const ops = Math.max(1, Math.round(${settings.sampleSeconds} / Math.min(time(10), time(10)) * 10));
for (let i = 0; i < ${settings.warmups}; i++) time(ops);
const seconds = [];
for (let i = 0; i < ${settings.samples}; i++) seconds.push(time(ops));
console.log(JSON.stringify({ ops, seconds }));`;
      const env = { ...process.env, NODE_OPTIONS: '' };
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 120_000 });
      const { ops, seconds } = JSON.parse(stdout) as { ops: number; seconds: number[] };
      return summarize('µs/op', ops, seconds);
    },
  };
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
