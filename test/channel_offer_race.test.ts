// A rendezvous offer of a message that carries an endpoint, withdrawn by a timed-out
// sendTimeout at the moment a receiver takes it: the endpoint must end up in exactly
// one place (delivered, or back with the sender), so the channel it belongs to counts
// its senders exactly and disconnects when the last one is gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { channel, spawn, syncChannel, type Receiver, type Sender, type SyncSender } from '../src/index.ts';
import { settledLive } from './helpers/settle.ts';

test('rendezvous sendTimeout of Senders racing recvTimeout: each delivered once, none lost or doubled', { timeout: 120_000 }, async () => {
  const ROUNDS = Number(process.env.WEFT_SOAK ? 20_000 : 2_000);
  // The runtime and two pooled workers exist before measuring.
  const warm = [spawn(() => 0), spawn(() => 0)];
  for (const h of warm) {
    await h.joinAsync();
    h.close();
  }
  const liveBefore = await settledLive();
  const [txC, rxC] = channel<number>();
  const [tx, rx] = syncChannel<Sender<number>>(0);
  // The sender offers a clone of C's Sender with a short timeout each round; the
  // receiver waits as briefly, so offers are taken, withdrawn, or both at once.
  const sender = spawn((out: SyncSender<Sender<number>>, c: Sender<number>, rounds: number) => {
    let delivered = 0;
    for (let k = 0; k < rounds; k++) {
      const clone = c.clone();
      if (out.sendTimeout(clone, (k % 3) * 0.02)) delivered++;
    }
    c.close();
    out.close();
    return delivered;
  }, tx, txC, ROUNDS);
  const receiver = spawn((inbox: Receiver<Sender<number>>) => {
    let got = 0;
    for (;;) {
      let s: Sender<number> | undefined;
      try {
        s = inbox.recvTimeout(0.02);
      } catch {
        return got; // the sender is done and gone
      }
      if (s === undefined) continue;
      s.send(1); // a delivered Sender works
      s.close();
      got++;
    }
  }, rx);
  const [delivered, got] = await Promise.all([sender.joinAsync(), receiver.joinAsync()]);
  sender.close();
  receiver.close();
  assert.equal(got, delivered, 'every offer the sender counted as sent arrived, and only those');
  let messages = 0;
  for (const _ of rxC) messages++; // ends only once every clone is released
  assert.equal(messages, got);
  rxC.close();
  assert.equal(await settledLive(), liveBefore, 'no message block or endpoint left behind');
});
