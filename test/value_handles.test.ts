// Handles stored inside Mutex and RwLock values: they stay alive across any number of
// lock cycles, their counts are exact at every moment (no garbage collection), and a
// handle leaves the value exactly when the value is replaced or the lock dropped.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AtomicI32, channel, Mutex, RecvError, RwLock, scope, spawn, type Receiver, type Sender,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';

const T = { timeout: 30_000 };

/** The heap reference count of the object behind a handle. */
const refs = (h: { offset: number }): number => Atomics.load(heap().i32, (h.offset >> 2) + 1);

describe('handles inside lock values', () => {
  test('Mutex<Receiver>: tryRecv under the lock, many cycles; the channel stays open and nothing is lost', T, () => {
    const [tx, rx] = channel<number>();
    const m = new Mutex(rx);
    assert.throws(() => rx.tryRecv(), /moved/); // stored: the receiver moved into the mutex
    tx.send(1);
    tx.send(2);
    tx.send(3);
    const got: Array<number | undefined> = [];
    for (let k = 0; k < 4; k++) {
      const g = m.lock();
      got.push(g.value.tryRecv());
      g.unlock();
    }
    assert.deepEqual(got, [1, 2, 3, undefined]);
    tx.send(4); // would throw SendError had a write-back disconnected the receiver
    assert.equal(m.withLock((r) => r.recv()), 4);
    tx.close();
    assert.throws(() => m.withLock((r) => r.recv()), RecvError);
  });

  test('Rust book thread pool: workers share Mutex<Receiver> and take every job exactly once', T, () => {
    const [tx, rx] = channel<number>();
    const jobs = new Mutex(rx);
    const sum = new AtomicI32(0);
    const done = new AtomicI32(0);
    scope((s) => {
      for (let w = 0; w < 3; w++) {
        s.spawn((queue: Mutex<Receiver<number>>, total: AtomicI32, count: AtomicI32) => {
          for (;;) {
            let job: number;
            try {
              job = queue.withLock((r) => r.recv());
            } catch {
              return; // RecvError: the pool is shutting down
            }
            total.fetchAdd(job);
            count.fetchAdd(1);
          }
        }, jobs, sum, done);
      }
      for (let j = 1; j <= 300; j++) tx.send(j);
      tx.close();
    });
    assert.equal(done.load(), 300);
    assert.equal(sum.load(), (300 * 301) / 2);
  });

  test('Mutex<{ tx, count }>: threads send through the stored sender; dropping the mutex disconnects', T, () => {
    const [tx, rx] = channel<number>();
    const m = new Mutex({ tx, count: 0 });
    scope((s) => {
      for (let t = 0; t < 2; t++) {
        s.spawn((lock: Mutex<{ tx: Sender<number>; count: number }>, id: number) => {
          for (let i = 0; i < 100; i++) {
            lock.withLock((v) => {
              v.tx.send(id * 1000 + i);
              v.count++;
            });
          }
        }, m, t);
      }
    });
    assert.equal(m.withLock((v) => v.count), 200);
    const got = [...rx.tryIter()];
    assert.equal(got.length, 200);
    assert.equal(rx.tryRecv(), undefined); // still connected: the mutex holds the sender
    m.close(); // the last handle of the mutex: its value, and the sender in it, go
    assert.throws(() => rx.recv(), RecvError);
  });

  test('RwLock<Sender> read by many threads at once; the sender lives exactly as long as the lock', T, () => {
    const [tx, rx] = channel<number>();
    const lock = new RwLock(tx);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((l: RwLock<Sender<number>>, id: number) => {
          for (let i = 0; i < 50; i++) {
            using r = l.read();
            r.value.send(id);
          }
        }, lock, t);
      }
    });
    const counts = [0, 0, 0, 0];
    for (const id of rx.tryIter()) counts[id]++;
    assert.deepEqual(counts, [50, 50, 50, 50]);
    assert.equal(rx.tryRecv(), undefined);
    lock.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('a replaced handle is released exactly at the unlock that writes the new value', () => {
    const [txA, rxA] = channel<string>();
    const [txB, rxB] = channel<string>();
    const m = new Mutex<Sender<string>>(txA);
    const g = m.lock();
    g.value.send('a');
    g.value = txB;
    assert.equal(rxA.tryRecv(), 'a');
    assert.equal(rxA.tryRecv(), undefined); // not yet: the old value is in place until unlock
    g.unlock();
    assert.throws(() => rxA.recv(), RecvError); // txA left the value: its channel disconnected
    m.withLock((tx) => tx.send('b'));
    assert.equal(rxB.recv(), 'b');
    m.close();
    assert.throws(() => rxB.recv(), RecvError);
  });

  test('a handle removed from a nested object is released; the ones that stay are kept', () => {
    const [tx1, rx1] = channel<number>();
    const [tx2, rx2] = channel<number>();
    const m = new Mutex<{ senders: Sender<number>[] }>({ senders: [tx1, tx2] });
    m.withLock((v) => void v.senders.shift());
    assert.throws(() => rx1.recv(), RecvError);
    m.withLock((v) => v.senders[0].send(7));
    assert.equal(rx2.recv(), 7);
    assert.equal(rx2.tryRecv(), undefined);
  });

  test('counts are exact at every moment: a guard borrows, its release gives back, write-backs carry', () => {
    const inner = new Mutex(0);
    const before = refs(inner);
    const m = new Mutex({ inner, n: 0 });
    assert.equal(refs(inner), before + 1); // the stored value's ref
    for (let k = 0; k < 50; k++) {
      const g = m.lock();
      g.value.n++; // changed: written back into a new block
      assert.equal(refs(inner), before + 2); // plus the guard's borrowed handle
      g.unlock();
      assert.equal(refs(inner), before + 1);
    }
    const r = m.lock();
    void r.value; // read, unchanged
    r.unlock();
    assert.equal(refs(inner), before + 1);
    assert.throws(() => m.withLock((v) => {
      v.inner.withLock(() => {});
      throw new Error('boom');
    }), /boom/);
    assert.equal(refs(inner), before + 1); // the poisoned release gave its borrow back too
    m.clearPoison();
    assert.equal(m.withLock((v) => v.n), 50);
    m.close();
    assert.equal(refs(inner), before);
  });

  test('read guards borrow too: many reads leave the count where it was', () => {
    const counter = new AtomicI32(0);
    const before = refs(counter);
    const l = new RwLock({ counter });
    for (let k = 0; k < 20; k++) {
      const a = l.read();
      const b = l.read();
      a.value.counter.fetchAdd(1);
      b.value.counter.fetchAdd(1);
      assert.equal(refs(counter), before + 3);
      a.unlock();
      b.unlock();
    }
    assert.equal(counter.load(), 40);
    assert.equal(refs(counter), before + 1);
    l.close();
    assert.equal(refs(counter), before);
  });

  test('a handle read through a guard is valid only while the guard is held; clone() keeps one', () => {
    const [tx, rx] = channel<number>();
    const l = new RwLock(tx);
    const r = l.read();
    const borrowed = r.value;
    const kept = borrowed.clone();
    r.unlock();
    assert.throws(() => borrowed.send(1), /closed/);
    kept.send(2);
    assert.equal(rx.recv(), 2);
    kept.close();
    assert.equal(rx.tryRecv(), undefined); // the lock's sender is still there
  });

  test('a write-back that fails keeps the old value and its handles, and gives the borrows back', () => {
    const inner = new Mutex('x');
    const before = refs(inner);
    const m = new Mutex<{ inner: Mutex<string>; f?: () => void }>({ inner });
    const g = m.lock();
    g.value.f = () => {};
    assert.throws(() => g.unlock(), { name: 'TypeError', message: /value\.f/ });
    assert.equal(refs(inner), before + 1);
    assert.equal(m.withLock((v) => v.inner.withLock((s) => s)), 'x');
  });

  test('Mutex.intoInner() takes the handles out: they are the caller\'s, and the mutex is closed', () => {
    const [tx, rx] = channel<number>();
    const m = new Mutex({ tx });
    const { tx: mine } = m.intoInner();
    assert.throws(() => m.lock(), /closed/);
    mine.send(5);
    assert.equal(rx.recv(), 5);
    mine.close();
    assert.throws(() => rx.recv(), RecvError);
  });

  test('a handle passed to a thread from inside a guard is shared, and outlives the guard there', T, () => {
    const counter = new AtomicI32(0);
    const m = new Mutex({ counter });
    const h = m.withLock((v) => spawn((c: AtomicI32) => c.fetchAdd(3), v.counter));
    h.join();
    assert.equal(counter.load(), 3);
    assert.equal(m.withLock((v) => v.counter.load()), 3);
  });
});
