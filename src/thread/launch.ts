// Starting a worker that runs weft's entry, through the host (platform/host.ts):
// worker_threads on Node, Web Workers in browsers.

import { host, type HostWorker, type LaunchData, type WorkerEvents, type WorkerOptions } from '../platform/host.ts';

export { Boot, BootStatus } from '../platform/boot.ts';
export type { HostWorker, LaunchData, WorkerEvents, WorkerOptions };

/** True when weft runs from its TypeScript sources. */
export const fromSources = host.fromSources;

/** URLs of tsx's registration APIs, if tsx can be found from here (Node). */
export function tsxApiUrls(): string[] | undefined {
  return host.tsxApiUrls();
}

/** Starts a worker on weft's entry; throws the Error that says why when there is none. */
export function launch(data: LaunchData, options: WorkerOptions, events: WorkerEvents): HostWorker {
  return host.startWorker(data, options, events);
}
