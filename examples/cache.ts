// A memoising cache shared by every thread, built from statics: module-level values made
// with shared(), so that every thread that imports this module gets the same objects.
//  - CONFIG, a OnceLock: the main thread sets it once; threads wait for it.
//  - CACHE, a RwLock over a Map: lookups read in parallel; a miss takes the write lock,
//    checks again (another thread may have inserted the key meanwhile) and computes.
//  - STATS, atomics counting hits, misses and computations.
// The threads run this module's `reader` export (a typed module entry), so they share
// the statics and the lookup code with the main thread.
//
//   npm run example:cache -- [threads] [keys] [lookups per thread]   (default: 4 20 300)
import { isMainThread } from 'node:worker_threads';
import { AtomicI32, Builder, OnceLock, RwLock, shared } from 'weft';

export const CONFIG = shared('cache.config', () => new OnceLock<{ keys: number; lookups: number }>());
export const CACHE = shared('cache.entries', () => new RwLock(new Map<number, string>()));
export const STATS = shared('cache.stats', () => ({ hits: new AtomicI32(), misses: new AtomicI32(), computed: new AtomicI32() }));

/** The expensive function being cached: a name for `key`, after some hashing work. */
function compute(key: number): string {
  let h = key + 1;
  for (let i = 0; i < 200_000; i++) h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
  return `item-${key}-${h.toString(16)}`;
}

/** The cached lookup, from any thread. */
export function lookup(key: number): string {
  {
    using r = CACHE.read(); // many readers at once
    const hit = r.value.get(key);
    if (hit !== undefined) {
      STATS.hits.fetchAdd(1);
      return hit;
    }
  }
  STATS.misses.fetchAdd(1);
  using w = CACHE.write(); // one writer; the Map's change is written back when w is released
  let value = w.value.get(key);
  if (value === undefined) {
    value = compute(key);
    w.value.set(key, value);
    STATS.computed.fetchAdd(1);
  }
  return value;
}

/** A reader thread: waits for the configuration, then looks keys up in its own order. */
export function reader(id: number): number {
  const { keys, lookups } = CONFIG.wait();
  let chars = 0;
  for (let i = 0; i < lookups; i++) chars += lookup((i * 7 + id * 3) % keys).length;
  return chars;
}

if (isMainThread) {
  const threads = Number(process.argv[2] ?? 4);
  const keys = Number(process.argv[3] ?? 20);
  const lookups = Number(process.argv[4] ?? 300);
  const started = performance.now();
  const handles = Array.from({ length: threads }, (_, id) =>
    new Builder().name(`reader-${id}`).spawn<typeof reader>({ module: import.meta.url, export: 'reader' }, id),
  );
  // The readers are already waiting on CONFIG: setting it once releases them all.
  CONFIG.set({ keys, lookups });
  const again = CONFIG.set({ keys: 1, lookups: 1 }); // a OnceLock is set once: false
  const chars = handles.map((h) => h.join());
  const size = (() => {
    using r = CACHE.read();
    return r.value.size;
  })();
  const { hits, misses, computed } = STATS;
  console.log(`cache: ${threads} threads × ${lookups} lookups over ${keys} keys in ${(performance.now() - started).toFixed(0)} ms`);
  console.log(`computed ${computed.load()} values (once per key), cache holds ${size} entries`);
  console.log(`${hits.load()} hits, ${misses.load()} misses (${misses.load() - computed.load()} found the key inserted by another thread meanwhile)`);
  console.log(`lookups answered: ${hits.load() + misses.load()}; characters read per thread: ${chars.join(', ')}`);
  console.log(`CONFIG set a second time: ${again}`);
}
