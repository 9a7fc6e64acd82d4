// weft's thread rows: spawn → join of a trivial thread, from the warm pool and on a
// fresh worker, and a park/unpark round trip between two threads.

import { AtomicI32, Builder, current, park, spawn, type Thread } from 'weft';
import type { Case } from '../harness.ts';

/** spawn → join of a thread returning at once. `fresh` forces a new worker each time. */
export function weftSpawnJoin(fresh: boolean): Case {
  return {
    name: fresh ? 'weft spawn→join (fresh worker)' : 'weft spawn→join (warm pool)',
    metric: 'ms/op',
    async open() {
      // A stack size of its own gives the thread a dedicated worker: the cold path.
      const builder = () => (fresh ? new Builder().stackSize(4 << 20) : new Builder());
      builder().spawn((x: number) => x, 0).join();
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) {
            if (builder().spawn((x: number) => x + 1, k).join() !== k + 1) throw new Error('wrong result');
          }
          return (performance.now() - start) / 1e3;
        },
      };
    },
  };
}

const IDLE = 0, PING = 1, PONG = 2, STOP = 3;

/** Main and a weft thread take turns, each parking until the other unparks it. */
export function weftParkRoundTrip(): Case {
  return {
    name: 'weft park/unpark',
    metric: 'µs/op',
    async open() {
      const turn = new AtomicI32(IDLE);
      const peer = spawn(async (t: AtomicI32, main: Thread) => {
        const { park } = await import('weft');
        for (;;) {
          let v;
          while ((v = t.load()) !== 1 && v !== 3) park();
          if (v === 3) return;
          t.store(2);
          main.unpark();
        }
      }, turn, current());
      const other = peer.thread;
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) {
            turn.store(PING);
            other.unpark();
            while (turn.load() !== PONG) park();
          }
          return (performance.now() - start) / 1e3;
        },
        async close() {
          turn.store(STOP);
          other.unpark();
          await peer.joinAsync();
        },
      };
    },
  };
}
