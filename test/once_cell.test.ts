// OnceCell, after tokio's tests/sync_once_cell.rs, in one event loop and across threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, OnceCell, SetError, scope, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isSetError = (kind: SetError['kind']) => (e: unknown) => e instanceof SetError && e.kind === kind;

describe('OnceCell', () => {
  test('get_uninit, set_and_get, set_twice', T, () => {
    const cell = new OnceCell<number>();
    assert.equal(cell.get(), undefined);
    assert.equal(cell.initialized(), false);
    cell.set(5);
    assert.equal(cell.get(), 5);
    assert.equal(cell.initialized(), true);
    assert.throws(() => cell.set(6), isSetError('AlreadyInitialized'));
    assert.equal(cell.get(), 5);
  });

  test('set_while_initializing: set fails with Initializing while an init runs', T, async () => {
    const cell = new OnceCell<number>();
    const slow = cell.getOrInit(async () => {
      await delay(20);
      return 1;
    });
    assert.throws(() => cell.set(2), isSetError('Initializing'));
    assert.equal(await slow, 1);
    assert.throws(() => cell.set(3), isSetError('AlreadyInitialized'));
  });

  test('get_or_init: concurrent callers in one event loop run one init', T, async () => {
    const cell = new OnceCell<string>();
    let runs = 0;
    const init = async () => {
      runs++;
      await delay(10);
      return 'v';
    };
    assert.deepEqual(await Promise.all([cell.getOrInit(init), cell.getOrInit(init), cell.getOrInit(() => 'sync')]), ['v', 'v', 'v']);
    assert.equal(runs, 1);
    assert.equal(await cell.getOrInit(() => 'later'), 'v');
  });

  test('get_or_init_panic / get_or_try_init: a rejection leaves it empty and the next waiter runs its own', T, async () => {
    const cell = new OnceCell<number>();
    const first = cell.getOrTryInit(async () => {
      await delay(10);
      throw new Error('first failed');
    });
    const second = cell.getOrTryInit(async () => 2);
    const third = cell.getOrInit(() => 3);
    await assert.rejects(first, /first failed/);
    assert.equal(await second, 2);
    assert.equal(await third, 2);
    // A synchronous throw is a rejection too.
    const other = new OnceCell<number>();
    await assert.rejects(other.getOrInit(() => {
      throw new Error('sync throw');
    }), /sync throw/);
    assert.equal(other.initialized(), false);
  });

  test('take empties it; the cell can be set again', T, async () => {
    const cell = new OnceCell<{ n: number }>();
    assert.equal(cell.take(), undefined);
    cell.set({ n: 1 });
    assert.deepEqual(cell.take(), { n: 1 });
    assert.equal(cell.get(), undefined);
    assert.equal(cell.take(), undefined);
    assert.deepEqual(await cell.getOrInit(() => ({ n: 2 })), { n: 2 });
    assert.deepEqual(cell.get(), { n: 2 });
  });

  test('an unencodable value leaves the cell empty', T, async () => {
    const cell = new OnceCell<unknown>();
    assert.throws(() => cell.set(() => 1), TypeError);
    await assert.rejects(cell.getOrInit(() => Symbol('s')), TypeError);
    assert.equal(cell.initialized(), false);
    cell.set(1);
    assert.equal(cell.get(), 1);
  });

  test('across threads: exactly one init, every thread gets its value', T, async () => {
    for (let round = 0; round < 3; round++) {
      const cell = new OnceCell<number>();
      const inits = new AtomicI32(0);
      const threads = [1, 2, 3, 4].map((k) => spawn(async (c: OnceCell<number>, n: AtomicI32, me: number) =>
        c.getOrInit(async () => {
          n.fetchAdd(1);
          await new Promise((r) => setTimeout(r, 5));
          return me;
        }), cell, inits, k));
      const mine = await cell.getOrInit(async () => {
        inits.fetchAdd(1);
        return 0;
      });
      const got = await Promise.all(threads.map((h) => h.joinAsync()));
      assert.equal(inits.load(), 1);
      assert.equal(new Set([mine, ...got]).size, 1);
    }
  });

  test('a thread killed while initialising leaves it empty; a waiter runs its own init', T, async () => {
    const cell = new OnceCell<string>();
    const inside = new AtomicI32(0);
    const dying = spawn(async (c: OnceCell<string>, i: AtomicI32) => c.getOrInit(() => {
      i.store(1);
      for (;;);
    }), cell, inside);
    while (inside.load() === 0) await delay(1);
    const waiting = cell.getOrInit(() => 'survivor');
    await delay(10);
    await dying.terminate();
    assert.equal(await waiting, 'survivor');
  });

  test('take while other threads read: readers see the value or nothing, never a freed one', T, () => {
    const cell = new OnceCell<number[]>();
    const stop = new AtomicI32(0);
    const reads = new AtomicI32(0);
    const value = Array.from({ length: 256 }, (_, k) => k);
    scope((s) => {
      for (let t = 0; t < 3; t++) {
        s.spawn((c: OnceCell<number[]>, halt: AtomicI32, n: AtomicI32) => {
          while (halt.load() === 0) {
            const v = c.get();
            if (v === undefined) continue;
            if (v.length !== 256 || v[255] !== 255) throw new Error('read a corrupt value');
            n.fetchAdd(1);
          }
        }, cell, stop, reads);
      }
      // Until the readers have raced many takes (bounded by the test timeout).
      for (let k = 0; k < 2000 || reads.load() < 200; k++) {
        cell.set(value); // readers never leave the cell non-EMPTY: set finds it EMPTY
        assert.deepEqual(cell.take(), value);
      }
      stop.store(1);
    });
    assert.equal(cell.initialized(), false);
  });

  test('handles are shared: a cell sent to a thread is the same cell', T, () => {
    const cell = new OnceCell<number>();
    spawn((c: OnceCell<number>) => c.set(9), cell).join();
    assert.equal(cell.get(), 9);
  });
});
