// Baseline: one-way MessagePort throughput between two workers, the channel Node
// gives every user. Messages/s from the producer's first post to the consumer's
// last receive (plus one control message each way, negligible over a sample).

import { MessageChannel } from 'node:worker_threads';
import type { Case } from '../harness.ts';
import { verify, type Shape } from '../payload.ts';
import { BenchWorker, startWorker } from '../worker.ts';

const script = new URL('../workers/port-oneway.ts', import.meta.url);

export function portOneWay(shape: Shape): Case {
  return {
    name: 'MessagePort',
    metric: 'ops/s',
    baseline: true,
    async open() {
      const { port1, port2 } = new MessageChannel();
      const producer = startWorker(script, { role: 'producer', shape, port: port1 }, [port1]);
      const consumer = startWorker(script, { role: 'consumer', shape, port: port2 }, [port2]);
      await BenchWorker.ready([producer, consumer]);
      return {
        async run(n) {
          // Armed first: its count arrives on another port than the data, unordered.
          await consumer.request(n);
          const start = performance.now();
          producer.post(n);
          const received = await consumer.next<{ count: number; checksum: number }>();
          const seconds = (performance.now() - start) / 1e3;
          verify(shape, n, received);
          return seconds;
        },
        async close() {
          await Promise.all([producer.close(), consumer.close()]);
        },
      };
    },
  };
}
