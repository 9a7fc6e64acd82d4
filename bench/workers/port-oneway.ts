// MessagePort one-way worker: the producer posts `n` payloads per request from the
// parent; the consumer is armed with `n` first, then reports count and checksum.

import { workerData, type MessagePort } from 'node:worker_threads';
import { makePayload, weigh, type Shape } from '../payload.ts';
import { parent } from '../worker.ts';

const { role, shape, port } = workerData as { role: 'producer' | 'consumer'; shape: Shape; port: MessagePort };
const control = parent();

if (role === 'producer') {
  const make = makePayload(shape);
  control.on('message', (n: number) => {
    for (let i = 0; i < n; i++) port.postMessage(make(i));
  });
} else {
  const weight = weigh(shape);
  let expected = 0;
  let count = 0;
  let checksum = 0;
  control.on('message', (n: number) => {
    expected = n;
    count = 0;
    checksum = 0;
    control.postMessage('armed');
  });
  port.on('message', (msg: unknown) => {
    checksum += weight(msg);
    if (++count === expected) control.postMessage({ count, checksum });
  });
}
control.postMessage('ready');
