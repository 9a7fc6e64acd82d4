// shared(key, init): process-wide "statics". A lock-free list in the heap, headed at
// I_REGISTRY_HEAD, maps each key to a OnceLock; the first caller's `init` fills it and
// every thread, present or future, reads the same value, handles included.

import { codecs } from '../codec/index.ts';
import { dropValue, loadValue, storeValue } from '../codec/stored.ts';
import { alloc, free } from '../heap/alloc.ts';
import { adoptRef, allocObject, releaseRef, retain } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { I_REGISTRY_HEAD } from '../heap/layout.ts';
import { cas, load, store } from '../wait/futex.ts';
import { OnceLock } from './once_lock.ts';

// Entry: [next, key (stored utf8), OnceLock object]. Entries are complete before the
// CAS that publishes them and are never removed: a static lives as long as the process.
const NEXT = 0, KEY = 1, CELL = 2;

/** This thread's handles, so repeated calls return the same objects. */
const local = new Map<string, OnceLock<unknown>>();

/** The entry for `key` among those from `head` up to (not including) `stop`, or 0. */
function find(head: number, stop: number, key: string): number {
  const i = heap().i32;
  for (let e = head; e !== stop; e = load(i, (e >> 2) + NEXT)) {
    if (loadValue(codecs.utf8, load(i, (e >> 2) + KEY), false) === key) return e;
  }
  return 0;
}

function entryFor(key: string): number {
  const i = heap().i32;
  let head = load(i, I_REGISTRY_HEAD);
  const found = find(head, 0, key);
  if (found !== 0) return found;
  const e = alloc(12);
  store(i, (e >> 2) + KEY, storeValue(codecs.utf8, key));
  store(i, (e >> 2) + CELL, allocObject(Kind.OnceLock, 8));
  for (;;) {
    store(i, (e >> 2) + NEXT, head);
    const seen = cas(i, I_REGISTRY_HEAD, head, e);
    if (seen === head) return e;
    // Another thread pushed meanwhile: only the entries new since our scan can hold the key.
    const theirs = find(seen, head, key);
    if (theirs !== 0) {
      releaseRef(load(i, (e >> 2) + CELL));
      dropValue(load(i, (e >> 2) + KEY));
      free(e);
      return theirs;
    }
    head = seen;
  }
}

/**
 * The process-wide value for `key`: the first caller's `init()` makes it, every other
 * call in any thread gets that value (waiting while it is being made). A throwing
 * `init` leaves it unset for the next caller. Use it for module-level statics:
 * `const jobs = shared('jobs', () => channel())` gives every thread the same channel.
 */
export function shared<T>(key: string, init: () => T): T {
  if (typeof key !== 'string') throw new TypeError('shared(key, init): key must be a string');
  if (typeof init !== 'function') throw new TypeError('shared(key, init): init must be a function');
  let cell = local.get(key) as OnceLock<T> | undefined;
  // A pooled worker runs one thread after another; the previous thread's handles ended with it.
  if (cell === undefined || cell.released) {
    const p = load(heap().i32, (entryFor(key) >> 2) + CELL);
    retain(p);
    cell = adoptRef(p) as OnceLock<T>;
    local.set(key, cell);
  }
  return cell.getOrInit(init);
}
