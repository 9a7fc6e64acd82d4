// OnceLock, LazyLock and shared(), after Rust's library/std/tests/sync/once_lock.rs
// and lazy_lock.rs, with real threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, heapStats, LazyLock, OnceLock, PoisonError, scope, shared, sleep, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };
const tick = () => new Promise((r) => setTimeout(r, 1));

describe('OnceLock', () => {
  test('smoke: get, set, getOrInit; another thread reads the same value', T, () => {
    const cell = new OnceLock<{ v: number }>();
    assert.equal(cell.get(), undefined);
    assert.equal(spawn((c: OnceLock<{ v: number }>) => c.set({ v: 1 }), cell).join(), true);
    assert.equal(cell.set({ v: 2 }), false);
    assert.deepEqual(cell.getOrInit(() => ({ v: 3 })), { v: 1 });
    assert.equal(cell.get(), cell.get()); // decoded once per handle
    assert.deepEqual(spawn((c: OnceLock<{ v: number }>) => c.get(), cell).join(), { v: 1 });
    cell.close();
    assert.throws(() => cell.get(), /OnceLock is closed/);
  });

  test('undefined is a value like any other', T, () => {
    const cell = new OnceLock<undefined>();
    assert.equal(cell.set(undefined), true);
    assert.equal(cell.getOrInit(() => assert.fail('already set')), undefined);
    assert.equal(cell.set(undefined), false);
  });

  test('concurrent getOrInit: exactly one initialiser across threads, all read its value', T, () => {
    for (let round = 0; round < 5; round++) {
      const cell = new OnceLock<number>();
      const inits = new AtomicI32(0);
      const values = scope((s) => Array.from({ length: 6 }, (_, t) =>
        s.spawn((c: OnceLock<number>, n: AtomicI32, me: number) => c.getOrInit(() => {
          n.fetchAdd(1);
          let x = 0;
          for (let k = 0; k < 1e5; k++) x += k;
          return me * 1000 + (x > 0 ? 1 : 0);
        }), cell, inits, t)).map((h) => h.join()));
      assert.equal(inits.load(), 1);
      assert.equal(new Set(values).size, 1);
      assert.equal(cell.wait(), values[0]);
    }
  });

  test('a throwing initialiser leaves it empty: the caller retries, and a waiter runs its own', T, () => {
    const cell = new OnceLock<string>();
    assert.throws(() => cell.getOrInit(() => {
      throw new Error('nope');
    }), /nope/);
    assert.equal(cell.get(), undefined);

    const inside = new AtomicI32(0);
    const fail = new AtomicI32(0);
    const failing = spawn((c: OnceLock<string>, i: AtomicI32, f: AtomicI32) => {
      try {
        c.getOrInit(() => {
          i.store(1);
          while (f.load() === 0);
          throw new Error('first init failed');
        });
        return 'set';
      } catch (e) {
        return (e as Error).message;
      }
    }, cell, inside, fail);
    while (inside.load() === 0) sleep(1);
    const waiter = spawn((c: OnceLock<string>) => c.getOrInit(() => 'second'), cell);
    sleep(20); // the waiter queues behind the failing initialiser
    fail.store(1);
    assert.equal(failing.join(), 'first init failed');
    assert.equal(waiter.join(), 'second');
    assert.equal(cell.get(), 'second');
  });

  test('wait and waitAsync block until another thread sets it; handles inside arrive live', T, async () => {
    const cell = new OnceLock<{ counter: AtomicI32 }>();
    const blocked = spawn((c: OnceLock<{ counter: AtomicI32 }>) => c.wait().counter.fetchAdd(1), cell);
    const setter = spawn(async (c: OnceLock<{ counter: AtomicI32 }>) => {
      const { AtomicI32, sleep } = await import('weft');
      sleep(20);
      c.set({ counter: new AtomicI32(40) });
    }, cell);
    const v = await cell.waitAsync();
    await setter.joinAsync();
    await blocked.joinAsync();
    v.counter.fetchAdd(1);
    assert.equal(cell.get()!.counter.load(), 42);
  });

  test('getOrInitAsync: one async initialiser; other callers and threads wait for it', T, async () => {
    const cell = new OnceLock<string>();
    let runs = 0;
    const init = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 20));
      return 'made';
    };
    const first = cell.getOrInitAsync(init);
    const thread = spawn((c: OnceLock<string>) => c.getOrInit(() => 'thread'), cell);
    assert.deepEqual(await Promise.all([first, cell.getOrInitAsync(init), cell.waitAsync()]), ['made', 'made', 'made']);
    assert.equal(runs, 1);
    assert.equal(await thread.joinAsync(), 'made');
  });

  test('a thread killed while initialising leaves it empty for the next caller', T, async () => {
    const cell = new OnceLock<string>();
    const inside = new AtomicI32(0);
    const dying = spawn((c: OnceLock<string>, i: AtomicI32) => c.getOrInit(() => {
      i.store(1);
      for (;;);
    }), cell, inside);
    while (inside.load() === 0) await tick();
    const waiter = spawn((c: OnceLock<string>) => c.getOrInit(() => 'survivor'), cell);
    await new Promise((r) => setTimeout(r, 20));
    await dying.terminate();
    assert.equal(await waiter.joinAsync(), 'survivor');
    assert.equal(cell.get(), 'survivor');
  });

  test('an unencodable value is a TypeError and leaves the cell empty', T, () => {
    const cell = new OnceLock<unknown>();
    assert.throws(() => cell.set({ f: () => 1 }), TypeError);
    assert.throws(() => cell.getOrInit(() => Symbol('x')), TypeError);
    assert.equal(cell.get(), undefined);
    assert.equal(cell.set(5), true);
  });

  test('dropped OnceLocks free their values', T, () => {
    const make = () => {
      const cell = new OnceLock<number[]>();
      cell.set(Array.from({ length: 64 }, (_, k) => k));
      cell.close();
    };
    for (let k = 0; k < 100; k++) make();
    const before = heapStats().live;
    for (let k = 0; k < 2000; k++) make();
    assert.ok(heapStats().live - before < 16 << 10, `live heap grew by ${heapStats().live - before} bytes`);
  });
});

describe('LazyLock', () => {
  test('init runs on first access only, in the thread that made it', T, () => {
    let runs = 0;
    const lazy = new LazyLock(() => ++runs * 10);
    assert.equal(runs, 0);
    assert.equal(lazy.value, 10);
    assert.equal(lazy.value, 10);
    assert.equal(runs, 1);
  });

  test('sending forces it: the receiving thread finds the value', T, () => {
    let runs = 0;
    const lazy = new LazyLock(() => ({ made: ++runs }));
    assert.deepEqual(spawn((l: LazyLock<{ made: number }>) => l.value, lazy).join(), { made: 1 });
    assert.deepEqual(lazy.value, { made: 1 });
    assert.equal(runs, 1);
  });

  test('poisoning: a throwing init poisons it; later accesses and sends throw PoisonError', T, () => {
    const lazy = new LazyLock<number>(() => {
      throw new Error('init failed');
    });
    assert.throws(() => lazy.value, /init failed/);
    assert.throws(() => lazy.value, (e: Error) => e instanceof PoisonError && /LazyLock instance has previously been poisoned/.test(e.message));
    assert.throws(() => spawn((l: LazyLock<number>) => l.value, lazy), PoisonError);
  });

  test('new LazyLock needs a function', T, () => {
    assert.throws(() => new LazyLock(5 as unknown as () => number), TypeError);
  });
});

describe('shared()', () => {
  test('every thread gets the same handles for the same key', T, () => {
    const mine = shared('once_lock.test/hits', () => new AtomicI32(0));
    assert.equal(shared('once_lock.test/hits', () => new AtomicI32(99)), mine);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn(async () => {
          const { shared, AtomicI32 } = await import('weft');
          const hits = shared('once_lock.test/hits', () => new AtomicI32(-1000));
          for (let k = 0; k < 100; k++) hits.fetchAdd(1);
        });
      }
    });
    assert.equal(mine.load(), 400);
  });

  test('racing first callers in several threads agree on one value, made once', T, () => {
    const inits = new AtomicI32(0);
    const ids = scope((s) => Array.from({ length: 6 }, (_, t) => s.spawn(async (me: number, n: AtomicI32) => {
      const { shared } = await import('weft');
      return shared('once_lock.test/race', () => {
        n.fetchAdd(1);
        return { winner: me };
      }).winner;
    }, t, inits)).map((h) => h.join()));
    assert.equal(inits.load(), 1);
    assert.equal(new Set(ids).size, 1);
    assert.equal(shared('once_lock.test/race', () => ({ winner: -1 })).winner, ids[0]);
  });

  test('a throwing init leaves the key unset for the next caller; keys are independent', T, () => {
    assert.throws(() => shared('once_lock.test/flaky', () => {
      throw new Error('not yet');
    }), /not yet/);
    assert.equal(shared('once_lock.test/flaky', () => 'now'), 'now');
    assert.equal(shared('once_lock.test/other', () => 'other'), 'other');
    assert.throws(() => shared(1 as unknown as string, () => 0), TypeError);
  });
});
