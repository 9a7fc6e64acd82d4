// `npm run soak`: the kill matrix with soak counts (WEFT_SOAK: 1000 rounds per scenario,
// or WEFT_KILL_ROUNDS), run as JavaScript with plain node. Every kill costs a fresh
// worker, and a worker boots about three times faster from JavaScript than through tsx,
// so a soak run this way does three times the kills in the same time.
//
// The test reaches into weft's internals (a thread's record state), so it cannot run
// against dist/, whose modules are bundled away. Instead the test, weft's entry and its
// worker entry are bundled here in one build with code splitting, as a package named
// weft in a temporary node_modules: the test and the runtime share their modules, the
// worker entry is at ../thread/worker_main.js from the chunks (where the Node host looks
// for it), and a thread's `import('weft')` resolves, through the package's own name, to
// the instance its worker runs.
// Arguments are passed on to `node --test` (e.g. --test-name-pattern="RwLock").
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-soak-'));
const pkg = join(dir, 'node_modules/weft');
mkdirSync(pkg, { recursive: true });
writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'weft', type: 'module', exports: { '.': './index.js' } }));
await build({
  absWorkingDir: root,
  entryPoints: {
    index: 'src/index.ts',
    'thread/worker_main': 'src/thread/worker_main.ts',
    kill_matrix: 'test/kill_matrix.test.ts',
  },
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outdir: pkg,
  // A thread's `import('weft')` stays one, for the worker to resolve to its own weft.
  external: ['weft'],
  keepNames: true,
  logLevel: 'warning',
});
const env = { ...process.env, WEFT_SOAK: process.env.WEFT_SOAK ?? '1' };
const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...process.argv.slice(2), join(pkg, 'kill_matrix.js')], { stdio: 'inherit', env });
rmSync(dir, { recursive: true, force: true });
process.exit(run.status ?? 1);
