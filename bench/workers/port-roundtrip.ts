// MessagePort ping-pong worker: the pinger sends a number, the ponger answers with
// it plus one, and the pinger checks each answer before sending the next.

import { workerData, type MessagePort } from 'node:worker_threads';
import { parent } from '../worker.ts';

const { role, port } = workerData as { role: 'ping' | 'pong'; port: MessagePort };
const control = parent();

if (role === 'pong') {
  port.on('message', (v: number) => port.postMessage(v + 1));
} else {
  let rounds = 0;
  let sent = 0;
  control.on('message', (n: number) => {
    rounds = n;
    sent = 0;
    port.postMessage(sent);
  });
  port.on('message', (v: number) => {
    if (v !== sent + 1) throw new Error(`ping-pong answer ${v}, expected ${sent + 1}`);
    sent = v;
    if (sent === rounds) control.postMessage(sent);
    else port.postMessage(sent);
  });
}
control.postMessage('ready');
