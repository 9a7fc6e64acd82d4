// A rate limiter shared by threads, on two Semaphores:
//  - a token bucket: each request takes a permit and forgets it (a spent token); the
//    main thread refills the bucket at a steady rate, up to its size (the burst);
//  - a concurrency limit: a request holds a permit of the second semaphore while in
//    flight, released when it ends (`using`), so at most LIMIT run at once.
// Both are FIFO-fair: a thread that waits is served before later arrivals.
//
//   npm run example:rate-limiter -- [requests per second] [requests] [threads]   (default: 200 60 4)
import { AtomicI32, Semaphore, spawn, type JoinHandle } from 'weft';

const rate = Number(process.argv[2] ?? 200);
const requests = Number(process.argv[3] ?? 60);
const threads = Number(process.argv[4] ?? 4);
const BURST = 10;
const LIMIT = 3;

const bucket = new Semaphore(BURST); // starts full
const inFlight = new Semaphore(LIMIT);
const issued = new AtomicI32(BURST); // tokens ever put in the bucket, counted before they are added
const served = new AtomicI32(0);
const live = new AtomicI32(0);
const peak = new AtomicI32(0);
const overdrawn = new AtomicI32(0); // requests that found fewer tokens issued than served: must stay 0

// Refill from the clock: by time t, at most BURST + rate·t tokens were ever issued.
const started = performance.now();
let added = 0;
const refill = setInterval(() => {
  const due = Math.floor(((performance.now() - started) * rate) / 1000) - added;
  const room = BURST - bucket.availablePermits();
  const n = Math.max(0, Math.min(due, room));
  added += due; // tokens due while the bucket was full are lost, as in a real token bucket
  if (n > 0) {
    issued.fetchAdd(n);
    bucket.addPermits(n);
  }
}, 5);

const per = Math.ceil(requests / threads);
const handles: JoinHandle<number>[] = [];
for (let t = 0; t < threads; t++) {
  const mine = Math.max(0, Math.min(per, requests - t * per));
  handles.push(spawn(async (n: number, bucket: Semaphore, inFlight: Semaphore, counters: AtomicI32[]) => {
    const { sleepAsync } = await import('weft');
    const [issued, served, live, peak, overdrawn] = counters;
    for (let k = 0; k < n; k++) {
      (await bucket.acquireAsync()).forget(); // spend a token: it is not given back
      const index = served.fetchAdd(1);
      if (index >= issued.load()) overdrawn.fetchAdd(1);
      using _slot = await inFlight.acquireAsync(); // released at the end of this iteration
      peak.fetchMax(live.fetchAdd(1) + 1);
      await sleepAsync(8); // the request itself
      live.fetchSub(1);
    }
    return n;
  }, mine, bucket, inFlight, [issued, served, live, peak, overdrawn]));
}

const done = await Promise.all(handles.map((h) => h.joinAsync()));
clearInterval(refill);
const elapsed = performance.now() - started;
const minimum = (Math.max(0, requests - BURST) * 1000) / rate;
console.log(`rate limiter: ${requests} requests from ${threads} threads at ${rate}/s (bucket of ${BURST}), at most ${LIMIT} in flight`);
console.log(`requests per thread: ${done.join(', ')}`);
console.log(`took ${elapsed.toFixed(0)} ms; the rate allows no less than ${minimum.toFixed(0)} ms: ${elapsed >= minimum ? 'respected' : 'EXCEEDED'}`);
console.log(`every request had a token issued for it: ${overdrawn.load() === 0 ? 'yes' : `no (${overdrawn.load()} overdrawn)`}`);
console.log(`most requests in flight at once: ${peak.load()} (limit ${LIMIT})`);
