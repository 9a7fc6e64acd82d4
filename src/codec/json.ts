// JSON text in UTF-8: for values that must stay readable, or that other JSON
// producers and consumers share. Carries what JSON.stringify carries, as it does.

import type { AnyCodec } from './structured.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const json: AnyCodec = {
  name: 'json',

  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(
        `codec json cannot send ${value === undefined ? 'undefined' : `a ${typeof value}`}: JSON has no such value ` +
          '(send null, or use codecs.structured)',
      );
    }
    return encoder.encode(text);
  },

  decode<T>(bytes: Uint8Array): T {
    // Browsers' TextDecoder refuses views of shared memory, where messages live.
    return JSON.parse(decoder.decode(bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice())) as T;
  },
};
