// The rest of Rust's atomic API: fetchMax, fetchMin, fetchNand, fetchNot (AtomicBool),
// fetchUpdate, compareExchangeWeak, and AtomicU64. Rust's doc examples and
// library/core/tests/atomic.rs ported with their values; Rust's ordering arguments are
// left out (every weft atomic is SeqCst). Then the read-modify-write loops across
// threads, where a lost update would show in the totals.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };
const U64_MAX = 2n ** 64n - 1n;

describe('fetchMax / fetchMin (Rust doc examples and core tests)', () => {
  test('doc example fetch_max: 23 then 42, and the maximum in one step', () => {
    const foo = new AtomicI32(23);
    assert.equal(foo.fetchMax(42), 23);
    assert.equal(foo.load(), 42);
    const bar = 42;
    const maxFoo = Math.max(foo.fetchMax(bar), bar);
    assert.equal(maxFoo, 42);
  });

  test('doc example fetch_min: 42 leaves 23, 22 replaces it; the minimum in one step', () => {
    const foo = new AtomicI32(23);
    assert.equal(foo.fetchMin(42), 23);
    assert.equal(foo.load(), 23);
    assert.equal(foo.fetchMin(22), 23);
    assert.equal(foo.load(), 22);
    const foo2 = new AtomicI32(23);
    const bar = 12;
    assert.equal(Math.min(foo2.fetchMin(bar), bar), 12);
  });

  test('core tests uint_min / uint_max / int_min / int_max on every integer atomic', () => {
    for (const make of [
      () => new AtomicI32(0xf731), () => new AtomicU32(0xf731),
      () => new AtomicI64(0xf731), () => new AtomicU64(0xf731),
    ]) {
      const big = (v: number) => (typeof make().load() === 'bigint' ? BigInt(v) : v);
      const x = make();
      assert.equal(x.fetchMin(0x137f as never), big(0xf731));
      assert.equal(x.load(), big(0x137f));
      assert.equal(x.fetchMin(0xf731 as never), big(0x137f));
      assert.equal(x.load(), big(0x137f));
      const y = make();
      assert.equal(y.fetchMax(0x137f as never), big(0xf731));
      assert.equal(y.load(), big(0xf731));
      assert.equal(y.fetchMax(0xf731 as never), big(0xf731));
      assert.equal(y.load(), big(0xf731));
    }
  });

  test('signed atomics compare signed, unsigned ones unsigned', () => {
    const i = new AtomicI32(-5);
    assert.equal(i.fetchMax(3), -5);
    assert.equal(i.load(), 3);
    assert.equal(i.fetchMin(-(2 ** 31)), 3);
    assert.equal(i.load(), -(2 ** 31));
    const u = new AtomicU32(1);
    assert.equal(u.fetchMax(0x8000_0000), 1); // above i32's range: still the larger
    assert.equal(u.load(), 0x8000_0000);
    assert.equal(u.fetchMin(2 ** 32 - 1), 0x8000_0000);
    assert.equal(u.load(), 0x8000_0000);
    const l = new AtomicI64(-1n);
    assert.equal(l.fetchMax(1n), -1n);
    assert.equal(l.load(), 1n);
    const ul = new AtomicU64(1n);
    assert.equal(ul.fetchMax(2n ** 63n), 1n); // negative as an i64 word, larger as a u64
    assert.equal(ul.load(), 2n ** 63n);
    assert.equal(ul.fetchMin(U64_MAX), 2n ** 63n);
    assert.equal(ul.load(), 2n ** 63n);
  });
});

describe('fetchNand / fetchNot', () => {
  test('doc example fetch_nand (integers): 0x13 nand 0x31', () => {
    const foo = new AtomicI32(0x13);
    assert.equal(foo.fetchNand(0x31), 0x13);
    assert.equal(foo.load(), ~(0x13 & 0x31));
  });

  test('core tests uint_nand / int_nand: 0xf731 nand 0x137f, in each width', () => {
    const i = new AtomicI32(0xf731);
    assert.equal(i.fetchNand(0x137f), 0xf731);
    assert.equal(i.load(), ~(0xf731 & 0x137f));
    const u = new AtomicU32(0xf731);
    assert.equal(u.fetchNand(0x137f), 0xf731);
    assert.equal(u.load(), ~(0xf731 & 0x137f) >>> 0);
    const l = new AtomicI64(0xf731n);
    assert.equal(l.fetchNand(0x137fn), 0xf731n);
    assert.equal(l.load(), ~(0xf731n & 0x137fn));
    const ul = new AtomicU64(0xf731n);
    assert.equal(ul.fetchNand(0x137fn), 0xf731n);
    assert.equal(ul.load(), U64_MAX ^ (0xf731n & 0x137fn));
  });

  test('doc example fetch_nand (AtomicBool) and core test bool_nand', () => {
    let foo = new AtomicBool(true);
    assert.equal(foo.fetchNand(false), true);
    assert.equal(foo.load(), true);
    foo = new AtomicBool(true);
    assert.equal(foo.fetchNand(true), true);
    assert.equal(foo.load(), false);
    foo = new AtomicBool(false);
    assert.equal(foo.fetchNand(false), false);
    assert.equal(foo.load(), true);

    const a = new AtomicBool(false);
    assert.equal(a.fetchNand(false), false);
    assert.equal(a.load(), true);
    assert.equal(a.fetchNand(false), true);
    assert.equal(a.load(), true);
    assert.equal(a.fetchNand(true), true);
    assert.equal(a.load(), false);
    assert.equal(a.fetchNand(true), false);
    assert.equal(a.load(), true);
  });

  test('doc example fetch_not (AtomicBool)', () => {
    let foo = new AtomicBool(true);
    assert.equal(foo.fetchNot(), true);
    assert.equal(foo.load(), false);
    foo = new AtomicBool(false);
    assert.equal(foo.fetchNot(), false);
    assert.equal(foo.load(), true);
  });
});

describe('fetchUpdate / compareExchangeWeak', () => {
  test('doc example fetch_update: Err(7), Ok(7), Ok(8), then 9', () => {
    const x = new AtomicI32(7);
    assert.deepEqual(x.fetchUpdate(() => undefined), { ok: false, value: 7 });
    assert.deepEqual(x.fetchUpdate((v) => v + 1), { ok: true, value: 7 });
    assert.deepEqual(x.fetchUpdate((v) => v + 1), { ok: true, value: 8 });
    assert.equal(x.load(), 9);
  });

  test('doc example fetch_update (AtomicBool): Err(false), Ok(false), Ok(true), then false', () => {
    const x = new AtomicBool(false);
    assert.deepEqual(x.fetchUpdate(() => undefined), { ok: false, value: false });
    assert.deepEqual(x.fetchUpdate((v) => !v), { ok: true, value: false });
    assert.deepEqual(x.fetchUpdate((v) => !v), { ok: true, value: true });
    assert.equal(x.load(), false);
  });

  test('fetch_update in 64 bits, and f told apart from the value it returns', () => {
    const x = new AtomicI64(7n);
    assert.deepEqual(x.fetchUpdate(() => undefined), { ok: false, value: 7n });
    assert.deepEqual(x.fetchUpdate((v) => v * 3n), { ok: true, value: 7n });
    assert.equal(x.load(), 21n);
    const u = new AtomicU64(U64_MAX);
    assert.deepEqual(u.fetchUpdate((v) => v + 1n), { ok: true, value: U64_MAX }); // wraps, as `as u64`
    assert.equal(u.load(), 0n);
  });

  test('doc example compare_exchange_weak: the doubling loop', () => {
    const val = new AtomicI32(4);
    let old = val.load();
    for (;;) {
      const r = val.compareExchangeWeak(old, old * 2);
      if (r.ok) break;
      old = r.value;
    }
    assert.equal(val.load(), 8);
    assert.deepEqual(val.compareExchangeWeak(4, 1), { ok: false, value: 8 });
    const u = new AtomicU64(U64_MAX);
    assert.deepEqual(u.compareExchangeWeak(U64_MAX, 1n), { ok: true, value: U64_MAX });
    assert.deepEqual(new AtomicBool(true).compareExchangeWeak(false, true), { ok: false, value: true });
  });

  test('bad arguments are named and change nothing', () => {
    const x = new AtomicI32(1);
    assert.throws(() => x.fetchUpdate(5 as never), (e: Error) =>
      e instanceof TypeError && /AtomicI32.fetchUpdate\(f\)/.test(e.message) && /number 5/.test(e.message));
    assert.throws(() => x.fetchUpdate(() => 2 ** 40), (e: Error) => e instanceof TypeError && /AtomicI32.fetchUpdate/.test(e.message));
    assert.throws(() => x.fetchMax(1.5), TypeError);
    assert.throws(() => x.fetchNand('1' as never), /got the string '1'/);
    assert.equal(x.load(), 1);
    const u = new AtomicU32(3);
    assert.throws(() => u.fetchMin(-1), TypeError);
    assert.equal(u.load(), 3);
    assert.throws(() => new AtomicBool(false).fetchNand(1 as never), TypeError);
  });

  test('f sees the newest value when another thread changed it in between (it runs again)', T, () => {
    const x = new AtomicI32(0);
    let calls = 0;
    const r = x.fetchUpdate((v) => {
      calls++;
      // The first time, another thread moves the value on before our exchange.
      if (calls === 1) spawn((a: AtomicI32) => a.fetchAdd(10), x).join();
      return v + 1;
    });
    assert.equal(calls, 2);
    assert.deepEqual(r, { ok: true, value: 10 });
    assert.equal(x.load(), 11);
  });
});

describe('AtomicU64', () => {
  test('a bigint counter from 0 to 2^64 - 1, wrapping as Rust does', () => {
    const a = new AtomicU64();
    assert.equal(a.load(), 0n);
    assert.equal(a.fetchSub(1), 0n);
    assert.equal(a.load(), U64_MAX);
    assert.equal(a.fetchAdd(2n), U64_MAX);
    assert.equal(a.load(), 1n);
    a.store(2n ** 63n);
    assert.equal(a.swap(5), 2n ** 63n);
    assert.deepEqual(a.compareExchange(5n, U64_MAX), { ok: true, value: 5n });
    assert.equal(a.fetchAnd(0xffn), U64_MAX);
    assert.equal(a.fetchOr(0x100n), 0xffn);
    assert.equal(a.fetchXor(0x1ffn), 0x1ffn);
    assert.equal(a.load(), 0n);
    a.store(-1n); // a bigint is wrapped to 64 bits, as `as u64`
    assert.equal(a.load(), U64_MAX);
  });

  test('arguments: bigints, or non-negative safe integers; anything else throws before allocating', () => {
    assert.equal(new AtomicU64(5).load(), 5n);
    assert.equal(new AtomicU64(2n ** 64n + 3n).load(), 3n);
    assert.throws(() => new AtomicU64(-1), (e: Error) => e instanceof TypeError && /new AtomicU64/.test(e.message));
    assert.throws(() => new AtomicU64(2 ** 60), TypeError);
    assert.throws(() => new AtomicU64('1' as never), /got the string '1'/);
    const a = new AtomicU64(1);
    assert.throws(() => a.fetchAdd(-1), /AtomicU64.fetchAdd/);
    assert.equal(a.load(), 1n);
  });

  test('shared with threads: one object, the same value everywhere', T, () => {
    const a = new AtomicU64(U64_MAX - 1n);
    const hs = Array.from({ length: 3 }, () => spawn((a: AtomicU64) => {
      for (let k = 0; k < 1000; k++) a.fetchAdd(1);
      return a.load() >= 0n;
    }, a));
    for (const h of hs) assert.equal(h.join(), true);
    assert.equal(a.load(), 2998n); // 2^64 - 2 + 3000, wrapped
  });
});

describe('read-modify-write loops across threads lose no update', () => {
  const THREADS = 4;
  const ROUNDS = 5_000;

  test('fetchUpdate as an increment, in 32 and 64 bits', T, () => {
    const x = new AtomicI32(0);
    const y = new AtomicU64(0);
    const hs = Array.from({ length: THREADS }, () => spawn((x: AtomicI32, y: AtomicU64, n: number) => {
      for (let k = 0; k < n; k++) {
        x.fetchUpdate((v) => v + 1);
        y.fetchUpdate((v) => v + 2n);
      }
    }, x, y, ROUNDS));
    for (const h of hs) h.join();
    assert.equal(x.load(), THREADS * ROUNDS);
    assert.equal(y.load(), BigInt(2 * THREADS * ROUNDS));
  });

  test('fetchMax / fetchMin: the extremes of every value any thread offered', T, () => {
    const max = new AtomicI32(-1);
    const min = new AtomicU32(2 ** 32 - 1);
    const hs = Array.from({ length: THREADS }, (_, t) => spawn((max: AtomicI32, min: AtomicU32, t: number, n: number, threads: number) => {
      for (let k = 0; k < n; k++) {
        const v = k * threads + t; // each thread offers its own values, rising
        const before = max.fetchMax(v);
        if (max.load() < v || max.load() < before) throw new Error('fetchMax went down');
        min.fetchMin(2 ** 32 - 1 - v);
      }
    }, max, min, t, ROUNDS, THREADS));
    for (const h of hs) h.join();
    assert.equal(max.load(), THREADS * ROUNDS - 1);
    assert.equal(min.load(), 2 ** 32 - THREADS * ROUNDS);
  });

  test('fetchNand twice is a no-op for an all-ones mask: toggles from several threads cancel out', T, () => {
    // nand with -1 is bitwise not; an even number of them restores the value.
    const x = new AtomicI32(0x5a5a);
    const hs = Array.from({ length: THREADS }, () => spawn((x: AtomicI32, n: number) => {
      for (let k = 0; k < 2 * n; k++) x.fetchNand(-1);
    }, x, ROUNDS));
    for (const h of hs) h.join();
    assert.equal(x.load(), 0x5a5a);
  });
});
