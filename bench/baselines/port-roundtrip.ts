// Baseline: MessagePort ping-pong between two workers, time per round trip.

import { MessageChannel } from 'node:worker_threads';
import type { Case } from '../harness.ts';
import { BenchWorker, startWorker } from '../worker.ts';

const script = new URL('../workers/port-roundtrip.ts', import.meta.url);

export function portRoundTrip(): Case {
  return {
    name: 'MessagePort',
    metric: 'µs/op',
    baseline: true,
    async open() {
      const { port1, port2 } = new MessageChannel();
      const ping = startWorker(script, { role: 'ping', port: port1 }, [port1]);
      const pong = startWorker(script, { role: 'pong', port: port2 }, [port2]);
      await BenchWorker.ready([ping, pong]);
      return {
        async run(n) {
          const start = performance.now();
          const rounds = await ping.request<number>(n);
          const seconds = (performance.now() - start) / 1e3;
          if (rounds !== n) throw new Error(`ping-pong ran ${rounds} rounds, expected ${n}`);
          return seconds;
        },
        async close() {
          await Promise.all([ping.close(), pong.close()]);
        },
      };
    },
  };
}
