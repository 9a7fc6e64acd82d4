// model() itself: what it reports for each kind of failure, how it treats time and
// options, and that bad input is refused with a clear error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { model } from '../src/check/index.ts';
import { isModelAbort } from '../src/check/abort.ts';
import { G_LIVE, G_MAX_STEPS } from '../src/check/control.ts';
import { alloc, free } from '../src/heap/alloc.ts';
import { heap } from '../src/heap/heap.ts';
import { AtomicI32, Condvar, JoinHandle, Mutex, PanicError, spawn } from '../src/index.ts';

const T = { timeout: 60_000 };

describe('model() failures', () => {
  test('a thread left blocked when the body returns is reported, with where it waits', T, async () => {
    await assert.rejects(
      model(
        () => {
          const m = new Mutex(false);
          const cv = new Condvar();
          // Nobody will ever notify: the waiter stays blocked after the body returned.
          spawn((m: Mutex<boolean>, cv: Condvar) => {
            const g = m.lock();
            cv.waitWhile(g, (ready) => !ready);
            g.unlock();
          }, m, cv);
        },
        { schedules: 20 },
      ),
      (e: Error) => {
        assert.match(e.message, /the body returned with threads left blocked forever/);
        assert.match(e.message, /blocked in a wait on heap byte \d+ at .*waitWhile/);
        assert.match(e.message, /seed \d+: replay with model\(body, \{ seed: \d+ \}\)/);
        return true;
      },
    );
  });

  test('a spin loop that never yields and never ends is a livelock past the step budget', T, async () => {
    let spinner: JoinHandle<void> | undefined;
    await assert.rejects(
      model(
        () => {
          const flag = new AtomicI32(0);
          spinner = spawn((flag: AtomicI32) => {
            while (flag.load() === 0) {
              // nobody sets it
            }
          }, flag);
          spinner.join();
        },
        { schedules: 5, maxSteps: 2000 },
      ),
      /more than 2000 scheduling points: a livelock, or a spin loop that never yields/,
    );
    // The checker stopped the spin with a ModelAbort and the thread unwound and left by
    // itself (its worker was not killed for it, which would have been the cause here).
    assert.throws(
      () => spinner!.join(),
      (e: PanicError) => e instanceof PanicError && isModelAbort(e.cause),
    );
  });

  test('a thread that panics and is never joined fails the execution', T, async () => {
    await assert.rejects(
      model(
        () => {
          spawn(() => {
            throw new RangeError('out of range in a thread');
          });
        },
        { schedules: 5 },
      ),
      (e: Error) => {
        assert.match(e.message, /thread <unnamed> \(id \d+\) panicked and nobody joined it: RangeError: out of range in a thread/);
        assert.ok(e.cause instanceof Error);
        return true;
      },
    );
  });

  test("the body's own error is the failure's cause", T, async () => {
    const boom = new TypeError('boom');
    await assert.rejects(
      model(() => {
        throw boom;
      }),
      (e: Error) => e.message.startsWith('weft/check: the body threw: TypeError: boom') && e.cause === boom,
    );
  });
});

describe('model() time and options', () => {
  test('time is virtual: a thread sleeping a second under the model takes no second', T, async () => {
    const started = Date.now();
    const r = await model(
      () => {
        const t = spawn(async () => {
          const { sleep } = await import('weft');
          const t0 = performance.now();
          sleep(1000);
          return performance.now() - t0;
        });
        const slept = t.join() as number;
        assert.ok(slept >= 1000, `the clock moved by ${slept} ms`);
      },
      { schedules: 10 },
    );
    assert.equal(r.schedules, 10);
    assert.ok(Date.now() - started < 8000, 'ten one-second sleeps took real seconds');
  });

  test('the result counts schedules, steps and switches; timeLimit ends a run early', T, async () => {
    const body = () => {
      const n = new AtomicI32(0);
      const t = spawn((n: AtomicI32) => void n.fetchAdd(1), n);
      n.fetchAdd(1);
      t.join();
      assert.equal(n.load(), 2);
    };
    const r = await model(body, { schedules: 30 });
    assert.equal(r.schedules, 30);
    assert.ok(r.steps > 30 && r.switches > 0, JSON.stringify(r));
    const limited = await model(body, { schedules: 1_000_000, timeLimit: 300 });
    assert.ok(limited.schedules >= 1 && limited.schedules < 1_000_000);
  });

  test('a seed replays one schedule; strategy narrows the schedules tried', T, async () => {
    const body = () => {};
    assert.deepEqual((await model(body, { seed: 123456789 })).schedules, 1);
    assert.equal((await model(body, { schedules: 12, strategy: 'pct' })).schedules, 12);
    assert.equal((await model(body, { schedules: 12, strategy: 'random' })).schedules, 12);
  });

  test('bad input is refused with an error naming it', T, async () => {
    await assert.rejects(model(42 as never), { name: 'TypeError', message: /model\(\): body must be a function, got number 42/ });
    await assert.rejects(model(() => {}, 'x' as never), { name: 'TypeError', message: /options must be an object/ });
    await assert.rejects(model(() => {}, { schedules: 0 }), { name: 'RangeError', message: /options\.schedules must be an integer >= 1, got number 0/ });
    await assert.rejects(model(() => {}, { maxSteps: 1.5 }), { name: 'RangeError', message: /options\.maxSteps/ });
    await assert.rejects(model(() => {}, { seed: -1 }), { name: 'RangeError', message: /options\.seed must be a seed printed by a failing model run/ });
    await assert.rejects(model(() => {}, { strategy: 'dfs' as never }), { name: 'RangeError', message: /options\.strategy must be 'random' or 'pct'/ });
    await assert.rejects(model(() => {}, { timeLimit: -5 }), { name: 'RangeError', message: /options\.timeLimit/ });
  });

  test('models do not nest', T, async () => {
    await assert.rejects(
      model(
        async () => {
          await model(() => {});
        },
        { schedules: 1 },
      ),
      /the body threw: Error: model\(\): another model is running in this thread/,
    );
  });
});

describe('model() after a failed model', () => {
  test('a thread of a failed schedule that is slow to leave takes no step in the next model', T, async () => {
    // Two raw heap words: [go on, left]. The thread of the first model is held up right
    // after the notify of the model's live count as it leaves, as a loaded machine may
    // hold it; the model returns and frees its control block, and the next model's
    // block takes its place. Only then does the thread go on.
    const words = alloc(8);
    const w = words >> 2;
    try {
      await assert.rejects(
        model(
          () => {
            const m = new Mutex(false);
            const cv = new Condvar();
            spawn(
              (m: Mutex<boolean>, cv: Condvar, w: number, live: number) => {
                const g = m.lock();
                try {
                  cv.waitWhile(g, (ready) => !ready); // never notified: the model fails, the wait throws
                } finally {
                  // All this thread does with the model from here on is leave it. The
                  // control block is a view of its own (weft's words are views of the whole heap).
                  const notify = Atomics.notify;
                  Atomics.notify = (view: Int32Array | BigInt64Array, index: number, count?: number): number => {
                    const r = notify(view as Int32Array, index, count);
                    if (view.byteOffset !== 0 && index === live) {
                      Atomics.notify = notify;
                      const h = new Int32Array(view.buffer);
                      Atomics.wait(h, w, 0, 30_000);
                      // After the rest of this thread's leaving (the job this notify runs in):
                      // where the block it left was.
                      queueMicrotask(() => {
                        Atomics.store(h, w + 1, view.byteOffset);
                        Atomics.notify(h, w + 1);
                      });
                    }
                    return r;
                  };
                }
              },
              m,
              cv,
              w,
              G_LIVE,
            );
          },
          { schedules: 1 },
        ),
        /the body returned with threads left blocked forever/,
      );
      const r = await model(
        () => {
          const i = heap().i32;
          Atomics.store(i, w, 1);
          Atomics.notify(i, w);
          // The held-up thread finishes leaving while this execution runs (not a step of it).
          assert.notEqual(Atomics.wait(i, w + 1, 0, 30_000), 'timed-out');
          // ...in this execution's control block (its step budget is there).
          assert.equal(Atomics.load(i, (Atomics.load(i, w + 1) >> 2) + G_MAX_STEPS), 4321);
          assert.equal(spawn(() => 7).join(), 7);
        },
        { schedules: 1, maxSteps: 4321 },
      );
      assert.equal(r.schedules, 1);
    } finally {
      free(words);
    }
  });
});
