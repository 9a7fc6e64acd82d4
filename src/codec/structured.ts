// The default codec: MessagePack (msgpackr) with structured-clone references, plus
// weft's own extensions for what msgpackr alone gets wrong or cannot know about.
//
// encode() first walks the value once. The walk rejects what cannot be carried (with
// the path to it), notes whether some object occurs twice (only then are references
// tracked), and whether the value holds anything msgpackr would alter: -0 (packed as
// the integer 0), strings with lone surrogates (mangled by UTF-8), and Errors
// (msgpackr keeps only name, message and cause). Only then is the value rewritten,
// into a copy holding private box objects in their place; the common case packs the
// caller's value as it is.
//
// msgpackr's extension table is global to the process, so the extensions below are
// registered only for classes weft owns (Handle and private boxes). msgpackr's
// behaviour for every other class stays as it was.

// 'msgpackr/pack' and 'msgpackr/unpack' resolve, under Node, to msgpackr's
// pure-JavaScript build (its optional native string extractor, msgpackr-extract, has
// crashed the process here); under the browser condition they are two modules, and
// only the second has Unpackr.
import { Packr, RESERVE_START_SPACE, addExtension } from 'msgpackr/pack';
import * as msgpackrUnpack from 'msgpackr/unpack';
import { Unpackr } from 'msgpackr/unpack';
import { Handle } from '../heap/handle.ts';

/**
 * A codec for any value it supports, typed by the caller: `Codec<T>` for every `T`.
 * The type is the caller's promise, as with `JSON.parse`.
 */
export interface AnyCodec {
  readonly name: string;
  /**
   * Encodes `value`. Weft passes `handles`, onto which each handle met is pushed (its
   * index is what the bytes hold). Called by user code without it, plain data works
   * and a handle is a TypeError naming its path: a handle is a counted reference that
   * only a message, a spawn argument or a stored value can carry.
   */
  encode<T>(value: T, handles?: Handle[]): Uint8Array;
  /** Decodes bytes from encode(); `handle(i)` yields the handle of index i (weft's, or none). */
  decode<T>(bytes: Uint8Array, handle?: (index: number) => Handle): T;
  decodeFrom?<T>(u8: Uint8Array, start: number, end: number, handle?: (index: number) => Handle): T;
}

// MessagePack extension types 0x20-0x2f are weft's. msgpackr's own are 0, 0x42,
// 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78 and the timestamp (-1).
const EXT_HANDLE = 0x20;
const EXT_ERROR = 0x21;
const EXT_NEGATIVE_ZERO = 0x22;
const EXT_UTF16 = 0x23;
const EXT_MAP = 0x24;

/** Stands for -0 in a rewritten value. */
class NegativeZero {}

/** Stands for a string that is not well-formed UTF-16 (has lone surrogates). */
class Utf16String {
  constructor(readonly text: string) {}
}

/**
 * Stands for a Map in a rewritten value: [key, value, key, value, ...]. Plain objects
 * are packed as MessagePack maps without msgpackr's record definitions (which cost
 * more than the rest of a small message), so a Map needs a type of its own.
 */
class MapBox {
  entries: unknown[] = [];
}

/**
 * Stands for an Error in a rewritten value:
 * [name, message, stack, props, errors] and, if the error has an own cause, the cause.
 */
class ErrorBox {
  fields: unknown[] = [];
}

// The handles array of the encode call in progress and the handle lookup of the
// decode call in progress. Saved and restored around each call: a getter on the value
// may itself send a message.
let encodingHandles: Handle[] | undefined;
let decodingHandle: ((index: number) => Handle) | undefined;

addExtension({
  Class: Handle,
  type: EXT_HANDLE,
  write(h: Handle): number {
    if (!encodingHandles) throw new TypeError('a weft handle can only be packed by codecs.structured');
    return encodingHandles.push(h) - 1;
  },
  read(index: number): Handle {
    if (!decodingHandle) throw new TypeError('a weft handle can only be unpacked by codecs.structured');
    return decodingHandle(index);
  },
});

addExtension({
  Class: NegativeZero,
  type: EXT_NEGATIVE_ZERO,
  write: () => 0,
  read: () => -0,
});

addExtension({
  Class: Utf16String,
  type: EXT_UTF16,
  write(s: Utf16String): Uint16Array {
    const units = new Uint16Array(s.text.length);
    for (let i = 0; i < units.length; i++) units[i] = s.text.charCodeAt(i);
    return units;
  },
  read(units: Uint16Array): string {
    let text = '';
    // Chunked: fromCharCode takes its units as arguments, and argument count is bounded.
    for (let i = 0; i < units.length; i += 8192) {
      text += String.fromCharCode(...units.subarray(i, i + 8192));
    }
    return text;
  },
});

addExtension({
  Class: MapBox,
  type: EXT_MAP,
  write: (box: MapBox) => box.entries,
  read(entries: unknown[]): Map<unknown, unknown> {
    const m = new Map<unknown, unknown>();
    for (let i = 0; i < entries.length; i += 2) m.set(entries[i], entries[i + 1]);
    return m;
  },
});

addExtension({
  Class: ErrorBox,
  type: EXT_ERROR,
  write: (box: ErrorBox) => box.fields,
  read: reviveError,
});

// AggregateError, the one built-in with another constructor signature, is handled apart.
const BUILTIN_ERRORS = new Map<string, ErrorConstructor>([
  ['Error', Error], ['EvalError', EvalError], ['RangeError', RangeError], ['ReferenceError', ReferenceError],
  ['SyntaxError', SyntaxError], ['TypeError', TypeError], ['URIError', URIError],
]);

function reviveError(fields: unknown[]): Error {
  const [name, message, stack, props, errors] = fields as [
    string, string | undefined, string | undefined, Record<string, unknown> | undefined, unknown[] | undefined,
  ];
  const options = fields.length > 5 ? { cause: fields[5] } : undefined;
  let error: Error;
  if (name === 'AggregateError') {
    error = new AggregateError(errors ?? [], message, options);
  } else {
    const Builtin = BUILTIN_ERRORS.get(name);
    error = new (Builtin ?? Error)(message, options);
    if (!Builtin) define(error, 'name', name, false);
    // A renamed AggregateError (a subclass) keeps its errors too.
    if (errors) define(error, 'errors', errors, false);
  }
  if (stack === undefined) delete error.stack;
  else define(error, 'stack', stack, false);
  if (props) for (const key of Object.keys(props)) define(error, key, props[key], true);
  return error;
}

// defineProperty rather than assignment: a key may be "__proto__" or shadow a setter.
function define(o: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(o, key, { value, enumerable, writable: true, configurable: true });
}

// Packers and the unpacker are separate instances: an Unpackr records the record
// structures it reads into its own table, which a Packr sharing it would then reuse.
// Tracking references costs msgpackr a Map entry per object, so the packer that does
// it is used only for values where the walk met some object twice.
//
// Two formats, told apart by a leading byte. FAST (no repeated object, the common
// case): objects as plain MessagePack maps, Maps boxed (MapBox); msgpackr's record
// definitions would cost more than the rest of a small message. REFERENCES: msgpackr's
// structured-clone mode, which needs records to rebuild cycles.
const FAST = 0, REFERENCES = 1, SIMPLE = 2;
const packr = new Packr({ moreTypes: true, useToJSON: false, useRecords: false });
const referencePackr = new Packr({ structuredClone: true, moreTypes: true, useToJSON: false });
// copyBuffers: decoded bytes must not be views into the message, which lives in the
// shared heap and is reused once read.
const unpackr = new Unpackr({ copyBuffers: true, useRecords: false, mapsAsObjects: true });
const referenceUnpackr = new Unpackr({ copyBuffers: true });

/** Packs with one byte reserved in front for the format tag (no copy). */
function tagged(tag: number, p: Packr, value: unknown): Uint8Array {
  const out = p.pack(value, RESERVE_START_SPACE | 1);
  out[0] = tag;
  return out;
}

export const structured: AnyCodec = {
  name: 'structured',

  encode(value: unknown, collected?: Handle[]): Uint8Array {
    const simple = encodeSimple(value);
    if (simple !== undefined) return simple;
    const handles = collected ?? [];
    const mark = handles.length;
    const outer = encodingHandles;
    encodingHandles = handles;
    try {
      const w: Walk = {
        seen: undefined, openErrors: undefined, rewrite: false, repeats: false, maps: false, handles: collected !== undefined,
      };
      visit(value, w);
      if (w.repeats) return tagged(REFERENCES, referencePackr, w.rewrite ? rewrite(value, new Map(), false) : value);
      return tagged(FAST, packr, w.rewrite || w.maps ? rewrite(value, new Map(), true) : value);
    } catch (e) {
      handles.length = mark;
      throw e instanceof Rejection ? e.toTypeError() : e;
    } finally {
      encodingHandles = outer;
    }
  },

  decode: <T>(bytes: Uint8Array, handle: (index: number) => Handle = noHandles): T => decodeAt(bytes, 0, bytes.length, handle),
  decodeFrom: <T>(u8: Uint8Array, start: number, end: number, handle: (index: number) => Handle = noHandles): T =>
    decodeAt(u8, start, end, handle),
};

function noHandles(index: number): never {
  throw new TypeError(
    `codec structured: the bytes hold a weft handle (#${index}), and decode() was called without a handle lookup; ` +
      'values with handles travel through channels, spawn arguments and lock values, not as bytes',
  );
}

/**
 * Whether TextDecoder reads views of a growable SharedArrayBuffer, as msgpackr asks it
 * to for strings over 64 bytes. Node's does; Chromium's refuses shared and resizable
 * buffers alike (WebIDL [AllowShared] without [AllowResizable]). Asked once.
 */
const decoderReadsHeap = ((): boolean => {
  try {
    new TextDecoder().decode(new Uint8Array(new SharedArrayBuffer(1, { maxByteLength: 2 })));
    return true;
  } catch {
    return false;
  }
})();

// msgpackr keeps a DataView per source array: decoding in place in the heap's view,
// rather than from a fresh subarray, saves making one per message. Where TextDecoder
// refuses the heap, a message in shared or resizable memory is copied out first.
//
// msgpackr's optional native string extractor is loaded when msgpackr is required as
// CommonJS (weft run through tsx from a CommonJS program, for one). It reads the view's
// whole underlying buffer and crashes the process (SIGSEGV) on the heap's growable
// SharedArrayBuffer, so with it on, a message is copied out first too.
function decodeAt<T>(u8: Uint8Array, start: number, end: number, handle: (index: number) => Handle): T {
  if (end <= start) throw new TypeError('codec structured: empty message');
  if (u8[start] === SIMPLE) return decodeSimple(u8, start + 1, end) as T;
  const copyOut = !decoderReadsHeap || (msgpackrUnpack as { isNativeAccelerationEnabled?: boolean }).isNativeAccelerationEnabled === true;
  if (copyOut && (!(u8.buffer instanceof ArrayBuffer) || u8.buffer.resizable)) {
    u8 = u8.slice(start, end);
    [start, end] = [0, end - start];
  }
  const outer = decodingHandle;
  decodingHandle = handle;
  try {
    return (u8[start] === REFERENCES ? referenceUnpackr : unpackr).unpack(u8, { start: start + 1, end }) as T;
  } finally {
    decodingHandle = outer;
  }
}

// ---------------------------------------------------------------------------------
// The validating walk.

/** Why a value cannot be sent; gathers the path on its way out of the walk. */
class Rejection {
  /** Path segments, innermost first. */
  readonly segments: string[] = [];
  constructor(readonly reason: string) {}

  toTypeError(): TypeError {
    return new TypeError(`cannot send value${this.segments.reverse().join('')}: ${this.reason}`);
  }
}

function within(e: unknown, segment: string): unknown {
  if (e instanceof Rejection) e.segments.push(segment);
  return e;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapKeyLabel(key: unknown, index: number): string {
  switch (typeof key) {
    case 'string': return JSON.stringify(key);
    case 'bigint': return `${key}n`;
    case 'object': if (key === null) return 'null'; break;
    case 'number': case 'boolean': case 'undefined': return String(key);
  }
  return `<key #${index}>`;
}

interface Walk {
  /** Objects already walked (or being walked); made at the first object met. */
  seen: Set<object> | undefined;
  /** Errors whose contents are being walked: meeting one again is a cycle through it. */
  openErrors: Set<object> | undefined;
  /** Whether the value holds something only a rewrite carries faithfully. */
  rewrite: boolean;
  /** Whether it holds a Map (boxed in the FAST format). */
  maps: boolean;
  /** Whether some object is met twice (a shared or cyclic reference). */
  repeats: boolean;
  /** Whether the caller collects handles (weft does; a direct user call does not). */
  readonly handles: boolean;
}

/** Built-in classes carried by exact prototype; 'leaf' ones hold nothing to walk into. */
const BUILTINS = new Map<object, 'map' | 'set' | 'leaf'>([
  [Map.prototype, 'map'],
  [Set.prototype, 'set'],
  ...[
    Date, RegExp, ArrayBuffer, DataView, Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array,
    Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  ].map((c) => [c.prototype, 'leaf'] as const),
]);
// Node's Buffer is the platform's byte type there; it arrives as a Uint8Array.
const NodeBuffer = (globalThis as { Buffer?: { prototype: object } }).Buffer;
if (NodeBuffer) BUILTINS.set(NodeBuffer.prototype, 'leaf');

function visit(v: unknown, w: Walk): void {
  switch (typeof v) {
    case 'object':
      if (v !== null) visitObject(v, w);
      return;
    case 'number':
      if (v === 0 && 1 / v < 0) w.rewrite = true;
      return;
    case 'string':
      if (!v.isWellFormed()) w.rewrite = true;
      return;
    case 'function':
      throw new Rejection('functions are not carried between threads; pass data instead');
    case 'symbol':
      throw new Rejection(`symbols are not carried between threads (got ${String(v)}); use a string instead`);
  }
}

function visitObject(o: object, w: Walk): void {
  const seen = (w.seen ??= new Set());
  if (seen.has(o)) {
    w.repeats = true;
    if (w.openErrors?.has(o)) {
      throw new Rejection('an Error that refers back to itself (a cycle through an Error) cannot be carried');
    }
    return;
  }
  seen.add(o);
  const proto: object | null = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) {
    if (Symbol.dispose in o) throw new Rejection(DISPOSABLE);
    visitProps(o as Record<string, unknown>, w);
  } else if (proto === Array.prototype) {
    visitArray(o as unknown[], w);
  } else if (o instanceof Handle) {
    // A handle is carried as a reference, never by its contents.
    if (!w.handles) throw new Rejection(HANDLE_AS_BYTES);
  } else {
    const kind = BUILTINS.get(proto);
    if (kind === 'map') visitMap(o as Map<unknown, unknown>, w);
    else if (kind === 'set') visitSet(o as Set<unknown>, w);
    else if (kind === undefined) {
      if (!(o instanceof Error)) throw new Rejection(unsupported(o, proto));
      visitError(o, w);
    }
  }
}

function visitProps(o: Record<string, unknown>, w: Walk): void {
  let key = '';
  try {
    for (key in o) {
      if (key === '__proto__') throw new Rejection('an own "__proto__" property is not carried between threads');
      if (!key.isWellFormed()) {
        throw new Rejection('a property name with a lone surrogate cannot be carried (it is not valid UTF-8)');
      }
      visit(o[key], w);
    }
  } catch (e) {
    throw within(e, keySegment(key));
  }
}

function visitArray(a: unknown[], w: Walk): void {
  let i = 0;
  try {
    for (; i < a.length; i++) visit(a[i], w);
  } catch (e) {
    throw within(e, `[${i}]`);
  }
}

function visitMap(m: Map<unknown, unknown>, w: Walk): void {
  w.maps = true;
  let i = 0;
  let segment = '';
  try {
    m.forEach((v, k) => {
      segment = `<Map key #${i}>`;
      visit(k, w);
      segment = `.get(${mapKeyLabel(k, i)})`;
      visit(v, w);
      i++;
    });
  } catch (e) {
    throw within(e, segment);
  }
}

function visitSet(s: Set<unknown>, w: Walk): void {
  let i = 0;
  try {
    s.forEach((v) => {
      visit(v, w);
      i++;
    });
  } catch (e) {
    throw within(e, `<Set element #${i}>`);
  }
}

function visitError(e: Error, w: Walk): void {
  w.rewrite = true;
  (w.openErrors ??= new Set()).add(e);
  let segment = '.cause';
  try {
    if (Object.hasOwn(e, 'cause')) visit(e.cause, w);
    segment = '.errors';
    if (e instanceof AggregateError) visit(e.errors, w);
  } catch (x) {
    throw within(x, segment);
  }
  visitProps(ownProps(e), w);
  w.openErrors.delete(e);
}

/** An Error's own enumerable properties (e.g. `code`), as a plain object. */
function ownProps(e: Error): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(e)) define(props, key, (e as unknown as Record<string, unknown>)[key], true);
  return props;
}

const HANDLE_AS_BYTES =
  'a weft handle is a counted reference, not bytes: codecs.structured.encode() called directly cannot carry it; ' +
  'send the value through a channel, pass it to spawn or store it in a lock instead';

const DISPOSABLE =
  'an object with Symbol.dispose (a lock guard, permit or other resource) is not carried between threads; ' +
  'send the weft primitive it belongs to instead';

function unsupported(o: object, proto: object): string {
  if (Symbol.dispose in o) return DISPOSABLE;
  if (o instanceof Promise) return 'a Promise is not carried between threads; await it and send the result';
  if (o instanceof WeakMap || o instanceof WeakSet || o instanceof WeakRef) {
    return `a ${o[Symbol.toStringTag]} cannot be copied between threads (its contents cannot be listed)`;
  }
  if (o instanceof SharedArrayBuffer) {
    return 'a SharedArrayBuffer would be copied, not shared; keep shared state in weft primitives instead';
  }
  if (o instanceof Number || o instanceof String || o instanceof Boolean || o instanceof BigInt || o instanceof Symbol) {
    return 'boxed primitives (new Number(), new String(), ...) are not carried; send the primitive value';
  }
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
  const name = typeof ctor === 'function' ? ctor.name : '';
  return `${name ? `instance of class ${name}` : 'instance of an anonymous class'} is not carried between threads; ` +
    'send plain data (objects, arrays, Map, Set, Date, Error, typed arrays) or weft handles instead';
}

// ---------------------------------------------------------------------------------
// The rewrite: a copy of an already checked value with boxes where msgpackr needs them.
// `memo` maps each original object to its copy, so shared and cyclic references stay so.

function rewrite(v: unknown, memo: Map<object, unknown>, boxMaps: boolean): unknown {
  if (typeof v === 'number') return v === 0 && 1 / v < 0 ? new NegativeZero() : v;
  if (typeof v === 'string') return v.isWellFormed() ? v : new Utf16String(v);
  if (typeof v !== 'object' || v === null) return v;
  const done = memo.get(v);
  if (done !== undefined) return done;
  const proto: object | null = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    memo.set(v, out);
    for (const key in v) out[key] = rewrite((v as Record<string, unknown>)[key], memo, boxMaps);
    return out;
  }
  if (proto === Array.prototype) {
    const a = v as unknown[];
    const out = new Array<unknown>(a.length);
    memo.set(v, out);
    for (let i = 0; i < a.length; i++) out[i] = rewrite(a[i], memo, boxMaps);
    return out;
  }
  if (proto === Map.prototype && boxMaps) {
    const box = new MapBox();
    memo.set(v, box);
    (v as Map<unknown, unknown>).forEach((value, key) => box.entries.push(rewrite(key, memo, boxMaps), rewrite(value, memo, boxMaps)));
    return box;
  }
  if (proto === Map.prototype) {
    const out = new Map<unknown, unknown>();
    memo.set(v, out);
    (v as Map<unknown, unknown>).forEach((value, key) => out.set(rewrite(key, memo, boxMaps), rewrite(value, memo, boxMaps)));
    return out;
  }
  if (proto === Set.prototype) {
    const out = new Set<unknown>();
    memo.set(v, out);
    (v as Set<unknown>).forEach((value) => out.add(rewrite(value, memo, boxMaps)));
    return out;
  }
  if (v instanceof Error) {
    const box = new ErrorBox();
    memo.set(v, box);
    box.fields = [
      rewrite(String(v.name), memo, boxMaps),
      // Some classes (DOMException) keep the message on their prototype.
      Object.hasOwn(v, 'message') || v.message !== '' ? rewrite(String(v.message), memo, boxMaps) : undefined,
      typeof v.stack === 'string' ? rewrite(v.stack, memo, boxMaps) : undefined,
      rewrite(ownProps(v), memo, boxMaps),
      v instanceof AggregateError ? rewrite(v.errors, memo, boxMaps) : undefined,
    ];
    if (Object.hasOwn(v, 'cause')) box.fields.push(rewrite(v.cause, memo, boxMaps));
    return box;
  }
  // Handles and the leaf built-ins (Date, typed arrays, ...) are packed as they are.
  return v;
}

// ---------------------------------------------------------------------------------
// The SIMPLE format: what most messages are, a small tree of plain objects and arrays
// holding numbers, strings, booleans, null and undefined, written and read by hand.
// For a message of a few dozen bytes, msgpackr's per-call setup and the validating
// walk (a Set per message) cost more than the message; this path does one pass and
// allocates nothing but the result. Anything else — other classes, a repeated object,
// more than SIMPLE_OBJECTS objects, more than SIMPLE_BYTES bytes, a key that is not
// ASCII or is "__proto__", an object with Symbol.dispose — falls back to the general
// path, which also gives every rejection its message.
//
// Layout after the format byte, one tag byte per value:
//   UNDEFINED NULL FALSE TRUE
//   INT  i32 (little-endian)     an integer that fits, not -0
//   F64  8 bytes                 any other number (-0 and NaN kept)
//   ASCII u16 length, bytes      a string of code units below 0x80
//   UTF16 u16 length, u16 units  any other string (lone surrogates kept)
//   ARRAY u16 length, values     holes read as undefined, as the general path does
//   OBJECT u16 count, (ASCII key without its tag, value) * count

const S_UNDEFINED = 0, S_NULL = 1, S_FALSE = 2, S_TRUE = 3, S_INT = 4, S_F64 = 5;
const S_ASCII = 6, S_UTF16 = 7, S_ARRAY = 8, S_OBJECT = 9;
const SIMPLE_BYTES = 1024;
const SIMPLE_OBJECTS = 16;
const SIMPLE_CHUNK = 16384;

// Output is written into a chunk and returned as a view of it; a full chunk is left to
// its views and a new one begun, so a returned view is never overwritten.
let chunk = new Uint8Array(SIMPLE_CHUNK);
let pos = 0;
let limit = 0;
/** Objects written by the encode in progress (a repeat falls back: references need the general path). */
const written: (object | undefined)[] = new Array(SIMPLE_OBJECTS).fill(undefined);
let objects = 0;
/** An encode is in progress: a getter that sends a message meanwhile takes the general path. */
let encoding = false;
const f64Scratch = new Float64Array(1);
const f64Bytes = new Uint8Array(f64Scratch.buffer);

/** The value in the SIMPLE format, or undefined when it needs the general path. */
function encodeSimple(value: unknown): Uint8Array | undefined {
  if (encoding) return undefined;
  if (chunk.length - pos < SIMPLE_BYTES + 1) {
    chunk = new Uint8Array(SIMPLE_CHUNK);
    pos = 0;
  }
  const start = pos;
  limit = start + 1 + SIMPLE_BYTES;
  chunk[pos++] = SIMPLE;
  encoding = true;
  let ok = false;
  try {
    ok = writeSimple(value);
  } finally {
    encoding = false;
    for (let k = 0; k < objects; k++) written[k] = undefined;
    objects = 0;
    if (!ok) pos = start;
  }
  return ok ? chunk.subarray(start, pos) : undefined;
}

function writeSimple(v: unknown): boolean {
  switch (typeof v) {
    case 'number':
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        if (pos + 5 > limit) return false;
        const c = chunk;
        c[pos] = S_INT;
        c[pos + 1] = v;
        c[pos + 2] = v >> 8;
        c[pos + 3] = v >> 16;
        c[pos + 4] = v >> 24;
        pos += 5;
        return true;
      }
      if (pos + 9 > limit) return false;
      chunk[pos] = S_F64;
      f64Scratch[0] = v;
      chunk.set(f64Bytes, pos + 1);
      pos += 9;
      return true;
    case 'string':
      return writeString(v, true);
    case 'boolean':
      if (pos >= limit) return false;
      chunk[pos++] = v ? S_TRUE : S_FALSE;
      return true;
    case 'undefined':
      if (pos >= limit) return false;
      chunk[pos++] = S_UNDEFINED;
      return true;
    case 'object':
      if (v === null) {
        if (pos >= limit) return false;
        chunk[pos++] = S_NULL;
        return true;
      }
      return writeObject(v);
    default:
      return false;
  }
}

/** Writes a string (with its tag, or as an object key: ASCII only, no tag). */
function writeString(s: string, tagged: boolean): boolean {
  const n = s.length;
  const at = tagged ? pos + 1 : pos;
  if (n > 0xffff || at + 2 + n > limit) return false;
  const c = chunk;
  c[at] = n;
  c[at + 1] = n >> 8;
  for (let k = 0; k < n; k++) {
    const unit = s.charCodeAt(k);
    if (unit >= 0x80) return tagged && writeUtf16(s);
    c[at + 2 + k] = unit;
  }
  if (tagged) c[pos] = S_ASCII;
  pos = at + 2 + n;
  return true;
}

function writeUtf16(s: string): boolean {
  const n = s.length;
  if (pos + 3 + 2 * n > limit) return false;
  const c = chunk;
  c[pos] = S_UTF16;
  c[pos + 1] = n;
  c[pos + 2] = n >> 8;
  let at = pos + 3;
  for (let k = 0; k < n; k++, at += 2) {
    const unit = s.charCodeAt(k);
    c[at] = unit;
    c[at + 1] = unit >> 8;
  }
  pos = at;
  return true;
}

function writeObject(o: object): boolean {
  if (objects === SIMPLE_OBJECTS) return false;
  for (let k = 0; k < objects; k++) if (written[k] === o) return false;
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto === Array.prototype) {
    const a = o as unknown[];
    const n = a.length;
    if (n > 0xffff || pos + 3 > limit) return false;
    written[objects++] = o;
    chunk[pos] = S_ARRAY;
    chunk[pos + 1] = n;
    chunk[pos + 2] = n >> 8;
    pos += 3;
    for (let k = 0; k < n; k++) if (!writeSimple(a[k])) return false;
    return true;
  }
  if (proto !== Object.prototype || Symbol.dispose in o || pos + 3 > limit) return false;
  written[objects++] = o;
  const countAt = pos + 1;
  chunk[pos] = S_OBJECT;
  pos += 3;
  let n = 0;
  for (const key in o) {
    if (key === '__proto__' || n === 0xffff || !writeString(key, false)) return false;
    if (!writeSimple((o as Record<string, unknown>)[key])) return false;
    n++;
  }
  chunk[countAt] = n;
  chunk[countAt + 1] = n >> 8;
  return true;
}

// Decoding. Keys repeat from message to message: a small cache keyed by a hash of the
// bytes gives the same string back without building it again.
let src: Uint8Array = new Uint8Array(0);
let at = 0;
const KEY_CACHE = 512;
const MAX_CACHED_KEY = 24;
const keyCache: (string | undefined)[] = new Array(KEY_CACHE).fill(undefined);
let utf16Scratch = new Uint16Array(64);

function decodeSimple(u8: Uint8Array, start: number, end: number): unknown {
  const outer = src;
  const outerAt = at;
  src = u8;
  at = start;
  try {
    let value: unknown;
    try {
      value = readSimple();
    } catch (e) {
      // Reading ran off the end: the message is cut short, whatever garbage came next.
      if (at > end) throw new TypeError('codec structured: malformed message (cut short)');
      throw e;
    }
    if (at !== end) throw new TypeError(`codec structured: malformed message (${at < end ? 'bytes left over' : 'cut short'})`);
    return value;
  } finally {
    src = outer;
    at = outerAt;
  }
}

function readSimple(): unknown {
  const u8 = src;
  switch (u8[at++]) {
    case S_UNDEFINED: return undefined;
    case S_NULL: return null;
    case S_FALSE: return false;
    case S_TRUE: return true;
    case S_INT: {
      const v = u8[at] | (u8[at + 1] << 8) | (u8[at + 2] << 16) | (u8[at + 3] << 24);
      at += 4;
      return v;
    }
    case S_F64:
      for (let k = 0; k < 8; k++) f64Bytes[k] = u8[at + k];
      at += 8;
      return f64Scratch[0];
    case S_ASCII:
      return readAscii(readLength());
    case S_UTF16: {
      const n = readLength();
      if (utf16Scratch.length < n) utf16Scratch = new Uint16Array(n);
      const scratch = utf16Scratch;
      for (let k = 0; k < n; k++, at += 2) scratch[k] = u8[at] | (u8[at + 1] << 8);
      return fromUnits(scratch, n);
    }
    case S_ARRAY: {
      const n = readLength();
      const a = new Array<unknown>(n);
      for (let k = 0; k < n; k++) a[k] = readSimple();
      return a;
    }
    case S_OBJECT: {
      const n = readLength();
      const o: Record<string, unknown> = {};
      for (let k = 0; k < n; k++) {
        const key = readKey(readLength());
        if (key === '__proto__') throw new TypeError('codec structured: malformed message (a "__proto__" key)');
        o[key] = readSimple();
      }
      return o;
    }
    default:
      throw new TypeError(`codec structured: malformed message (tag ${u8[at - 1]})`);
  }
}

function readLength(): number {
  const n = src[at] | (src[at + 1] << 8);
  at += 2;
  return n;
}

// fromCharCode with the units as arguments: V8's fast path (apply() on a typed array
// of the shared heap is many times slower).
const units: number[] = [];

function readAscii(n: number): string {
  const u8 = src;
  const p = at;
  at += n;
  switch (n) {
    case 0: return '';
    case 1: return String.fromCharCode(u8[p]);
    case 2: return String.fromCharCode(u8[p], u8[p + 1]);
    case 3: return String.fromCharCode(u8[p], u8[p + 1], u8[p + 2]);
    case 4: return String.fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3]);
    case 5: return String.fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4]);
    case 6: return String.fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5]);
    case 7: return String.fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6]);
    case 8: return String.fromCharCode(u8[p], u8[p + 1], u8[p + 2], u8[p + 3], u8[p + 4], u8[p + 5], u8[p + 6], u8[p + 7]);
  }
  if (n > 4096) return fromUnits(u8.subarray(p, p + n), n);
  units.length = n;
  for (let k = 0; k < n; k++) units[k] = u8[p + k];
  return String.fromCharCode.apply(null, units);
}

function readKey(n: number): string {
  if (n > MAX_CACHED_KEY || n === 0) return readAscii(n);
  const u8 = src;
  let hash = n;
  for (let k = 0; k < n; k++) hash = (Math.imul(hash, 31) + u8[at + k]) | 0;
  const slot = (hash ^ (hash >>> 9)) & (KEY_CACHE - 1);
  const cached = keyCache[slot];
  if (cached !== undefined && cached.length === n) {
    let same = true;
    for (let k = 0; k < n; k++) {
      if (cached.charCodeAt(k) !== u8[at + k]) {
        same = false;
        break;
      }
    }
    if (same) {
      at += n;
      return cached;
    }
  }
  const key = readAscii(n);
  keyCache[slot] = key;
  return key;
}

/** The string of `n` code units (fromCharCode takes them as arguments: chunked). */
function fromUnits(units: Uint8Array | Uint16Array, n: number): string {
  if (n <= 4096) return String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
  let s = '';
  for (let k = 0; k < n; k += 4096) s += String.fromCharCode.apply(null, units.subarray(k, Math.min(n, k + 4096)) as unknown as number[]);
  return s;
}
