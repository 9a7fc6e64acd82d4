// Barrier, after Rust's library/std/tests/sync/barrier.rs, with real threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, Barrier, scope, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };

describe('Barrier', () => {
  test('test_barrier: nobody passes before all arrived; exactly one leader', T, () => {
    const n = 8;
    const barrier = new Barrier(n);
    const arrived = new AtomicI32(0);
    const leaders = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < n - 1; t++) {
        s.spawn((b: Barrier, a: AtomicI32, l: AtomicI32, size: number) => {
          a.fetchAdd(1);
          const { isLeader } = b.wait();
          if (a.load() !== size) throw new Error('passed the barrier before everyone arrived');
          if (isLeader) l.fetchAdd(1);
        }, barrier, arrived, leaders, n);
      }
      arrived.fetchAdd(1);
      if (barrier.wait().isLeader) leaders.fetchAdd(1);
      assert.equal(arrived.load(), n);
    });
    assert.equal(leaders.load(), 1);
  });

  test('reusable: one leader per generation over many generations', T, () => {
    const n = 5;
    const generations = 200;
    const barrier = new Barrier(n);
    const leaders = new AtomicI32(0);
    const phase = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < n; t++) {
        s.spawn((b: Barrier, l: AtomicI32, p: AtomicI32, gens: number) => {
          for (let g = 0; g < gens; g++) {
            if (p.load() !== g) throw new Error(`generation ${g} saw phase ${p.load()}`);
            // Everyone has checked the phase before the leader moves it on.
            b.wait();
            if (b.wait().isLeader) {
              l.fetchAdd(1);
              p.fetchAdd(1);
            }
            b.wait();
          }
        }, barrier, leaders, phase, generations);
      }
    });
    assert.equal(leaders.load(), generations);
    assert.equal(phase.load(), generations);
  });

  test('more callers than n: each group of n is released with one leader', T, () => {
    const n = 3;
    const small = new Barrier(n);
    const all = new Barrier(2 * n); // keeps the rounds in step, so every round fills two groups
    const leaders = new AtomicI32(0);
    const passed = new AtomicI32(0);
    const rounds = 100;
    scope((s) => {
      for (let t = 0; t < 2 * n; t++) {
        s.spawn((b: Barrier, everyone: Barrier, l: AtomicI32, p: AtomicI32, k: number) => {
          for (let r = 0; r < k; r++) {
            if (b.wait().isLeader) l.fetchAdd(1);
            p.fetchAdd(1);
            everyone.wait();
          }
        }, small, all, leaders, passed, rounds);
      }
    });
    assert.equal(passed.load(), 2 * n * rounds);
    assert.equal(leaders.load(), 2 * rounds);
  });

  test('waitAsync: threads and the event loop meet at one barrier', T, async () => {
    const barrier = new Barrier(4);
    const leaders = new AtomicI32(0);
    const threads = [0, 1].map(() => spawn((b: Barrier, l: AtomicI32) => {
      for (let g = 0; g < 20; g++) if (b.wait().isLeader) l.fetchAdd(1);
    }, barrier, leaders));
    for (let g = 0; g < 20; g++) {
      const results = await Promise.all([barrier.waitAsync(), barrier.waitAsync()]);
      for (const r of results) if (r.isLeader) leaders.fetchAdd(1);
    }
    for (const h of threads) await h.joinAsync();
    assert.equal(leaders.load(), 20);
  });

  test('Barrier(0) and Barrier(1) never block: every caller leads', T, async () => {
    for (const n of [0, 1]) {
      const b = new Barrier(n);
      assert.equal(b.wait().isLeader, true);
      assert.equal(b.wait().isLeader, true);
      assert.equal((await b.waitAsync()).isLeader, true);
    }
  });

  test('bad sizes: RangeError for out-of-range numbers, TypeError naming anything else', T, () => {
    for (const bad of [-1, 1.5, NaN, 2 ** 31]) assert.throws(() => new Barrier(bad), RangeError);
    assert.throws(() => new Barrier('2' as unknown as number), (e: Error) => e instanceof TypeError && /got the string '2'/.test(e.message));
    assert.throws(() => new Barrier(new Barrier(2) as unknown as number), /got a Barrier/);
  });
});
