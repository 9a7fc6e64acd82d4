// std::thread members beyond the contract: panicking() and sleep_until (with the
// async spellings sleepAsync / sleepUntilAsync). Rust's doc examples and
// library/std/src/thread/tests.rs, ported.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { channel, PanicError, panicking, type Sender, sleepAsync, sleepUntil, sleepUntilAsync, spawn } from '../src/index.ts';

const T = { timeout: 30_000 };

describe('panicking() (Rust std::thread::panicking)', () => {
  test('doc example: a value dropped while not unwinding, and one dropped while unwinding', T, () => {
    const [tx, rx] = channel<string>();
    // Rust's SomeStruct with a Drop impl is a thread-local with a dispose here: the one
    // destructor weft runs for a thread that ends, by return or by panic.
    const body = async (report: Sender<string>, panic: boolean) => {
      const { threadLocal, panicking } = await import('weft');
      const someStruct = threadLocal(() => 'SomeStruct', {
        dispose: () => report.send(panicking() ? 'dropped while unwinding' : 'dropped while not unwinding'),
      });
      someStruct.get();
      report.send(`before: ${panicking()}`);
      if (panic) throw new Error('panic!()');
    };
    spawn(body, tx.clone(), false).join();
    assert.deepEqual([rx.recv(), rx.recv()], ['before: false', 'dropped while not unwinding']);
    assert.throws(() => spawn(body, tx.clone(), true).join(), PanicError);
    assert.deepEqual([rx.recv(), rx.recv()], ['before: false', 'dropped while unwinding']);
  });

  test('false on the main thread; a pooled worker\'s next thread starts not panicking', T, () => {
    assert.equal(panicking(), false);
    assert.throws(() => spawn(() => {
      throw new Error('first');
    }).join(), PanicError);
    // Whatever worker runs these, each thread begins with panicking() false.
    const seen = Array.from({ length: 4 }, () => spawn(async () => (await import('weft')).panicking()).join());
    assert.deepEqual(seen, [false, false, false, false]);
  });

  test('a rejected async thread function panics too', T, () => {
    const [tx, rx] = channel<boolean>();
    assert.throws(() => spawn(async (report: Sender<boolean>) => {
      const { threadLocal, panicking } = await import('weft');
      threadLocal(() => 0, { dispose: () => report.send(panicking()) }).get();
      await new Promise((r) => setTimeout(r, 1));
      throw new Error('rejected');
    }, tx).join(), /rejected/);
    assert.equal(rx.recv(), true);
  });
});

describe('sleepUntil (Rust std::thread::sleep_until)', () => {
  test('test_sleep_until: sleeps at least until the deadline', T, () => {
    const now = performance.now();
    const period = 100;
    const deadline = now + period;
    sleepUntil(deadline);
    assert.ok(performance.now() - now >= period);
  });

  test('doc example: a loop of ticks on a fixed schedule, in another thread', T, () => {
    const ticks = spawn(async () => {
      const { sleepUntil } = await import('weft');
      const start = performance.now();
      let nextTick = start;
      const late: number[] = [];
      for (let k = 0; k < 5; k++) {
        nextTick += 10;
        sleepUntil(nextTick);
        late.push(performance.now() - nextTick);
      }
      return { elapsed: performance.now() - start, early: late.filter((d) => d < 0).length };
    }).join();
    assert.ok(ticks.elapsed >= 50);
    assert.equal(ticks.early, 0); // never woke before a tick's deadline
  });

  test('a deadline already past returns at once; bad deadlines are named', () => {
    const t0 = performance.now();
    sleepUntil(t0 - 1000);
    sleepUntil(-Infinity);
    assert.ok(performance.now() - t0 < 1000);
    assert.throws(() => sleepUntil('10' as never), (e: Error) => e instanceof TypeError && /sleepUntil\(deadline\)/.test(e.message) && /the string '10'/.test(e.message));
    assert.throws(() => sleepUntil(NaN), RangeError);
  });

  test('sleepUntilAsync and sleepAsync: the event loop keeps running; an abort rejects with its reason', T, async () => {
    const t0 = performance.now();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await sleepUntilAsync(t0 + 30);
    assert.ok(performance.now() >= t0 + 30);
    await sleepAsync(10);
    clearInterval(timer);
    assert.ok(ticks > 0, 'the event loop ran meanwhile');
    assert.ok(performance.now() - t0 >= 40);
    const ac = new AbortController();
    const forever = sleepAsync(Infinity, { signal: ac.signal });
    ac.abort(new Error('woken'));
    await assert.rejects(forever, /woken/);
    await assert.rejects(sleepUntilAsync(NaN), RangeError);
    await assert.rejects(sleepAsync(-1), RangeError);
    const aborted = AbortSignal.abort(new Error('already'));
    await assert.rejects(sleepAsync(1, { signal: aborted }), /already/);
  });
});
