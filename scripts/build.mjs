// `npm run build`: dist/ as the package ships it.
//
// Declarations come from tsc (tsconfig.build.json: dist/**/*.d.ts and their maps). The
// JavaScript comes from esbuild, in as few files as a worker's start allows, because
// loading modules is most of what a fresh worker costs (Node reads, parses and links
// each file on its own):
//
// - The core: dist/index.js, dist/check/index.js and dist/thread/worker_main.js are
//   bundled in one build with code splitting, so what they share lives once, in
//   dist/chunks/, and each entry is a small file importing those chunks. A thread's
//   `import('weft')` (dist/index.js) and a module thread's `import ... from 'weft'` so
//   reach the very module instances the worker entry runs: one weft per thread.
// - The hosts: dist/platform/node.js and dist/platform/browser.js, each a file of its
//   own that the core imports as `../platform/node.js` from its chunks. package.json's
//   `browser` field maps that file to browser.js, so an app bundled for browsers gets
//   the browser host, as it did when every module was a file. Each host finds the
//   worker entry at `../thread/worker_main.js` from its own URL.
//
// The build then checks the layout these rely on and fails if it does not hold.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const out = 'dist';
/** The host module every other module reaches through src/platform/host.ts. */
const HOST_SOURCE = 'src/platform/node.ts';
const HOST_SOURCES = ['src/platform/node.ts', 'src/platform/browser.ts'];
/** What the core's chunks import for the host, relative to dist/chunks/. */
const HOST_IMPORT = '../platform/node.js';
const CHUNKS = 'chunks';

rmSync(join(root, out), { recursive: true, force: true });

const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
} catch {
  fail('tsc -p tsconfig.build.json failed (its diagnostics are above)');
}

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  outbase: 'src',
  outdir: out,
  // msgpackr and node:* stay imports: the consumer's node_modules (or bundler) supplies them.
  packages: 'external',
  sourcemap: 'linked',
  // The sources ship in the package (src/); the maps point at them.
  sourcesContent: false,
  // Bundling renames clashing top-level names (two modules' `Handle`); keep the names
  // classes and functions had, as errors, stack traces and inspection show them.
  keepNames: true,
  charset: 'utf8',
  metafile: true,
  logLevel: 'silent',
};

/** Leaves the host module out of the core: it stays a file, imported from the chunks. */
const hostOutside = {
  name: 'host-outside',
  setup(build) {
    build.onResolve({ filter: /^\.\/node\.ts$/ }, (args) =>
      posix.relative(root, args.importer).replaceAll('\\', '/') === 'src/platform/host.ts' ? { path: HOST_IMPORT, external: true } : undefined,
    );
  },
};

const results = await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: ['src/index.ts', 'src/check/index.ts', 'src/thread/worker_main.ts'],
    splitting: true,
    chunkNames: `${CHUNKS}/[name]-[hash]`,
    platform: 'neutral',
    plugins: [hostOutside],
  }),
  esbuild.build({ ...common, entryPoints: ['src/platform/node.ts'], platform: 'node' }),
  esbuild.build({ ...common, entryPoints: ['src/platform/browser.ts'], platform: 'browser' }),
]).catch((e) => fail(`esbuild failed:\n${e.message}`));

const warnings = results.flatMap((r) => r.warnings);
if (warnings.length > 0) {
  const text = await esbuild.formatMessages(warnings, { kind: 'warning' });
  fail(`esbuild warned (a warning here is a bug in the build):\n${text.join('\n')}`);
}

const [core, ...hosts] = results.map((r) => r.metafile);
checkOneCopy(core);
checkCoreImports(core);
checkHostImports(core);
for (const host of hosts) checkHost(host);
checkPackagePaths();
checkPublicNames();

const files = results.flatMap((r) => Object.keys(r.metafile.outputs)).filter((f) => f.endsWith('.js'));
console.log(`dist: ${files.length} JavaScript files (${files.join(', ')})`);

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

/** The JavaScript outputs of a build with the source files each holds code of. */
function outputs(meta) {
  return Object.entries(meta.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, o]) => ({ file, o, inputs: Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0).map(([f]) => f) }));
}

/** Every module's code is in one file of the core: two copies would be two instances in one thread. */
function checkOneCopy(meta) {
  const seen = new Map();
  for (const { file, inputs } of outputs(meta)) {
    for (const input of inputs) {
      if (HOST_SOURCES.includes(input)) fail(`${input} was bundled into ${file}; the core must import the host from ${HOST_IMPORT}`);
      if (seen.has(input)) fail(`${input} is in both ${seen.get(input)} and ${file}: a thread would run two copies of it`);
      seen.set(input, file);
    }
  }
}

/** The core is the same for Node and browsers: it imports the package's dependencies and the host, nothing of Node's. */
function checkCoreImports(meta) {
  const deps = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies ?? {});
  const allowed = (p) => p === HOST_IMPORT || deps.some((d) => p === d || p.startsWith(`${d}/`));
  for (const { file, o } of outputs(meta)) {
    const foreign = o.imports.filter((i) => i.external && !allowed(i.path)).map((i) => i.path);
    if (foreign.length > 0) fail(`${file} imports ${foreign.join(', ')}: only the host (src/platform/) may use what a platform provides`);
  }
}

/** The host import is written as is into whichever file holds host.ts's code: it must resolve to dist/platform/node.js. */
function checkHostImports(meta) {
  const want = join(root, out, 'platform/node.js');
  let found = 0;
  for (const { file, o } of outputs(meta)) {
    for (const i of o.imports.filter((i) => i.external && i.path === HOST_IMPORT)) {
      found++;
      const at = join(root, dirname(file), i.path);
      if (at !== want) fail(`${file} imports the host as ${i.path}, which is ${relative(root, at)}, not ${relative(root, want)}`);
    }
  }
  if (found === 0) fail(`no file of the core imports the host (${HOST_IMPORT}); did ${HOST_SOURCE} move?`);
}

/** A host holds nothing but platform code (anything else would be a second copy of a core module), and finds the worker entry. */
function checkHost(meta) {
  for (const { file, inputs } of outputs(meta)) {
    const foreign = inputs.filter((f) => !f.startsWith('src/platform/'));
    if (foreign.length > 0) fail(`${file} holds core modules (${foreign.join(', ')}), which would run twice in a thread`);
    const text = readFileSync(join(root, file), 'utf8');
    const urls = [...text.matchAll(/new URL\(\s*[`'"](\.\.\/thread\/worker_main)(?:\.js['"]|\$\{)/g)];
    if (urls.length === 0) fail(`${file} no longer locates the worker entry as ../thread/worker_main.js`);
    const entry = new URL('../thread/worker_main.js', pathToFileURL(join(root, file)));
    if (!existsSync(fileURLToPath(entry))) fail(`${file} locates the worker entry at ${fileURLToPath(entry)}, which was not built`);
  }
}

/** Each exported class and function is called by its export name, as the sources call it (keepNames at work). */
function checkPublicNames() {
  const entries = ['index.js', 'check/index.js'].map((f) => pathToFileURL(join(root, out, f)).href);
  const code = `const wrong = [];
for (const url of ${JSON.stringify(entries)}) {
  for (const [k, v] of Object.entries(await import(url))) if (typeof v === 'function' && v.name !== k) wrong.push(k + ' is named ' + v.name);
}
console.log(JSON.stringify(wrong));`;
  const env = { ...process.env, NODE_OPTIONS: '' };
  const wrong = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, env, encoding: 'utf8' }));
  if (wrong.length > 0) fail(`exports lost their names in the bundle: ${wrong.join(', ')}`);
}

/** Every path package.json names in dist/ (exports, main, types, browser) was built. */
function checkPackagePaths() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const paths = [pkg.main, pkg.types, ...Object.values(pkg.browser ?? {})];
  const walk = (v) => (typeof v === 'string' ? paths.push(v) : Object.values(v).forEach(walk));
  walk(pkg.exports);
  for (const p of paths.filter((p) => p.startsWith(`./${out}/`))) {
    if (!existsSync(join(root, p))) fail(`package.json names ${p}, which the build did not write`);
  }
}
