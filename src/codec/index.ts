// The built-in codecs. `codecs.structured` is the default of every channel and cell.

import { bytes, utf8 } from './bytes.ts';
import { f64, i32 } from './fixed.ts';
import { json } from './json.ts';
import { structured } from './structured.ts';

export type { Codec, FixedCodec, UserCodec } from './codec.ts';
export type { AnyCodec } from './structured.ts';

export const codecs = { structured, json, f64, i32, bytes, utf8 } as const;
