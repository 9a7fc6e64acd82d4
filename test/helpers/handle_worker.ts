import { parentPort, workerData } from 'node:worker_threads';
import { attach, codecs, type AtomicI32 } from '../../src/index.ts';
import { loadValue } from '../../src/codec/stored.ts';

const { handle, stored } = workerData as { handle: unknown; stored: number };
attach(handle);
const { counter } = loadValue(codecs.structured, stored, true) as { counter: AtomicI32 };
const before = counter.fetchAdd(1);
const offset = counter.offset;
counter.close();
parentPort!.postMessage({ offset, before });
