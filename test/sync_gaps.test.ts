// Constructors and arguments of the Once family, OnceCell, Notify, Barrier, Semaphore
// and the atomics; Permits that move; handles stored in cells keep exact counts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AtomicBool, AtomicI32, AtomicI64, AtomicU32, channel, Mutex, Notify, Once, OnceCell, OnceLock, Permit, RecvError,
  Semaphore, spawn,
} from '../src/index.ts';

const T = { timeout: 30_000 };

describe('constructors and arguments', () => {
  test('OnceLock(value) and OnceCell(value) start initialised (OnceLock::from, OnceCell::new_with)', T, async () => {
    const lock = new OnceLock(5);
    assert.equal(lock.get(), 5);
    assert.equal(lock.set(6), false);
    assert.equal(spawn((l: OnceLock<number>) => l.get(), lock).join(), 5);
    const cell = new OnceCell(6);
    assert.equal(cell.get(), 6);
    assert.equal(cell.initialized(), true);
    assert.equal(await cell.getOrInit(() => 7), 6);
    assert.equal(cell.take(), 6);
    assert.equal(new OnceLock(undefined).get(), undefined);
    assert.equal(new OnceLock<number | undefined>(undefined).set(1), false); // undefined is a value
    assert.equal(new OnceLock<number>().set(1), true);
    assert.throws(() => new OnceLock(() => 1), TypeError); // unencodable: nothing allocated
  });

  test('constructor aliasing: a handle argument is never adopted', T, () => {
    const m = new Mutex(1);
    assert.throws(() => new Once(m as never), (e: Error) => e instanceof TypeError && /got a Mutex/.test(e.message));
    assert.throws(() => new Notify(m as never), TypeError);
    assert.throws(() => new Semaphore(m as never), TypeError);
    assert.throws(() => new AtomicI32(m as never), TypeError);
    assert.throws(() => new Permit(m as never), /Semaphore.acquire/);
    assert.throws(() => new Permit({ offset: m.offset } as never), TypeError);
    // A handle is a legitimate initial value of a cell: stored, not adopted.
    const lock = new OnceLock(m);
    assert.notEqual(lock.offset, m.offset);
    assert.equal(lock.get()!.withLock((v) => v), 1);
    const cell = new OnceCell({ m });
    assert.equal(cell.get()!.m.withLock((v) => v), 1);
    assert.equal(m.withLock((v) => v), 1); // the Mutex is untouched
  });

  test('numbers passed as strings are named in the error', T, () => {
    assert.throws(() => new Semaphore('2' as never), (e: Error) => e instanceof TypeError && /got the string '2'/.test(e.message));
    const sem = new Semaphore(2);
    assert.throws(() => sem.acquire('1' as never), /got the string '1'/);
    assert.throws(() => sem.addPermits('1' as never), /got the string '1'/);
    assert.equal(sem.availablePermits(), 2);
    assert.throws(() => new AtomicI32('3' as never), /got the string '3'/);
    assert.throws(() => new AtomicU32(-1), TypeError);
    assert.throws(() => new AtomicBool(1 as never), /got number 1/);
  });

  test('functions are checked before any state changes', T, async () => {
    const once = new Once();
    assert.throws(() => once.callOnce(5 as never), TypeError);
    await assert.rejects(once.callOnceAsync('f' as never), /got the string 'f'/);
    assert.equal(once.isCompleted(), false);
    once.callOnce(() => {}); // not poisoned
    const lock = new OnceLock<number>();
    assert.throws(() => lock.getOrInit(null as never), TypeError);
    assert.equal(lock.set(1), true);
    const cell = new OnceCell<number>();
    await assert.rejects(cell.getOrInit(1 as never), TypeError);
    assert.equal(cell.initialized(), false);
    cell.set(2);
  });

  test('AtomicI64: bigints, or safe-integer numbers; anything else throws before allocating', T, () => {
    const a = new AtomicI64(1);
    assert.equal(a.load(), 1n);
    assert.equal(a.fetchAdd(2), 1n);
    assert.equal(a.fetchAdd(2n ** 63n), 3n); // wraps like Rust's fetch_add
    assert.equal(a.load(), 3n - 2n ** 63n);
    assert.deepEqual(a.compareExchange(3n - 2n ** 63n, 7), { ok: true, value: 3n - 2n ** 63n });
    assert.throws(() => new AtomicI64('1' as never), (e: Error) => e instanceof TypeError && /got the string '1'/.test(e.message));
    assert.throws(() => new AtomicI64(1.5), TypeError);
    assert.throws(() => new AtomicI64(2 ** 60), TypeError); // not a safe integer: pass a bigint
    assert.throws(() => a.store(0.5), TypeError);
    assert.equal(a.load(), 7n);
  });
});

describe('Permit moves', () => {
  test('a Permit stored in a value moves there; released once, by its last owner', T, () => {
    const sem = new Semaphore(2);
    const p = sem.tryAcquire(2)!;
    assert.equal(p.numPermits(), 2);
    const box = new Mutex({ p });
    assert.throws(() => p.numPermits(), /moved/);
    p.release(); // release() stays idempotent: the moved Permit gives nothing back
    assert.equal(sem.availablePermits(), 0);
    assert.equal(sem.availablePermits(), 0);
    // Another thread takes it out of the value and releases it.
    spawn((m: Mutex<{ p: Permit | undefined }>) => {
      const g = m.lock();
      const permit = g.value.p!;
      g.value = { p: undefined };
      g.unlock();
      permit.release();
    }, box).join();
    assert.equal(sem.availablePermits(), 2);
  });

  test('a Permit sent through a channel moves; a thread ending with it returns its permits', T, () => {
    const sem = new Semaphore(1);
    const [tx, rx] = channel<Permit>();
    tx.send(sem.tryAcquire()!);
    assert.equal(sem.availablePermits(), 0);
    spawn((r: typeof rx) => {
      r.recv(); // held, never released: the thread's end gives it back
    }, rx).join();
    assert.equal(sem.availablePermits(), 1);
  });

  test('forget() drops a Permit without returning its permits', T, () => {
    const sem = new Semaphore(3);
    const p = sem.tryAcquire(2)!;
    p.forget();
    assert.equal(sem.availablePermits(), 1);
    p.release(); // already gone: nothing happens
    assert.equal(sem.availablePermits(), 1);
    assert.throws(() => p.forget(), /closed/);
  });
});

describe('handles stored in cells', () => {
  test('OnceLock<Sender>: repeated get() takes no new sender; the channel disconnects exactly when the cell goes', T, () => {
    const [tx, rx] = channel<number>();
    const cell = new OnceLock(tx);
    assert.throws(() => tx.send(0), /moved/);
    for (let k = 0; k < 1000; k++) cell.get()!.send(k);
    assert.equal(cell.get(), cell.get()); // the same handle each time
    spawn((c: OnceLock<typeof tx>) => {
      for (let k = 0; k < 100; k++) c.get()!.send(1000 + k);
    }, cell).join();
    let n = 0;
    while (rx.tryRecv() !== undefined) n++;
    assert.equal(n, 1100);
    cell.close(); // the cell's last reference: its stored sender is dropped
    assert.throws(() => rx.recv(), RecvError);
  });

  test('OnceCell<Receiver>: many reads in threads keep the receiver; take() hands it over', T, () => {
    const [tx, rx] = channel<string>();
    const cell = new OnceCell(rx);
    tx.send('a');
    tx.send('b');
    assert.equal(spawn((c: OnceCell<typeof rx>) => {
      let got = '';
      for (let k = 0; k < 50; k++) got += c.get()!.tryRecv() ?? '';
      return got;
    }, cell).join(), 'ab');
    tx.send('c');
    const mine = cell.take()!;
    assert.equal(mine.recv(), 'c');
    tx.close();
    assert.throws(() => mine.recv(), RecvError);
  });
});
