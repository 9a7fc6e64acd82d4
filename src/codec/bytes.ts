// Raw codecs: bytes as they are, and strings as UTF-8.

import type { Codec } from './codec.ts';

function received(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return `a ${typeof value}`;
  const name: unknown = value.constructor?.name;
  return typeof name === 'string' && name ? `a ${name}` : 'an object';
}

/** Uint8Array in, Uint8Array out (a fresh copy, not a view of the message). */
export const bytes: Codec<Uint8Array> = {
  name: 'bytes',
  encode(value) {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`codec bytes: expected a Uint8Array, got ${received(value)}`);
    }
    return value;
  },
  decode(data) {
    // The message lives in the shared heap and its space is reused once read.
    return new Uint8Array(data);
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Strings as UTF-8. */
export const utf8: Codec<string> = {
  name: 'utf8',
  encode(value) {
    if (typeof value !== 'string') throw new TypeError(`codec utf8: expected a string, got ${received(value)}`);
    // TextEncoder would silently turn a lone surrogate into U+FFFD.
    if (!value.isWellFormed()) {
      throw new TypeError('codec utf8: the string has a lone surrogate, which UTF-8 cannot carry; use codecs.structured');
    }
    return encoder.encode(value);
  },
  decode(data) {
    // Browsers' TextDecoder refuses views of shared memory, where messages live.
    return decoder.decode(data.buffer instanceof ArrayBuffer ? data : data.slice());
  },
};
