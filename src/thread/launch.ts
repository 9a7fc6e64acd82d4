// Starting a Worker that runs weft's worker entry. Workers do not inherit a
// TypeScript loader on Node 20, so when weft runs from its TypeScript sources (or a
// thread's entry is a .ts module) the worker registers tsx itself before importing.

import { Worker, type ResourceLimits } from 'node:worker_threads';

const here = import.meta.url;
const fromSources = here.endsWith('.ts');
const entryUrl = new URL(`./worker_main${fromSources ? '.ts' : '.js'}`, here).href;

/** URL of tsx's registration API, if tsx can be found from here. */
export function tsxApiUrl(): string | undefined {
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const loaderUrl = fromSources ? tsxApiUrl() : undefined;

// Evaluated as CommonJS: it must run before any TypeScript can be loaded.
const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();
`;

export interface LaunchData {
  role: 'supervisor' | 'thread';
  sab: SharedArrayBuffer;
}

export function launch(data: LaunchData, resourceLimits?: ResourceLimits): Worker {
  return new Worker(BOOT, {
    eval: true,
    workerData: { ...data, entry: entryUrl, tsx: loaderUrl },
    resourceLimits,
    stdout: false,
    stderr: false,
  });
}
