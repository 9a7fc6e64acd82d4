// A producer → workers → collector pipeline: a producer thread reads (here: makes up)
// access-log lines and sends them through a bounded channel, so it is held back when the
// workers fall behind (backpressure); worker threads share that channel's receiver
// (each line goes to one of them), parse each line and send it on to one of two
// channels, requests or errors; the main thread collects from both with select.
//
//   npm run example:pipeline -- [lines] [workers]      (default: 50000 lines, 3 workers)
import { availableParallelism, channel, RecvError, select, spawn, syncChannel, type Receiver, type Sender, type SyncSender } from 'weft';

const lines = Number(process.argv[2] ?? 50_000);
const workers = Number(process.argv[3] ?? Math.max(2, Math.min(3, availableParallelism())));
const QUEUE = 64;

type Request = { path: string; ms: number };
type Failure = { line: number; status: number };

// Bounded: at most QUEUE lines wait between the producer and the workers.
const [linesTx, linesRx] = syncChannel<string>(QUEUE);
const [requestsTx, requestsRx] = channel<Request>();
const [errorsTx, errorsRx] = channel<Failure>();

const producer = spawn((out: SyncSender<string>, n: number) => {
  const paths = ['/', '/login', '/api/items', '/api/items/7', '/static/app.js'];
  let heldBack = 0;
  for (let k = 0; k < n; k++) {
    const status = k % 97 === 0 ? 500 : k % 13 === 0 ? 404 : 200;
    const line = `${k} GET ${paths[k % paths.length]} ${status} ${(k * 7919) % 250}ms`;
    if (!out.trySend(line)) {
      heldBack++; // the queue is full: wait for the workers (backpressure)
      out.send(line);
    }
  }
  return heldBack; // out is closed when this thread ends: the workers' loops end
}, linesTx, lines);

const pool = [];
for (let w = 0; w < workers; w++) {
  pool.push(spawn((input: Receiver<string>, requests: Sender<Request>, errors: Sender<Failure>) => {
    let parsed = 0;
    for (const line of input) {
      const [seq, , path, status, took] = line.split(' ');
      if (status === '200') requests.send({ path, ms: parseInt(took, 10) });
      else errors.send({ line: Number(seq), status: Number(status) });
      parsed++;
    }
    return parsed;
  }, linesRx.clone(), requestsTx.clone(), errorsTx.clone()));
}
// Ours are the last copies left here: closing them lets each channel disconnect when
// the threads holding the others end.
linesRx.close();
requestsTx.close();
errorsTx.close();

// The collector: whichever channel has a message; a channel whose senders are all gone
// (and that is drained) throws RecvError with its index and leaves the set.
const byPath = new Map<string, { count: number; ms: number }>();
const statuses = new Map<number, number>();
let live: Array<Receiver<Request> | Receiver<Failure>> = [requestsRx, errorsRx];
while (live.length > 0) {
  try {
    const got = select(live);
    if (live[got.index] === requestsRx) {
      const { path, ms } = got.value as Request;
      const p = byPath.get(path) ?? { count: 0, ms: 0 };
      byPath.set(path, { count: p.count + 1, ms: p.ms + ms });
    } else {
      const { status } = got.value as Failure;
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  } catch (e) {
    if (!(e instanceof RecvError) || e.index === undefined) throw e;
    live = live.filter((_, k) => k !== e.index);
  }
}

const heldBack = producer.join();
const perWorker = pool.map((h) => h.join());
const ok = [...byPath.values()].reduce((a, p) => a + p.count, 0);
const failed = [...statuses.values()].reduce((a, n) => a + n, 0);
console.log(`pipeline: ${lines} lines, producer → ${workers} workers (queue of ${QUEUE}) → collector`);
console.log(`lines parsed per worker: ${perWorker.join(', ')} (total ${perWorker.reduce((a, b) => a + b, 0)})`);
console.log(`backpressure: the producer found the queue full ${heldBack} times and waited`);
for (const [path, p] of [...byPath].sort()) console.log(`  ${path.padEnd(16)} ${String(p.count).padStart(6)} requests, mean ${(p.ms / p.count).toFixed(1)} ms`);
console.log(`collected: ${ok} ok, ${failed} errors (${[...statuses].sort().map(([s, n]) => `${n}× ${s}`).join(', ')})`);
