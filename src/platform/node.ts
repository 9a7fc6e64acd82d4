// The Node.js host: worker_threads.
//
// Workers do not inherit a TypeScript loader on Node 20, so when weft runs from its
// TypeScript sources (or a thread's entry is a .ts module) the worker registers tsx
// itself before importing.
//
// Where the entry lives: at ../thread/worker_main from this module, in src/ and in the
// package's dist/ alike (the build keeps this module a file of its own,
// dist/platform/node.js, and checks that the entry is there: scripts/build.mjs), or,
// when weft was bundled into an application, a separately bundled `weft-worker.mjs`
// (or .js / .cjs) next to the bundle. A bundle cannot be the worker's entry itself:
// the application's own top-level code would run again in every thread.

import { existsSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Boot } from './boot.ts';
import type { Host, HostWorker, LaunchData, WorkerEvents, WorkerOptions } from './host.ts';

declare const __filename: string | undefined;

/**
 * URL of the module (or bundle) this code runs from. A CommonJS bundle has no
 * import.meta (bundlers leave it empty) but has __filename.
 */
const moduleUrl: string | undefined =
  (import.meta as { url?: string }).url ?? (typeof __filename === 'string' ? pathToFileURL(__filename).href : undefined);

const fromSources = moduleUrl?.endsWith('.ts') ?? false;

/** Names a separately bundled worker entry may have, next to the application bundle. */
export const WORKER_BUNDLE_NAMES = ['weft-worker.mjs', 'weft-worker.js', 'weft-worker.cjs'];

/** The worker entry and whether it is a bundle of its own (see the header). */
interface EntryPoint {
  url: string;
  bundled: boolean;
}

function isFile(url: URL): boolean {
  return url.protocol === 'file:' && existsSync(fileURLToPath(url));
}

function findEntry(): EntryPoint | Error {
  if (moduleUrl === undefined) return new Error('weft cannot tell which file it runs from (no import.meta.url and no __filename)');
  const unbundled = new URL(`../thread/worker_main${fromSources ? '.ts' : '.js'}`, moduleUrl);
  if (unbundled.protocol !== 'file:' || isFile(unbundled)) return { url: unbundled.href, bundled: false };
  for (const name of WORKER_BUNDLE_NAMES) {
    const candidate = new URL(`./${name}`, moduleUrl);
    if (isFile(candidate)) return { url: candidate.href, bundled: true };
  }
  return new Error(
    `weft was bundled into ${fileURLToPath(moduleUrl)}, and its threads need their own entry bundled beside it: ` +
      `bundle weft's worker entry (node_modules/weft/dist/thread/worker_main.js) to ` +
      `${WORKER_BUNDLE_NAMES[0]} in the same directory, e.g. ` +
      `esbuild node_modules/weft/dist/thread/worker_main.js --bundle --platform=node --format=esm --outfile=<dir>/${WORKER_BUNDLE_NAMES[0]}; ` +
      `or keep weft out of the bundle with --external:weft`,
  );
}

let entry: EntryPoint | Error | undefined;

/**
 * URLs of tsx's registration APIs, if tsx can be found from here: its ES module hooks
 * and its CommonJS ones. `--import tsx` registers both; with the ES module hooks alone,
 * a .ts module in a package without `"type": "module"` fails to load in a thread while
 * the same import works on the main thread.
 */
function tsxApiUrls(): string[] | undefined {
  try {
    return [import.meta.resolve('tsx/esm/api'), import.meta.resolve('tsx/cjs/api')];
  } catch {
    // Loaded as CommonJS (require('weft') under tsx): no import.meta.resolve.
  }
  // require.resolve would give the CommonJS builds, which cannot register from a
  // worker; the ES module builds are found through tsx's own exports map.
  try {
    if (moduleUrl === undefined) return undefined;
    const manifest = createRequire(moduleUrl).resolve('tsx/package.json');
    const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
    return ['./esm/api', './cjs/api'].map((api) => new URL(exports[api].import.default, pathToFileURL(manifest)).href);
  } catch {
    return undefined;
  }
}

const loaderUrls = fromSources ? tsxApiUrls() : undefined;

/** A resolve hook that makes `import('weft')` in a bundled worker return the worker bundle itself. */
function selfAliasHook(url: string): string {
  const code = `export async function resolve(specifier, context, next) {
  return specifier === 'weft' ? { url: ${JSON.stringify(url)}, shortCircuit: true } : next(specifier, context);
}`;
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

// Valid both as a CommonJS script and as an ES module (a worker evaluates it as a
// module when the process runs with --input-type=module): dynamic import() only.
// It must run before any TypeScript can be loaded. If `status` is given, it reports
// READY once the entry has been evaluated, or FAILED with the error's text, so a
// parent that is blocked (and cannot hear the worker's events) learns either way.
const BOOT = `
(async () => {
  const { workerData } = await import('node:worker_threads');
  const status = workerData.status;
  try {
    for (const api of workerData.tsx ?? []) (await import(api)).register();
    if (workerData.alias) (await import('node:module')).register(workerData.alias);
    await import(workerData.entry);
    if (status) { Atomics.store(status, 0, ${Boot.Ready}); Atomics.notify(status, 0); }
  } catch (e) {
    if (status) {
      const text = new TextEncoder().encode(String((e && e.stack) || e));
      const bytes = new Uint8Array(status.buffer, 8, status.buffer.byteLength - 8);
      const n = Math.min(text.length, bytes.length);
      bytes.set(text.subarray(0, n));
      Atomics.store(status, 1, n);
      Atomics.store(status, 0, ${Boot.Failed});
      Atomics.notify(status, 0);
    }
    throw e;
  }
})();
`;

function startWorker(data: LaunchData, options: WorkerOptions, events: WorkerEvents): HostWorker {
  const found = (entry ??= findEntry());
  if (found instanceof Error) throw found;
  // A worker's stack must also run the engine's start-up; spawn() rounded it up.
  const resourceLimits = options.stackBytes ? { stackSizeMb: options.stackBytes / 2 ** 20 } : undefined;
  const w = new Worker(BOOT, {
    eval: true,
    name: options.name,
    workerData: {
      ...data,
      entry: found.url,
      tsx: loaderUrls,
      alias: found.bundled ? selfAliasHook(found.url) : undefined,
      status: options.status,
    },
    resourceLimits,
    stdout: false,
    stderr: false,
  });
  w.on('message', (m) => events.message(m));
  w.on('error', (e) => events.error(e));
  w.on('exit', (code) => events.exit(code));
  return {
    post: (m) => w.postMessage(m),
    terminate: () => void w.terminate(),
    unref: () => w.unref(),
  };
}

export const host: Host = {
  name: 'node',
  isMainThread,
  checkCanCreateHeap() {},
  availableParallelism,
  moduleUrl,
  fromSources,
  startWorker,

  launchData: () => Promise.resolve(workerData as LaunchData),
  postToParent: (m) => parentPort!.postMessage(m),
  onParentMessage: (f) => void parentPort!.on('message', f),
  // The port to the parent is all a worker at rest keeps open.
  atRest: () => process.getActiveResourcesInfo().every((r) => r === 'MessagePort'),
  exitWorker: (code) => process.exit(code),
  afterPending: (f) => void setImmediate(f),

  // Before the scheme test in spawn(): a Windows drive letter looks like a URL scheme.
  pathToUrl: (path) => (isAbsolute(path) ? pathToFileURL(path).href : undefined),
  tsxApiUrls,
  threadSource: (source) => source,
  printError(text) {
    try {
      writeSync(2, `${text}\n`);
    } catch {
      // stderr closed: nothing to report to
    }
  },
  onExit: (f) => void process.on('exit', f),
};
