// weft's browser suite: runs in a cross-origin isolated page in Chromium (driven by
// test/browser.test.ts). Threads are Web Workers; the page's main thread cannot
// block, so it uses the …Async spellings while the threads block.
//
// The page imports weft through an import map (weft.js, a bundle of weft), and this
// file is bundled with weft left external, so `import('weft')` inside spawned
// functions reaches each worker's own weft (README, "Browsers").

import {
  Barrier, Builder, Condvar, Mutex, PanicError, PoisonError, RecvError, RwLock, availableParallelism, channel, codecs,
  current, oneshot, scopeAsync, spawn, syncChannel, type OneshotSender, type Receiver, type Sender, type SyncSender,
} from 'weft';

type Test = { name: string; run: () => Promise<void> };
const tests: Test[] = [];
const test = (name: string, run: () => Promise<void>): void => void tests.push({ name, run });

function assert(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(`assertion failed: ${message}`);
}
function equal<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}
async function rejects(p: Promise<unknown>, check: (e: unknown) => boolean, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    if (!check(e)) throw new Error(`${what}: rejected with the wrong error: ${e instanceof Error ? e.stack : String(e)}`);
    return e;
  }
  throw new Error(`${what}: resolved, expected a rejection`);
}

// ---------------------------------------------------------------------------------
// Threads

test('spawn and join: arguments in, result out', async () => {
  equal(await spawn((a: number, b: string) => `${b}${a * 2}`, 21, 'x').joinAsync(), 'x42', 'result');
});

test('more threads than cores all run to completion', async () => {
  const n = availableParallelism() * 3;
  const handles = Array.from({ length: n }, (_, k) => spawn((k: number) => k * k, k));
  const got = await Promise.all(handles.map((h) => h.joinAsync()));
  equal(got, Array.from({ length: n }, (_, k) => k * k), 'squares');
});

test("a thread's name is its worker's name; ids are unique", async () => {
  const h = new Builder().name('cruncher').spawn(async () => {
    const weft = await import('weft');
    return { name: weft.current().name, worker: (globalThis as { name?: string }).name, id: weft.current().id };
  });
  const r = await h.joinAsync();
  equal([r.name, r.worker], ['cruncher', 'cruncher'], 'names');
  assert(r.id !== current().id && r.id === h.thread.id, 'thread id');
});

test('Builder.stackSize is accepted and ignored', async () => {
  equal(await new Builder().stackSize(4 << 20).spawn(() => 'ran').joinAsync(), 'ran', 'result');
});

test('threads spawn threads, and import weft inside them', async () => {
  const inner = await spawn(async () => {
    const { spawn } = await import('weft');
    return spawn((x: number) => x + 1, 1).join();
  }).joinAsync();
  equal(inner, 2, 'nested result');
});

test('blocking on the main thread throws a TypeError naming the Async call', async () => {
  const m = new Mutex(0);
  let caught: unknown;
  try {
    m.lock();
  } catch (e) {
    caught = e;
  }
  assert(caught instanceof TypeError && /lockAsync/.test(caught.message), `got ${String(caught)}`);
  const h = spawn(() => 1);
  let joinError: unknown;
  try {
    h.join();
  } catch (e) {
    joinError = e;
  }
  assert(joinError instanceof TypeError && /joinAsync/.test(joinError.message), `join: got ${String(joinError)}`);
  equal(await h.joinAsync(), 1, 'joinAsync after');
});

// ---------------------------------------------------------------------------------
// Panics and deaths

test('a thread that throws: PanicError with the cause and a long message intact', async () => {
  const text = 'a panic message longer than sixty-four bytes, decoded from the shared heap: ' + 'é'.repeat(40);
  const e = await rejects(spawn((t: string) => { throw new RangeError(t); }, text).joinAsync(), (e) => e instanceof PanicError, 'join');
  const cause = (e as PanicError).cause as Error;
  equal([cause.name, cause.message], ['RangeError', text], 'cause');
});

test('an uncaught error outside the thread function (a timer) is a panic', async () => {
  const h = spawn(() => new Promise<void>(() => setTimeout(() => { throw new Error('from a timer'); }, 0)));
  const e = await rejects(h.joinAsync(), (e) => e instanceof PanicError, 'join');
  assert(/from a timer/.test(String(((e as PanicError).cause as Error)?.message)), `cause: ${String((e as PanicError).cause)}`);
});

test('a thread that closes its worker is a panic for its joiner, never a hang', async () => {
  const h = spawn(() => new Promise<void>(() => (globalThis as unknown as { close(): void }).close()));
  const e = await rejects(h.joinAsync(), (e) => e instanceof PanicError, 'join');
  assert(/before finishing/.test((e as Error).message), (e as Error).message);
});

// Chromium ends a worker busy in JavaScript by force after a grace period (~2 s).
test('terminate() a thread spinning forever', async () => {
  const h = spawn(() => { for (;;); });
  await h.terminate();
  const e = await rejects(h.joinAsync(), (e) => e instanceof PanicError, 'join');
  assert(/was terminated/.test((e as Error).message), (e as Error).message);
});

test('terminate a thread holding a Mutex: the lock is poisoned and released', async () => {
  const m = new Mutex(7);
  const [held, heldRx] = oneshot<boolean>();
  const h = spawn((m: Mutex<number>, held: OneshotSender<boolean>) => {
    const g = m.lock();
    g.value = 8;
    held.send(true);
    for (;;); // never unlocks
  }, m, held);
  equal(await heldRx.recvAsync(), true, 'held');
  await h.terminate();
  await rejects(h.joinAsync(), (e) => e instanceof PanicError, 'join');
  const e = await rejects(m.lockAsync(), (e) => e instanceof PoisonError, 'lockAsync');
  const g = (e as PoisonError<{ value: number; unlock(): void }>).intoInner();
  equal(g.value, 7, 'the value the killed thread never wrote back');
  g.unlock();
  assert(m.isPoisoned(), 'poisoned');
});

// ---------------------------------------------------------------------------------
// Channels

test('channel: producers in threads, recvAsync on the main thread, disconnect ends it', async () => {
  const [tx, rx] = channel<number>({ codec: codecs.f64 });
  const per = 500;
  for (let p = 0; p < 4; p++) {
    spawn((out: Sender<number>, p: number, per: number) => {
      for (let i = 0; i < per; i++) out.send(p * per + i);
    }, tx.clone(), p, per);
  }
  tx.close();
  let sum = 0, count = 0;
  for await (const v of rx) (sum += v), count++;
  const n = 4 * per;
  equal([count, sum], [n, (n * (n - 1)) / 2], 'count and sum');
  await rejects(rx.recvAsync(), (e) => e instanceof RecvError, 'recv after disconnect');
});

test('rendezvous channel between two threads, blocking on both sides', async () => {
  const [tx, rx] = syncChannel<number>(0);
  const producer = spawn((tx: SyncSender<number>) => { for (let i = 1; i <= 100; i++) tx.send(i); }, tx);
  const consumer = spawn((rx: Receiver<number>) => { let s = 0; for (const v of rx) s += v; return s; }, rx);
  await producer.joinAsync();
  equal(await consumer.joinAsync(), 5050, 'sum');
});

test('large strings and nested values through a channel, both ways', async () => {
  const big = 'weft '.repeat(200_000) + '✓ end';
  const value = {
    big,
    list: [1, -0, 2.5, 2n ** 70n, null, undefined, true],
    map: new Map<unknown, unknown>([['k', { deep: [new Set([1, 2, 3])] }], [3, new Date(86_400_000)]]),
    bytes: new Uint8Array([1, 2, 3, 250]),
    floats: new Float64Array([0.5, -1e300]),
    error: new TypeError('outer', { cause: new Error('inner') }),
    re: /we+ft/giu,
  };
  const [tx, rx] = channel<typeof value>();
  const [backTx, backRx] = channel<typeof value>();
  const echo = spawn((rx: Receiver<typeof value>, back: Sender<typeof value>) => {
    const v = rx.recv();
    back.send(v);
    return v.big.length;
  }, rx, backTx);
  tx.send(value);
  const got = await backRx.recvAsync();
  equal(await echo.joinAsync(), big.length, 'length seen in the thread');
  assert(got.big === big, 'big string intact');
  assert(Object.is(got.list[1], -0) && got.list[3] === 2n ** 70n && got.list[5] === undefined, 'list');
  const deep = (got.map.get('k') as { deep: Set<number>[] }).deep[0];
  assert(deep instanceof Set && [...deep].join() === '1,2,3', 'nested set');
  assert((got.map.get(3) as Date).getTime() === 86_400_000, 'date');
  assert(got.bytes instanceof Uint8Array && got.bytes.join() === '1,2,3,250', 'bytes');
  assert(got.floats instanceof Float64Array && got.floats[1] === -1e300, 'floats');
  assert(got.error instanceof TypeError && (got.error.cause as Error).message === 'inner', 'error with cause');
  assert(got.re.source === 'we+ft' && got.re.flags === 'giu', 'regexp');
});

// ---------------------------------------------------------------------------------
// Locks: blocking inside workers, …Async on the main thread

test('Mutex: threads block on it while the main thread takes it with lockAsync', async () => {
  const m = new Mutex(0);
  const per = 2000;
  const handles = Array.from({ length: 4 }, () =>
    spawn((m: Mutex<number>, per: number) => { for (let i = 0; i < per; i++) { const g = m.lock(); g.value++; g.unlock(); } }, m, per),
  );
  for (let i = 0; i < 200; i++) {
    const g = await m.lockAsync();
    g.value++;
    g.unlock();
  }
  await Promise.all(handles.map((h) => h.joinAsync()));
  const g = await m.lockAsync();
  equal(g.value, 4 * per + 200, 'total');
  g.unlock();
});

test('RwLock: readers in threads, a writer on the main thread', async () => {
  const lock = new RwLock({ n: 0 });
  const readers = Array.from({ length: 3 }, () =>
    spawn((lock: RwLock<{ n: number }>) => {
      let last = 0;
      for (let i = 0; i < 300; i++) {
        const g = lock.read();
        if (g.value.n < last) throw new Error('went backwards');
        last = g.value.n;
        g.unlock();
      }
      return last;
    }, lock),
  );
  for (let i = 0; i < 50; i++) {
    const g = await lock.writeAsync();
    g.value.n++;
    g.unlock();
  }
  for (const r of await Promise.all(readers.map((h) => h.joinAsync()))) assert(r <= 50, `reader saw ${r}`);
  const g = await lock.readAsync();
  equal(g.value.n, 50, 'final');
  g.unlock();
});

test('Condvar: a thread waits until the main thread sets the flag', async () => {
  const state = new Mutex(false);
  const cv = new Condvar();
  const h = spawn((state: Mutex<boolean>, cv: Condvar) => {
    const g = state.lock();
    cv.waitWhile(g, (ready) => !ready);
    g.unlock();
    return 'woke';
  }, state, cv);
  const g = await state.lockAsync();
  g.value = true;
  g.unlock();
  cv.notifyAll();
  equal(await h.joinAsync(), 'woke', 'result');
});

test('Barrier: one leader per generation across threads', async () => {
  const n = 4;
  const barrier = new Barrier(n);
  const handles = Array.from({ length: n }, () => spawn((b: Barrier) => [0, 1, 2].map(() => b.wait().isLeader), barrier));
  const results = await Promise.all(handles.map((h) => h.joinAsync()));
  for (let gen = 0; gen < 3; gen++) equal(results.filter((r) => r[gen]).length, 1, `leaders in generation ${gen}`);
});

// ---------------------------------------------------------------------------------
// Scope and park

test('scopeAsync: returns after every thread spawned on it ended', async () => {
  const m = new Mutex<number[]>([]);
  const r = await scopeAsync((s) => {
    for (let k = 0; k < 4; k++) s.spawn((m: Mutex<number[]>, k: number) => m.withLock((v) => v.push(k)), m, k);
    return 'body';
  });
  equal(r, 'body', 'scope result');
  const g = await m.lockAsync();
  equal([...g.value].sort(), [0, 1, 2, 3], 'every thread ran');
  g.unlock();
});

test('scopeAsync: a panicked thread that nobody joined fails the scope', async () => {
  const e = await rejects(
    scopeAsync((s) => void s.spawn(() => { throw new Error('scoped boom'); })),
    (e) => e instanceof PanicError,
    'scope',
  );
  assert(/a scoped thread panicked/.test((e as Error).message), (e as Error).message);
});

test('park: a thread parks until the main thread unparks it', async () => {
  const [tx, rx] = oneshot<number>();
  const h = spawn(async (tx: OneshotSender<number>) => {
    const { park, current } = await import('weft');
    tx.send(current().id);
    park();
    return 'unparked';
  }, tx);
  equal(await rx.recvAsync(), h.thread.id, 'thread id');
  h.thread.unpark();
  equal(await h.joinAsync(), 'unparked', 'result');
});

// ---------------------------------------------------------------------------------

const TEST_TIMEOUT_MS = 30_000;

export async function run(): Promise<{ passed: number; failed: number; lines: string[] }> {
  const lines: string[] = [];
  let passed = 0, failed = 0;
  for (const t of tests) {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        t.run(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${TEST_TIMEOUT_MS} ms (hung)`)), TEST_TIMEOUT_MS))),
      ]);
      passed++;
      lines.push(`ok - ${t.name} (${Math.round(performance.now() - started)} ms)`);
    } catch (e) {
      failed++;
      lines.push(`not ok - ${t.name}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }
  lines.push(`${passed} passed, ${failed} failed`);
  return { passed, failed, lines };
}
