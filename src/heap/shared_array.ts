// SharedArray: a typed array whose elements live in the shared heap. Passing the handle
// (spawn argument, message, lock value) shares it like an Arc and moves no element:
// every thread builds its own view over the same bytes of the one SharedArrayBuffer.
//
// Object: [kind, refcount | type code, length | elements...]. The elements start 16
// bytes into the block, so they are 8-aligned for Float64Array and BigInt64Array.
//
// The view is a fixed-length view of the growable heap buffer: a growable
// SharedArrayBuffer never shrinks and never moves, so the view stays valid however far
// the heap grows afterwards, and it avoids the slow path of length-tracking views.

import { alloc } from './alloc.ts';
import { Adopt, defineKind, Handle } from './handle.ts';
import { heap, heapCovering } from './heap.ts';
import { Kind } from './kinds.ts';
import { I_MAX } from './layout.ts';
import { describeValue } from './describe.ts';
import { enterCritical, leaveCritical } from '../thread/critical.ts';
import { load, store } from '../wait/futex.ts';

/** The typed arrays a SharedArray can hold. */
export type SharedArrayType =
  | Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array
  | Int8Array | Uint8Array | Uint8ClampedArray | BigInt64Array | BigUint64Array;

/** A typed-array constructor, as `sharedArray()` takes it (`Float64Array`, `Int32Array`, ...). */
export interface SharedArrayConstructor<A extends SharedArrayType> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): A;
}

/** What weft reads of a typed-array constructor it accepted. */
interface KnownType extends SharedArrayConstructor<SharedArrayType> {
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

/** Bytes before the first element: the object header and [type code, length]. */
const DATA = 16;

// Type codes are stored in the heap, so they are fixed numbers; each thread maps them
// to its own realm's constructors.
const TYPES: readonly KnownType[] = [
  Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array,
  Int8Array, Uint8Array, Uint8ClampedArray, BigInt64Array, BigUint64Array,
];
const codeOf = new Map<unknown, number>(TYPES.map((t, k) => [t, k + 1]));

function typeCode(type: unknown): number {
  const code = codeOf.get(type);
  if (code === undefined) {
    const what = typeof type === 'function' ? `the constructor ${type.name || '(anonymous)'}` : describeValue(type);
    throw new TypeError(
      `sharedArray(): type must be one of ${TYPES.map((t) => t.name).join(', ')}; got ${what}`,
    );
  }
  return code;
}

function checkLength(length: unknown, type: KnownType): number {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) {
    throw new RangeError(`sharedArray(): length must be a non-negative integer number of elements, got ${describeValue(length)}`);
  }
  const bytes = length * type.BYTES_PER_ELEMENT;
  const limit = load(heap().i32, I_MAX);
  if (bytes + DATA > limit) {
    throw new RangeError(
      `sharedArray(): ${length} ${type.name} elements need ${bytes} bytes, more than the heap can ever hold ` +
        `(limit ${limit} bytes); raise it with configure({ maxHeapBytes }) before weft is first used`,
    );
  }
  return bytes;
}

/**
 * A typed array in the shared heap, shared by handle. `array` is a view of the same
 * memory in every thread that holds the handle; plain reads and writes race as in
 * Rust `unsafe` (order them with `Atomics` on `array`, or a lock). The memory is
 * returned to the heap when the last handle is closed (or its thread ends).
 */
export class SharedArray<A extends SharedArrayType = SharedArrayType> extends Handle {
  readonly #array: A;
  /** Number of elements. */
  readonly length: number;

  /** @internal Made by sharedArray(), or adopted from a message. */
  /** @internal */
  constructor(adopt: Adopt) {
    if (!(adopt instanceof Adopt)) throw new TypeError('SharedArray cannot be constructed directly; use sharedArray(type, length)');
    super(adopt.offset);
    const i = heapCovering(adopt.offset + DATA).i32;
    const code = load(i, (adopt.offset >> 2) + 2);
    this.length = load(i, (adopt.offset >> 2) + 3);
    const type = TYPES[code - 1] as unknown as SharedArrayConstructor<A>;
    this.#array = new type(heap().sab, adopt.offset + DATA, this.length);
  }

  /** @internal */
  protected get kindName(): string {
    return 'SharedArray';
  }

  /** @internal */
  protected override describe(): string {
    const a = this.array;
    return `SharedArray<${a.constructor.name}(${a.length})>`;
  }

  /**
   * The elements. Take it once (`const a = shared.array`) in a hot loop. It must not
   * be used after close(): the memory may then hold another object.
   */
  get array(): A {
    this.checkOpen();
    return this.#array;
  }
}

/**
 * Allocates a zero-filled typed array of `length` elements in the shared heap.
 * Throws TypeError for an unsupported type, RangeError for a bad length or a heap
 * that cannot hold it; nothing is allocated then.
 */
export function sharedArray<A extends SharedArrayType>(type: SharedArrayConstructor<A>, length: number): SharedArray<A> {
  const code = typeCode(type);
  const bytes = checkLength(length, TYPES[code - 1]);
  let array: SharedArray<A>;
  // Allocating and recording the ref run in one kill-safe section, so a killed thread
  // cannot leak the block (it may be hundreds of MB). Zeroing runs after: the block is
  // already owned by the handle and no other thread can see it yet.
  enterCritical();
  try {
    const p = alloc(DATA + bytes, false);
    const i = heapCovering(p + DATA).i32;
    store(i, (p >> 2) + 2, code);
    store(i, (p >> 2) + 3, length);
    store(i, (p >> 2) + 1, 1);
    store(i, p >> 2, Kind.SharedArray);
    array = new SharedArray<A>(new Adopt(p));
  } finally {
    leaveCritical();
  }
  new Uint8Array(heap().sab, array.offset + DATA, bytes).fill(0);
  return array;
}

defineKind(Kind.SharedArray, { name: 'SharedArray', wrap: (p) => new SharedArray(new Adopt(p)) });
