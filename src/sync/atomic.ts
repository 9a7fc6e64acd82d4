// Atomic integers in the shared heap, with the operations of Rust's atomics. All are
// sequentially consistent (JS Atomics offer no weaker ordering). Arguments are checked
// before anything is allocated or written. AtomicI64 works in bigint but also takes
// safe-integer numbers (`new AtomicI64(1)`, `fetchAdd(1)`): its results are bigints.

import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import * as A from '../wait/futex.ts';
import { describeValue } from '../heap/describe.ts';

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

/** The 32-bit atomics share one implementation; `wire`/`read` map values to the i32 word. */
abstract class Atomic32<V> extends Handle {
  protected readonly index: number;

  protected constructor(kind: number, initial: number | Adopt) {
    const p = initial instanceof Adopt ? initial.offset : allocObject(kind, 8);
    super(p);
    this.index = (p >> 2) + 2;
    if (!(initial instanceof Adopt)) A.store(heap().i32, this.index, initial);
  }

  protected abstract wire(v: V, what: string): number;
  protected abstract read(raw: number): V;

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
  fetchAnd(v: V): V {
    return this.read(A.and(heap().i32, this.index, this.wire(v, 'fetchAnd')));
  }
  fetchOr(v: V): V {
    return this.read(A.or(heap().i32, this.index, this.wire(v, 'fetchOr')));
  }
  fetchXor(v: V): V {
    return this.read(A.xor(heap().i32, this.index, this.wire(v, 'fetchXor')));
  }
}

/** Wrapping arithmetic, as Rust's fetch_add / fetch_sub. */
abstract class AtomicInt32 extends Atomic32<number> {
  fetchAdd(v: number): number {
    return this.read(A.add(heap().i32, this.index, this.wire(v, 'fetchAdd')));
  }
  fetchSub(v: number): number {
    return this.read(A.sub(heap().i32, this.index, this.wire(v, 'fetchSub')));
  }
}

export class AtomicI32 extends AtomicInt32 {
  constructor(v: number | Adopt = 0) {
    super(Kind.AtomicI32, v instanceof Adopt ? v : int32(v, 'new AtomicI32'));
  }
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

export class AtomicU32 extends AtomicInt32 {
  constructor(v: number | Adopt = 0) {
    super(Kind.AtomicU32, v instanceof Adopt ? v : uint32(v, 'new AtomicU32'));
  }
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

export class AtomicBool extends Atomic32<boolean> {
  constructor(v: boolean | Adopt = false) {
    if (typeof v !== 'boolean' && !(v instanceof Adopt)) throw new TypeError(`new AtomicBool: expected a boolean, got ${describeValue(v)}`);
    super(Kind.AtomicBool, v instanceof Adopt ? v : v ? 1 : 0);
  }
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
}

export class AtomicI64 extends Handle {
  readonly #index: number;

  constructor(v: bigint | number | Adopt = 0n) {
    const initial = v instanceof Adopt ? 0n : int64(v, 'new AtomicI64');
    const p = v instanceof Adopt ? v.offset : allocObject(Kind.AtomicI64, 8);
    super(p);
    this.#index = (p >> 3) + 1;
    if (!(v instanceof Adopt)) A.store64(heap().i64, this.#index, initial);
  }
  protected get kindName(): string {
    return 'AtomicI64';
  }
  load(): bigint {
    return A.load64(heap().i64, this.#index);
  }
  store(v: bigint | number): void {
    A.store64(heap().i64, this.#index, int64(v, 'AtomicI64.store'));
  }
  swap(v: bigint | number): bigint {
    return A.exchange64(heap().i64, this.#index, int64(v, 'AtomicI64.swap'));
  }
  compareExchange(expected: bigint | number, v: bigint | number): CompareExchange<bigint> {
    const e = int64(expected, 'AtomicI64.compareExchange');
    const old = A.cas64(heap().i64, this.#index, e, int64(v, 'AtomicI64.compareExchange'));
    return { ok: old === e, value: old };
  }
  fetchAdd(v: bigint | number): bigint {
    return A.add64(heap().i64, this.#index, int64(v, 'AtomicI64.fetchAdd'));
  }
  fetchSub(v: bigint | number): bigint {
    return A.sub64(heap().i64, this.#index, int64(v, 'AtomicI64.fetchSub'));
  }
  fetchAnd(v: bigint | number): bigint {
    return A.and64(heap().i64, this.#index, int64(v, 'AtomicI64.fetchAnd'));
  }
  fetchOr(v: bigint | number): bigint {
    return A.or64(heap().i64, this.#index, int64(v, 'AtomicI64.fetchOr'));
  }
  fetchXor(v: bigint | number): bigint {
    return A.xor64(heap().i64, this.#index, int64(v, 'AtomicI64.fetchXor'));
  }
}

defineKind(Kind.AtomicI32, { name: 'AtomicI32', wrap: (p) => new AtomicI32(new Adopt(p)) });
defineKind(Kind.AtomicU32, { name: 'AtomicU32', wrap: (p) => new AtomicU32(new Adopt(p)) });
defineKind(Kind.AtomicBool, { name: 'AtomicBool', wrap: (p) => new AtomicBool(new Adopt(p)) });
defineKind(Kind.AtomicI64, { name: 'AtomicI64', wrap: (p) => new AtomicI64(new Adopt(p)) });
