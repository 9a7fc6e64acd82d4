// The browser host: module Web Workers in a cross-origin isolated page (COOP
// `same-origin` + COEP `require-corp`, without which there is no SharedArrayBuffer).
//
// Where the worker entry comes from. The page starts one worker, the supervisor, with
// `new Worker(new URL('../thread/worker_main.js', import.meta.url), { type: 'module' })`,
// the form Vite, webpack and Parcel recognise and bundle as a worker of its own. A
// bundler that leaves it alone (esbuild) leaves that URL pointing nowhere; then
// `weft-worker.js` next to the bundle is tried, which the README's recipe builds.
// Thread workers are started by the supervisor from its own script URL, so they run
// whatever entry the supervisor runs. In the package's dist/ this module is a file of
// its own, dist/platform/browser.js (the file the `browser` field puts in place of
// dist/platform/node.js), so the URL above is dist/thread/worker_main.js, as in src/.
//
// Death. A Worker has no `exit` event, and an uncaught error does not end it. Each
// worker takes a Web Lock of its own before its first message; the parent asks for
// the same lock, which is granted once the worker is gone, however it went
// (terminate(), close(), a crash). An uncaught error is sent to the parent, which ends
// the worker for it, as Node does.
//
// Browsers cannot size a worker's stack: Builder.stackSize is ignored here.

import { reportBoot } from './boot.ts';
import type { Host, HostWorker, LaunchData, WorkerEvents, WorkerOptions } from './host.ts';

/** The parts of a dedicated worker's global scope used here (the DOM typings lack it). */
interface WorkerScope {
  location: { href: string };
  postMessage(message: unknown): void;
  addEventListener(type: string, listener: (e: never) => void): void;
  removeEventListener(type: string, listener: (e: never) => void): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
const WorkerGlobal = (globalThis as { WorkerGlobalScope?: abstract new () => unknown }).WorkerGlobalScope;
const inWorker = WorkerGlobal !== undefined && globalThis instanceof WorkerGlobal;

const here: string = import.meta.url;
const locks: LockManager | undefined = typeof navigator !== 'undefined' ? navigator.locks : undefined;

/** Marks the first message a worker receives. */
const LAUNCH = 'weft.launch';
/** Marks a message from a worker that carries an error it did not catch. */
const UNCAUGHT = 'weft.uncaught';

/** The file name of weft's worker entry bundled beside an application bundle (README, "Bundling an app"). */
export const WORKER_BUNDLE_NAME = 'weft-worker.js';

const RECIPE =
  `bundle weft's worker entry beside your bundle: esbuild node_modules/weft/dist/thread/worker_main.js --bundle ` +
  `--format=esm --platform=browser --outfile=<dir of your bundle>/${WORKER_BUNDLE_NAME} (see "Bundling an app" in weft's README)`;

interface Candidate {
  url: string;
  open(name: string): Worker;
}

/**
 * Where the page's first worker may come from, in order. Each `new Worker(new URL(...))`
 * is written out in full: bundlers recognise only the literal form.
 */
function entryCandidates(): Candidate[] {
  if (inWorker) {
    const url = scope.location.href;
    return [{ url, open: (name) => new Worker(url, { type: 'module', name }) }];
  }
  return [
    {
      url: new URL('../thread/worker_main.js', here).href,
      open: () => new Worker(new URL('../thread/worker_main.js', import.meta.url), { type: 'module', name: 'weft supervisor' }),
    },
    {
      // Not the literal form on purpose: a bundler must not try to resolve it at build time.
      url: new URL(`./${WORKER_BUNDLE_NAME}`, here).href,
      open: (name) => new Worker(new URL(`./${WORKER_BUNDLE_NAME}`, here), { type: 'module', name }),
    },
  ];
}

let lockSeed: string | undefined;
let lockCount = 0;

/** A lock name no other worker in this browser uses. */
function newLockName(): string {
  lockSeed ??= `weft:${crypto.randomUUID()}`;
  return `${lockSeed}:${++lockCount}`;
}

function errorOf(e: ErrorEvent | Event): Error {
  const event = e as ErrorEvent;
  if (event.error instanceof Error) return event.error;
  const where = event.filename ? ` (${event.filename}:${event.lineno}:${event.colno})` : '';
  return new Error(`${(event.message || 'the worker failed').replace(/^Uncaught /, '')}${where}`);
}

function startWorker(data: LaunchData, options: WorkerOptions, events: WorkerEvents): HostWorker {
  const candidates = entryCandidates();
  const lock = locks ? newLockName() : undefined;
  const failures: string[] = [];
  let worker!: Worker;
  let booted = false;
  let killed = false;
  let gone = false;

  const exit = (code: number): void => {
    if (gone) return;
    gone = true;
    events.exit(code);
  };
  const kill = (): void => {
    if (killed) return;
    killed = true;
    worker.terminate();
    // Before its first message the worker has touched nothing shared; without Web
    // Locks there is no later signal to wait for.
    if (!booted || !lock) exit(1);
  };
  const failBoot = (why: string): void => {
    failures.push(why);
    worker.terminate();
    if (failures.length < candidates.length) return open(failures.length);
    const detail = failures.join('; ');
    const message =
      candidates.length > 1 ? `weft's worker entry could not be started (${detail}); if your app is bundled, ${RECIPE}` : detail;
    if (options.status) reportBoot(options.status, message);
    events.error(new Error(message));
    exit(1);
  };

  const open = (k: number): void => {
    const { url } = candidates[k];
    try {
      worker = candidates[k].open(options.name);
    } catch (e) {
      return failBoot(`${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data as unknown;
      if (typeof m === 'object' && m !== null && UNCAUGHT in m) {
        events.error((m as Record<string, unknown>)[UNCAUGHT]);
        return kill();
      }
      if (!booted) {
        booted = true;
        if (options.status) reportBoot(options.status);
        // The worker took its lock before this first message: ours is granted once it is gone.
        if (lock) void locks!.request(lock, () => exit(killed ? 1 : 0));
      }
      events.message(m);
    };
    worker.onerror = (e: Event) => {
      e.preventDefault();
      // Before the first message: the script did not load, or threw while loading.
      if (!booted) return failBoot(`${url}: ${errorOf(e).message || 'could not be loaded'}`);
      events.error(errorOf(e));
      kill();
    };
    worker.postMessage({ [LAUNCH]: data, lock });
  };

  open(0);
  return {
    post: (m) => worker.postMessage(m),
    terminate: kill,
    unref() {},
  };
}

// Timers a thread left behind keep its worker from being reused (Node counts them as
// active handles; a browser does not tell, so the thread's timer functions are counted).
const liveTimers = new Set<unknown>();
const realSetTimeout: typeof setTimeout = globalThis.setTimeout.bind(globalThis);

function countTimers(): void {
  const g = globalThis as unknown as Record<string, (...args: unknown[]) => unknown>;
  const { setTimeout: set, setInterval: every, clearTimeout: clear, clearInterval: clearEvery } = g;
  g.setTimeout = (handler: unknown, ...rest: unknown[]) => {
    if (typeof handler !== 'function') return set(handler, ...rest);
    const id = set((...args: unknown[]) => {
      liveTimers.delete(id);
      (handler as (...a: unknown[]) => unknown)(...args);
    }, ...rest);
    liveTimers.add(id);
    return id;
  };
  g.setInterval = (...args: unknown[]) => {
    const id = every(...args);
    liveTimers.add(id);
    return id;
  };
  // Either clear function clears either kind of timer.
  g.clearTimeout = (id: unknown) => {
    liveTimers.delete(id);
    clear(id);
  };
  g.clearInterval = (id: unknown) => {
    liveTimers.delete(id);
    clearEvery(id);
  };
}

/** Sends what this worker did not catch to its parent, which ends the worker for it. */
function reportUncaught(): void {
  const send = (error: unknown): void => {
    try {
      scope.postMessage({ [UNCAUGHT]: error });
    } catch {
      scope.postMessage({ [UNCAUGHT]: new Error(String(error)) });
    }
  };
  scope.addEventListener('error', (e: ErrorEvent) => {
    e.preventDefault();
    send(e.error ?? errorOf(e));
  });
  scope.addEventListener('unhandledrejection', (e: PromiseRejectionEvent) => {
    e.preventDefault();
    send(e.reason);
  });
}

function launchData(): Promise<LaunchData> {
  return new Promise((resolve) => {
    const first = (e: MessageEvent): void => {
      const m = e.data as { [LAUNCH]?: LaunchData; lock?: string } | null;
      if (typeof m !== 'object' || m === null || m[LAUNCH] === undefined) return;
      scope.removeEventListener('message', first);
      const data = m[LAUNCH];
      if (data.role === 'thread') countTimers();
      reportUncaught();
      // Held until the worker is gone: the parent's request for it is the death signal.
      if (m.lock && locks) void locks.request(m.lock, () => (resolve(data), new Promise<never>(() => {})));
      else resolve(data);
    };
    scope.addEventListener('message', first);
  });
}

const IMPORT_WEFT = /\bimport\s*\(\s*(['"`])weft\1\s*\)/g;

export const host: Host = {
  name: 'browser',
  isMainThread: !inWorker,
  checkCanCreateHeap() {
    if (typeof SharedArrayBuffer === 'undefined' || (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
      throw new Error(
        'weft needs SharedArrayBuffer, which a browser gives only to a cross-origin isolated page: serve it with the headers ' +
          '"Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp"',
      );
    }
  },
  availableParallelism: () => navigator.hardwareConcurrency || 1,
  moduleUrl: here,
  fromSources: here.endsWith('.ts'),
  startWorker,

  launchData,
  postToParent: (m) => scope.postMessage(m),
  onParentMessage: (f) => scope.addEventListener('message', (e: MessageEvent) => f(e.data)),
  atRest: () => liveTimers.size === 0,
  exitWorker: () => scope.close(),
  afterPending: (f) => void realSetTimeout(f, 0),

  pathToUrl: (path) => (path.startsWith('/') ? new URL(path, scope.location.href).href : undefined),
  tsxApiUrls: () => undefined,
  // A worker has no import map: `import('weft')` is the worker's own weft (worker_main.ts).
  threadSource: (source) => source.replace(IMPORT_WEFT, "Promise.resolve(globalThis[Symbol.for('weft.module')])"),
  printError: (text) => console.error(text),
  onExit(f) {
    if (!inWorker) globalThis.addEventListener('pagehide', f);
  },
};
