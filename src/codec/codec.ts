// The codec contract. A codec turns a value into bytes and back; weft copies the
// bytes into the shared heap, so an encoder may reuse its output buffer between calls.
//
// Handles (weft primitives) inside a value are not bytes: the structured codec
// pushes each one it meets onto `handles` and writes its index instead. The caller
// turns those handles into counted refs once the bytes are sure to be stored, and
// on the way back `handle(i)` yields this thread's handle for index i.

import type { Heap } from '../heap/heap.ts';
import type { Handle } from '../heap/handle.ts';

export interface Codec<T> {
  /** Short name for error messages. */
  readonly name?: string;
  encode(value: T, handles: Handle[]): Uint8Array;
  decode(bytes: Uint8Array, handle: (index: number) => Handle): T;
  /**
   * Optional fast path: decodes bytes [start, end) of `u8` where they lie, without a
   * subarray per message. `u8` is a fixed-length view of the heap.
   */
  decodeFrom?(u8: Uint8Array, start: number, end: number, handle: (index: number) => Handle): T;
  /** Present on fixed-width codecs: lets channels store values in place, without encoding. */
  readonly fixed?: FixedCodec<T>;
}

/** A codec whose values all take `bytes` bytes and can be written straight into the heap. */
export interface FixedCodec<T> {
  readonly bytes: number;
  /** Throws TypeError for a value of the wrong type, before writing anything. */
  check(value: T): void;
  write(h: Heap, offset: number, value: T): void;
  read(h: Heap, offset: number): T;
}

/** A user codec only needs `encode(value)` and `decode(bytes)`. */
export type UserCodec<T> = {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
};

/** Calls `codec.encode` and checks that it kept the contract. */
export function encodeWith<T>(codec: Codec<T>, value: T, handles: Handle[]): Uint8Array {
  const bytes = codec.encode(value, handles);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`codec ${codec.name ?? '(custom)'}: encode() must return a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  return bytes;
}

/** Decodes bytes [start, end) of `u8` with `codec`, in place when the codec can. */
export function decodeRange<T>(codec: Codec<T>, u8: Uint8Array, start: number, end: number, handle: (index: number) => Handle): T {
  return codec.decodeFrom ? codec.decodeFrom(u8, start, end, handle) : codec.decode(u8.subarray(start, end), handle);
}
