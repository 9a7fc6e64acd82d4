// The tour of weft: real multi-threaded work, one section per part of the toolkit.
// Run with `npm start`.
import {
  AtomicI32, Barrier, Builder, channel, codecs, Condvar, current, heapStats, Mutex, PanicError, RecvError, scope, select,
  spawn, syncChannel, availableParallelism, type Receiver, type Sender, type SyncSender,
} from 'weft';

const line = (title: string) => console.log(`\n== ${title} ${'='.repeat(Math.max(0, 60 - title.length))}`);

// --- 1. One shared heap, handles, codecs ---------------------------------------
line('shared heap and codecs');
const hits = new AtomicI32(0);
const before = heapStats();
console.log(`heap: ${before.byteLength} bytes mapped, ${before.live} live, limit ${before.maxByteLength}`);
const message = { when: new Date(0), tags: new Set(['a', 'b']), big: 2n ** 70n, hits };
const bytes = codecs.structured.encode(message, []);
console.log(`structured codec: ${bytes.length} bytes for`, message);
try {
  codecs.structured.encode({ items: [1, 2, { onDone: () => {} }] }, []);
} catch (e) {
  console.log(`unsendable value refused: ${(e as Error).message}`);
}

// --- 2. Threads: hash a generated data set in parallel -------------------------
line('threads: parallel hashing');

/** FNV-1a over a deterministic pseudo-random stream; self-contained so it can be spawned. */
function hashRange(seed: number, length: number): { count: number; hash: number } {
  let x = seed | 0 || 1;
  let h = 0x811c9dc5;
  for (let k = 0; k < length; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    h = Math.imul(h ^ (x & 0xff), 0x01000193);
  }
  return { count: length, hash: h >>> 0 };
}

const parts = Math.max(2, availableParallelism());
const perPart = 60_000_000;
let t = performance.now();
// The first spawn starts the supervisor and its warm pool of workers.
scope((s) => { for (let k = 0; k < parts; k++) s.spawn(() => 0); });
console.log(`runtime started (supervisor and ${parts} pooled workers) in ${(performance.now() - t).toFixed(0)} ms`);
t = performance.now();
const serial = Array.from({ length: parts }, (_, k) => hashRange(k + 1, perPart));
const serialMs = performance.now() - t;
t = performance.now();
const handles = Array.from({ length: parts }, (_, k) =>
  new Builder().name(`hasher-${k}`).spawn(hashRange, k + 1, perPart),
);
const parallel = handles.map((h) => h.join());
const parallelMs = performance.now() - t;
parallel.forEach((r, k) => {
  if (r.hash !== serial[k].hash) throw new Error(`part ${k}: thread result differs from the serial one`);
});
console.log(`${parts} threads hashed ${(parts * perPart) / 1e6} M values: ${parallelMs.toFixed(0)} ms (serial ${serialMs.toFixed(0)} ms), results identical`);
console.log(`thread names: ${handles.map((h) => `${h.thread.name}#${h.thread.id}`).join(', ')}; this is '${current().name}'#${current().id}`);

// Scoped threads share a counter handle; the scope returns when all ended.
scope((s) => {
  for (let k = 0; k < parts; k++) s.spawn((c: AtomicI32, n: number) => { for (let i = 0; i < n; i++) c.fetchAdd(1); }, hits, 10_000);
});
console.log(`scoped threads counted ${hits.load()} hits on one AtomicI32`);

// A panic reaches the joiner with the thread's name and the original error.
try {
  new Builder().name('doomed').spawn(() => JSON.parse('{oops')).join();
} catch (e) {
  if (!(e instanceof PanicError)) throw e;
  console.log(`join saw: ${e.message}`);
}

// --- 3. Synchronisation: a Mutex-guarded histogram and a Barrier between phases -----
line('synchronisation: Mutex, Barrier, Condvar');
{
  const histogram = new Mutex<number[]>(new Array(8).fill(0));
  const barrier = new Barrier(parts);
  const ready = new Mutex<number>(0);
  const allCounted = new Condvar();
  scope((s) => {
    for (let k = 0; k < parts; k++) {
      s.spawn((h: Mutex<number[]>, b: Barrier, done: Mutex<number>, cv: Condvar, seed: number) => {
        // Phase 1: bucket a private stream of numbers, merging into the shared histogram.
        let x = seed;
        const local = new Array(8).fill(0);
        for (let i = 0; i < 200_000; i++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          local[x >>> 29]++;
        }
        h.withLock((counts) => counts.forEach((_, j) => (counts[j] += local[j])));
        // Phase 2 starts only when every thread has merged; the leader reports in: it
        // changes the state under the mutex, then notifies the condvar.
        if (b.wait().isLeader) {
          const g = done.lock();
          g.value = seed; // which worker led (threads see their arguments, not this module's imports)
          g.unlock();
          cv.notifyAll();
        }
      }, histogram, barrier, ready, allCounted, k + 1);
    }
    // The main thread sleeps on the condvar (the mutex released while it sleeps) until
    // the state it waits for holds; a notify before it sleeps is not lost.
    const waitStart = performance.now();
    const g = ready.lock();
    let wakeups = 0;
    allCounted.waitWhile(g, (leader) => (wakeups++, leader === 0));
    console.log(
      `Condvar: the main thread slept ${(performance.now() - waitStart).toFixed(1)} ms until worker ${g.value}, ` +
        `the barrier's leader, reported all ${parts} counts merged (condition checked ${wakeups}×)`,
    );
    g.unlock();
  });
  const counts = histogram.lock();
  const total = counts.value.reduce((a, b) => a + b, 0);
  console.log(`histogram of ${total} values from ${parts} threads: [${counts.value.join(', ')}]`);
  counts.unlock();
}

// --- 4. Channels: a producer → workers → collector pipeline, with select -------------
line('channels: a pipeline with select');
{
  type Factored = { n: number; factors: number[] };
  const inboxes: SyncSender<number>[] = [];
  const outboxes: Receiver<Factored>[] = [];
  const workers = [];
  for (let k = 0; k < parts; k++) {
    const [jobs, jobsRx] = syncChannel<number>(256, { codec: codecs.i32 }); // bounded: back-pressure
    const [results, resultsRx] = channel<Factored>();
    // The Receiver moves into the worker; the Sender is cloned, so ours is closed right away.
    workers.push(spawn((inbox: Receiver<number>, out: Sender<Factored>) => {
      for (const n of inbox) {
        const factors: number[] = [];
        let m = n;
        for (let d = 2; d * d <= m; d++) while (m % d === 0) { factors.push(d); m /= d; }
        if (m > 1) factors.push(m);
        out.send({ n, factors });
      }
    }, jobsRx, results));
    results.close();
    inboxes.push(jobs);
    outboxes.push(resultsRx);
  }
  const first = 1_000_000, count = 100_000;
  const producer = spawn((outs: SyncSender<number>[], from: number, n: number) => {
    for (let i = 0; i < n; i++) outs[i % outs.length].send(from + i);
    for (const o of outs) o.close(); // workers' loops end once their inbox is drained
  }, inboxes, first, count);
  inboxes.forEach((tx) => tx.close());

  // The collector takes whichever result channel is ready; a hung-up one leaves the set.
  t = performance.now();
  let received = 0, primes = 0, largest = { n: 0, factors: [] as number[] };
  const live = [...outboxes];
  while (live.length > 0) {
    try {
      const { value: r } = select(live); // typed from the receivers: Factored
      received++;
      if (r.factors.length === 1) primes++;
      if (r.factors.length > largest.factors.length) largest = r;
    } catch (e) {
      if (!(e instanceof RecvError) || e.index === undefined) throw e;
      live.splice(e.index, 1);
    }
  }
  producer.join();
  workers.forEach((w) => w.join());
  console.log(`${received} numbers factored by ${parts} workers in ${(performance.now() - t).toFixed(0)} ms: ${primes} primes; most factors: ${largest.n} = ${largest.factors.join(' × ')}`);
}
