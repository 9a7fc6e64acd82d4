// Fixed-length views of the shared heap for the channels' hot paths.
//
// heap() hands out length-tracking views (they follow the buffer as it grows), and in
// current V8 every access through them, Atomics included, takes a slow path: a 2-3x
// cost per message. Views of a fixed length over the same growable buffer run at full
// speed, but only cover the bytes that existed when they were made. So every pointer a
// channel follows is checked against the views' length (one comparison), and they are
// remade when an object lies beyond them (after the heap grew).

import { heap, type Heap } from '../heap/heap.ts';

let current: Heap | undefined;

/** This thread's fixed-length views, covering at least bytes [0, end). */
export function views(end: number): Heap {
  const v = current;
  return v !== undefined && end <= v.u8.length ? v : remake(end);
}

function remake(end: number): Heap {
  const sab = heap().sab;
  const n = sab.byteLength;
  if (end > n) throw new Error(`weft: channel object at ${end} lies beyond the heap (${n} bytes)`);
  current = {
    sab,
    u8: new Uint8Array(sab, 0, n),
    i32: new Int32Array(sab, 0, n >> 2),
    u32: new Uint32Array(sab, 0, n >> 2),
    i64: new BigInt64Array(sab, 0, n >> 3),
    f64: new Float64Array(sab, 0, n >> 3),
    dv: new DataView(sab, 0, n),
  };
  return current;
}
