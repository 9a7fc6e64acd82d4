// The smallest ES module worker: says hello and exits (its loading starts Node's ES
// module loader in the worker, as weft's worker entry does).

import { parentPort } from 'node:worker_threads';

parentPort?.postMessage('hello');
