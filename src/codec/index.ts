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
/**
 * The built-in codecs, chosen per channel or cell with `{ codec }`:
 * `structured` (the default: structured-clone data in msgpack, Errors with stack and cause,
 * weft handles), `json`, `f64` and `i32` (fixed size: no allocation per message),
 * `bytes` (`Uint8Array`) and `utf8` (strings).
 *
 * @example
 * ```ts
 * const [tx, rx] = channel<number>({ codec: codecs.f64 });
 * ```
 */
export const codecs: {
  readonly structured: AnyCodec;
  readonly json: AnyCodec;
  readonly f64: Codec<number>;
  readonly i32: Codec<number>;
  readonly bytes: Codec<Uint8Array>;
  readonly utf8: Codec<string>;
} = { structured, json, f64, i32, bytes, utf8 };
