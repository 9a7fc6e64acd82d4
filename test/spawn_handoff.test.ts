// Spawns handed straight to idle pooled workers (thread/mailbox.ts): many spawns at
// once from several threads, storms larger than the pool with named threads mixed in,
// terminate() right after spawn, a handed-off thread that exits its worker, and threads
// killed at random points while they spawn. No record or worker may be lost: every
// handle joins (or fails with a PanicError where a kill explains it) within a bound,
// spawns keep working afterwards, and the heap comes back to where it was.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AtomicI32, Builder, PanicError, spawn, syncChannel, type JoinHandle, type Receiver, type SyncSender,
} from '../src/index.ts';
import { delay, settledLive } from './helpers/settle.ts';

const ROUNDS = Number(process.env.WEFT_HANDOFF_ROUNDS ?? (process.env.WEFT_SOAK ? 40 : 4));
/** Bound on any one join: a fresh worker's boot on a loaded 2-core machine can take seconds. */
const JOIN_MS = 60_000;
/** Threads that must all run at once: more than the pool (at most 4 idle unnamed workers and 8 hand-off words). */
const STORM = 12;

const SEED = Number(process.env.WEFT_SEED ?? Date.now() % 100_000);
let seed = SEED;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

/** Joins `h` within JOIN_MS: its value, or the PanicError it failed with. A hang fails the test. */
async function joinBounded<T>(h: JoinHandle<T>): Promise<{ value: T } | { panic: PanicError }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), JOIN_MS)));
  const joined = h.joinAsync().then(
    (value) => ({ value }),
    (e: unknown) => {
      assert.ok(e instanceof PanicError, `join failed with ${String(e)}`);
      return { panic: e };
    },
  );
  const r = await Promise.race([joined, late]);
  clearTimeout(timer);
  // (h.thread only here: a Thread handle holds a ref to the record until it is closed.)
  if (r === 'late') assert.fail(`${h.thread} was not joined within ${JOIN_MS} ms: its record or worker was lost`);
  h.close();
  return r as { value: T } | { panic: PanicError };
}

/**
 * `count` threads that can only finish once `all` have arrived (each waits for it),
 * every third named: the pool must grow past its idle workers, and named threads run
 * on workers of their own name. Returns each thread's name, or '-' for unnamed ones.
 */
function storm(arrived: AtomicI32, count: number, all: number, tag: string): JoinHandle<string>[] {
  return Array.from({ length: count }, (_, k) => {
    const body = async (arrived: AtomicI32, all: number, boundMs: number) => {
      const { current, sleep } = await import('weft');
      arrived.fetchAdd(1);
      const until = Date.now() + boundMs;
      while (arrived.load() < all) {
        if (Date.now() > until) throw new Error(`only ${arrived.load()} of ${all} threads ran at once`);
        sleep(2);
      }
      return current().name ?? '-';
    };
    return k % 3 === 2 ? new Builder().name(`${tag}-named`).spawn(body, arrived, all, JOIN_MS) : spawn(body, arrived, all, JOIN_MS);
  });
}

describe('spawn hand-off to idle workers', { timeout: 600_000 }, () => {
  // The heap is compared while the runtime keeps the same workers: each worker holds
  // heap of its own, so the tests that grow the pool come last.
  test('terminate() right after spawn: the thread ends as terminated (or finished first); nothing is left behind', async () => {
    // The runtime and its pool exist before measuring, and one round has run.
    using arrived = new AtomicI32(0);
    for (const h of Array.from({ length: 4 }, () => storm(arrived, 1, 4, 'warm')[0])) assert.ok('value' in (await joinBounded(h)));
    let before = 0;
    for (let k = -1; k < 2 * ROUNDS; k++) {
      if (k === 0) before = await settledLive(10_000);
      // A thread that never ends by itself: the kill must find the worker it was handed to.
      const forever = spawn(async () => {
        const { sleep } = await import('weft');
        for (;;) sleep(1000);
      });
      await forever.terminate();
      const r = await joinBounded(forever);
      assert.ok('panic' in r && /was terminated/.test(r.panic.message), 'a terminated thread joins as terminated');
      // A trivial one: the kill races the hand-off and the thread's own end.
      const quick = spawn((x: number) => x, k);
      await quick.terminate();
      const q = await joinBounded(quick);
      assert.ok('value' in q ? q.value === k : /was terminated/.test(q.panic.message));
    }
    assert.deepEqual(await joinBounded(spawn(() => 'after')), { value: 'after' });
    assert.equal(await settledLive(10_000), before, 'no record left behind');
  });

  test('a handed-off thread that exits its worker fails its join; the next spawns run', async () => {
    const h = spawn(() => process.exit(3));
    const r = await joinBounded(h);
    assert.ok('panic' in r && /exited with code 3/.test(r.panic.message), 'the exit reaches the joiner');
    const again = Array.from({ length: 6 }, (_, k) => spawn((x: number) => x * 3, k));
    for (const [k, a] of again.entries()) assert.deepEqual(await joinBounded(a), { value: k * 3 });
  });

  test(`threads killed at random points while they spawn (${ROUNDS} rounds of 3, seed ${SEED}): no record or worker lost`, async () => {
    // Spawns until killed, every fourth thread named; at most two handles wait in the
    // channel, so it spawns at the pace the collector joins. A large argument makes
    // spawn() itself take most of the spawner's time, so that is where kills land.
    const spawner = async (out: SyncSender<JoinHandle<number>>, count: AtomicI32, limit: number) => {
      const { Builder, spawn } = await import('weft');
      const big = Array.from({ length: 3000 }, (_, k) => ({ k, s: `item ${k}` }));
      const child = (items: unknown[], k: number) => items.length + k * 2;
      for (let k = 0; k < limit; k++) {
        const h = k % 4 === 3 ? new Builder().name('handoff-named').spawn(child, big, k) : spawn(child, big, k);
        count.fetchAdd(1);
        out.send(h);
      }
    };
    /** Joins every handle that comes out of `rx` until its spawner is gone; returns how many. */
    const collect = async (rx: Receiver<JoinHandle<number>>): Promise<number> => {
      let n = 0;
      for await (const h of rx) {
        const r = await joinBounded(h);
        // No child is ever killed: each must finish with its own result.
        assert.ok('value' in r && r.value % 2 === 0 && r.value >= 3000, `a spawned thread failed: ${'panic' in r ? r.panic.message : ''}`);
        n++;
      }
      rx.close();
      return n;
    };
    const round = async (kill: boolean): Promise<number> => {
      const runs = [0, 1, 2].map(() => {
        const [tx, rx] = syncChannel<JoinHandle<number>>(2);
        const count = new AtomicI32(0);
        const h = spawn(spawner, tx, count, kill ? 1e9 : 8);
        return { h, count, collected: collect(rx) };
      });
      await Promise.all(
        runs.map(async ({ h, count }) => {
          if (kill) {
            const after = 1 + Math.floor(rand() * 12);
            for (const until = Date.now() + JOIN_MS; count.load() < after; await delay(1)) {
              assert.ok(Date.now() < until, 'a spawning thread made no progress');
            }
            if (rand() < 0.7) await delay(rand() * 3);
            await h.terminate();
          }
          const r = await joinBounded(h);
          assert.ok(kill || 'value' in r);
        }),
      );
      let joined = 0;
      for (const { collected, count } of runs) {
        joined += await collected;
        count.close();
      }
      return joined;
    };
    // Before measuring: a round without kills, one with, and more workers at once than
    // the rounds will have (a killed worker's replacement may boot before its exit is
    // handled), so the wake words the runtime keeps for its workers (channel/signal.ts)
    // all exist.
    assert.equal(await round(false), 24);
    await round(true);
    const many = new AtomicI32(0);
    for (const h of storm(many, STORM, STORM, 'warm')) assert.ok('value' in (await joinBounded(h)));
    many.close();
    const before = await settledLive(10_000);
    let joined = 0;
    for (let k = 0; k < ROUNDS; k++) joined += await round(true);
    assert.ok(joined >= ROUNDS * 3, 'each spawning thread got handles out before its kill');
    assert.equal(await settledLive(10_000), before, 'no record, spec or handle of a killed spawner left behind');
    // No worker lost: a storm that needs more workers than the pool at once still runs.
    using arrived = new AtomicI32(0);
    for (const h of storm(arrived, STORM, STORM, 'after')) assert.ok('value' in (await joinBounded(h)));
  });
  test('a storm larger than the pool, from main and from two threads at once, named threads mixed in', async () => {
    using arrived = new AtomicI32(0);
    const local = storm(arrived, STORM, STORM + 6, 'main');
    // Two threads spawn their own share of the storm while main's is still starting.
    const spawners = [0, 1].map((n) =>
      spawn(async (arrived: AtomicI32, count: number, all: number, tag: string, boundMs: number) => {
        const { Builder, spawn } = await import('weft');
        const body = async (arrived: AtomicI32, all: number, boundMs: number) => {
          const { current, sleep } = await import('weft');
          arrived.fetchAdd(1);
          const until = Date.now() + boundMs;
          while (arrived.load() < all) {
            if (Date.now() > until) throw new Error(`only ${arrived.load()} of ${all} threads ran at once`);
            sleep(2);
          }
          return current().name ?? '-';
        };
        const hs = Array.from({ length: count }, (_, k) =>
          k % 3 === 2 ? new Builder().name(`${tag}-named`).spawn(body, arrived, all, boundMs) : spawn(body, arrived, all, boundMs),
        );
        return hs.map((h) => h.join());
      }, arrived, 3, STORM + 6, `t${n}`, JOIN_MS),
    );
    const names: string[] = [];
    for (const h of local) {
      const r = await joinBounded(h);
      assert.ok('value' in r, `a storm thread failed: ${'panic' in r ? r.panic.message : ''}`);
      names.push(r.value);
    }
    for (const h of spawners) {
      const r = await joinBounded(h);
      assert.ok('value' in r, `a spawning thread failed: ${'panic' in r ? r.panic.message : ''}`);
      names.push(...r.value);
    }
    assert.equal(names.filter((n) => n === 'main-named').length, STORM / 3);
    assert.deepEqual(names.filter((n) => n.startsWith('t')).sort(), ['t0-named', 't1-named']);
    assert.equal(names.filter((n) => n === '-').length, STORM - STORM / 3 + 4);
  });

  test('many spawn→join in a row from main and from threads: every result right', async () => {
    const workers = [0, 1, 2].map((n) =>
      spawn(async (n: number, rounds: number) => {
        const { spawn } = await import('weft');
        let sum = 0;
        for (let k = 0; k < rounds; k++) sum += spawn((a: number, b: number) => a * b, n, k).join();
        return sum;
      }, n, 100),
    );
    for (let k = 0; k < 200; k++) assert.equal(spawn((x: number) => x + 1, k).join(), k + 1);
    for (const [n, h] of workers.entries()) assert.deepEqual(await joinBounded(h), { value: (n * 99 * 100) / 2 });
  });

});
