import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AtomicI32, PoisonError, RwLock, scope, sleep, spawn } from '../src/index.ts';

describe('RwLock', () => {
  test('smoke: many readers at once, a writer alone, values written back', () => {
    const l = new RwLock({ n: 1 });
    const r1 = l.read();
    const r2 = l.read();
    assert.equal(r1.value.n + r2.value.n, 2);
    assert.equal(l.tryWrite(), undefined);
    r1.unlock();
    r2.unlock();
    const w = l.write();
    assert.equal(l.tryRead(), undefined);
    w.value.n = 5;
    w.unlock();
    using r = l.read();
    assert.equal(r.value.n, 5);
    assert.throws(() => ((r as { value: unknown }).value = 1), /read guard/);
  });

  test('never a writer alongside readers (frob stress)', () => {
    const l = new RwLock();
    const readers = new AtomicI32(0);
    const writers = new AtomicI32(0);
    const violations = new AtomicI32(0);
    scope((s) => {
      for (let t = 0; t < 4; t++) {
        s.spawn((lock: RwLock, r: AtomicI32, w: AtomicI32, bad: AtomicI32, seed: number) => {
          let x = seed;
          for (let i = 0; i < 3000; i++) {
            x = (Math.imul(x, 1103515245) + 12345) >>> 0;
            if (x % 10 < 2) {
              const g = lock.write();
              if (w.fetchAdd(1) !== 0 || r.load() !== 0) bad.fetchAdd(1);
              for (let k = 0; k < 50; k++) if (r.load() !== 0) bad.fetchAdd(1);
              w.fetchSub(1);
              g.unlock();
            } else {
              const g = lock.read();
              r.fetchAdd(1);
              if (w.load() !== 0) bad.fetchAdd(1);
              r.fetchSub(1);
              g.unlock();
            }
          }
        }, l, readers, writers, violations, t + 1);
      }
    });
    assert.equal(violations.load(), 0);
  });

  test('writer-preferring: a waiting writer keeps new readers out', () => {
    const l = new RwLock(0);
    const r = l.read();
    const writer = spawn(async (lock: RwLock<number>) => {
      const g = lock.write();
      g.value = 1;
      g.unlock();
    }, l);
    // Wait until the writer is queued: then a new reader is refused.
    let refused = false;
    for (let k = 0; k < 2000 && !refused; k++) {
      const t = l.tryRead();
      if (t) t.unlock();
      else refused = true;
      sleep(1);
    }
    assert.equal(refused, true);
    r.unlock();
    writer.join();
    assert.equal(l.read().value, 1);
  });

  test('a writer killed while holding the lock poisons it; a dying reader does not', async () => {
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
    const waiter = spawn(async (lock: RwLock<string>) => {
      try {
        lock.read().unlock();
        return 'clean';
      } catch (e) {
        (e as PoisonError<{ unlock(): void }>).guard.unlock();
        return (e as Error).name;
      }
    }, l);
    sleep(30);
    await writer.terminate();
    assert.equal(await waiter.joinAsync(), 'PoisonError');
    assert.equal(l.isPoisoned(), true);
    l.clearPoison();
    const w = l.write();
    w.unlock();
  });

  test('readAsync and writeAsync interleave with blocking threads', async () => {
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
});
