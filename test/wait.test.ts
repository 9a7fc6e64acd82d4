import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Backoff } from '../src/wait/backoff.ts';
import { checkTimeout, notify, pendingAsyncWaitCount, pollingWaitAsync, waitAsync } from '../src/wait/futex.ts';

const child = fileURLToPath(new URL('./helpers/keep_alive_child.ts', import.meta.url));

function runChild(mode: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', child, mode], { encoding: 'utf8', timeout: 20000 });
}

test('a pending async wait keeps the process alive until it is notified', () => {
  const r = runChild('notify');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'woken: ok');
});

test('a settled async wait lets the process exit', () => {
  // The child waits with a timeout; after it settles, nothing else is pending.
  const r = runChild('timeout');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'woken: timed-out');
});

test('waitAsync resolves on notify and releases its keep-alive', async () => {
  const v = new Int32Array(new SharedArrayBuffer(4));
  const p = waitAsync(v, 0, 0);
  assert.equal(pendingAsyncWaitCount(), 1);
  Atomics.store(v, 0, 1);
  notify(v, 0);
  assert.equal(await p, 'ok');
  assert.equal(pendingAsyncWaitCount(), 0);
  assert.equal(await waitAsync(v, 0, 0), 'not-equal');
});

test('the polling fallback sees a change and honours its timeout', async () => {
  const v = new Int32Array(new SharedArrayBuffer(4));
  assert.equal(await pollingWaitAsync(v, 0, 0, 5), 'timed-out');
  const p = pollingWaitAsync(v, 0, 0);
  setTimeout(() => Atomics.store(v, 0, 1), 5);
  assert.equal(await p, 'ok');
  assert.equal(await pollingWaitAsync(v, 0, 0), 'not-equal');
  assert.equal(pendingAsyncWaitCount(), 0);
});

test('timeouts are checked', () => {
  assert.equal(checkTimeout(undefined, 'x'), undefined);
  assert.equal(checkTimeout(Infinity, 'x'), undefined);
  assert.equal(checkTimeout(0, 'x'), 0);
  assert.throws(() => checkTimeout(-1, 'recvTimeout()'), { name: 'RangeError', message: /recvTimeout\(\): timeout must be a non-negative/ });
  assert.throws(() => checkTimeout(NaN, 'x'), RangeError);
  assert.throws(() => checkTimeout('5' as unknown as number, 'x'), RangeError);
});

test('Backoff tells the caller to park after a bounded number of snoozes', () => {
  const b = new Backoff();
  let n = 0;
  while (!b.isCompleted()) {
    b.snooze();
    n++;
  }
  assert.ok(n > 3 && n < 20);
  b.reset();
  assert.equal(b.isCompleted(), false);
});
