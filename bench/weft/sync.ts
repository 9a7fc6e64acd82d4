// weft's synchronisation rows: uncontended lock+unlock (bare, and with a number
// value incremented in place), two threads contending, and the Once / OnceLock fast
// paths, next to a bare CAS lock on a SharedArrayBuffer and the `multithreading`
// package's Mutex.

import { availableParallelism } from 'node:os';
import { Mutex, Once, OnceLock, scope, spawn } from 'weft';
import type { Case, Session } from '../harness.ts';
import { BenchWorker, startWorker } from '../worker.ts';

/** A single-thread micro case: `body` runs `n` times inside the timed region. */
function micro(name: string, setup: () => (n: number) => void, baseline?: boolean): Case {
  return {
    name,
    metric: 'ops/s',
    baseline,
    async open(): Promise<Session> {
      const body = setup();
      return {
        async run(n) {
          const start = performance.now();
          body(n);
          return (performance.now() - start) / 1e3;
        },
      };
    },
  };
}

export const casLockUncontended = (): Case =>
  micro('bare CAS lock on a SAB', () => {
    const w = new Int32Array(new SharedArrayBuffer(8));
    return (n) => {
      for (let k = 0; k < n; k++) {
        while (Atomics.compareExchange(w, 0, 0, 1) !== 0);
        w[1]++;
        Atomics.store(w, 0, 0);
      }
    };
  }, true);

export const weftMutexUncontended = (): Case =>
  micro('weft Mutex lock+unlock', () => {
    const m = new Mutex();
    return (n) => {
      for (let k = 0; k < n; k++) m.lock().unlock();
    };
  });

/**
 * lock, value++, unlock of a Mutex<number>: with `using` (as a user writes it; under
 * tsx on Node 20 the transpiler's disposal helpers cost about 40 ns of their own) or
 * with an explicit unlock().
 */
export const weftMutexIncrement = (style: 'using' | 'unlock'): Case =>
  micro(style === 'using' ? 'weft Mutex<number>: using g, g.value++' : 'weft Mutex<number>: g.value++, g.unlock()', () => {
    const m = new Mutex(0);
    let expected = 0;
    const check = (n: number) => {
      expected += n;
      if (m.withLock((v) => v) !== expected) throw new Error('the weft Mutex lost increments');
    };
    if (style === 'using') {
      return (n) => {
        for (let k = 0; k < n; k++) {
          using g = m.lock();
          g.value++;
        }
        check(n);
      };
    }
    return (n) => {
      for (let k = 0; k < n; k++) {
        const g = m.lock();
        g.value++;
        g.unlock();
      }
      check(n);
    };
  });

/** The `multithreading` package reads `navigator`, which Node 20 lacks: load it lazily behind a stand-in. */
async function peerMutex(): Promise<typeof import('multithreading').Mutex> {
  const g = globalThis as { navigator?: unknown };
  g.navigator ??= { hardwareConcurrency: availableParallelism() };
  return (await import('multithreading')).Mutex;
}

export function peerMutexUncontended(): Case {
  return {
    name: 'multithreading Mutex blockingLock+dispose',
    metric: 'ops/s',
    async open() {
      const m = new (await peerMutex())();
      return {
        async run(n) {
          const start = performance.now();
          for (let k = 0; k < n; k++) m.blockingLock().dispose();
          return (performance.now() - start) / 1e3;
        },
      };
    },
  };
}

export const atomicLoadFloor = (): Case =>
  micro('Atomics.load on a SAB (floor)', () => {
    const w = new Int32Array(new SharedArrayBuffer(4));
    let sink = 0;
    return (n) => {
      for (let k = 0; k < n; k++) sink += Atomics.load(w, 0);
      if (sink < 0) throw new Error('unreachable');
    };
  }, true);

export const weftOnceFastPath = (): Case =>
  micro('weft Once.callOnce (completed)', () => {
    const once = new Once();
    let calls = 0;
    once.callOnce(() => void calls++);
    return (n) => {
      for (let k = 0; k < n; k++) once.callOnce(() => void calls++);
      if (calls !== 1) throw new Error('Once ran twice');
    };
  });

export const weftOnceLockGet = (): Case =>
  micro('weft OnceLock.get (set)', () => {
    const cell = new OnceLock<number>();
    cell.set(7);
    let sum = 0;
    return (n) => {
      for (let k = 0; k < n; k++) sum += cell.get()!;
      if (sum % 7 !== 0) throw new Error('wrong value');
    };
  });

/** Two workers incrementing one counter under a bare CAS lock. */
export function casLockContended(): Case {
  return {
    name: 'bare CAS lock, 2 workers',
    metric: 'ops/s',
    baseline: true,
    async open() {
      const buffer = new SharedArrayBuffer(8);
      const words = new Int32Array(buffer);
      const url = new URL('../workers/cas-lock.ts', import.meta.url);
      const workers = [startWorker(url, { buffer }), startWorker(url, { buffer })];
      await BenchWorker.ready(workers);
      return {
        async run(n) {
          const half = Math.ceil(n / 2);
          const before = words[1];
          const start = performance.now();
          await Promise.all(workers.map((w) => w.request(half)));
          const seconds = (performance.now() - start) / 1e3;
          if (words[1] - before !== 2 * half) throw new Error('the CAS lock lost increments');
          return seconds;
        },
        close: () => Promise.all(workers.map((w) => w.close())).then(() => {}),
      };
    },
  };
}

/** Two weft threads incrementing the number a weft Mutex holds (Rust: Mutex<u64>, `*g += 1`). */
export function weftMutexContended(): Case {
  return {
    name: 'weft Mutex<number>, 2 threads',
    metric: 'ops/s',
    async open() {
      const m = new Mutex(0);
      spawn(() => 0).join(); // warm the pool
      return {
        async run(n) {
          const half = Math.ceil(n / 2);
          const before = m.withLock((v) => v);
          const start = performance.now();
          scope((s) => {
            for (let t = 0; t < 2; t++) {
              s.spawn((lock: Mutex<number>, k: number) => {
                for (let i = 0; i < k; i++) {
                  const g = lock.lock();
                  g.value++;
                  g.unlock();
                }
              }, m, half);
            }
          });
          const seconds = (performance.now() - start) / 1e3;
          if (m.withLock((v) => v) - before !== 2 * half) throw new Error('the weft Mutex lost increments');
          return seconds * (n / (2 * half));
        },
      };
    },
  };
}
