// `npm run soak`: the kill matrix with soak counts (WEFT_SOAK: 1000 rounds per scenario,
// or WEFT_KILL_ROUNDS), run against the built dist/ with plain node. Every kill costs a
// fresh worker, and a worker boots about three times faster from JavaScript than through
// tsx, so a soak run this way does three times the kills in the same time. The test file
// and its helpers are bundled into one module, with every import of src/*.ts pointed at
// dist/*.js (so the runtime is dist's, as the threads' is).
// Arguments are passed on to `node --test` (e.g. --test-name-pattern="RwLock").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = join(root, 'src');
const dir = mkdtempSync(join(tmpdir(), 'weft-soak-'));
const file = join(dir, 'kill_matrix.test.mjs');
const toDist = {
  name: 'src-to-dist',
  setup(build) {
    build.onResolve({ filter: /\/src\/.*\.ts$/ }, ({ path, resolveDir }) => {
      const rel = relative(src, join(resolveDir, path)).replace(/\.ts$/, '.js');
      return { path: pathToFileURL(join(root, 'dist', rel)).href, external: true };
    });
  },
};
await build({
  entryPoints: [join(root, 'test/kill_matrix.test.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: file,
  plugins: [toDist],
  logLevel: 'warning',
});
const env = { ...process.env, WEFT_SOAK: process.env.WEFT_SOAK ?? '1' };
const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...process.argv.slice(2), file], { stdio: 'inherit', env });
rmSync(dir, { recursive: true, force: true });
process.exit(run.status ?? 1);
