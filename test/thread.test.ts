import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  AtomicI32, Builder, current, heapStats, JoinHandle, PanicError, park, parkAsync, parkTimeout, scope, scopeAsync,
  sleep, spawn, SpawnError, availableParallelism, yieldNow,
} from '../src/index.ts';

const entry = new URL('./helpers/thread_entry.ts', import.meta.url);

describe('spawn and join', () => {
  test('join returns the value, arguments arrive', () => {
    assert.equal(spawn((a: number, b: number) => a + b, 2, 3).join(), 5);
    assert.deepEqual(spawn((o: { xs: number[] }) => o.xs.map((x) => x * 2), { xs: [1, 2] }).join(), [2, 4]);
  });

  test('joinAsync waits for an async function', async () => {
    const h = spawn(async (ms: number) => {
      await new Promise((r) => setTimeout(r, ms));
      return 'late';
    }, 20);
    assert.equal(await h.joinAsync(), 'late');
    assert.equal(h.isFinished(), true);
    assert.throws(() => h.join(), /already joined/); // the result went to the first join
  });

  test('isFinished never blocks', () => {
    const flag = new AtomicI32(0);
    const h = spawn((f: AtomicI32) => {
      while (f.load() === 0);
    }, flag);
    assert.equal(h.isFinished(), false);
    flag.store(1);
    h.join();
    assert.equal(h.isFinished(), true);
  });

  test('module entries: default export and a named export, TypeScript run without a build', () => {
    assert.equal(spawn<number>(entry, 20).join(), 21);
    assert.equal(spawn<string>({ module: entry, export: 'greet' }, 'weft').join(), 'hello, weft');
    assert.throws(() => spawn({ module: entry, export: 'missing' }).join(), /no export 'missing'/);
  });

  test('handles travel as arguments and results and refer to the same object', () => {
    const counter = new AtomicI32(0);
    const back = spawn((c: AtomicI32) => {
      c.fetchAdd(41);
      return c;
    }, counter).join();
    assert.equal(back.offset, counter.offset);
    back.fetchAdd(1);
    assert.equal(counter.load(), 42);
  });

  test('the thread imports weft and sees its own identity', () => {
    const h = new Builder().name('ferris').spawn(async () => {
      const weft = await import('weft');
      const me = weft.current();
      return { id: me.id, name: me.name };
    });
    const seen = h.join();
    assert.equal(seen.name, 'ferris');
    assert.equal(seen.id, h.thread.id);
    assert.equal(h.thread.name, 'ferris');
  });

  test('the main thread is id 1 named main; ids are unique and never reused', () => {
    assert.equal(current().id, 1);
    assert.equal(current().name, 'main');
    const ids = Array.from({ length: 6 }, () => spawn(async () => (await import('weft')).current().id).join());
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => id > 1));
    assert.ok(ids.every((id, k) => k === 0 || id > ids[k - 1]));
    assert.equal(spawn(async () => (await import('weft')).current().name).join(), undefined);
  });

  test('function source with transpiler helpers (esbuild __name) runs', () => {
    const f = () => {
      function named(x: number) {
        return x + 1;
      }
      const inner = function other() {
        return named(1);
      };
      return inner();
    };
    // Under tsx (as here) esbuild keeps names by injecting __name(...) calls into the source.
    assert.match(f.toString(), /__name\(/);
    assert.equal(spawn(f).join(), 2);
  });

  test('`using` lowered by the transpiler works in a thread: reverse order, suppressed errors', () => {
    const f = () => {
      const log: string[] = [];
      {
        using a = { [Symbol.dispose]: () => void log.push('a') };
        using b = { [Symbol.dispose]: () => void log.push('b') };
        void a, void b;
      }
      let caught: { name?: string; error?: Error; suppressed?: Error } = {};
      try {
        using c = {
          [Symbol.dispose]() {
            throw new Error('in dispose');
          },
        };
        void c;
        throw new Error('body');
      } catch (e) {
        caught = e as typeof caught;
      }
      return { log, name: caught.name, error: caught.error?.message, suppressed: caught.suppressed?.message };
    };
    assert.match(f.toString(), /__using\(/); // lowered for Node 20 by esbuild
    assert.deepEqual(spawn(f).join(), { log: ['b', 'a'], name: 'SuppressedError', error: 'in dispose', suppressed: 'body' });
  });

  test('bad entries and unsendable arguments fail at spawn with nothing started', () => {
    assert.throws(() => spawn(Math.max), SpawnError);
    assert.throws(() => spawn(42 as never), SpawnError);
    assert.throws(() => spawn((f: unknown) => f, { cb: () => 1 }), { name: 'TypeError', message: /value\[0\]\.cb|cb/ });
    assert.throws(() => new Builder().stackSize(-1), RangeError);
    assert.throws(() => new Builder().name(5 as never), TypeError);
  });
});

describe('panics', () => {
  test('a thrown error reaches the joiner with the thread name and the original error', () => {
    const h = new Builder().name('worker-7').spawn(() => {
      const e = new RangeError('bad index', { cause: new Error('root') }) as RangeError & { code?: string };
      e.code = 'E_IDX';
      throw e;
    });
    const err = (() => {
      try {
        h.join();
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof PanicError);
    assert.match(err.message, /thread 'worker-7' panicked: RangeError: bad index/);
    assert.equal(err.threadName, 'worker-7');
    assert.equal(err.threadId, h.thread.id);
    const cause = err.cause as RangeError & { code: string };
    assert.ok(cause instanceof RangeError);
    assert.equal(cause.message, 'bad index');
    assert.equal(cause.code, 'E_IDX');
    assert.match(cause.stack ?? '', /bad index/);
    assert.equal((cause.cause as Error).message, 'root');
  });

  test('a thrown non-error value is the payload', async () => {
    await assert.rejects(spawn(() => {
      throw 'plain string';
    }).joinAsync(), (e: PanicError) => e.cause === 'plain string' && /panicked: plain string/.test(e.message));
  });

  test('stack overflow names the thread', () => {
    const h = new Builder().name('deep').spawn(() => {
      const down = (n: number): number => down(n + 1) + 1;
      return down(0);
    });
    assert.throws(() => h.join(), { name: 'PanicError', message: "thread 'deep' has overflowed its stack" });
  });

  test('using a captured variable says closures are not carried', () => {
    const outside = 42;
    const h = spawn(() => outside + 1);
    assert.throws(() => h.join(), (e: PanicError) => /closures are not carried/.test(e.message) && /pass the value as an argument/.test(e.message));
  });

  test('process.exit() inside a thread is a panic for join, joinAsync and scope', async () => {
    const h = new Builder().name('quitter').spawn(() => process.exit(3));
    assert.throws(() => h.join(), { name: 'PanicError', message: "thread 'quitter' exited with code 3 before finishing" });
    await assert.rejects(spawn(() => process.exit(1)).joinAsync(), PanicError);
    assert.throws(() => scope((s) => s.spawn(() => process.exit(1))), { name: 'PanicError', message: 'a scoped thread panicked' });
  });

  test('terminate() kills a thread; join then throws PanicError', async () => {
    const h = new Builder().name('spinner').spawn(() => {
      for (;;);
    });
    await h.terminate();
    assert.equal(h.isFinished(), true);
    assert.throws(() => h.join(), { name: 'PanicError', message: "thread 'spinner' was terminated" });
    await h.terminate(); // already ended: nothing to do
  });

  test('a blocked thread terminated while parked', async () => {
    const h = spawn(async () => (await import('weft')).park());
    sleep(50);
    await h.terminate();
    await assert.rejects(h.joinAsync(), PanicError);
  });
});

describe('park and unpark', () => {
  test('unpark before park makes park return at once; the token is not counted twice', () => {
    current().unpark();
    current().unpark();
    park(); // consumes the one token
    parkTimeout(20); // no token left: returns after the timeout
  });

  test('a parked thread sleeps until unparked', () => {
    const state = new AtomicI32(0);
    const h = spawn(async (s: AtomicI32) => {
      const { park } = await import('weft');
      s.store(1);
      while (s.load() !== 2) park(); // spurious wakes are allowed; the flag decides
      s.store(3);
    }, state);
    while (state.load() !== 1) yieldNow();
    sleep(30);
    assert.equal(state.load(), 1);
    state.store(2);
    h.thread.unpark();
    h.join();
    assert.equal(state.load(), 3);
  });

  test('parkAsync wakes on unpark and on timeout', async () => {
    const me = current();
    setTimeout(() => me.unpark(), 10);
    await parkAsync();
    await parkAsync(10);
    assert.throws(() => parkTimeout(-1), RangeError);
  });
});

describe('scoped threads', () => {
  test('scope returns after every thread ended, with the body result', () => {
    const counter = new AtomicI32(0);
    const r = scope((s) => {
      for (let k = 0; k < 4; k++) {
        s.spawn(async (c: AtomicI32, ms: number) => {
          (await import('weft')).sleep(ms);
          c.fetchAdd(1);
        }, counter, 10 * k);
      }
      return 'body';
    });
    assert.equal(r, 'body');
    assert.equal(counter.load(), 4);
  });

  test('a joined panic does not make the scope throw; an unjoined one does, with the first payload', () => {
    scope((s) => {
      const h = s.spawn(() => {
        throw new Error('seen');
      });
      assert.throws(() => h.join(), PanicError);
    });
    assert.throws(
      () => scope((s) => {
        s.spawn(() => {
          throw new Error('first');
        }).thread;
        sleep(50);
        s.spawn(() => {
          throw new Error('second');
        });
      }),
      (e: PanicError) => e.message === 'a scoped thread panicked' && (e.cause as Error).message === 'first',
    );
  });

  test('a throw in the scope body is rethrown after the threads ended', () => {
    const done = new AtomicI32(0);
    assert.throws(() => scope((s) => {
      s.spawn(async (d: AtomicI32) => {
        (await import('weft')).sleep(30);
        d.store(1);
      }, done);
      throw new Error('body failed');
    }), /body failed/);
    assert.equal(done.load(), 1);
  });

  test('scopeAsync and spawning on an ended scope', async () => {
    let kept: { spawn(f: () => void): unknown } | undefined;
    const v = await scopeAsync(async (s) => {
      kept = s;
      return (await s.spawn(() => 7).joinAsync()) + 1;
    });
    assert.equal(v, 8);
    assert.throws(() => kept!.spawn(() => {}), /closed|ended/);
  });
});

describe('thread-local storage', () => {
  test('join returns only after thread-local destructors ran', () => {
    const flag = new AtomicI32(0);
    spawn(async (f: AtomicI32) => {
      const { threadLocal, sleep } = await import('weft');
      const key = threadLocal(() => 1, {
        dispose: () => {
          sleep(50);
          f.store(1);
        },
      });
      key.get();
    }, flag).join();
    assert.equal(flag.load(), 1);
  });

  test('destructors run most recent first and may touch keys not yet destroyed', () => {
    const report = new AtomicI32(0);
    spawn(async (r: AtomicI32) => {
      const { threadLocal, AccessError } = await import('weft');
      // Each destructor appends a digit: 2 for b, 1 for a; +5 marks a wrong observation.
      const a = threadLocal(() => 'a', {
        dispose: () => r.store(r.load() * 10 + 1 + (b.tryWith((v) => v) instanceof AccessError ? 0 : 5)),
      });
      const b = threadLocal(() => 'b', {
        dispose: () => r.store(r.load() * 10 + 2 + (a.get() === 'a' ? 0 : 5)),
      });
      a.get();
      b.get();
    }, report).join();
    assert.equal(report.load(), 21);
  });

  test('AccessError during destruction; set() does not run init; take and replace', () => {
    const report = new AtomicI32(0);
    spawn(async (r: AtomicI32) => {
      const { threadLocal, AccessError } = await import('weft');
      let inits = 0;
      const key = threadLocal(() => ++inits, {
        dispose: () => {
          r.fetchOr(key.tryWith((v) => v) instanceof AccessError ? 1 : 0);
          try {
            key.with((v) => v);
          } catch (e) {
            if (e instanceof AccessError) r.fetchOr(2);
          }
        },
      });
      key.set(10);
      if (inits === 0 && key.get() === 10) r.fetchOr(4);
      if (key.replace(11) === 10 && key.take() === 11 && key.take() === undefined) r.fetchOr(8);
      if (key.get() === 1) r.fetchOr(16); // init runs after take
    }, report).join();
    assert.equal(report.load(), 1 | 2 | 4 | 8 | 16);
  });
});

describe('resources', () => {
  test('200 threads spawned and joined in sequence leave no workers or heap behind', () => {
    const osThreads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
    const warm = () => {
      for (let k = 0; k < 10; k++) spawn((x: number) => x, k).join();
    };
    warm();
    const threadsBefore = osThreads();
    const liveBefore = heapStats().live;
    for (let k = 0; k < 200; k++) {
      const h: JoinHandle<number> = spawn((x: number) => x * 2, k);
      assert.equal(h.join(), k * 2);
      h.close();
    }
    sleep(200); // let the last workers finish exiting
    assert.ok(osThreads() - threadsBefore <= 12, `OS threads grew from ${threadsBefore} to ${osThreads()}`);
    assert.ok(heapStats().live - liveBefore < 4096, `heap live bytes grew by ${heapStats().live - liveBefore}`);
  });

  test('a reused worker gives the next thread fresh globals and thread-locals', () => {
    spawn(() => {
      (globalThis as { leaked?: number }).leaked = 42;
    }).join();
    const seen = Array.from({ length: 8 }, () => spawn(() => (globalThis as { leaked?: number }).leaked).join());
    assert.deepEqual(seen, Array(8).fill(undefined));
  });

  test('a thread that leaves work running ends with its worker: nothing of it runs later', () => {
    const ticks = new AtomicI32(0);
    spawn((t: AtomicI32) => {
      setInterval(() => t.fetchAdd(1), 1);
      return 'returned';
    }, ticks).join();
    sleep(100);
    const settled = ticks.load();
    sleep(100);
    assert.equal(ticks.load(), settled);
  });

  test('an idle runtime lets the process exit; a pending joinAsync keeps it alive', () => {
    const child = fileURLToPath(new URL('./helpers/lifetime_child.ts', import.meta.url));
    const run = (mode: string) =>
      spawnSync(process.execPath, ['--conditions=weft-source', '--import', 'tsx', child, mode], { encoding: 'utf8', timeout: 30000 });
    const joined = run('join');
    assert.equal(joined.status, 0, joined.stderr);
    assert.equal(joined.stdout.trim(), '2');
    const pending = run('async');
    assert.equal(pending.status, 0, pending.stderr);
    assert.equal(pending.stdout.trim(), 'late');
  });

  test('availableParallelism is a positive integer', () => {
    assert.ok(Number.isInteger(availableParallelism()) && availableParallelism() >= 1);
  });
});
