// Starting benchmark workers written in TypeScript, and talking to them.

import { parentPort, Worker, type MessagePort, type Transferable } from 'node:worker_threads';

// Node 20 workers do not inherit the parent's `--import tsx`, so a `.ts` worker file
// fails with ERR_UNKNOWN_FILE_EXTENSION. A CommonJS bootstrap registers tsx first;
// the worker inherits execArgv, so `--conditions=weft-source` still applies there.
const tsxApi = import.meta.resolve('tsx/esm/api');

function bootstrap(url: URL): string {
  return `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
}

/** Starts the TypeScript module at `url` in a new worker. */
export function tsWorker(url: URL, workerData?: unknown, transferList?: Transferable[]): Worker {
  return new Worker(bootstrap(url), { eval: true, workerData, transferList });
}

/** Starts the TypeScript module at `url` in a new worker, wrapped for request/reply. */
export function startWorker(url: URL, workerData?: unknown, transferList?: Transferable[]): BenchWorker {
  return new BenchWorker(tsWorker(url, workerData, transferList));
}

/**
 * A worker whose messages are queued until asked for, so none is lost between
 * awaits; an error or an unexpected exit fails every pending and later `next()`,
 * its own and its linked peers'.
 */
export class BenchWorker {
  private readonly inbox: unknown[] = [];
  private readonly waiting: { resolve(msg: unknown): void; reject(err: Error): void }[] = [];
  private failure: Error | undefined;
  private closing = false;
  private peers: BenchWorker[] = [];

  constructor(readonly worker: Worker) {
    worker.on('message', (msg) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(msg);
      else this.inbox.push(msg);
    });
    worker.on('error', (err) => this.fail(err instanceof Error ? err : new Error(String(err))));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`benchmark worker exited unexpectedly with code ${code}`));
    });
  }

  post(msg: unknown): void {
    this.worker.postMessage(msg);
  }

  /** The worker's next message. */
  next<T>(): Promise<T> {
    if (this.inbox.length > 0) return Promise.resolve(this.inbox.shift() as T);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (msg: unknown) => void, reject });
    });
  }

  request<T>(msg: unknown): Promise<T> {
    this.post(msg);
    return this.next<T>();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const waiter of this.waiting.splice(0)) waiter.reject(err);
    for (const peer of this.peers) peer.fail(err);
  }

  /**
   * Waits for each worker's first message (its "ready") and links their failures:
   * the one awaited is often not the one that died, but a peer it waits on. If any
   * fails to start, all are terminated, as a live one would keep the process alive.
   */
  static async ready(workers: BenchWorker[]): Promise<void> {
    for (const w of workers) w.peers = workers.filter((peer) => peer !== w);
    try {
      await Promise.all(workers.map((w) => w.next()));
    } catch (err) {
      await Promise.all(workers.map((w) => w.close()));
      throw err;
    }
  }
}

/** Inside a worker: the port to the thread that started it. */
export function parent(): MessagePort {
  if (!parentPort) throw new Error('not running in a worker thread');
  return parentPort;
}
