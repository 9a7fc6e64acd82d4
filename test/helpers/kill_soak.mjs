// `npm run soak`: the kill matrix with soak counts (WEFT_SOAK: 1000 rounds per scenario,
// or WEFT_KILL_ROUNDS), run against the built dist/ with plain node. Every kill costs a
// fresh worker, and a worker boots about three times faster from JavaScript than through
// tsx, so a soak run this way does three times the kills in the same time. The test file
// is transpiled once, with its imports of ../src/*.ts pointed at dist/*.js.
// Arguments are passed on to `node --test` (e.g. --test-name-pattern="RwLock").
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const source = readFileSync(join(root, 'test/kill_matrix.test.ts'), 'utf8').replace(
  /'\.\.\/src\/([\w/]+)\.ts'/g,
  (_, path) => `'${pathToFileURL(join(root, 'dist', `${path}.js`)).href}'`,
);
const { code } = transformSync(source, { loader: 'ts', format: 'esm', target: 'node20' });
const dir = mkdtempSync(join(tmpdir(), 'weft-soak-'));
const file = join(dir, 'kill_matrix.test.mjs');
writeFileSync(file, code);
const env = { ...process.env, WEFT_SOAK: process.env.WEFT_SOAK ?? '1' };
const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...process.argv.slice(2), file], { stdio: 'inherit', env });
rmSync(dir, { recursive: true, force: true });
process.exit(run.status ?? 1);
