// Handles print what a user cares about (state, value, queue length), never heap offsets:
// console.log / util.inspect through Node's custom-inspect hook, and toString().
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import {
  AtomicBool, AtomicI32, AtomicI64, AtomicU32, AtomicU64, Barrier, Builder, channel, Condvar, LazyLock, Mutex, Notify,
  Once, OnceCell, OnceLock, RwLock, Semaphore, sharedArray, spawn, syncChannel, ThreadPool, type Receiver,
} from 'weft';

const show = (x: unknown) => inspect(x, { colors: false });

test('atomics print their value', () => {
  assert.equal(show(new AtomicI32(5)), 'AtomicI32(5)');
  assert.equal(String(new AtomicU32(7)), 'AtomicU32(7)');
  assert.equal(show(new AtomicBool(true)), 'AtomicBool(true)');
  assert.equal(show(new AtomicI64(-3n)), 'AtomicI64(-3)');
  assert.equal(`${new AtomicU64(2n ** 64n - 1n)}`, 'AtomicU64(18446744073709551615)');
  assert.doesNotMatch(show(new AtomicI32(1)), /offset|index/);
});

test('a Mutex shows its value when it is free, its state always, and a poisoned one says so', () => {
  const m = new Mutex(3);
  assert.equal(show(m), 'Mutex<unlocked, poisoned=false> { value: 3 }');
  assert.equal(String(m), 'Mutex<unlocked, poisoned=false> { value: 3 }');
  const g = m.lock();
  assert.equal(show(m), 'Mutex<locked, poisoned=false>'); // printing never waits for the lock
  g.unlock();

  const items = new Mutex({ names: ['a', 'b'] });
  assert.equal(show(items), "Mutex<unlocked, poisoned=false> { value: { names: [ 'a', 'b' ] } }");
  assert.equal(String(items), 'Mutex<unlocked, poisoned=false> { value: {"names":["a","b"]} }');

  assert.throws(() => spawn((m: Mutex<number>) => m.withLock(() => { throw new Error('boom'); }), m).join());
  assert.equal(show(m), 'Mutex<unlocked, poisoned=true> { value: 3 }');
  assert.equal(m.isPoisoned(), true); // printing did not clear it
});

test('a Mutex held by another thread prints as locked without waiting', () => {
  const m = new Mutex('busy');
  const [tx, rx] = syncChannel<string>(0);
  const [go, wait] = syncChannel<null>(0);
  const h = spawn((m: Mutex<string>, tx, wait: Receiver<null>) => {
    using _g = m.lock();
    tx.send('held');
    wait.recv();
  }, m, tx, wait);
  assert.equal(rx.recv(), 'held');
  assert.equal(show(m), 'Mutex<locked, poisoned=false>');
  go.send(null);
  h.join();
  assert.equal(show(m), "Mutex<unlocked, poisoned=false> { value: 'busy' }");
});

test('an RwLock shows its value when readable', () => {
  const l = new RwLock([1, 2]);
  assert.equal(show(l), 'RwLock<readable, poisoned=false> { value: [ 1, 2 ] }');
  const w = l.write();
  assert.equal(show(l), 'RwLock<write-locked, poisoned=false>');
  w.unlock();
  const r = l.read();
  assert.equal(String(l), 'RwLock<readable, poisoned=false> { value: [1,2] }'); // readers share
  r.unlock();
});

test('channels show how many messages wait; endpoints say when spent', () => {
  const [tx, rx] = channel<number>();
  for (let k = 0; k < 7; k++) tx.send(k);
  assert.equal(show(rx), 'Receiver<7 queued>');
  rx.recv();
  assert.equal(String(rx), 'Receiver<6 queued>');
  assert.equal(show(tx), 'Sender');
  spawn((tx) => tx.close(), tx).join();
  assert.equal(show(tx), 'Sender <moved>');
  rx.close();
  assert.equal(show(rx), 'Receiver <closed>');
});

test('threads show their id and name; join handles their state', () => {
  const h = new Builder().name('hasher').spawn(() => 1);
  const id = h.thread.id;
  assert.equal(show(h.thread), `Thread #${id} 'hasher'`);
  h.join();
  const k = spawn((n: number) => n, 2);
  assert.match(String(k.thread), /^Thread #\d+$/);
  k.join();
  const [tx, rx] = syncChannel<null>(0);
  const running = spawn((rx: Receiver<null>) => rx.recv(), rx);
  assert.match(show(running), /^JoinHandle<running> of Thread #\d+$/);
  tx.send(null);
  while (!running.isFinished()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
  assert.match(show(running), /^JoinHandle<finished> of Thread #\d+$/);
  running.join();
});

test('Semaphore, Permit, Barrier, Once, OnceLock, LazyLock and SharedArray print their state', () => {
  const s = new Semaphore(2);
  assert.equal(show(s), 'Semaphore<2 permits>');
  const p = s.acquire();
  assert.equal(show(s), 'Semaphore<1 permit>');
  assert.equal(show(p), 'Permit<1 permit>');
  p.release();
  s.close();
  assert.match(show(s), /^Semaphore<2 permits, closed>$/);

  assert.equal(show(new Barrier(4)), 'Barrier<n=4>');

  const once = new Once();
  assert.equal(show(once), 'Once<incomplete>');
  once.callOnce(() => {});
  assert.equal(show(once), 'Once<completed>');

  const cell = new OnceLock<string>();
  assert.equal(show(cell), 'OnceLock<uninit>');
  cell.set('ready');
  assert.equal(show(cell), "OnceLock<init> { value: 'ready' }");

  let runs = 0;
  const lazy = new LazyLock(() => ++runs);
  assert.equal(show(lazy), 'LazyLock<unforced>');
  assert.equal(runs, 0); // printing does not force it
  assert.equal(lazy.force(), 1);
  assert.equal(String(lazy), 'LazyLock<forced> { value: 1 }');

  assert.equal(show(sharedArray(Float64Array, 1024)), 'SharedArray<Float64Array(1024)>');
  assert.equal(show(new Condvar()), 'Condvar');
  assert.equal(show(new Notify()), 'Notify');
});

test('handles nested in a value print as themselves, also from another thread', () => {
  const [tx, rx] = channel<string>();
  tx.send('x');
  const m = new Mutex({ rx, hits: new AtomicI32(2) });
  assert.equal(show(m), 'Mutex<unlocked, poisoned=false> { value: { rx: Receiver<1 queued>, hits: AtomicI32(2) } }');
  const seen = spawn((m: Mutex<{ hits: AtomicI32 }>) => m.withLock((v) => String(v.hits)), m).join();
  assert.equal(seen, 'AtomicI32(2)');
});

test('OnceCell prints its value once set', async () => {
  const cell = new OnceCell<number>();
  assert.equal(show(cell), 'OnceCell<uninit>');
  assert.equal(await cell.getOrInit(async () => 7), 7);
  assert.equal(show(cell), 'OnceCell<init> { value: 7 }');
});

test('a ThreadPool shows its threads and queue; a TaskHandle its state', async () => {
  await using pool = new ThreadPool({ threads: 1 });
  const [tx, rx] = syncChannel<null>(0);
  const blocker = pool.spawn((rx: Receiver<null>) => rx.recv(), rx);
  const queued = pool.spawn(() => 1);
  while (pool.stats().busy === 0) await new Promise((r) => setTimeout(r, 1));
  assert.equal(show(pool), 'ThreadPool<1 thread, 1 busy, 1 queued>');
  assert.equal(show(blocker), 'TaskHandle<running>');
  assert.equal(String(queued), 'TaskHandle<queued>');
  tx.send(null);
  assert.equal(await queued.joinAsync(), 1);
  await blocker.joinAsync();
  assert.equal(show(queued), 'TaskHandle<finished>');
  assert.equal(show(pool), 'ThreadPool<1 thread, 0 busy, 0 queued>');
});
