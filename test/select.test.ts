// select / selectAsync, ported in spirit from crossbeam-channel's tests/select.rs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  channel, codecs, oneshot, RecvError, select, selectAsync, spawn, syncChannel, type Receiver, type Sender, type SyncSender,
} from '../src/index.ts';

test('returns the ready receiver and its message', () => {
  const [, r1] = channel<number>();
  const [t2, r2] = channel<number>();
  t2.send(7);
  assert.deepEqual(select([r1, r2]), { index: 1, value: 7 });
  assert.equal(select([r1, r2], 0), undefined);
});

test('both ready: one is taken, the other stays', () => {
  const [t1, r1] = channel<string>();
  const [t2, r2] = channel<string>();
  t1.send('a');
  t2.send('b');
  const first = select([r1, r2])!;
  const second = select([r1, r2])!;
  assert.deepEqual([first.value, second.value].sort(), ['a', 'b']);
  assert.notEqual(first.index, second.index);
});

test('a disconnected receiver is ready: its messages first, then RecvError with its index', () => {
  const [, r1] = channel<number>();
  const [t2, r2] = channel<number>();
  t2.send(1);
  t2.close();
  assert.deepEqual(select([r1, r2]), { index: 1, value: 1 });
  assert.throws(() => select([r1, r2]), (e) => e instanceof RecvError && e.index === 1);
});

test('timeout: undefined once it passes; 0 polls; negative is a RangeError', () => {
  const [, r1] = channel<number>();
  const [, r2] = syncChannel<number>(0);
  assert.equal(select([r1, r2], 20), undefined);
  assert.equal(select([r1, r2], 0), undefined);
  assert.throws(() => select([r1], -1), RangeError);
});

test('bad input: an empty list, something not a receiver, a closed receiver', () => {
  assert.throws(() => select([]), TypeError);
  assert.throws(() => select([{} as Receiver<unknown>]), TypeError);
  const [, rx] = channel<number>();
  rx.close();
  assert.throws(() => select([rx]), TypeError);
});

test('a blocked select wakes when another thread sends to any of its receivers', () => {
  const pairs = [0, 1, 2].map(() => channel<number>());
  const t = spawn(async (out: Sender<number>) => {
    (await import('weft')).sleep(30);
    out.send(99);
  }, pairs[2][0]);
  assert.deepEqual(select(pairs.map(([, r]) => r)), { index: 2, value: 99 });
  t.join();
});

test('a blocked select completes a rendezvous and a oneshot', () => {
  const [ztx, zrx] = syncChannel<string>(0);
  const [otx, orx] = oneshot<string>();
  const t = spawn(async (z: SyncSender<string>) => {
    (await import('weft')).sleep(20);
    z.send('handed over');
  }, ztx.clone()); // ztx stays here: the rendezvous must not disconnect when the thread ends
  const got = select([zrx, orx])!;
  assert.deepEqual(got, { index: 0, value: 'handed over' });
  t.join();
  otx.send('once');
  assert.deepEqual(select([zrx, orx]), { index: 1, value: 'once' });
  ztx.close();
});

test('fairness: each of two always-ready receivers wins at least a quarter of the time', () => {
  const [t1, r1] = channel<number>({ codec: codecs.i32 });
  const [t2, r2] = channel<number>({ codec: codecs.i32 });
  const n = 10_000;
  for (let k = 0; k < n; k++) {
    t1.send(k);
    t2.send(k);
  }
  const wins = [0, 0];
  for (let k = 0; k < n; k++) wins[select([r1, r2])!.index]++;
  assert.ok(wins[0] >= n / 4 && wins[1] >= n / 4, `wins ${wins}`);
});

test('stress: four threads on four channels, every message selected once', () => {
  const n = 5000;
  const pairs = [0, 1, 2, 3].map(() => channel<number>({ codec: codecs.i32 }));
  const senders = pairs.map(([tx], id) =>
    spawn((out: Sender<number>, from: number, count: number) => {
      for (let k = 0; k < count; k++) out.send(from + k);
    }, tx.clone(), id * n, n),
  );
  for (const [tx] of pairs) tx.close();
  let live = pairs.map(([, rx]) => rx);
  const seen = new Uint8Array(4 * n);
  while (live.length > 0) {
    try {
      const { value } = select(live)!;
      seen[value as number]++;
    } catch (e) {
      assert.ok(e instanceof RecvError && e.index !== undefined);
      live = live.filter((_, k) => k !== e.index);
    }
  }
  assert.ok(seen.every((c) => c === 1));
  for (const s of senders) s.join();
});

test('stress with timeouts: a slow sender, a receiver selecting with a short timeout', () => {
  const [t1, r1] = channel<number>({ codec: codecs.i32 });
  const [, r2] = channel<number>();
  const t = spawn(async (out: Sender<number>) => {
    const weft = await import('weft');
    for (let k = 0; k < 300; k++) {
      if (k % 50 === 0) weft.sleep(3);
      out.send(k);
    }
  }, t1);
  t1.close();
  let next = 0;
  for (;;) {
    let got;
    try {
      got = select([r1, r2], 1);
    } catch (e) {
      assert.ok(e instanceof RecvError && e.index === 0);
      break;
    }
    if (got !== undefined) assert.deepEqual(got, { index: 0, value: next++ });
  }
  assert.equal(next, 300);
  t.join();
});

test('duplicates in the list are fine', () => {
  const [tx, rx] = channel<number>();
  const t = spawn(async (out: Sender<number>) => {
    (await import('weft')).sleep(10);
    out.send(1);
  }, tx);
  const got = select([rx, rx, rx])!;
  assert.equal(got.value, 1);
  t.join();
});

test('selectAsync resolves when a thread sends; the event loop keeps turning meanwhile', async () => {
  const [t1, r1] = channel<number>();
  const [t2, r2] = channel<number>();
  let done = false;
  const pending = selectAsync([r1, r2]).then((v) => ((done = true), v));
  for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
  assert.equal(done, false);
  const t = spawn((out: Sender<number>) => out.send(5), t2);
  assert.deepEqual(await pending, { index: 1, value: 5 });
  await t.joinAsync();
  t1.close();
  await assert.rejects(selectAsync([r1]), (e) => e instanceof RecvError && e.index === 0);
});
