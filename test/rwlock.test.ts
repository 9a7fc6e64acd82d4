// RwLock, after Rust's library/std/tests/sync/rwlock.rs, with real threads.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PanicError, scope, sleep, spawn } from '../src/index.ts';
import { AtomicI32 } from '../src/sync/atomic.ts';
import { PoisonError } from '../src/sync/poison.ts';
import { RwLock, type RwLockReadGuard, type RwLockWriteGuard } from '../src/sync/rwlock.ts';

describe('RwLock', () => {
  test('smoke: many readers at once, a writer alone, values written back', () => {
    const l = new RwLock({ n: 1 });
    const r1 = l.read();
    const r2 = l.read();
    assert.equal(r1.value.n + r2.value.n, 2);
    assert.equal(l.tryWrite(), undefined);
    r1.unlock();
    r2.unlock();
    r2.unlock(); // idempotent
    assert.throws(() => r2.value, /after unlock/);
    const w = l.write();
    assert.equal(l.tryRead(), undefined);
    assert.equal(l.tryWrite(), undefined);
    w.value.n = 5;
    w.unlock();
    using r = l.read();
    assert.equal(r.value.n, 5);
  });

  test('a read guard is read-only: assigning throws, in-place changes are not written back', () => {
    const l = new RwLock({ n: 1 });
    const r = l.read();
    assert.throws(() => ((r as { value: unknown }).value = 2), TypeError);
    r.value.n = 3;
    r.unlock();
    assert.equal(l.read().value.n, 1);
  });

  test('frob: a writer is never inside alongside readers or another writer', () => {
    const l = new RwLock();
    const readers = new AtomicI32(0);
    const writers = new AtomicI32(0);
    const violations = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((lock: RwLock, r: AtomicI32, w: AtomicI32, bad: AtomicI32, seed: number) => {
          let x = seed;
          for (let i = 0; i < 5000; i++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            if (x % 10 < 2) {
              const g = lock.write();
              if (w.fetchAdd(1) !== 0) bad.fetchAdd(1);
              for (let k = 0; k < 20; k++) if (r.load() !== 0) bad.fetchAdd(1);
              w.fetchSub(1);
              g.unlock();
            } else {
              const g = lock.read();
              r.fetchAdd(1);
              for (let k = 0; k < 5; k++) if (w.load() !== 0) bad.fetchAdd(1);
              r.fetchSub(1);
              g.unlock();
            }
          }
        }, l, readers, writers, violations, t + 1);
      }
    });
    assert.equal(violations.load(), 0);
  });

  test('writer-preferring: a queued writer keeps new readers out and goes first', () => {
    const l = new RwLock<string[]>([]);
    const r = l.read();
    const writer = spawn((lock: RwLock<string[]>) => {
      const g = lock.write();
      g.value.push('writer');
      g.unlock();
    }, l);
    // tryRead is refused once the writer is queued.
    let refused = false;
    for (let k = 0; k < 5000 && !refused; k++) {
      const t = l.tryRead();
      if (t) t.unlock();
      else refused = true;
      sleep(1);
    }
    assert.equal(refused, true);
    const reader = spawn((lock: RwLock<string[]>) => lock.read().value, l);
    sleep(20); // the new reader queues behind the writer
    r.unlock();
    writer.join();
    assert.deepEqual(reader.join(), ['writer']);
  });

  test('tryWrite and tryRead against a holder in another thread', () => {
    const l = new RwLock(0);
    const w = l.write();
    const busy = spawn((lock: RwLock<number>) => [lock.tryRead() === undefined, lock.tryWrite() === undefined], l);
    assert.deepEqual(busy.join(), [true, true]);
    w.unlock();
    const r = l.read();
    assert.deepEqual(spawn((lock: RwLock<number>) => {
      const g = lock.tryRead();
      g?.unlock();
      return [g !== undefined, lock.tryWrite() === undefined];
    }, l).join(), [true, true]);
    r.unlock();
  });

  test('a writer that throws poisons it; a reader that throws does not', () => {
    const l = new RwLock(1);
    const reader = spawn((lock: RwLock<number>) => {
      lock.read();
      throw new Error('reader panics');
    }, l);
    assert.throws(() => reader.join(), PanicError);
    assert.equal(l.isPoisoned(), false);
    l.write().unlock(); // the dead reader's lock was released

    const writer = spawn((lock: RwLock<number>) => {
      const g = lock.write();
      g.value = 2;
      g.unlock();
      lock.write();
      throw new Error('writer panics');
    }, l);
    assert.throws(() => writer.join(), PanicError);
    assert.equal(l.isPoisoned(), true);
    // Readers see the poison too; the error holds their lock and gives the value.
    assert.throws(() => l.read(), (e: PoisonError<RwLockReadGuard<number>>) => {
      assert.equal(e.intoInner().value, 2);
      e.guard.unlock();
      return true;
    });
    assert.throws(() => l.write(), (e: PoisonError<RwLockWriteGuard<number>>) => {
      e.guard.value = 3;
      e.guard.unlock();
      return true;
    });
    l.clearPoison();
    assert.equal(l.isPoisoned(), false);
    assert.equal(l.read().value, 3);
  });

  test('a thread that returns holding a read guard releases it; holding a write guard poisons it', () => {
    const l = new RwLock(0);
    spawn((lock: RwLock<number>) => void lock.read(), l).join();
    assert.equal(l.isPoisoned(), false);
    l.write().unlock();
    spawn((lock: RwLock<number>) => void lock.write(), l).join();
    assert.equal(l.isPoisoned(), true);
  });

  test('a killed writer poisons it and wakes every blocked reader and writer; a killed reader does not', { timeout: 30_000 }, async () => {
    const l = new RwLock('v');
    const flag = new AtomicI32(0);
    const reader = spawn((lock: RwLock<string>, f: AtomicI32) => {
      lock.read();
      f.store(1);
      for (;;);
    }, l, flag);
    while (flag.load() === 0) sleep(1);
    await reader.terminate();
    assert.equal(l.isPoisoned(), false);

    flag.store(0);
    const writer = spawn((lock: RwLock<string>, f: AtomicI32) => {
      lock.write();
      f.store(1);
      for (;;);
    }, l, flag);
    while (flag.load() === 0) sleep(1);
    const started = new AtomicI32(0);
    const waiters = [true, false, true].map((write) => spawn(async (lock: RwLock<string>, w: boolean, count: AtomicI32) => {
      const { PoisonError } = await import('weft');
      count.fetchAdd(1);
      try {
        (w ? lock.write() : lock.read()).unlock();
        return 'clean';
      } catch (e) {
        if (!(e instanceof PoisonError)) throw e;
        const g = e.guard as { value: string; unlock(): void };
        const v = g.value;
        g.unlock();
        return `poisoned, value ${v}`;
      }
    }, l, write, started));
    const mainReader = l.readAsync().then(
      (g) => (g.unlock(), 'clean'),
      (e: PoisonError<RwLockReadGuard<string>>) => {
        const v = e.guard.value;
        e.guard.unlock();
        return `poisoned, value ${v}`;
      },
    );
    while (started.load() < 3) sleep(1);
    sleep(20);
    await writer.terminate();
    for (const w of waiters) assert.equal(await w.joinAsync(), 'poisoned, value v');
    assert.equal(await mainReader, 'poisoned, value v');
    assert.equal(l.isPoisoned(), true);
  });

  test('readAsync and writeAsync interleave with blocking threads', { timeout: 30_000 }, async () => {
    const l = new RwLock(0);
    const hs = [0, 1].map(() => spawn((lock: RwLock<number>) => {
      for (let i = 0; i < 500; i++) {
        const g = lock.write();
        g.value++;
        g.unlock();
        lock.read().unlock();
      }
    }, l));
    for (let i = 0; i < 500; i++) {
      const g = await l.writeAsync();
      g.value++;
      g.unlock();
      (await l.readAsync()).unlock();
    }
    for (const h of hs) await h.joinAsync();
    assert.equal(l.read().value, 1500);
  });

  test('a thread killed anywhere in a write/downgrade/read loop leaves the lock free for a writer', { timeout: 60_000 }, async () => {
    for (let round = 0; round < 4; round++) {
      const l = new RwLock(0);
      const done = new AtomicI32(0);
      const victim = spawn((lock: RwLock<number>, d: AtomicI32) => {
        for (;;) {
          const w = lock.write();
          w.value = w.value + 1;
          w.downgrade().unlock();
          lock.read().unlock();
          d.fetchAdd(1);
        }
      }, l, done);
      // A reader in a loop beside it, so the downgrade has readers to wake.
      const reader = spawn((lock: RwLock<number>) => {
        for (;;) lock.read().unlock();
      }, l);
      while (done.load() < 20 + round * 50) await new Promise((r) => setTimeout(r, 1));
      await victim.terminate();
      await reader.terminate();
      // Killed holding the write lock it is poisoned; holding a read lock (after a downgrade) it is not. Either way a writer gets in.
      const g = await l.writeAsync().catch((e: PoisonError<RwLockWriteGuard<number>>) => e.guard);
      assert.ok(g.value >= done.load());
      g.unlock();
      l.close();
      done.close();
    }
  });
});

describe('RwLock: aborted writers racing each other and an unlock', () => {
  test('whichever writers abort, the others get the lock and no "writer waiting" is left behind', { timeout: 60_000 }, async () => {
    const l = new RwLock(0);
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 400; round++) {
      const reader = l.read();
      const acs = [new AbortController(), new AbortController(), new AbortController()];
      const writers = acs.map((ac) => l.writeAsync({ signal: ac.signal }).then(
        (g) => {
          g.value++;
          g.unlock();
          return true;
        },
        () => false,
      ));
      // Abort a random subset, before or after the reader leaves, in random order.
      const doomed = acs.filter(() => rand() < 0.5);
      const releaseFirst = rand() < 0.5;
      if (releaseFirst) reader.unlock();
      for (const ac of doomed) {
        if (rand() < 0.5) await new Promise((r) => setImmediate(r));
        ac.abort(new Error('cancelled'));
      }
      if (!releaseFirst && doomed.length === acs.length) {
        // Every writer gave up while the read lock is held: another reader gets in now.
        await Promise.all(writers);
        const again = l.tryRead();
        assert.ok(again, `round ${round}: readers are kept out by writers that all gave up`);
        again.unlock();
      }
      if (!releaseFirst) reader.unlock();
      const wrote = (await Promise.all(writers)).filter(Boolean).length;
      assert.ok(wrote >= acs.length - doomed.length, `round ${round}: a writer that was not aborted did not get the lock`);
      // Nothing waits now: a reader and a writer both get in at once.
      const r = l.tryRead();
      assert.ok(r, `round ${round}: a reader is kept out by a writer that gave up`);
      r.unlock();
      const w = l.tryWrite();
      assert.ok(w, `round ${round}: the lock is not free`);
      w.unlock();
    }
  });
});
