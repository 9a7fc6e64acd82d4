// Naming a channel's codec in the heap, so that every thread holding one of its
// endpoints encodes and decodes the same way. A codec is code, not data: built-in
// codecs are named by a fixed number; a custom codec by its `name`, looked up among
// the codecs this thread has made channels with.

import type { Codec } from '../codec/codec.ts';
import { codecs } from '../codec/index.ts';
import { loadValue, storeValue } from '../codec/stored.ts';

type AnyCodec = Codec<unknown>;

const BUILTIN: readonly AnyCodec[] = [
  codecs.structured as AnyCodec, codecs.json as AnyCodec, codecs.f64 as AnyCodec,
  codecs.i32 as AnyCodec, codecs.bytes as AnyCodec, codecs.utf8 as AnyCodec,
];
const CUSTOM = 0;

/** Custom codecs this thread has created channels with, by name. */
const custom = new Map<string, AnyCodec>();

/** Validates a `codec` option; the structured codec when it is absent. */
export function checkCodec(codec: unknown, call: string): AnyCodec {
  if (codec === undefined) return codecs.structured as AnyCodec;
  const c = codec as Partial<AnyCodec> | null;
  if (typeof c !== 'object' || c === null || typeof c.encode !== 'function' || typeof c.decode !== 'function') {
    throw new TypeError(`${call}: options.codec must be an object with encode() and decode() methods`);
  }
  return c as AnyCodec;
}

/** The codec's number (0: custom), remembering a custom codec under its name in this thread. */
export function codecId(codec: AnyCodec): number {
  const k = BUILTIN.indexOf(codec);
  if (k >= 0) return k + 1;
  if (codec.name !== undefined) custom.set(codec.name, codec);
  return CUSTOM;
}

/** The stored name of a custom codec (0 when it has none or is built in). */
export function storeCodecName(id: number, codec: AnyCodec): number {
  return id === CUSTOM && codec.name !== undefined ? storeValue(codecs.utf8, codec.name) : 0;
}

/**
 * This thread's codec for a channel, or the reason there is none: a custom codec is
 * known only in threads that created a channel with it.
 */
export function resolveCodec(id: number, namePtr: number): AnyCodec | string {
  if (id !== CUSTOM) return BUILTIN[id - 1];
  if (namePtr === 0) {
    return 'the channel uses a custom codec without a name, which other threads cannot look up; give the codec a `name`';
  }
  const name = loadValue(codecs.utf8, namePtr, false);
  return (
    custom.get(name) ??
    `the channel's codec "${name}" is not known in this thread: a custom codec is found by name among the codecs ` +
      `this thread has created channels with, so create one here first (e.g. channel({ codec }))`
  );
}
