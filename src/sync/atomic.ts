// Atomic integers in the shared heap, with the operations of Rust's atomics. All are
// sequentially consistent (JS Atomics offer no weaker ordering, so Rust's ordering
// arguments have nothing to choose and are left out). Arguments are checked before
// anything is allocated or written. AtomicI64 and AtomicU64 work in bigint but also take
// safe-integer numbers (`new AtomicI64(1)`, `fetchAdd(1)`): their results are bigints.
//
// fetchMax, fetchMin, fetchNand and fetchUpdate have no single JS instruction: they are
// compare-exchange loops, which is what Rust compiles them to on most targets too. Each
// is still one atomic step: the value it returns is the one its successful exchange
// replaced, so no other thread's change falls between its read and its write.
// compareExchangeWeak is compareExchange: JS's exchange never fails spuriously, which
// the weak form allows but never requires.

import { Adopt, defineKind, Handle, allocOwned, Role } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import * as A from '../wait/futex.ts';
import { describeValue } from '../heap/describe.ts';

/**
 * What `compareExchange` and `fetchUpdate` return (Rust's `Result<T, T>`): `ok` is true
 * when the value was replaced; `value` is the value found before, in both cases.
 *
 * @example
 * ```ts
 * const r = flag.compareExchange(0, 1);
 * if (!r.ok) console.log('another thread stored', r.value);
 * ```
 */
export interface CompareExchange<V> {
  /** True when the value was `expected` and has been replaced. */
  ok: boolean;
  /** The value before the operation. */
  value: V;
}

function int32(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v > 2 ** 31 - 1) {
    throw new TypeError(`${what}: expected an integer in the i32 range, got ${describeValue(v)}`);
  }
  return v;
}

function uint32(v: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 32 - 1) {
    throw new TypeError(`${what}: expected an integer in the u32 range, got ${describeValue(v)}`);
  }
  return v | 0;
}

/** A 64-bit value from a bigint (wrapped to 64 bits, as Rust's `as i64`) or a safe-integer number. */
function int64(v: bigint | number, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v !== 'bigint') throw new TypeError(`${what}: expected a bigint or a safe integer, got ${describeValue(v)}`);
  return BigInt.asIntN(64, v);
}

/** A 64-bit unsigned value from a bigint (wrapped to 64 bits, as Rust's `as u64`) or a non-negative safe integer. */
function uint64(v: bigint | number, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v !== 'bigint') throw new TypeError(`${what}: expected a bigint or a non-negative safe integer, got ${describeValue(v)}`);
  return BigInt.asUintN(64, v);
}

function checkUpdate(f: unknown, what: string): void {
  if (typeof f !== 'function') throw new TypeError(`${what}(f): expected a function, got ${describeValue(f)}`);
}

/**
 * The operations every 32-bit atomic ({@link AtomicI32}, {@link AtomicU32},
 * {@link AtomicBool}) has: `load`, `store`, `swap`, `compareExchange`,
 * `compareExchangeWeak`, `fetchUpdate`. Not constructed directly.
 */
export abstract class Atomic32<V> extends Handle {
  protected readonly index: number;

  /** @internal */
  protected constructor(kind: number, initial: number | Adopt) {
    const p = initial instanceof Adopt ? initial.offset : allocOwned(kind, 8, Role.Plain, (q) => A.store(heap().i32, (q >> 2) + 2, initial));
    super(p);
    this.index = (p >> 2) + 2;
  }

  protected abstract wire(v: V, what: string): number;
  protected abstract read(raw: number): V;

  /** @internal */
  protected override describe(): string {
    return `${this.kindName}(${this.load()})`;
  }

  load(): V {
    return this.read(A.load(heap().i32, this.index));
  }
  store(v: V): void {
    A.store(heap().i32, this.index, this.wire(v, 'store'));
  }
  swap(v: V): V {
    return this.read(A.exchange(heap().i32, this.index, this.wire(v, 'swap')));
  }
  compareExchange(expected: V, v: V): CompareExchange<V> {
    const e = this.wire(expected, 'compareExchange');
    const old = A.cas(heap().i32, this.index, e, this.wire(v, 'compareExchange'));
    return { ok: old === e, value: this.read(old) };
  }
  /** compareExchange (it never fails spuriously here; Rust's weak form may, in a loop). */
  compareExchangeWeak(expected: V, v: V): CompareExchange<V> {
    const e = this.wire(expected, 'compareExchangeWeak');
    const old = A.cas(heap().i32, this.index, e, this.wire(v, 'compareExchangeWeak'));
    return { ok: old === e, value: this.read(old) };
  }
  /**
   * Applies `f` to the value until it is stored without another thread changing the
   * value in between (f may run more than once). `f` returns the new value, or
   * undefined to leave it: then `ok` is false. `value` is the value `f` last saw.
   */
  fetchUpdate(f: (value: V) => V | undefined): CompareExchange<V> {
    checkUpdate(f, `${this.kindName}.fetchUpdate`);
    const i = heap().i32;
    for (let old = A.load(i, this.index); ; ) {
      const next = f(this.read(old));
      if (next === undefined) return { ok: false, value: this.read(old) };
      const seen = A.cas(i, this.index, old, this.wire(next, 'fetchUpdate'));
      if (seen === old) return { ok: true, value: this.read(old) };
      old = seen;
    }
  }
  fetchAnd(v: V): V {
    return this.read(A.and(heap().i32, this.index, this.wire(v, 'fetchAnd')));
  }
  fetchOr(v: V): V {
    return this.read(A.or(heap().i32, this.index, this.wire(v, 'fetchOr')));
  }
  fetchXor(v: V): V {
    return this.read(A.xor(heap().i32, this.index, this.wire(v, 'fetchXor')));
  }

  /** Replaces the raw word `old` by `next(old)` in one atomic step; returns the word replaced. */
  protected rmw(next: (old: number) => number): number {
    const i = heap().i32;
    for (let old = A.load(i, this.index); ; ) {
      const v = next(old);
      // Nothing to change: the load is the step (Rust's fetch_max on a larger value writes
      // the same value back; no thread can tell the difference).
      if (v === old) return old;
      const seen = A.cas(i, this.index, old, v);
      if (seen === old) return old;
      old = seen;
    }
  }
}

/**
 * The arithmetic and bit operations of the 32-bit integer atomics ({@link AtomicI32},
 * {@link AtomicU32}): `fetchAdd`, `fetchSub`, `fetchAnd`, `fetchOr`, `fetchXor`,
 * `fetchNand`, `fetchMax`, `fetchMin`. Not constructed directly.
 */
export abstract class AtomicInt32 extends Atomic32<number> {
  fetchAdd(v: number): number {
    return this.read(A.add(heap().i32, this.index, this.wire(v, 'fetchAdd')));
  }
  fetchSub(v: number): number {
    return this.read(A.sub(heap().i32, this.index, this.wire(v, 'fetchSub')));
  }
  /** Stores `!(old & v)` (bitwise); returns the old value. */
  fetchNand(v: number): number {
    const w = this.wire(v, 'fetchNand');
    return this.read(this.rmw((old) => ~(old & w)));
  }
  /** Stores the larger of the value and `v` (unsigned for AtomicU32); returns the old value. */
  fetchMax(v: number): number {
    const w = this.wire(v, 'fetchMax');
    return this.read(this.rmw((old) => (this.read(old) >= v ? old : w)));
  }
  /** Stores the smaller of the value and `v` (unsigned for AtomicU32); returns the old value. */
  fetchMin(v: number): number {
    const w = this.wire(v, 'fetchMin');
    return this.read(this.rmw((old) => (this.read(old) <= v ? old : w)));
  }
}

/**
 * A 32-bit signed integer in the shared heap (Rust's `AtomicI32`), shared by handle:
 * the same number in every thread. Results wrap at 32 bits.
 *
 * @example
 * ```ts
 * const done = new AtomicI32(0);
 * scope((s) => { for (let k = 0; k < 4; k++) s.spawn((n: AtomicI32) => n.fetchAdd(1), done); });
 * done.load(); // 4
 * ```
 *
 * @remarks
 * Every operation is sequentially consistent: JavaScript's `Atomics` offer no weaker
 * ordering, so Rust's `Ordering` arguments are left out. `fetchMax`, `fetchMin`,
 * `fetchNand` and `fetchUpdate` are compare-exchange loops, each still one atomic step.
 * `compareExchangeWeak` never fails spuriously. Nothing here waits, so there is no async
 * form; for waiting on a value use {@link AtomicWaker}, a Condvar, or `Atomics.wait` on a
 * {@link SharedArray}. Atomics hold no lock: a thread's death leaves the value as it was.
 *
 * @throws `TypeError` / `RangeError` for a value that is not an integer in range.
 */
export class AtomicI32 extends AtomicInt32 {
  constructor(v?: number);
  /** @internal */
  constructor(v?: number | Adopt);
  constructor(v: number | Adopt = 0) {
    super(Kind.AtomicI32, v instanceof Adopt ? v : int32(v, 'new AtomicI32'));
  }
  /** @internal */
  protected get kindName(): string {
    return 'AtomicI32';
  }
  protected wire(v: number, what: string): number {
    return int32(v, `AtomicI32.${what}`);
  }
  protected read(raw: number): number {
    return raw;
  }
}

/**
 * A 32-bit unsigned integer in the shared heap (Rust's `AtomicU32`): values 0 to
 * 2^32 - 1, wrapping. See {@link AtomicI32} for an example.
 *
 * @remarks
 * Every operation is sequentially consistent: JavaScript's `Atomics` offer no weaker
 * ordering, so Rust's `Ordering` arguments are left out. `fetchMax`, `fetchMin`,
 * `fetchNand` and `fetchUpdate` are compare-exchange loops, each still one atomic step.
 * `compareExchangeWeak` never fails spuriously. Nothing here waits, so there is no async
 * form; for waiting on a value use {@link AtomicWaker}, a Condvar, or `Atomics.wait` on a
 * {@link SharedArray}. Atomics hold no lock: a thread's death leaves the value as it was.
 */
export class AtomicU32 extends AtomicInt32 {
  constructor(v?: number);
  /** @internal */
  constructor(v?: number | Adopt);
  constructor(v: number | Adopt = 0) {
    super(Kind.AtomicU32, v instanceof Adopt ? v : uint32(v, 'new AtomicU32'));
  }
  /** @internal */
  protected get kindName(): string {
    return 'AtomicU32';
  }
  protected wire(v: number, what: string): number {
    return uint32(v, `AtomicU32.${what}`);
  }
  protected read(raw: number): number {
    return raw >>> 0;
  }
}

/**
 * A boolean in the shared heap (Rust's `AtomicBool`), with `fetchAnd`, `fetchOr`,
 * `fetchXor`, `fetchNand` and `fetchNot`.
 *
 * @example
 * ```ts
 * const stop = new AtomicBool(false);
 * const h = spawn((stop: AtomicBool) => { let n = 0; while (!stop.load()) n++; return n; }, stop);
 * stop.store(true);
 * h.join();
 * ```
 *
 * @remarks
 * Every operation is sequentially consistent: JavaScript's `Atomics` offer no weaker
 * ordering, so Rust's `Ordering` arguments are left out. `fetchMax`, `fetchMin`,
 * `fetchNand` and `fetchUpdate` are compare-exchange loops, each still one atomic step.
 * `compareExchangeWeak` never fails spuriously. Nothing here waits, so there is no async
 * form; for waiting on a value use {@link AtomicWaker}, a Condvar, or `Atomics.wait` on a
 * {@link SharedArray}. Atomics hold no lock: a thread's death leaves the value as it was.
 */
export class AtomicBool extends Atomic32<boolean> {
  constructor(v?: boolean);
  /** @internal */
  constructor(v?: boolean | Adopt);
  constructor(v: boolean | Adopt = false) {
    if (typeof v !== 'boolean' && !(v instanceof Adopt)) throw new TypeError(`new AtomicBool: expected a boolean, got ${describeValue(v)}`);
    super(Kind.AtomicBool, v instanceof Adopt ? v : v ? 1 : 0);
  }
  /** @internal */
  protected get kindName(): string {
    return 'AtomicBool';
  }
  protected wire(v: boolean, what: string): number {
    if (typeof v !== 'boolean') throw new TypeError(`AtomicBool.${what}: expected a boolean, got ${describeValue(v)}`);
    return v ? 1 : 0;
  }
  protected read(raw: number): boolean {
    return raw !== 0;
  }
  /** Stores `!(old && v)`; returns the old value. */
  fetchNand(v: boolean): boolean {
    const w = this.wire(v, 'fetchNand');
    return this.read(this.rmw((old) => ((old & w) === 0 ? 1 : 0)));
  }
  /** Negates the value; returns the old one. */
  fetchNot(): boolean {
    return this.read(A.xor(heap().i32, this.index, 1));
  }
}

/**
 * The operations of the 64-bit atomics ({@link AtomicI64}, {@link AtomicU64}), on
 * bigints. Not constructed directly.
 */
export abstract class Atomic64 extends Handle {
  readonly #index: number;

  /** @internal */
  protected constructor(kind: number, initial: bigint | Adopt) {
    const p = initial instanceof Adopt ? initial.offset : allocOwned(kind, 8, Role.Plain, (q) => A.store64(heap().i64, (q >> 3) + 1, initial));
    super(p);
    this.#index = (p >> 3) + 1;
  }

  /** The raw (signed) word for `v`; throws TypeError naming the call `what`. */
  protected abstract wire(v: bigint | number, what: string): bigint;
  protected abstract read(raw: bigint): bigint;

  /** @internal */
  protected override describe(): string {
    return `${this.kindName}(${this.load()})`;
  }

  load(): bigint {
    return this.read(A.load64(heap().i64, this.#index));
  }
  store(v: bigint | number): void {
    A.store64(heap().i64, this.#index, this.wire(v, 'store'));
  }
  swap(v: bigint | number): bigint {
    return this.read(A.exchange64(heap().i64, this.#index, this.wire(v, 'swap')));
  }
  compareExchange(expected: bigint | number, v: bigint | number): CompareExchange<bigint> {
    const e = this.wire(expected, 'compareExchange');
    const old = A.cas64(heap().i64, this.#index, e, this.wire(v, 'compareExchange'));
    return { ok: old === e, value: this.read(old) };
  }
  /** compareExchange (it never fails spuriously here; Rust's weak form may, in a loop). */
  compareExchangeWeak(expected: bigint | number, v: bigint | number): CompareExchange<bigint> {
    const e = this.wire(expected, 'compareExchangeWeak');
    const old = A.cas64(heap().i64, this.#index, e, this.wire(v, 'compareExchangeWeak'));
    return { ok: old === e, value: this.read(old) };
  }
  /** Wrapping addition, as Rust's fetch_add. */
  fetchAdd(v: bigint | number): bigint {
    return this.read(A.add64(heap().i64, this.#index, this.wire(v, 'fetchAdd')));
  }
  fetchSub(v: bigint | number): bigint {
    return this.read(A.sub64(heap().i64, this.#index, this.wire(v, 'fetchSub')));
  }
  fetchAnd(v: bigint | number): bigint {
    return this.read(A.and64(heap().i64, this.#index, this.wire(v, 'fetchAnd')));
  }
  fetchOr(v: bigint | number): bigint {
    return this.read(A.or64(heap().i64, this.#index, this.wire(v, 'fetchOr')));
  }
  fetchXor(v: bigint | number): bigint {
    return this.read(A.xor64(heap().i64, this.#index, this.wire(v, 'fetchXor')));
  }
  /** Stores `!(old & v)` (bitwise); returns the old value. */
  fetchNand(v: bigint | number): bigint {
    const w = this.wire(v, 'fetchNand');
    return this.read(this.#rmw((old) => BigInt.asIntN(64, ~(old & w))));
  }
  /** Stores the larger of the value and `v`; returns the old value. */
  fetchMax(v: bigint | number): bigint {
    const w = this.wire(v, 'fetchMax');
    const x = this.read(w);
    return this.read(this.#rmw((old) => (this.read(old) >= x ? old : w)));
  }
  /** Stores the smaller of the value and `v`; returns the old value. */
  fetchMin(v: bigint | number): bigint {
    const w = this.wire(v, 'fetchMin');
    const x = this.read(w);
    return this.read(this.#rmw((old) => (this.read(old) <= x ? old : w)));
  }
  /**
   * Applies `f` to the value until it is stored without another thread changing the
   * value in between (f may run more than once). `f` returns the new value, or
   * undefined to leave it: then `ok` is false. `value` is the value `f` last saw.
   */
  fetchUpdate(f: (value: bigint) => bigint | number | undefined): CompareExchange<bigint> {
    checkUpdate(f, `${this.kindName}.fetchUpdate`);
    const i = heap().i64;
    for (let old = A.load64(i, this.#index); ; ) {
      const next = f(this.read(old));
      if (next === undefined) return { ok: false, value: this.read(old) };
      const seen = A.cas64(i, this.#index, old, this.wire(next, 'fetchUpdate'));
      if (seen === old) return { ok: true, value: this.read(old) };
      old = seen;
    }
  }

  /** Replaces the raw word `old` by `next(old)` in one atomic step; returns the word replaced. */
  #rmw(next: (old: bigint) => bigint): bigint {
    const i = heap().i64;
    for (let old = A.load64(i, this.#index); ; ) {
      const v = next(old);
      if (v === old) return old;
      const seen = A.cas64(i, this.#index, old, v);
      if (seen === old) return old;
      old = seen;
    }
  }
}

/**
 * A 64-bit signed integer in the shared heap (Rust's `AtomicI64`), as a `bigint`
 * (wrapping at 64 bits). Safe-integer numbers are accepted as arguments
 * (`fetchAdd(1)`); results are bigints.
 *
 * @example
 * ```ts
 * const bytes = new AtomicI64();
 * bytes.fetchAdd(4096);
 * bytes.load(); // 4096n
 * ```
 *
 * @remarks
 * Every operation is sequentially consistent: JavaScript's `Atomics` offer no weaker
 * ordering, so Rust's `Ordering` arguments are left out. `fetchMax`, `fetchMin`,
 * `fetchNand` and `fetchUpdate` are compare-exchange loops, each still one atomic step.
 * `compareExchangeWeak` never fails spuriously. Nothing here waits, so there is no async
 * form; for waiting on a value use {@link AtomicWaker}, a Condvar, or `Atomics.wait` on a
 * {@link SharedArray}. Atomics hold no lock: a thread's death leaves the value as it was.
 */
export class AtomicI64 extends Atomic64 {
  constructor(v?: bigint | number);
  /** @internal */
  constructor(v?: bigint | number | Adopt);
  constructor(v: bigint | number | Adopt = 0n) {
    super(Kind.AtomicI64, v instanceof Adopt ? v : int64(v, 'new AtomicI64'));
  }
  /** @internal */
  protected get kindName(): string {
    return 'AtomicI64';
  }
  protected wire(v: bigint | number, what: string): bigint {
    return int64(v, `AtomicI64.${what}`);
  }
  protected read(raw: bigint): bigint {
    return raw;
  }
}

/**
 * A 64-bit unsigned integer in the shared heap (Rust's `AtomicU64`), as a `bigint` from
 * 0 to 2^64 - 1, wrapping. Safe-integer numbers are accepted as arguments. See
 * {@link AtomicI64}.
 *
 * @remarks
 * Every operation is sequentially consistent: JavaScript's `Atomics` offer no weaker
 * ordering, so Rust's `Ordering` arguments are left out. `fetchMax`, `fetchMin`,
 * `fetchNand` and `fetchUpdate` are compare-exchange loops, each still one atomic step.
 * `compareExchangeWeak` never fails spuriously. Nothing here waits, so there is no async
 * form; for waiting on a value use {@link AtomicWaker}, a Condvar, or `Atomics.wait` on a
 * {@link SharedArray}. Atomics hold no lock: a thread's death leaves the value as it was.
 */
export class AtomicU64 extends Atomic64 {
  constructor(v?: bigint | number);
  /** @internal */
  constructor(v?: bigint | number | Adopt);
  constructor(v: bigint | number | Adopt = 0n) {
    super(Kind.AtomicU64, v instanceof Adopt ? v : BigInt.asIntN(64, uint64(v, 'new AtomicU64')));
  }
  /** @internal */
  protected get kindName(): string {
    return 'AtomicU64';
  }
  protected wire(v: bigint | number, what: string): bigint {
    return BigInt.asIntN(64, uint64(v, `AtomicU64.${what}`));
  }
  protected read(raw: bigint): bigint {
    return BigInt.asUintN(64, raw);
  }
}

defineKind(Kind.AtomicI32, { name: 'AtomicI32', wrap: (p) => new AtomicI32(new Adopt(p)) });
defineKind(Kind.AtomicU32, { name: 'AtomicU32', wrap: (p) => new AtomicU32(new Adopt(p)) });
defineKind(Kind.AtomicBool, { name: 'AtomicBool', wrap: (p) => new AtomicBool(new Adopt(p)) });
defineKind(Kind.AtomicI64, { name: 'AtomicI64', wrap: (p) => new AtomicI64(new Adopt(p)) });
defineKind(Kind.AtomicU64, { name: 'AtomicU64', wrap: (p) => new AtomicU64(new Adopt(p)) });
