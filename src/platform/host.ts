// The seam between weft and the system it runs on. Everything host-specific sits
// behind `host`: starting a worker and handing it its first message, learning that a
// worker died, the number of cores, turning a path into a module URL, printing to
// stderr, and the few timers the worker entry needs. Nothing else in src/ imports a
// `node:*` module.
//
// The Node host is the default. Bundlers building for browsers swap its module for
// the browser one through package.json's "browser" field ("./src/platform/node.ts":
// "./src/platform/browser.ts", and the same for dist/), the file map that esbuild,
// webpack, Vite and Rollup's node-resolve all apply inside a package; export
// conditions only pick a package's entry points, not the modules behind them.

/** What every worker weft starts receives first. */
export interface LaunchData {
  role: 'supervisor' | 'thread';
  sab: SharedArrayBuffer;
  /** i32 index of the wake word the worker's threads receive on (channel/signal.ts), lent by the supervisor. */
  wake?: number;
  /** i32 index of the hand-off word a pooled worker for unnamed threads waits on while idle (thread/mailbox.ts). */
  hand?: number;
}

export interface WorkerOptions {
  /** The Worker's name: shown by debuggers and profilers (the thread's name, or 'weft'). */
  name: string;
  /**
   * Stack size in bytes. Node only (resourceLimits.stackSizeMb); browsers have no way
   * to size a worker's stack, so there it is ignored.
   */
  stackBytes?: number;
  /**
   * Words the boot reports to ([state, text length, text bytes], see BootStatus), for
   * a parent that may be blocked and cannot hear the worker's events.
   */
  status?: Int32Array;
}

export interface WorkerEvents {
  /** A message the worker's entry posted to its parent. */
  message(m: unknown): void;
  /** An uncaught error in the worker. The worker ends for it: `exit` follows. */
  error(e: unknown): void;
  /**
   * The worker is gone, whatever ended it: its entry exited, it was terminated, it
   * closed itself, it crashed. Called exactly once, after the worker stopped running.
   */
  exit(code: number): void;
}

/** A worker as its parent holds it. */
export interface HostWorker {
  post(message: unknown): void;
  terminate(): void;
  /** Lets the process exit while this worker lives (Node; nothing to do in browsers). */
  unref(): void;
}

export interface Host {
  readonly name: 'node' | 'browser';
  /** The thread that may create the heap (Node's main thread, a page's window). */
  readonly isMainThread: boolean;
  /**
   * Throws an Error that says what is missing when this thread cannot create the
   * shared heap (a page that is not cross-origin isolated has no SharedArrayBuffer).
   */
  checkCanCreateHeap(): void;
  availableParallelism(): number;
  /** URL of the module (or bundle) weft runs from, if it can be known. */
  readonly moduleUrl: string | undefined;
  /** True when weft runs from its TypeScript sources. */
  readonly fromSources: boolean;

  /** Starts a worker on weft's entry; throws an Error naming the fix when there is none. */
  startWorker(data: LaunchData, options: WorkerOptions, events: WorkerEvents): HostWorker;

  // In a worker weft started:
  /** Its launch data (the first message from the parent). */
  launchData(): Promise<LaunchData>;
  postToParent(message: unknown): void;
  onParentMessage(f: (message: unknown) => void): void;
  /** Nothing is left running (timers, sockets) that a next thread on this worker would inherit. */
  atRest(): boolean;
  /** Ends the calling worker. */
  exitWorker(code: number): void;
  /** Runs `f` once callbacks already due (I/O, expired timers) have run. */
  afterPending(f: () => void): void;

  /** A module path given to spawn() as a URL, or undefined if it is not an absolute path here. */
  pathToUrl(path: string): string | undefined;
  /** URLs of tsx's registration APIs (ES module and CommonJS hooks), for threads that import TypeScript modules (Node). */
  tsxApiUrls(): string[] | undefined;
  /**
   * The source of a spawned function as its thread will evaluate it. In browsers a
   * worker has no import map, so `import('weft')` is pointed at the worker's own weft.
   */
  threadSource(source: string): string;
  /** Writes a line to stderr at once (not through another thread's event loop). */
  printError(text: string): void;
  /** Runs `f` when the process (or page) is about to end. */
  onExit(f: () => void): void;
}

export { host } from './node.ts';
