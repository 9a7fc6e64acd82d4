// The rest of std::sync's and tokio::sync's everyday members: Once::wait_force;
// OnceLock take / into_inner / get_or_try_init / try_insert and set handing the value
// back; LazyLock force / get; tokio OnceCell into_inner / new_with / SetError carrying
// the value; tokio Semaphore forget_permits, SemaphorePermit merge / split, the
// acquire_many family and MAX_PERMITS; Mutex / RwLock try_lock / try_read / try_write
// reporting poison as TryLockError does. Rust's and tokio's doc examples and tests,
// ported with their values.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  channel, LazyLock, Mutex, Once, OnceCell, OnceLock, type Permit, PoisonError, type Receiver, RwLock, scope,
  Semaphore, type Sender, SetError, sleep, spawn,
} from '../src/index.ts';

const T = { timeout: 30_000 };

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

describe('Once.waitForce (Rust wait_force)', () => {
  test('wait_on_poisoned: wait() throws PoisonError, waitForce() keeps waiting', T, () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('panic');
    }), /panic/);
    assert.throws(() => once.wait(), PoisonError);
  });

  test('wait_force_on_poisoned: a waiter on a poisoned Once returns once callOnceForce completes it', T, () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('panic');
    }), /panic/);
    scope((s) => {
      s.spawn(async (once: Once) => {
        const { sleep } = await import('weft');
        sleep(20); // makes it likely that the main thread waits first
        once.callOnceForce(() => {});
      }, once);
      once.waitForce();
    });
    assert.equal(once.isCompleted(), true);
  });

  test('a waitForce waiter sleeps through a second poisoning and wakes at the first success', T, () => {
    const once = new Once();
    const poison = () => assert.throws(() => once.callOnceForce(() => {
      throw new Error('panic');
    }), /panic/);
    poison();
    const [tx, rx] = channel<string>();
    const waiter = spawn((once: Once, tx: Sender<string>) => {
      tx.send('waiting');
      once.waitForce();
      tx.send(once.isCompleted() ? 'completed' : 'woken early');
    }, once, tx);
    assert.equal(rx.recv(), 'waiting');
    poison(); // poisoned again: the waiter must not return
    assert.equal(rx.recvTimeout(50), undefined);
    let sawPoison = false;
    once.callOnceForce((state) => void (sawPoison = state.isPoisoned));
    assert.equal(sawPoison, true);
    assert.equal(rx.recv(), 'completed');
    waiter.join();
    once.waitForce(); // complete: returns at once
  });

  test('waitForceAsync: the same without blocking; an abort leaves the Once usable', T, async () => {
    const once = new Once();
    assert.throws(() => once.callOnce(() => {
      throw new Error('panic');
    }));
    const ac = new AbortController();
    const aborted = once.waitForceAsync({ signal: ac.signal });
    ac.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    const waiting = once.waitForceAsync();
    await assert.rejects(once.waitAsync(), PoisonError);
    spawn((once: Once) => once.callOnceForce(() => {}), once).join();
    await waiting;
    assert.equal(once.isCompleted(), true);
  });
});

describe('OnceLock: take, intoInner, getOrTryInit, tryInsert, set', () => {
  test('doc example take: None, then Some("hello"), then empty', () => {
    const empty = new OnceLock<string>();
    assert.equal(empty.take(), undefined);
    const cell = new OnceLock<string>();
    assert.equal(cell.set('hello'), true);
    assert.equal(cell.take(), 'hello');
    assert.equal(cell.get(), undefined);
    // Empty again: the next set or getOrInit runs.
    assert.equal(cell.getOrInit(() => 'again'), 'again');
  });

  test('doc example / test into_inner: None, then Some("hello"); the handle is closed', () => {
    const empty = new OnceLock<string>();
    assert.equal(empty.intoInner(), undefined);
    assert.throws(() => empty.get(), /closed/);
    const cell = new OnceLock<string>();
    cell.set('hello');
    assert.equal(cell.intoInner(), 'hello');
    assert.throws(() => cell.get(), /closed/);
  });

  test('take needs the only reference (Rust &mut self): shared, it throws and changes nothing', T, () => {
    const cell = new OnceLock<number>();
    const [goTx, goRx] = channel<null>();
    const [readyTx, readyRx] = channel<number>();
    const reader = spawn((cell: OnceLock<number>, go: Receiver<null>, ready: Sender<number>) => {
      ready.send(cell.wait());
      go.recv();
      return cell.get();
    }, cell, goRx, readyTx);
    cell.set(92);
    assert.equal(readyRx.recv(), 92);
    assert.throws(() => cell.take(), (e: Error) => !(e instanceof TypeError) && /only reference/.test(e.message) && /1 other handle /.test(e.message));
    assert.throws(() => cell.intoInner(), /only reference/);
    assert.equal(cell.get(), 92); // still set, this handle still open
    goTx.send(null);
    assert.equal(reader.join(), 92);
    // The thread ended and gave its reference back: now this handle is the only one.
    assert.equal(cell.take(), 92);
    // A reference inside a stored value counts too.
    const holder = new Mutex(cell);
    cell.set(1);
    assert.throws(() => cell.take(), /only reference/);
    holder.close();
    assert.equal(cell.take(), 1);
  });

  test('take hands the value over with its handles; handles read before are closed', () => {
    const [tx, rx] = channel<string>();
    const cell = new OnceLock<{ tx: Sender<string> }>();
    cell.set({ tx });
    const borrowed = cell.get()!.tx;
    borrowed.send('borrowed');
    const taken = cell.take()!;
    assert.throws(() => borrowed.send('late'), /closed/);
    taken.tx.send('taken');
    assert.deepEqual([...rx.tryIter()], ['borrowed', 'taken']);
    taken.tx.close();
    assert.throws(() => rx.recv(), { name: 'RecvError' }); // the taken Sender was the last one
  });

  test('doc example / test get_or_try_init: a failure leaves it empty, then Ok(92)', () => {
    const cell = new OnceLock<number>();
    assert.throws(() => cell.getOrTryInit(() => {
      throw new Error('Err(())');
    }), /Err\(\(\)\)/);
    assert.equal(cell.get(), undefined);
    assert.equal(cell.getOrTryInit(() => 92), 92);
    assert.equal(cell.get(), 92);
    assert.equal(cell.getOrTryInit(() => {
      throw new Error('not called');
    }), 92);
    assert.throws(() => cell.getOrTryInit(1 as never), (e: Error) => e instanceof TypeError && /getOrTryInit\(f\)/.test(e.message));
  });

  test('getOrTryInitAsync: a rejection leaves it empty for the next caller', async () => {
    const cell = new OnceLock<string>();
    await assert.rejects(cell.getOrTryInitAsync(async () => {
      throw new Error('no');
    }), /no/);
    assert.equal(cell.get(), undefined);
    assert.equal(await cell.getOrTryInitAsync(async () => 'hello'), 'hello');
  });

  test('doc example try_insert: Ok(&92), then Err((&92, 62))', () => {
    const cell = new OnceLock<number>();
    assert.equal(cell.get(), undefined);
    assert.deepEqual(cell.tryInsert(92), { ok: true, value: 92 });
    assert.deepEqual(cell.tryInsert(62), { ok: false, value: 92, rejected: 62 });
    assert.equal(cell.get(), 92);
  });

  test('tryInsert from racing threads: exactly one wins, every caller sees the winner', T, () => {
    const cell = new OnceLock<number>();
    const hs = Array.from({ length: 6 }, (_, k) => spawn((cell: OnceLock<number>, k: number) => {
      const r = cell.tryInsert(k);
      return { ok: r.ok, value: r.value, rejected: r.ok ? undefined : r.rejected };
    }, cell, k));
    const results = hs.map((h) => h.join());
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1);
    const value = winners[0].value;
    assert.equal(cell.get(), value);
    for (const [k, r] of results.entries()) {
      assert.equal(r.value, value);
      if (!r.ok) assert.equal(r.rejected, k);
    }
  });

  test('tryInsertAsync; the rejected value comes back untouched, endpoints still usable', async () => {
    const [tx, rx] = channel<number>();
    const cell = new OnceLock<{ tx?: Sender<number>; n: number }>();
    assert.equal((await cell.tryInsertAsync({ n: 1 })).ok, true);
    const r = await cell.tryInsertAsync({ tx, n: 2 });
    assert.equal(r.ok, false);
    assert.equal(r.value.n, 1);
    if (!r.ok) r.rejected.tx!.send(7);
    assert.equal(rx.recv(), 7);
  });

  test('doc example set: a thread sets 92; set(62) is Err(62): the value stays the caller\'s', T, () => {
    const cell = new OnceLock<number>();
    assert.equal(cell.get(), undefined);
    spawn((cell: OnceLock<number>) => {
      if (cell.set(92) !== true) throw new Error('set failed');
    }, cell).join();
    assert.equal(cell.set(62), false);
    assert.equal(cell.get(), 92);
    // A value set() refuses is not encoded: a Sender in it is not moved, it is still ours.
    const [tx, rx] = channel<string>();
    const other = new OnceLock<Sender<string>>();
    other.set(tx.clone());
    assert.equal(other.set(tx), false);
    tx.send('still mine');
    assert.equal(rx.recv(), 'still mine');
  });
});

describe('LazyLock: force, get', () => {
  test('doc example force: 92', () => {
    const lazy = new LazyLock(() => 92);
    assert.equal(LazyLock.force(lazy), 92);
    assert.equal(lazy.value, 92);
    assert.equal(lazy.force(), 92);
  });

  test('doc example get: None before force, Some(92) after; get never runs init', () => {
    let runs = 0;
    const lazy = new LazyLock(() => {
      runs++;
      return 92;
    });
    assert.equal(LazyLock.get(lazy), undefined);
    assert.equal(lazy.get(), undefined);
    assert.equal(runs, 0);
    void LazyLock.force(lazy);
    assert.equal(LazyLock.get(lazy), 92);
    assert.equal(lazy.get(), 92);
    assert.equal(runs, 1);
  });

  test('get on a poisoned LazyLock is undefined; force throws PoisonError', () => {
    const lazy = new LazyLock<number>(() => {
      throw new Error('panic');
    });
    assert.throws(() => lazy.force(), /panic/);
    assert.equal(lazy.get(), undefined);
    assert.throws(() => lazy.force(), PoisonError);
  });

  test('another thread gets the value made here; statics refuse what is not a LazyLock', T, () => {
    const lazy = new LazyLock(() => ({ made: 'here' }));
    assert.deepEqual(spawn((l: LazyLock<{ made: string }>) => [l.get(), l.force()], lazy).join(), [{ made: 'here' }, { made: 'here' }]);
    assert.throws(() => LazyLock.force({} as never), (e: Error) => e instanceof TypeError && /LazyLock.force\(lazy\)/.test(e.message));
    assert.throws(() => LazyLock.get(new OnceLock() as never), /got a OnceLock/);
  });
});

describe('OnceCell (tokio): intoInner, newWith, SetError', () => {
  test('into_inner: None for an empty cell, the value for a set one; the handle is closed', async () => {
    const empty = new OnceCell<number>();
    assert.equal(empty.intoInner(), undefined);
    assert.throws(() => empty.get(), /closed/);
    const cell = new OnceCell<string>();
    assert.equal(await cell.getOrInit(async () => 'hello'), 'hello');
    assert.equal(cell.intoInner(), 'hello');
    assert.throws(() => cell.initialized(), /closed/);
  });

  test('into_inner on a shared cell takes the value for everyone (others find it empty)', T, () => {
    const cell = OnceCell.newWith(5);
    const [goTx, goRx] = channel<null>();
    const h = spawn((c: OnceCell<number>, go: Receiver<null>) => {
      go.recv();
      return c.get() ?? 'empty';
    }, cell, goRx);
    assert.equal(cell.intoInner(), 5);
    goTx.send(null);
    assert.equal(h.join(), 'empty');
  });

  test('new_with: Some(value) starts initialised, None starts empty', async () => {
    const some = OnceCell.newWith(2);
    assert.equal(some.initialized(), true);
    assert.equal(some.get(), 2);
    const none = OnceCell.newWith<number>(undefined);
    assert.equal(none.initialized(), false);
    assert.equal(await none.getOrInit(() => 3), 3);
    const [tx, rx] = channel<number>();
    const holding = OnceCell.newWith({ tx });
    holding.get()!.tx.send(1);
    assert.equal(rx.recv(), 1);
  });

  test('SetError carries the value back: AlreadyInitializedError(v), InitializingError(v)', async () => {
    const cell = new OnceCell<number>();
    cell.set(5);
    const e = thrown(() => cell.set(6)) as SetError<number>;
    assert.ok(e instanceof SetError);
    assert.equal(e.kind, 'AlreadyInitialized');
    assert.equal(e.isAlreadyInitError(), true);
    assert.equal(e.isInitializingError(), false);
    assert.equal(e.value, 6);

    const slow = new OnceCell<number>();
    let finish!: (v: number) => void;
    const init = slow.getOrInit(() => new Promise<number>((r) => (finish = r)));
    const e2 = thrown(() => slow.set(7)) as SetError<number>;
    assert.equal(e2.kind, 'Initializing');
    assert.equal(e2.isInitializingError(), true);
    assert.equal(e2.value, 7);
    finish(1);
    assert.equal(await init, 1);
  });

  test('a Sender in a refused value is handed back usable', () => {
    const [tx, rx] = channel<string>();
    const cell = OnceCell.newWith('full');
    const e = thrown(() => (cell as OnceCell<unknown>).set({ tx })) as SetError<{ tx: Sender<string> }>;
    e.value.tx.send('back');
    assert.equal(rx.recv(), 'back');
  });
});

describe('Semaphore (tokio): forgetPermits, Permit.merge / split, acquireMany, MAX_PERMITS', () => {
  test('forget_permits_basic: 4 of 10, then the 6 left of 10 asked', () => {
    const s = new Semaphore(10);
    assert.equal(s.forgetPermits(4), 4);
    assert.equal(s.availablePermits(), 6);
    assert.equal(s.forgetPermits(10), 6);
    assert.equal(s.availablePermits(), 0);
    assert.equal(s.forgetPermits(1), 0);
  });

  test('forgetPermits leaves held permits alone; they come back on release', () => {
    const s = new Semaphore(3);
    const p = s.acquire(2);
    assert.equal(s.forgetPermits(3), 1);
    p.release();
    assert.equal(s.availablePermits(), 2);
    assert.throws(() => s.forgetPermits(-1), RangeError);
    assert.throws(() => s.forgetPermits('1' as never), (e: Error) => e instanceof TypeError && /forgetPermits\(n\)/.test(e.message));
  });

  test('merge: 1 + 2 permits held as one, all returned together', () => {
    const sem = new Semaphore(3);
    {
      using p1 = sem.tryAcquire()!;
      assert.equal(sem.availablePermits(), 2);
      const p2 = sem.tryAcquireMany(2)!;
      assert.equal(sem.availablePermits(), 0);
      p1.merge(p2);
      assert.equal(sem.availablePermits(), 0);
      assert.equal(p1.numPermits(), 3);
      assert.throws(() => p2.numPermits(), /closed/);
    }
    assert.equal(sem.availablePermits(), 3);
  });

  test('merge_unrelated_permits: permits of two semaphores refuse to merge, nothing changes', () => {
    const sem1 = new Semaphore(3);
    const sem2 = new Semaphore(3);
    const p1 = sem1.tryAcquire()!;
    const p2 = sem2.tryAcquire()!;
    assert.throws(() => p1.merge(p2), (e: Error) => e instanceof TypeError && /different semaphore/.test(e.message));
    assert.throws(() => p1.merge(p1), TypeError);
    assert.throws(() => p1.merge({} as never), /expected a Permit/);
    assert.equal(p1.numPermits(), 1);
    p2.release();
    p1.release();
    assert.equal(sem1.availablePermits(), 3);
    assert.equal(sem2.availablePermits(), 3);
  });

  test('split: tokio\'s test, permit by permit', () => {
    const sem = new Semaphore(5);
    const p1 = sem.tryAcquireMany(3)!;
    assert.equal(sem.availablePermits(), 2);
    assert.equal(p1.numPermits(), 3);
    const p2 = p1.split(1)!;
    assert.equal(sem.availablePermits(), 2);
    assert.equal(p1.numPermits(), 2);
    assert.equal(p2.numPermits(), 1);
    const p3 = p1.split(0)!;
    assert.equal(p3.numPermits(), 0);
    p1.release();
    assert.equal(sem.availablePermits(), 4);
    const p4 = p2.split(1)!;
    assert.equal(sem.availablePermits(), 4);
    p2.release();
    assert.equal(sem.availablePermits(), 4);
    p3.release();
    assert.equal(sem.availablePermits(), 4);
    p4.release();
    assert.equal(sem.availablePermits(), 5);
  });

  test('split more than held is None; bad counts are named', () => {
    const sem = new Semaphore(2);
    const p = sem.acquire(2);
    assert.equal(p.split(3), undefined);
    assert.equal(p.numPermits(), 2);
    assert.throws(() => p.split(1.5), RangeError);
    assert.throws(() => p.split('1' as never), /Permit.split\(n\)/);
    p.release();
    assert.equal(sem.availablePermits(), 2);
  });

  test('split permits travel: each thread releases its share, a killed thread\'s share comes back too', T, async () => {
    const sem = new Semaphore(4);
    const all = sem.acquire(4);
    const parts = [all.split(1)!, all.split(1)!, all.split(1)!];
    assert.equal(all.numPermits(), 1);
    const hs = parts.slice(0, 2).map((p) => spawn((p: Permit) => p.release(), p));
    for (const h of hs) h.join();
    assert.equal(sem.availablePermits(), 2);
    const [heldTx, heldRx] = channel<null>();
    const victim = spawn(async (p: Permit, held: Sender<null>) => {
      held.send(null);
      await new Promise(() => {}); // holds its permit until killed
      p.release();
    }, parts[2], heldTx);
    heldRx.recv();
    assert.equal(sem.availablePermits(), 2);
    await victim.terminate();
    assert.equal(sem.availablePermits(), 3);
    all.release();
    assert.equal(sem.availablePermits(), 4);
  });

  test('doc examples acquire_many / try_acquire_many', T, async () => {
    const semaphore = new Semaphore(5);
    const permit = await semaphore.acquireManyAsync(3);
    assert.equal(semaphore.availablePermits(), 2);
    permit.release();
    const s4 = new Semaphore(4);
    const permit1 = s4.tryAcquireMany(3);
    assert.ok(permit1);
    assert.equal(s4.availablePermits(), 1);
    assert.equal(s4.tryAcquireMany(2), undefined); // TryAcquireError::NoPermits
    const blocking = s4.acquireMany(1);
    assert.equal(blocking.numPermits(), 1);
  });

  test('acquireMany waits its turn across threads like acquire(n)', T, () => {
    const sem = new Semaphore(0);
    const h = spawn((s: Semaphore) => s.acquireMany(3).numPermits(), sem);
    sleep(10); // makes it likely the thread queues first
    sem.addPermits(3);
    assert.equal(h.join(), 3);
    assert.equal(sem.availablePermits(), 3);
  });

  test('MAX_PERMITS: RangeError beyond it, in every form; nothing taken', async () => {
    const s = new Semaphore(1);
    const over = Semaphore.MAX_PERMITS + 1;
    assert.throws(() => s.acquireMany(over), (e: Error) => e instanceof RangeError && /acquireMany\(n\)/.test(e.message) && new RegExp(String(Semaphore.MAX_PERMITS)).test(e.message));
    assert.throws(() => s.tryAcquireMany(over), RangeError);
    await assert.rejects(s.acquireManyAsync(over), RangeError);
    assert.throws(() => s.forgetPermits(over), RangeError);
    assert.throws(() => s.acquireMany(undefined as never), TypeError); // n is required
    assert.equal(s.availablePermits(), 1);
    const max = new Semaphore(Semaphore.MAX_PERMITS);
    assert.equal(max.tryAcquireMany(Semaphore.MAX_PERMITS)!.numPermits(), Semaphore.MAX_PERMITS);
  });
});

describe('Mutex / RwLock try*: poison reported as TryLockError', () => {
  function poisonMutex<V>(m: Mutex<V>): void {
    assert.throws(() => spawn((m: Mutex<V>) => {
      const g = m.lock();
      void g;
      throw new Error('panic while holding');
    }, m).join(), { name: 'PanicError' });
    assert.equal(m.isPoisoned(), true);
  }

  test('doc example try_lock: another thread takes it and writes 10', T, () => {
    const mutex = new Mutex(0);
    spawn((m: Mutex<number>) => {
      const lock = m.tryLock();
      if (lock !== undefined) {
        lock.value = 10;
        lock.unlock();
      }
    }, mutex).join();
    assert.equal(mutex.withLock((v) => v), 10);
  });

  test('Mutex.tryLock: Poisoned (PoisonError holding the lock) when free, WouldBlock (undefined) when held', T, () => {
    const m = new Mutex(1);
    poisonMutex(m);
    const e = thrown(() => m.tryLock());
    assert.ok(e instanceof PoisonError);
    const g = (e as PoisonError<{ value: number; unlock(): void }>).intoInner();
    assert.equal(g.value, 1);
    assert.equal(m.tryLock(), undefined); // held through the error's guard: WouldBlock
    g.unlock();
    m.clearPoison();
    const ok = m.tryLock();
    assert.ok(ok);
    ok.unlock();
  });

  test('RwLock.tryRead / tryWrite: Poisoned when they would get in, WouldBlock while a writer holds it', T, () => {
    const lock = new RwLock(7);
    assert.throws(() => spawn((l: RwLock<number>) => {
      const w = l.write();
      void w;
      throw new Error('panic while writing');
    }, lock).join(), { name: 'PanicError' });
    const r = thrown(() => lock.tryRead()) as PoisonError<{ value: number; unlock(): void }>;
    assert.ok(r instanceof PoisonError);
    assert.equal(r.guard.value, 7);
    // A read lock is held through the error: no writer gets in, more readers do (poisoned).
    assert.equal(lock.tryWrite(), undefined);
    assert.throws(() => lock.tryRead(), (e: unknown) => e instanceof PoisonError && (e.guard.unlock(), true));
    r.guard.unlock();
    const w = thrown(() => lock.tryWrite()) as PoisonError<{ value: number; unlock(): void }>;
    assert.ok(w instanceof PoisonError);
    assert.equal(lock.tryRead(), undefined); // the writer's guard holds it: WouldBlock
    assert.equal(lock.tryWrite(), undefined);
    w.guard.unlock();
  });
});
