// Baseline: a hand-written single-slot SharedArrayBuffer mailbox between two workers
// (Atomics spin-then-wait, see workers/sab-mailbox.ts), one-way and ping-pong.

import type { Case, Metric } from '../harness.ts';
import { verify } from '../payload.ts';
import { BenchWorker, startWorker } from '../worker.ts';

const script = new URL('../workers/sab-mailbox.ts', import.meta.url);

type Roles = ['producer', 'consumer'] | ['ping', 'pong'];

// Both workers run `n` operations on a request; the first role's reply is awaited
// too, so a failure on either side surfaces.
function mailboxCase(metric: Metric, roles: Roles, check: (n: number, a: unknown, b: unknown) => void): Case {
  return {
    name: 'SAB mailbox (Atomics)',
    metric,
    async open() {
      const mailboxes = [new SharedArrayBuffer(16), new SharedArrayBuffer(16)];
      const workers = roles.map((role) => startWorker(script, { role, mailboxes }));
      await BenchWorker.ready(workers);
      return {
        async run(n) {
          const start = performance.now();
          const [a, b] = await Promise.all(workers.map((w) => w.request(n)));
          const seconds = (performance.now() - start) / 1e3;
          check(n, a, b);
          return seconds;
        },
        async close() {
          await Promise.all(workers.map((w) => w.close()));
        },
      };
    },
  };
}

export function sabOneWay(): Case {
  return mailboxCase('ops/s', ['producer', 'consumer'], (n, _sent, received) => {
    verify('f64', n, received as { count: number; checksum: number });
  });
}

export function sabRoundTrip(): Case {
  return mailboxCase('µs/op', ['ping', 'pong'], (n, rounds) => {
    if (rounds !== n) throw new Error(`ping-pong ran ${rounds} rounds, expected ${n}`);
  });
}
