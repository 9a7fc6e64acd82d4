// Once, after Rust's library/std/tests/sync/once.rs, with real threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Once, PoisonError, scope, sleep, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };

describe('Once', () => {
  test('smoke: runs once; later calls, isCompleted and wait see it done', T, () => {
    const once = new Once();
    let runs = 0;
    assert.equal(once.isCompleted(), false);
    once.callOnce(() => void runs++);
    assert.equal(runs, 1);
    once.callOnce(() => void runs++);
    once.callOnceForce(() => void runs++);
    assert.equal(runs, 1);
    assert.equal(once.isCompleted(), true);
    once.wait();
    once.close();
    assert.throws(() => once.callOnce(() => {}), /Once is closed/);
  });

  test('stampede: many threads, exactly one runs f, and every one returns after it ran', T, async () => {
    const once = new Once();
    const runs = new AtomicI32(0);
    const sawDone = new AtomicI32(0);
    const threads = Array.from({ length: 8 }, () => spawn((o: Once, r: AtomicI32, seen: AtomicI32) => {
      o.callOnce(() => {
        let x = 0;
        for (let k = 0; k < 2e6; k++) x += k; // long enough for the others to queue
        r.fetchAdd(x > 0 ? 1 : 0);
      });
      if (r.load() === 1 && o.isCompleted()) seen.fetchAdd(1);
    }, once, runs, sawDone));
    // The main thread joins the stampede without blocking its event loop.
    await once.callOnceAsync(async () => void runs.fetchAdd(1));
    for (const h of threads) await h.joinAsync();
    assert.equal(runs.load(), 1);
    assert.equal(sawDone.load(), 8);
  });

  test('exactly one initialiser per Once under contention (many Onces, several threads)', T, () => {
    const onces = Array.from({ length: 200 }, () => new Once());
    const runs = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((all: Once[], r: AtomicI32) => {
          for (const o of all) {
            o.callOnce(() => void r.fetchAdd(1));
            if (!o.isCompleted()) throw new Error('callOnce returned before completion');
          }
        }, onces, runs);
      }
    });
    assert.equal(runs.load(), onces.length);
  });

  test('poison_bad: a throw poisons it; callOnce and wait throw PoisonError; callOnceForce heals it', T, () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('boom');
    }), /boom/);
    assert.equal(once.isCompleted(), false);
    assert.throws(() => once.callOnce(() => assert.fail('must not run')), PoisonError);
    assert.throws(() => once.wait(), (e: Error) => e instanceof PoisonError && /previously been poisoned/.test(e.message));
    // A forced run that throws leaves it poisoned.
    assert.throws(() => once.callOnceForce(() => {
      throw new Error('again');
    }), /again/);
    let sawPoison: boolean | undefined;
    once.callOnceForce((state) => {
      sawPoison = state.isPoisoned;
    });
    assert.equal(sawPoison, true);
    assert.equal(once.isCompleted(), true);
    once.callOnce(() => assert.fail('must not run again'));
    once.callOnceForce(() => assert.fail('must not run again'));
  });

  test('wait_for_force_to_finish: a callOnce during a forced run waits for it instead of throwing', T, () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('first');
    }));
    const inside = new AtomicI32(0);
    const release = new AtomicI32(0);
    const forcer = spawn((o: Once, i: AtomicI32, r: AtomicI32) => {
      let poisoned = false;
      o.callOnceForce((state) => {
        poisoned = state.isPoisoned;
        i.store(1);
        while (r.load() === 0);
      });
      return poisoned;
    }, once, inside, release);
    while (inside.load() === 0) sleep(1);
    const caller = spawn((o: Once) => {
      o.callOnce(() => {
        throw new Error('must not run');
      });
      return o.isCompleted();
    }, once);
    sleep(20); // give the caller time to queue behind the forced run
    release.store(1);
    assert.equal(forcer.join(), true);
    assert.equal(caller.join(), true);
  });

  test('wait() and waitAsync() block until another thread completes it', T, async () => {
    const once = new Once();
    const waiting = new AtomicI32(0);
    const waiters = [0, 1, 2].map(() => spawn((o: Once, w: AtomicI32) => {
      w.fetchAdd(1);
      o.wait();
      return o.isCompleted();
    }, once, waiting));
    const mainWait = once.waitAsync().then(() => once.isCompleted());
    while (waiting.load() < 3) await new Promise((r) => setTimeout(r, 1));
    spawn((o: Once) => o.callOnce(() => {}), once).join();
    for (const w of waiters) assert.equal(await w.joinAsync(), true);
    assert.equal(await mainWait, true);
  });

  test('a thread killed inside callOnce leaves it poisoned and wakes every waiter', T, async () => {
    const once = new Once();
    const inside = new AtomicI32(0);
    const runner = spawn((o: Once, i: AtomicI32) => {
      o.callOnce(() => {
        i.store(1);
        for (;;);
      });
    }, once, inside);
    while (inside.load() === 0) await new Promise((r) => setTimeout(r, 1));
    const outcome = (e: unknown) => (e instanceof Error ? e.name : 'completed');
    const blocked = [
      spawn((o: Once) => {
        try {
          o.wait();
          return 'completed';
        } catch (e) {
          return (e as Error).name;
        }
      }, once),
      spawn((o: Once) => {
        try {
          o.callOnce(() => {});
          return 'completed';
        } catch (e) {
          return (e as Error).name;
        }
      }, once),
    ];
    const asyncWait = once.waitAsync().then(() => 'completed', outcome);
    const asyncCall = once.callOnceAsync(async () => {}).then(() => 'completed', outcome);
    await new Promise((r) => setTimeout(r, 30)); // let the waiters queue
    await runner.terminate();
    await assert.rejects(runner.joinAsync(), /./);
    for (const h of blocked) assert.equal(await h.joinAsync(), 'PoisonError');
    assert.equal(await asyncWait, 'PoisonError');
    assert.equal(await asyncCall, 'PoisonError');
    let healed = false;
    once.callOnceForce((s) => {
      healed = s.isPoisoned;
    });
    assert.equal(healed, true);
    assert.equal(once.isCompleted(), true);
  });

  test('callOnceAsync: RUNNING is held across awaits; one run for all callers; a rejection poisons', T, async () => {
    const once = new Once();
    let runs = 0;
    const f = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
    };
    // A thread calling the blocking spelling waits for the main thread's async run.
    const started = once.callOnceAsync(f);
    const other = spawn((o: Once) => {
      o.callOnce(() => {
        throw new Error('must not run');
      });
      return o.isCompleted();
    }, once);
    await Promise.all([started, once.callOnceAsync(f), once.waitAsync()]);
    assert.equal(runs, 1);
    assert.equal(await other.joinAsync(), true);

    const bad = new Once();
    await assert.rejects(bad.callOnceAsync(async () => {
      throw new Error('async boom');
    }), /async boom/);
    await assert.rejects(bad.callOnceAsync(async () => {}), PoisonError);
    await assert.rejects(bad.waitAsync(), PoisonError);
  });

  test('a handle sent to another thread is the same Once', T, () => {
    const once = new Once();
    once.callOnce(() => {});
    assert.equal(spawn((o: Once) => {
      let ran = false;
      o.callOnce(() => {
        ran = true;
      });
      return ran;
    }, once).join(), false);
  });
});
