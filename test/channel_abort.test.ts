// { signal } on the async waits of channels (tokio's cancel safety), and the fairness of
// async receiving to the event loop.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { channel, codecs, oneshot, type Receiver, selectAsync, spawn, syncChannel } from '../src/index.ts';

const LONG = { timeout: 60_000 };
const tick = () => new Promise((r) => setTimeout(r, 5));

test('abort before the call: rejects with the reason, takes nothing', async () => {
  const [tx, rx] = channel<number>();
  tx.send(1);
  const reason = new Error('stop');
  const signal = AbortSignal.abort(reason);
  await assert.rejects(rx.recvAsync({ signal }), (e) => e === reason);
  await assert.rejects(selectAsync([rx], { signal }), (e) => e === reason);
  const [stx] = syncChannel<number>(0);
  await assert.rejects(stx.sendAsync(5, { signal }), (e) => e === reason);
  assert.equal(rx.recv(), 1);
  await assert.rejects(rx.recvAsync({ signal: 'no' as never }), TypeError);
});

test('abort while waiting: recvAsync, selectAsync, oneshot and sendAsync reject; nothing is taken or sent', async () => {
  const [tx, rx] = channel<number>();
  const [otx, orx] = oneshot<number>();
  const [stx, srx] = syncChannel<number>(0);
  const [ftx, frx] = syncChannel<number>(1);
  ftx.send(0);
  const ac = new AbortController();
  const waits = [
    rx.recvAsync({ signal: ac.signal }),
    selectAsync([rx, orx], { signal: ac.signal }),
    orx.recvAsync({ signal: ac.signal }),
    stx.sendAsync(7, { signal: ac.signal }),
    ftx.sendAsync(8, { signal: ac.signal }),
  ];
  await tick();
  ac.abort('bye');
  for (const w of waits) await assert.rejects(w, (e) => e === 'bye');
  tx.send(1);
  otx.send(2);
  assert.equal(rx.recv(), 1);
  assert.equal(orx.recv(), 2);
  assert.equal(srx.tryRecv(), undefined); // the aborted rendezvous offer was withdrawn
  assert.equal(frx.recv(), 0);
  assert.equal(frx.tryRecv(), undefined); // the aborted bounded send sent nothing
});

test('repeated abort/recv cycles leave no waiter behind', async () => {
  const [tx, rx] = syncChannel<number>(0);
  for (let k = 0; k < 200; k++) {
    const ac = new AbortController();
    const p = rx.recvAsync({ signal: ac.signal });
    await Promise.resolve();
    ac.abort();
    await assert.rejects(p);
  }
  // With no waiter left registered, a rendezvous trySend finds nobody to take it.
  assert.equal(tx.trySend(1), false);
  const [ltx, lrx] = channel<number>();
  const rx2 = lrx.clone();
  for (let k = 0; k < 200; k++) {
    const ac = new AbortController();
    const p = lrx.recvAsync({ signal: ac.signal });
    await Promise.resolve();
    ac.abort();
    await assert.rejects(p);
  }
  ltx.send(3);
  assert.equal(rx2.recv(), 3);
});

test('aborts racing sends from another thread: every message is received exactly once', LONG, async () => {
  const n = 2000;
  for (const [tx, rx] of [channel<number>({ codec: codecs.i32 }), syncChannel<number>(0, { codec: codecs.i32 })] as const) {
    const producer = spawn((out: { send(v: number): void }, count: number) => {
      for (let k = 0; k < count; k++) out.send(k);
    }, tx.clone(), n);
    tx.close();
    const got: number[] = [];
    const ac = { current: new AbortController() };
    let aborts = 0;
    for (;;) {
      const c = ac.current;
      const timer = setTimeout(() => c.abort(), 0);
      try {
        got.push(await (rx as Receiver<number>).recvAsync({ signal: c.signal }));
      } catch (e) {
        if (c.signal.aborted && e === c.signal.reason) {
          aborts++;
          ac.current = new AbortController();
          continue;
        }
        break; // RecvError: every message received
      } finally {
        clearTimeout(timer);
      }
      ac.current = new AbortController();
    }
    producer.join();
    assert.equal(got.length, n, `aborts ${aborts}`);
    got.sort((a, b) => a - b);
    for (let k = 0; k < n; k++) assert.equal(got[k], k);
  }
});

test('fairness: a flood of queued messages lets a 1 ms timer fire long before it is drained', async () => {
  const total = 300_000;
  const [tx, rx] = channel<number>({ codec: codecs.i32 });
  for (let k = 0; k < total; k++) tx.send(k);
  tx.close();
  let received = 0;
  let atTimer = -1;
  setTimeout(() => {
    atTimer = received;
  }, 1);
  for await (const _ of rx) received++;
  assert.equal(received, total);
  assert.ok(atTimer >= 0 && atTimer < total / 2, `timer fired after ${atTimer} of ${total}`);

  const [tx2, rx2] = channel<number>({ codec: codecs.i32 });
  for (let k = 0; k < total; k++) tx2.send(k);
  let atTimer2 = -1;
  let n = 0;
  setTimeout(() => {
    atTimer2 = n;
  }, 1);
  while (n < total) {
    await rx2.recvAsync();
    n++;
  }
  assert.ok(atTimer2 >= 0 && atTimer2 < total / 2, `timer fired after ${atTimer2} of ${total}`);
});
