import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import {
  AtomicI32, Builder, current, heapStats, JoinHandle, PanicError, park, parkAsync, parkTimeout, scope, scopeAsync,
  sleep, spawn, SpawnError, availableParallelism, yieldNow, channel, Mutex, type Receiver,
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

describe('joinAsync with { signal }', () => {
  test('an aborted join rejects with the reason and leaves the result for the next join', { timeout: 30_000 }, async () => {
    const [goTx, goRx] = channel<number>();
    const h = spawn((go: Receiver<number>) => `got ${go.recv()}`, goRx);
    const c = new AbortController();
    const reason = new Error('stop waiting');
    const aborted = h.joinAsync({ signal: c.signal });
    c.abort(reason);
    await assert.rejects(aborted, (e) => e === reason);
    assert.equal(h.isFinished(), false);
    goTx.send(7);
    assert.equal(await h.joinAsync(), 'got 7');
  });

  test('an aborted join of a panicking thread takes nothing; the next join gets the PanicError', { timeout: 30_000 }, async () => {
    const [goTx, goRx] = channel<number>();
    const h = new Builder().name('later').spawn((go: Receiver<number>) => {
      go.recv();
      throw new Error('after the abort');
    }, goRx);
    const c = new AbortController();
    const aborted = h.joinAsync({ signal: c.signal });
    c.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    goTx.send(1);
    await assert.rejects(h.joinAsync(), { name: 'PanicError', message: "thread 'later' panicked: Error: after the abort" });
  });

  test('a signal aborted beforehand rejects even for a finished thread; bad options change nothing', { timeout: 30_000 }, async () => {
    const h = spawn(() => 'kept');
    while (!h.isFinished()) yieldNow();
    const reason = new Error('already');
    await assert.rejects(h.joinAsync({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    await assert.rejects(h.joinAsync(5 as never), TypeError);
    await assert.rejects(h.joinAsync({ signal: 'no' as never }), TypeError);
    assert.equal(await h.joinAsync({ signal: new AbortController().signal }), 'kept');
  });

  test("aborts racing the thread's end: the result goes to exactly one join", { timeout: 60_000 }, async () => {
    for (let k = 0; k < 40; k++) {
      const h = spawn((k: number) => k * 3, k);
      const c = new AbortController();
      const first = h.joinAsync({ signal: c.signal });
      if (k % 2 === 0) queueMicrotask(() => c.abort());
      else setImmediate(() => c.abort());
      let got: number;
      try {
        got = await first;
        assert.throws(() => h.join(), /already joined/);
      } catch (e) {
        assert.equal((e as Error).name, 'AbortError');
        got = await h.joinAsync();
      }
      assert.equal(got, k * 3);
    }
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
      if (key.replace(11) === 10 && key.take() === 11) r.fetchOr(8);
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

describe('join handles move', () => {
  test('a JoinHandle passed to spawn moves: the old object throws, the receiving thread joins', () => {
    const worker = spawn((x: number) => x * 3, 14);
    const joiner = spawn((h: JoinHandle<number>) => h.join() + 1, worker);
    assert.throws(() => worker.join(), { name: 'TypeError', message: /JoinHandle was moved/ });
    assert.throws(() => worker.isFinished(), TypeError);
    assert.throws(() => worker.thread, TypeError);
    assert.equal(joiner.join(), 43);
  });

  test('a JoinHandle sent through a channel is joined by the receiver; a panic reaches it', () => {
    const [tx, rx] = channel<JoinHandle<number>>();
    const collector = spawn((rx: Receiver<JoinHandle<number>>) => {
      const out: string[] = [];
      for (const h of rx) {
        try {
          out.push(`ok ${h.join()}`);
        } catch (e) {
          out.push(`${(e as Error).name} ${(e as Error).message}`);
        }
      }
      return out;
    }, rx);
    const handles = [spawn(() => 1), new Builder().name('bad').spawn(() => {
      throw new Error('boom');
    }), spawn(() => 3)];
    for (const h of handles) tx.send(h);
    for (const h of handles) assert.throws(() => h.isFinished(), /moved/);
    tx.close();
    assert.deepEqual(collector.join(), ['ok 1', "PanicError thread 'bad' panicked: Error: boom", 'ok 3']);
  });

  test('a JoinHandle stored in a Mutex value is joined by whoever takes it out', () => {
    const slot = new Mutex<JoinHandle<string> | null>(null);
    const h = spawn(() => 'stored');
    slot.withLock((v) => v); // the lock works before the handle goes in
    {
      const g = slot.lock();
      g.value = h;
      g.unlock();
    }
    assert.throws(() => h.join(), /moved/);
    const taken = spawn((m: Mutex<JoinHandle<string> | null>) => {
      // The handle lives in the value (replacing the value would release it): join it in place.
      const g = m.lock();
      try {
        return g.value!.join();
      } finally {
        g.unlock();
      }
    }, slot);
    assert.equal(taken.join(), 'stored');
  });
});

describe('stack size', () => {
  test('tiny stack sizes are rounded up and the thread runs; 12 threads beside it all succeed', { timeout: 60000 }, () => {
    const handles = Array.from({ length: 12 }, (_, k) => spawn((x: number) => x * 2, k));
    const tiny = [1, 64 * 1024, 300 * 1024].map((bytes) => new Builder().name(`tiny-${bytes}`).stackSize(bytes).spawn((x: number) => x + 1, bytes));
    assert.deepEqual(handles.map((h) => h.join()), Array.from({ length: 12 }, (_, k) => k * 2));
    assert.deepEqual(tiny.map((h) => h.join()), [2, 64 * 1024 + 1, 300 * 1024 + 1]);
  });

  test('a small stack still overflows as a panic of its own thread, not of its neighbours', () => {
    const deep = new Builder().name('shallow').stackSize(64 * 1024).spawn(() => {
      const down = (n: number): number => down(n + 1) + 1;
      return down(0);
    });
    const neighbour = spawn(() => 'fine');
    assert.throws(() => deep.join(), { name: 'PanicError', message: "thread 'shallow' has overflowed its stack" });
    assert.equal(neighbour.join(), 'fine');
  });

  test('a bad stack size is a RangeError that changes nothing', () => {
    const b = new Builder().stackSize(2 << 20);
    for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => b.stackSize(bad), RangeError);
    assert.equal(b.spawn(() => 5).join(), 5);
  });
});

describe('module entries', () => {
  test('a URL, a file: URL string and an absolute path all work', () => {
    assert.equal(spawn<number>(entry, 1).join(), 2);
    assert.equal(spawn<number>({ module: entry.href }, 2).join(), 3);
    assert.equal(spawn<number>({ module: fileURLToPath(entry) }, 3).join(), 4);
  });

  test('a module that failed to load is tried again by the next spawn', () => {
    // Each worker keeps the modules its threads loaded; a failed load is not kept.
    const dir = mkdtempSync(join(tmpdir(), 'weft-module-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
      const later = pathToFileURL(join(dir, 'later.js'));
      for (let k = 0; k < 3; k++) assert.throws(() => spawn({ module: later }).join(), PanicError);
      writeFileSync(later, 'export default (x) => x * 2;\n');
      for (let k = 0; k < 3; k++) assert.equal(spawn<number>({ module: later }, k).join(), 2 * k);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a TypeScript module thread in a CommonJS package loads as it does on the main thread', async () => {
    // No "type": "module": tsx compiles the module's `export` to CommonJS, through the
    // CommonJS hooks it registers beside its ES module ones.
    const dir = mkdtempSync(join(tmpdir(), 'weft-cjs-'));
    try {
      writeFileSync(join(dir, 'package.json'), '{ "name": "cjs-app" }');
      const job = pathToFileURL(join(dir, 'job.ts'));
      writeFileSync(job, 'export function run(x: number): number {\n  return x + 1;\n}\n');
      const here = (await import(job.href)) as { run(x: number): number };
      assert.equal(here.run(1), 2);
      for (let k = 0; k < 3; k++) assert.equal(spawn<number>({ module: job, export: 'run' }, k).join(), k + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a relative module string is refused with the fix, and nothing is spawned', () => {
    const before = heapStats().live;
    assert.throws(() => spawn({ module: './helpers/thread_entry.ts' }), (e: Error) =>
      e instanceof SpawnError && /new URL\('\.\/helpers\/thread_entry\.ts', import\.meta\.url\)/.test(e.message));
    assert.throws(() => spawn({ module: 'some-package/job' }), SpawnError);
    assert.throws(() => spawn({ module: 42 as never }), SpawnError);
    assert.equal(heapStats().live, before);
  });
});

describe('refused spawns', () => {
  test('leave no thread record behind', () => {
    spawn(() => 0).join(); // the runtime is up
    const closedScope = scope((s) => s);
    const before = heapStats().live;
    for (let k = 0; k < 200; k++) {
      assert.throws(() => spawn((f: unknown) => f, { cb: () => k }), TypeError);
      assert.throws(() => spawn(42 as never), SpawnError);
      assert.throws(() => spawn(Math.max), SpawnError);
      assert.throws(() => new Builder().name('x').spawn({ module: 'rel.js' }), SpawnError);
      assert.throws(() => closedScope.spawn(() => 1), /ended/);
      assert.throws(() => new Builder().spawnScoped(closedScope, () => 1), /ended/);
    }
    assert.equal(heapStats().live, before);
  });

  test('an unsendable argument does not move the endpoints beside it', () => {
    const [tx, rx] = channel<number>();
    assert.throws(() => spawn((t: unknown) => t, [tx, () => 1]), TypeError);
    tx.send(7); // still usable here
    assert.equal(rx.recv(), 7);
  });
});

describe('yieldNow', () => {
  const linux = existsSync('/proc/thread-self/status');
  test('gives up the CPU: every call is a voluntary context switch of the calling thread', { skip: !linux && 'needs /proc/thread-self (Linux)' }, () => {
    const switches = spawn(async () => {
      const { readFileSync } = await import('node:fs');
      const { yieldNow } = await import('weft');
      const count = () => Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))![1]);
      const before = count();
      for (let k = 0; k < 200; k++) yieldNow();
      return count() - before;
    }).join();
    // A no-op yield switches 0 times; a real one (almost) every time.
    assert.ok(switches >= 150, `only ${switches} context switches in 200 yields`);
  });

  test('a spinning thread that yields lets a peer on the same word make progress', () => {
    const turn = new AtomicI32(0);
    const peer = spawn(async (t: AtomicI32) => {
      const { yieldNow } = await import('weft');
      for (let k = 0; k < 200; k++) {
        while (t.load() !== 1) yieldNow();
        t.store(0);
      }
    }, turn);
    for (let k = 0; k < 200; k++) {
      while (turn.load() !== 0) yieldNow();
      turn.store(1);
    }
    peer.join();
    assert.equal(turn.load(), 0);
  });
});
