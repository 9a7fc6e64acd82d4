import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, LazyLock, Once, OnceLock, PoisonError, scope, shared, sleep, spawn } from '../src/index.ts';

describe('Once', () => {
  test('smoke: runs once, later calls do nothing', () => {
    const once = new Once();
    let n = 0;
    once.callOnce(() => void n++);
    once.callOnce(() => void n++);
    assert.equal(n, 1);
    assert.equal(once.isCompleted(), true);
    once.wait();
  });

  test('stampede: many threads, one runs the function, all see it done', () => {
    const once = new Once();
    const runs = new AtomicI32(0);
    const seen = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 6; t++) {
        s.spawn((o: Once, r: AtomicI32, ok: AtomicI32) => {
          o.callOnce(() => {
            let x = 0;
            for (let k = 0; k < 1e6; k++) x += k; // long enough for the others to queue
            r.fetchAdd(x > 0 ? 1 : 0);
          });
          if (r.load() === 1 && o.isCompleted()) ok.fetchAdd(1);
        }, once, runs, seen);
      }
    });
    assert.equal(runs.load(), 1);
    assert.equal(seen.load(), 6);
  });

  test('poison_bad: a throw poisons it; callOnce then throws, callOnceForce sees it and heals', () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('boom');
    }), /boom/);
    assert.equal(once.isCompleted(), false);
    assert.throws(() => once.callOnce(() => {}), PoisonError);
    assert.throws(() => once.wait(), PoisonError);
    let sawPoison = false;
    once.callOnceForce((s) => {
      sawPoison = s.isPoisoned;
    });
    assert.equal(sawPoison, true);
    assert.equal(once.isCompleted(), true);
    once.callOnce(() => assert.fail('must not run again'));
  });

  test('wait_for_force_to_finish: waiters of a forced run see it complete', () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('first');
    }));
    const started = new AtomicI32(0);
    const forcer = spawn((o: Once, s: AtomicI32) => {
      o.callOnceForce(() => {
        s.store(1);
        const end = Date.now() + 100;
        while (Date.now() < end);
      });
    }, once, started);
    while (started.load() === 0) sleep(1);
    const waiter = spawn((o: Once) => {
      o.callOnce(() => {
        throw new Error('must not run');
      });
      return o.isCompleted();
    }, once);
    assert.equal(waiter.join(), true);
    forcer.join();
  });

  test('a thread killed inside callOnce leaves it poisoned and wakes every waiter', async () => {
    const once = new Once();
    const inside = new AtomicI32(0);
    const runner = spawn((o: Once, f: AtomicI32) => {
      o.callOnce(() => {
        f.store(1);
        for (;;);
      });
    }, once, inside);
    while (inside.load() === 0) sleep(1);
    const waiters = [0, 1].map(() => spawn(async (o: Once) => {
      try {
        o.wait();
        return 'completed';
      } catch (e) {
        return (e as Error).name;
      }
    }, once));
    const asyncWait = once.waitAsync().then(() => 'completed', (e: Error) => e.name);
    sleep(30);
    await runner.terminate();
    for (const w of waiters) assert.equal(await w.joinAsync(), 'PoisonError');
    assert.equal(await asyncWait, 'PoisonError');
  });

  test('callOnceAsync runs an async function once; concurrent callers wait for it', async () => {
    const once = new Once();
    let runs = 0;
    const f = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
    };
    await Promise.all([once.callOnceAsync(f), once.callOnceAsync(f), once.waitAsync()]);
    assert.equal(runs, 1);
    assert.equal(once.isCompleted(), true);
  });
});

describe('OnceLock and LazyLock', () => {
  test('get, set, getOrInit', () => {
    const cell = new OnceLock<{ v: number }>();
    assert.equal(cell.get(), undefined);
    assert.equal(cell.set({ v: 1 }), true);
    assert.equal(cell.set({ v: 2 }), false);
    assert.deepEqual(cell.getOrInit(() => ({ v: 3 })), { v: 1 });
    assert.equal(cell.get(), cell.get()); // decoded once per handle
  });

  test('a throwing initialiser leaves it empty; the next caller retries', () => {
    const cell = new OnceLock<number>();
    assert.throws(() => cell.getOrInit(() => {
      throw new Error('nope');
    }), /nope/);
    assert.equal(cell.get(), undefined);
    assert.equal(cell.getOrInit(() => 5), 5);
  });

  test('concurrent initialisation: exactly one initialiser runs, all threads read its value', () => {
    const cell = new OnceLock<number>();
    const inits = new AtomicI32(0);
    const values = scope((s) => Array.from({ length: 5 }, (_, t) =>
      s.spawn((c: OnceLock<number>, n: AtomicI32, me: number) => c.getOrInit(() => {
        n.fetchAdd(1);
        const end = Date.now() + 20;
        while (Date.now() < end);
        return 100 + me;
      }), cell, inits, t)).map((h) => h.join()));
    assert.equal(inits.load(), 1);
    assert.equal(new Set(values).size, 1);
    assert.equal(cell.wait(), values[0]);
  });

  test('wait blocks until another thread sets it; handles travel inside', async () => {
    const cell = new OnceLock<{ counter: AtomicI32 }>();
    const h = spawn(async (c: OnceLock<{ counter: AtomicI32 }>) => {
      const { AtomicI32, sleep } = await import('weft');
      sleep(20);
      c.set({ counter: new AtomicI32(41) });
    }, cell);
    const v = await cell.waitAsync();
    v.counter.fetchAdd(1);
    await h.joinAsync();
    assert.equal(cell.get()!.counter.load(), 42);
  });

  test('LazyLock: init on first access; a throw poisons it; sending forces it', () => {
    let runs = 0;
    const lazy = new LazyLock(() => ++runs * 10);
    assert.equal(runs, 0);
    assert.equal(spawn((l: LazyLock<number>) => l.value, lazy).join(), 10);
    assert.equal(lazy.value, 10);
    assert.equal(runs, 1);
    const bad = new LazyLock<number>(() => {
      throw new Error('init failed');
    });
    assert.throws(() => bad.value, /init failed/);
    assert.throws(() => bad.value, PoisonError);
  });
});

describe('shared()', () => {
  test('every thread gets the same handles for the same key', () => {
    const mine = shared('hits', () => new AtomicI32(0));
    assert.equal(shared('hits', () => new AtomicI32(99)), mine);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn(async () => {
          const { shared, AtomicI32 } = await import('weft');
          for (let k = 0; k < 100; k++) shared('hits', () => new AtomicI32(-1)).fetchAdd(1);
        });
      }
    });
    assert.equal(mine.load(), 400);
  });

  test('racing first callers agree on one value', () => {
    const ids = scope((s) => Array.from({ length: 4 }, (_, t) => s.spawn(async (me: number) => {
      const { shared } = await import('weft');
      return shared('race-key', () => ({ winner: me })).winner;
    }, t)).map((h) => h.join()));
    assert.equal(new Set(ids).size, 1);
    assert.equal(shared('race-key', () => ({ winner: -1 })).winner, ids[0]);
  });
});
