// The smallest TypeScript worker: says hello and exits.

import { parentPort } from 'node:worker_threads';

parentPort?.postMessage('hello');
