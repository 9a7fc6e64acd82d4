// The built-in codecs. `codecs.structured` is the default of every channel and cell.

import { bytes, utf8 } from './bytes.ts';
import { f64, i32 } from './fixed.ts';
import { json } from './json.ts';
import { structured } from './structured.ts';

export type { Codec, FixedCodec, UserCodec } from './codec.ts';
export type { AnyCodec } from './structured.ts';

import type { Codec } from './codec.ts';
import type { AnyCodec } from './structured.ts';

// Written out (not inferred) so the typings name `Uint8Array` without type arguments,
// which TypeScript before 5.7 does not accept.
export const codecs: {
  readonly structured: AnyCodec;
  readonly json: AnyCodec;
  readonly f64: Codec<number>;
  readonly i32: Codec<number>;
  readonly bytes: Codec<Uint8Array>;
  readonly utf8: Codec<string>;
} = { structured, json, f64, i32, bytes, utf8 };
