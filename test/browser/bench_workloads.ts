// The same four measurements in Node and in Chromium (README, "Browsers"): every
// workload runs in weft threads, which may block in both hosts, timed inside the
// threads; the main thread only starts them and waits with joinAsync.

import type * as Weft from 'weft';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
}

/** Median of `runs` results of one thread-timed workload. */
async function median(runs: number, f: () => Promise<number>): Promise<number> {
  const out: number[] = [];
  for (let k = 0; k < runs; k++) out.push(await f());
  out.sort((a, b) => a - b);
  return out[out.length >> 1];
}

export async function runBench(weft: typeof Weft, runs = 5): Promise<BenchRow[]> {
  const { spawn, channel, codecs, Mutex } = weft;
  const rows: BenchRow[] = [];

  // spawn→join on a warm pool, timed in a thread that spawns and joins (blocking).
  await spawn(() => 0).joinAsync();
  const spawnMs = await median(runs, () =>
    spawn(async (n: number) => {
      const { spawn } = await import('weft');
      spawn(() => 0).join();
      const t = performance.now();
      for (let k = 0; k < n; k++) spawn((k: number) => k, k).join();
      return (performance.now() - t) / n;
    }, 200).joinAsync(),
  );
  rows.push({ name: 'spawn→join (warm pool)', value: spawnMs * 1000, unit: 'µs' });

  // One-way f64 channel, thread to thread.
  const perSecond = await median(runs, async () => {
    const [tx, rx] = channel<number>({ codec: codecs.f64 });
    const n = 1_000_000;
    const consumer = spawn((rx: Weft.Receiver<number>, n: number) => {
      rx.recv();
      const t = performance.now();
      let sum = 0;
      for (let k = 1; k < n; k++) sum += rx.recv();
      return (n - 1) / ((performance.now() - t) / 1000) + sum * 0;
    }, rx, n);
    spawn((tx: Weft.Sender<number>, n: number) => { for (let k = 0; k < n; k++) tx.send(k); }, tx, n);
    return consumer.joinAsync();
  });
  rows.push({ name: 'channel<f64> one-way, thread to thread', value: perSecond / 1e6, unit: 'M msg/s' });

  // Round trip: ping-pong through two unbounded channels.
  const rtUs = await median(runs, async () => {
    const [pingTx, pingRx] = channel<number>({ codec: codecs.f64 });
    const [pongTx, pongRx] = channel<number>({ codec: codecs.f64 });
    const n = 100_000;
    spawn((rx: Weft.Receiver<number>, tx: Weft.Sender<number>) => { for (const v of rx) tx.send(v); }, pingRx, pongTx);
    return spawn((tx: Weft.Sender<number>, rx: Weft.Receiver<number>, n: number) => {
      for (let k = 0; k < 1000; k++) (tx.send(k), rx.recv());
      const t = performance.now();
      for (let k = 0; k < n; k++) (tx.send(k), rx.recv());
      const us = ((performance.now() - t) * 1000) / n;
      tx.close();
      return us;
    }, pingTx, pongRx, n).joinAsync();
  });
  rows.push({ name: 'channel round trip (ping-pong)', value: rtUs, unit: 'µs' });

  // Mutex: uncontended lock+unlock in one thread, and increments from two threads.
  const m = new Mutex(0);
  const lockPerSecond = await median(runs, () =>
    spawn((m: Weft.Mutex<number>, n: number) => {
      const t = performance.now();
      for (let k = 0; k < n; k++) m.lock().unlock();
      return n / ((performance.now() - t) / 1000);
    }, m, 2_000_000).joinAsync(),
  );
  rows.push({ name: 'Mutex lock+unlock, uncontended', value: lockPerSecond / 1e6, unit: 'M ops/s' });
  const contended = await median(runs, async () => {
    const n = 500_000;
    // Wall clock across threads: each thread's performance.now() has its own origin.
    const t = performance.timeOrigin + performance.now();
    const hs = [0, 1].map(() =>
      spawn((m: Weft.Mutex<number>, n: number) => {
        for (let k = 0; k < n; k++) {
          const g = m.lock();
          g.value++;
          g.unlock();
        }
        return performance.timeOrigin + performance.now();
      }, m, n),
    );
    const ends = await Promise.all(hs.map((h) => h.joinAsync()));
    return (2 * n) / ((Math.max(...ends) - t) / 1000);
  });
  rows.push({ name: 'Mutex<number> increments, 2 threads', value: contended / 1e6, unit: 'M ops/s' });
  return rows;
}
