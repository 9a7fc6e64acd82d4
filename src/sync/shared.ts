// shared(key, init): process-wide "statics". A lock-free list in the heap maps each key
// to a OnceLock; the first caller's `init` fills it and every thread, present or
// future, reads the same value, handles included.

import { codecs } from '../codec/index.ts';
import { loadValue, storeValue, dropValue } from '../codec/stored.ts';
import { alloc, free } from '../heap/alloc.ts';
import { Adopt, allocObject, releaseRef, retain } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { I_REGISTRY_HEAD } from '../heap/layout.ts';
import { cas, load, store } from '../wait/futex.ts';
import { OnceLock } from './once_lock.ts';

// Entry: [next, key (stored utf8), OnceLock object]. Entries are never removed: a
// static lives as long as the process.
const NEXT = 0, KEY = 1, CELL = 2;

/** This thread's handles, so repeated calls return the same objects (remade when a
 * pooled worker starts its next thread: the old handles went with the old thread). */
const local = new Map<string, OnceLock<unknown>>();

function find(head: number, stop: number, key: string): number {
  const i = heap().i32;
  for (let e = head; e !== stop; e = load(i, (e >> 2) + NEXT)) {
    if (loadValue(codecs.utf8, load(i, (e >> 2) + KEY), false) === key) return e;
  }
  return 0;
}

function entryFor(key: string): number {
  const i = heap().i32;
  let seen = 0;
  let head = load(i, I_REGISTRY_HEAD);
  let found = find(head, 0, key);
  if (found !== 0) return found;
  const e = alloc(12);
  store(i, (e >> 2) + KEY, storeValue(codecs.utf8, key));
  store(i, (e >> 2) + CELL, allocObject(Kind.OnceLock, 8));
  for (;;) {
    store(i, (e >> 2) + NEXT, head);
    const now = cas(i, I_REGISTRY_HEAD, head, e);
    if (now === head) return e;
    // Someone pushed meanwhile: only the entries new since our scan can hold the key.
    seen = head;
    head = now;
    found = find(head, seen, key);
    if (found !== 0) {
      releaseRef(load(i, (e >> 2) + CELL));
      dropValue(load(i, (e >> 2) + KEY));
      free(e);
      return found;
    }
  }
}

/** The process-wide value for `key`, made by the first caller's `init`. */
export function shared<T>(key: string, init: () => T): T {
  if (typeof key !== 'string') throw new TypeError('shared(key, init): key must be a string');
  if (typeof init !== 'function') throw new TypeError('shared(key, init): init must be a function');
  let cell = local.get(key) as OnceLock<T> | undefined;
  if (!cell || cell.isClosed) {
    const p = load(heap().i32, (entryFor(key) >> 2) + CELL);
    retain(p);
    cell = new OnceLock<T>(new Adopt(p));
    local.set(key, cell);
  }
  return cell.getOrInit(init);
}
