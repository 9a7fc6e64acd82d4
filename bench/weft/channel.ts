// weft's channel rows, in the groups of the MessagePort and SAB-mailbox baselines:
// one-way throughput (f64 and small objects, 1→1 and 4→1) between threads, and a
// ping-pong round trip. Receivers keep the same checksum as the baselines' workers.

import { channel, codecs, scope, spawn, syncChannel, type Receiver, type Sender } from 'weft';
import type { Case } from '../harness.ts';
import { verify, type Shape } from '../payload.ts';

/**
 * `producers` threads send `n` messages in all; one thread receives and checks them.
 * With `bound`, through syncChannel(bound) instead of an unbounded channel.
 */
export function weftOneWay(shape: Shape, producers = 1, bound?: number): Case {
  const kind = bound === undefined ? 'channel' : `syncChannel(${bound})`;
  return {
    name: producers === 1 ? `weft ${kind}` : `weft ${kind}, ${producers} senders`,
    metric: 'ops/s',
    async open() {
      spawn(() => 0).join(); // warm the pool
      return {
        async run(n) {
          const share = Math.ceil(n / producers);
          const total = share * producers;
          const options = shape === 'f64' ? { codec: codecs.f64 } : {};
          const [tx, rx] = (bound === undefined ? channel<unknown>(options) : syncChannel<unknown>(bound, options)) as [Sender<unknown>, Receiver<unknown>];
          const start = performance.now();
          const checksum = scope((s) => {
            for (let p = 0; p < producers; p++) {
              // The shapes of bench/payload.ts, written out: a thread gets this as source.
              s.spawn((out: Sender<unknown>, from: number, count: number, kind: Shape) => {
                const end = from + count;
                if (kind === 'f64') for (let i = from; i < end; i++) out.send(i + 0.5);
                else if (kind === 'object') for (let i = from; i < end; i++) out.send({ id: i, name: 'x', tags: ['a', 'b'] });
                else if (kind === 'flat') for (let i = from; i < end; i++) out.send({ id: i, price: i * 0.25, qty: 3, ok: true, name: 'widget' });
                else if (kind === 'nested') {
                  for (let i = from; i < end; i++) out.send({ id: i, user: { name: 'ada', roles: ['admin', 'dev'] }, pos: { x: 1, y: -2.5 }, tags: [] });
                } else {
                  for (let i = from; i < end; i++) {
                    out.send({ id: i, title: 'The quick brown fox', author: 'Ada Lovelace', path: '/usr/local/share/doc', lang: 'en-GB' });
                  }
                }
                out.close();
              }, tx.clone(), p * share, share, shape);
            }
            tx.close();
            return s.spawn((inbox: Receiver<unknown>, kind: Shape) => {
              let sum = 0;
              let count = 0;
              // eslint-disable-next-line @typescript-eslint/no-explicit-any
              const weigh = (m: any): number => {
                switch (kind) {
                  case 'f64': return m;
                  case 'object': return m.id + m.name.length + m.tags.length;
                  case 'flat': return m.id + m.qty;
                  case 'nested': return m.id + m.user.roles.length + m.pos.x;
                  default: return m.id + m.lang.length - 2;
                }
              };
              for (const m of inbox) {
                sum += weigh(m);
                count++;
              }
              return { count, checksum: sum };
            }, rx, shape).join();
          });
          const seconds = (performance.now() - start) / 1e3;
          verify(shape, total, checksum);
          return seconds * (n / total);
        },
      };
    },
  };
}

/** Two threads pass a number back and forth over two channels. */
export function weftRoundTrip(): Case {
  return {
    name: 'weft channel ping-pong',
    metric: 'µs/op',
    async open() {
      const [pingTx, pingRx] = channel<number>({ codec: codecs.f64 });
      const [pongTx, pongRx] = channel<number>({ codec: codecs.f64 });
      const ponger = spawn((inbox: Receiver<number>, out: Sender<number>) => {
        for (const v of inbox) out.send(v + 1);
      }, pingRx, pongTx);
      return {
        async run(n) {
          const start = performance.now();
          for (let i = 0; i < n; i++) {
            pingTx.send(i);
            if (pongRx.recv() !== i + 1) throw new Error('ping-pong answer out of order');
          }
          return (performance.now() - start) / 1e3;
        },
        async close() {
          pingTx.close();
          await ponger.joinAsync();
        },
      };
    },
  };
}

/**
 * One thread sends `n` numbers; the main thread receives them, blocking (`for of`) or
 * asynchronously (`for await`). Async receive yields to the event loop every few
 * milliseconds even while messages are queued (a time slice, so timers and I/O keep
 * running); the pair of rows shows what that costs.
 */
export function weftMainReceive(mode: 'blocking' | 'async'): Case {
  return {
    name: mode === 'blocking' ? 'weft channel, main thread for…of' : 'weft channel, main thread for await',
    metric: 'ops/s',
    async open() {
      spawn(() => 0).join(); // warm the pool
      return {
        async run(n) {
          const [tx, rx] = channel<number>({ codec: codecs.f64 });
          const start = performance.now();
          const producer = spawn((out: Sender<number>, count: number) => {
            for (let i = 0; i < count; i++) out.send(i + 0.5);
          }, tx, n);
          let checksum = 0;
          let count = 0;
          if (mode === 'blocking') {
            for (const m of rx) {
              checksum += m;
              count++;
            }
          } else {
            for await (const m of rx) {
              checksum += m;
              count++;
            }
          }
          await producer.joinAsync();
          const seconds = (performance.now() - start) / 1e3;
          verify('f64', n, { count, checksum });
          return seconds;
        },
      };
    },
  };
}
