// Starts a plain worker_threads Worker (not a weft thread) running a TypeScript
// module of the tests, with tsx registered inside it (Node 20 workers do not
// inherit the loader).
import { Worker } from 'node:worker_threads';

const BOOT = `
const { workerData } = require('node:worker_threads');
import(workerData.tsx).then((m) => { m.register(); return import(workerData.entry); });
`;

export function startWorker(entry: URL, data: Record<string, unknown> = {}): Worker {
  return new Worker(BOOT, {
    eval: true,
    workerData: { ...data, entry: entry.href, tsx: import.meta.resolve('tsx/esm/api') },
  });
}

/** Resolves with the worker's first message; rejects on error or early exit. */
export function firstMessage<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker exited with code ${code} before answering`)));
  });
}
