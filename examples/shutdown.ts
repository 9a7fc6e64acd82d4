// Graceful shutdown. Worker threads take jobs from a bounded channel; the main thread
// queues jobs until it is told to stop, by Ctrl+C (SIGINT) or after a time limit, both
// of which abort one AbortController. Then:
//  1. queueing stops: the pending sendAsync is aborted (nothing half-sent) and the sender
//     closed, so the workers drain what is queued and their receive loops end;
//  2. a Notify wakes every worker (notifyWaiters), which aborts the worker's own
//     AbortSignal: the slow step of the job at hand, and of those still queued, is
//     cancelled instead of waited for;
//  3. the main thread joins every worker with a deadline, and terminates one that
//     overstays it (its locks and channels are released by the runtime).
//
//   npm run example:shutdown -- [run for ms]     (default 600; 0 runs until Ctrl+C)
import { AtomicBool, Barrier, Notify, spawn, syncChannel, type Receiver } from 'weft';

const runFor = Number(process.argv[2] ?? 600);
const WORKERS = 3;

type Job = { id: number; ms: number };
type Report = { processed: number; cancelled: number };

const [jobs, jobsRx] = syncChannel<Job>(8);
const stop = new Notify();
const stopping = new AtomicBool(false); // for a worker that starts listening after the notify
const ready = new Barrier(WORKERS + 1); // the workers and the main thread: all started

const workers = Array.from({ length: WORKERS }, () =>
  spawn(async (jobs: Receiver<Job>, stop: Notify, stopping: AtomicBool, ready: Barrier): Promise<Report> => {
    const { sleepAsync, RecvError } = await import('weft'); // a thread sees its imports, not this module's
    const shutdown = new AbortController();
    const listening = new AbortController(); // ends our wait for the notify when we are done
    stop.notified({ signal: listening.signal }).then(
      () => shutdown.abort(new Error('shutting down')),
      () => {}, // we finished first
    );
    if (stopping.load()) shutdown.abort(new Error('shutting down'));
    await ready.waitAsync();
    let processed = 0;
    let cancelled = 0;
    try {
      for (;;) {
        let job: Job;
        try {
          job = await jobs.recvAsync();
        } catch (e) {
          if (e instanceof RecvError) break; // every sender gone and the queue drained
          throw e;
        }
        try {
          await sleepAsync(job.ms, { signal: shutdown.signal }); // the job's slow step
          processed++;
        } catch (e) {
          if (!shutdown.signal.aborted) throw e;
          cancelled++;
        }
      }
    } finally {
      listening.abort();
    }
    return { processed, cancelled };
  }, jobsRx.clone(), stop, stopping, ready),
);
jobsRx.close();

await ready.waitAsync();
const stopRequest = new AbortController();
process.once('SIGINT', () => stopRequest.abort('SIGINT'));
const timer = runFor > 0 ? setTimeout(() => stopRequest.abort(`the ${runFor} ms limit`), runFor) : undefined;
const started = performance.now();
console.log(`running ${WORKERS} workers: press Ctrl+C to stop${runFor > 0 ? ` (or wait ${runFor} ms)` : ''}`);

let queued = 0;
try {
  for (;;) {
    // Waits while the queue is full; aborting stops the wait and sends nothing.
    await jobs.sendAsync({ id: queued, ms: 20 + (queued % 5) * 30 }, { signal: stopRequest.signal });
    queued++;
  }
} catch (e) {
  if (!stopRequest.signal.aborted) throw e;
}
clearTimeout(timer);
const stopAt = performance.now();
stopping.store(true);
stop.notifyWaiters();
jobs.close();

const deadline = AbortSignal.timeout(5000);
const reports = await Promise.all(
  workers.map((h) =>
    h.joinAsync({ signal: deadline }).catch(async (e) => {
      if (!deadline.aborted) throw e;
      await h.terminate();
      return undefined;
    }),
  ),
);
const finished = reports.filter((r): r is Report => r !== undefined);
const processed = finished.reduce((a, r) => a + r.processed, 0);
const cancelled = finished.reduce((a, r) => a + r.cancelled, 0);
console.log(`stop requested by ${String(stopRequest.signal.reason)} after ${(stopAt - started).toFixed(0)} ms: ${queued} jobs had been queued`);
console.log(`workers completed ${processed} jobs and cancelled ${cancelled} (the slow step of the jobs left when the stop came)`);
console.log(`${finished.length} of ${WORKERS} workers stopped cleanly in ${(performance.now() - stopAt).toFixed(0)} ms` +
  (finished.length < WORKERS ? `; ${WORKERS - finished.length} terminated at the deadline` : ''));
console.log(`every queued job accounted for: ${processed + cancelled === queued ? 'yes' : 'no'}`);
