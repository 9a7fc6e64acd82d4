// Fixed-width number codecs. Besides encode/decode (little-endian bytes), each has a
// `fixed` fast path that channels use to store values straight into their slots.

import type { Heap } from '../heap/heap.ts';
import type { Codec } from './codec.ts';

function received(value: unknown): string {
  return typeof value === 'number' ? String(value) : value === null ? 'null' : `a ${typeof value}`;
}

function checkLength(name: string, bytes: Uint8Array, width: number): void {
  if (bytes.byteLength !== width) {
    throw new TypeError(`codec ${name}: expected ${width} bytes, got ${bytes.byteLength}`);
  }
}

function checkF64(value: number): void {
  if (typeof value !== 'number') throw new TypeError(`codec f64: expected a number, got ${received(value)}`);
}

function checkI32(value: number): void {
  // `| 0` maps everything outside the int32 range, fractions and NaN to another value.
  if (typeof value !== 'number' || (value | 0) !== value) {
    throw new TypeError(`codec i32: expected an integer from -2147483648 to 2147483647, got ${received(value)}`);
  }
}

// Encoders return one reused buffer each: the caller copies the bytes at once.
const f64Out = new Uint8Array(8);
const f64View = new DataView(f64Out.buffer);
const i32Out = new Uint8Array(4);
const i32View = new DataView(i32Out.buffer);

/** 64-bit floats: any number, NaN and -0 included. */
export const f64: Codec<number> = {
  name: 'f64',
  encode(value) {
    checkF64(value);
    f64View.setFloat64(0, value, true);
    return f64Out;
  },
  decode(bytes) {
    checkLength('f64', bytes, 8);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
  },
  fixed: {
    bytes: 8,
    check: checkF64,
    write(h: Heap, offset: number, value: number) {
      h.f64[offset >> 3] = value;
    },
    read(h: Heap, offset: number) {
      return h.f64[offset >> 3];
    },
  },
};

/** 32-bit signed integers. */
export const i32: Codec<number> = {
  name: 'i32',
  encode(value) {
    checkI32(value);
    i32View.setInt32(0, value, true);
    return i32Out;
  },
  decode(bytes) {
    checkLength('i32', bytes, 4);
    return new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
  },
  fixed: {
    bytes: 4,
    check: checkI32,
    write(h: Heap, offset: number, value: number) {
      h.i32[offset >> 2] = value;
    },
    read(h: Heap, offset: number) {
      return h.i32[offset >> 2];
    },
  },
};
