// Booting the runtime from every kind of entry point: `node -e` (as CommonJS and as
// an ES module), and applications bundled with esbuild. Each case runs in a child
// process with a timeout: a runtime that cannot boot must fail with its cause, never
// hang.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const esbuild = createRequire(import.meta.url)('esbuild') as {
  buildSync(options: Record<string, unknown>): unknown;
};
const work = mkdtempSync(join(tmpdir(), 'weft-boot-'));
after(() => rmSync(work, { recursive: true, force: true }));

const TIMEOUT = 30000;
const SOURCE_FLAGS = ['--conditions=weft-source', '--import', 'tsx'];

function node(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, NODE_OPTIONS: '' } });
  assert.notEqual(r.signal, 'SIGTERM', `timed out (hung): ${args.join(' ')}\n${r.stderr}`);
  return r;
}

describe('node -e', () => {
  test('as an ES module (--input-type=module)', () => {
    const r = node([...SOURCE_FLAGS, '--input-type=module', '-e', "import { spawn } from 'weft'; console.log(spawn(() => 1).join())"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1');
  });

  test('as CommonJS with require()', () => {
    const r = node([...SOURCE_FLAGS, '-e', "const { spawn } = require('weft'); console.log(spawn((x) => x * 2, 21).join())"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '42');
  });
});

// A small application: producers behind a Mutex-guarded total, reporting through a
// channel; run from a bundle.
const APP = `
import { spawn, channel, Mutex } from 'weft';
const [tx, rx] = channel();
const total = new Mutex(0);
const handles = [1, 2, 3, 4].map((k) =>
  spawn((tx, total, k) => {
    for (let n = 0; n < 100; n++) total.withLock((v) => v + 0); // contend
    const g = total.lock();
    g.value += k;
    g.unlock();
    tx.send(k * 10);
    return k;
  }, tx.clone(), total, k),
);
tx.close();
const joined = handles.map((h) => h.join());
const got = [...rx].sort((a, b) => a - b);
console.log(JSON.stringify({ joined, got, total: total.withLock((v) => v) }));
`;
const EXPECTED = { joined: [1, 2, 3, 4], got: [10, 20, 30, 40], total: 10 };

/** Bundles APP (importing weft from `weftEntry`) and, unless `worker` is false, weft's worker entry beside it. */
function bundle(name: string, format: 'esm' | 'cjs', weftEntry: string, workerEntry: string | false): string {
  const dir = join(work, name);
  const ext = format === 'esm' ? 'mjs' : 'cjs';
  const app = join(work, `${name}-app.mjs`);
  writeFileSync(app, APP.replace("from 'weft'", `from ${JSON.stringify(weftEntry)}`));
  const common = { bundle: true, platform: 'node', format, logLevel: 'error' };
  esbuild.buildSync({ ...common, entryPoints: [app], outfile: join(dir, `app.${ext}`) });
  if (workerEntry) esbuild.buildSync({ ...common, entryPoints: [workerEntry], outfile: join(dir, `weft-worker.${ext}`) });
  return join(dir, `app.${ext}`);
}

const sources = { index: join(root, 'src/index.ts'), worker: join(root, 'src/thread/worker_main.ts') };

describe('esbuild bundles (from the sources)', () => {
  for (const format of ['esm', 'cjs'] as const) {
    test(`--format=${format}: an app using spawn, a channel and a Mutex runs`, () => {
      const app = bundle(`src-${format}`, format, sources.index, sources.worker);
      const r = node([app], work);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), EXPECTED);
    });
  }

  test('without its worker bundle, spawn throws a SpawnError that says what to bundle', () => {
    const app = bundle('src-no-worker', 'esm', sources.index, false);
    const r = node([app], work);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SpawnError: weft cannot start threads: weft was bundled into .*app\.mjs/);
    assert.match(r.stderr, /weft-worker\.mjs/);
  });

  test('a worker bundle that cannot boot fails the spawn with its error instead of hanging', () => {
    const app = bundle('src-broken-worker', 'esm', sources.index, false);
    writeFileSync(join(work, 'src-broken-worker', 'weft-worker.mjs'), "throw new Error('this worker bundle is broken');\n");
    const r = node([app], work);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /SpawnError: weft could not start its runtime worker, so no thread can start: Error: this worker bundle is broken/);
  });
});
