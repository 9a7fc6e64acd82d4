// oneshot: one value, at most once, between two threads (tokio's oneshot with the
// receive calls of the other receivers). Stress tests after std's oneshot_multi_thread_*.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AtomicI32, channel, oneshot, type OneshotReceiver, type OneshotSender, RecvError, type Receiver, SendError, spawn,
} from '../src/index.ts';
import { heap } from '../src/heap/heap.ts';

const refcount = (offset: number) => Atomics.load(heap().i32, (offset >> 2) + 1);

test('send then receive; the sender is used up', () => {
  const [tx, rx] = oneshot<{ n: number }>();
  tx.send({ n: 1 });
  assert.throws(() => tx.send({ n: 2 }), (e) => e instanceof TypeError && /closed/.test(e.message));
  assert.deepEqual(rx.recv(), { n: 1 });
  assert.throws(() => rx.recv(), (e) => e instanceof RecvError && /already received/.test(e.message));
});

test('tryRecv: undefined while empty, the value, then RecvError', () => {
  const [tx, rx] = oneshot<number>();
  assert.equal(rx.tryRecv(), undefined);
  tx.send(3);
  assert.equal(rx.tryRecv(), 3);
  assert.throws(() => rx.tryRecv(), RecvError);
});

test('a sender closed without sending: RecvError', () => {
  const [tx, rx] = oneshot<number>();
  assert.equal(rx.recvTimeout(5), undefined);
  tx.close();
  assert.throws(() => rx.recv(), RecvError);
});

test('a closed receiver: send throws SendError with the value, and uses the sender up', () => {
  const [tx, rx] = oneshot<object>();
  rx.close();
  const v = { x: 1 };
  assert.throws(() => tx.send(v), (e) => e instanceof SendError && e.value === v);
  assert.throws(() => tx.send(v), TypeError);
});

test('an unencodable value: TypeError, and the sender can still send', () => {
  const [tx, rx] = oneshot<unknown>();
  assert.throws(() => tx.send({ f() {} }), (e) => e instanceof TypeError && /\.f/.test(e.message));
  tx.send('ok');
  assert.equal(rx.recv(), 'ok');
});

test('a value holding a handle: released if never received', () => {
  const a = new AtomicI32(0);
  const [tx, rx] = oneshot<{ a: AtomicI32 }>();
  tx.send({ a });
  assert.equal(refcount(a.offset), 2);
  rx.close();
  assert.equal(refcount(a.offset), 1);
});

test('receiving in another thread; both ends move when sent', async () => {
  const [tx, rx] = oneshot<string>();
  const t = spawn((inbox: OneshotReceiver<string>) => inbox.recv(), rx);
  assert.throws(() => rx.tryRecv(), (e) => e instanceof TypeError && /moved/.test(e.message));
  const [jobs, jobsRx] = channel<OneshotSender<string>>();
  const helper = spawn((inbox: Receiver<OneshotSender<string>>) => {
    for (const reply of inbox) reply.send('from the helper');
  }, jobsRx);
  jobs.send(tx);
  jobs.close();
  assert.equal(await t.joinAsync(), 'from the helper');
  await helper.joinAsync();
});

test('recvAsync waits without blocking; a sender dying without sending wakes it with RecvError', async () => {
  const [tx, rx] = oneshot<number>();
  // The thread ends holding the sender: the runtime closes it.
  const t = spawn(async (_out: OneshotSender<number>) => {
    (await import('weft')).sleep(10);
  }, tx);
  await assert.rejects(rx.recvAsync(), RecvError);
  await t.joinAsync();
});

// One helper thread serves many oneshots, each handed over through a channel, so
// that every race below runs many times with the other side on another thread.
type Job = { op: 'send' | 'close-sender' | 'recv' | 'close-receiver'; tx?: OneshotSender<number>; rx?: OneshotReceiver<number> };

function helper(): { jobs: ReturnType<typeof channel<Job>>[0]; done: () => string[] } {
  const [jobs, inbox] = channel<Job>();
  const h = spawn((work: Receiver<Job>) => {
    const seen: string[] = [];
    for (const job of work) {
      try {
        if (job.op === 'send') job.tx!.send(1);
        else if (job.op === 'close-sender') job.tx!.close();
        else if (job.op === 'recv') seen.push(String(job.rx!.recv()));
        else job.rx!.close();
      } catch (e) {
        seen.push((e as Error).name);
      }
    }
    return seen;
  }, inbox);
  return {
    jobs,
    done: () => {
      jobs.close();
      return h.join();
    },
  };
}

const N = 300;

test('stress: close the receiver here while the helper closes the sender', () => {
  const { jobs, done } = helper();
  for (let k = 0; k < N; k++) {
    const [tx, rx] = oneshot<number>();
    jobs.send({ op: 'close-sender', tx });
    rx.close();
  }
  assert.deepEqual(done(), []);
});

test('stress: the helper sends while the receiver here closes', () => {
  const { jobs, done } = helper();
  for (let k = 0; k < N; k++) {
    const [tx, rx] = oneshot<number>();
    jobs.send({ op: 'send', tx });
    rx.close();
  }
  const outcomes = done();
  assert.ok(outcomes.every((o) => o === 'SendError'));
});

test('stress: the helper receives while the sender here closes or sends', () => {
  const { jobs, done } = helper();
  let sent = 0;
  for (let k = 0; k < N; k++) {
    const [tx, rx] = oneshot<number>();
    jobs.send({ op: 'recv', rx });
    if (k % 2 === 0) {
      tx.send(1);
      sent++;
    } else tx.close();
  }
  const outcomes = done();
  assert.equal(outcomes.filter((o) => o === '1').length, sent);
  assert.equal(outcomes.filter((o) => o === 'RecvError').length, N - sent);
});

test('stress: the helper sends, this thread receives', () => {
  const { jobs, done } = helper();
  for (let k = 0; k < N; k++) {
    const [tx, rx] = oneshot<number>();
    jobs.send({ op: 'send', tx });
    assert.equal(rx.recv(), 1);
  }
  assert.deepEqual(done(), []);
});
