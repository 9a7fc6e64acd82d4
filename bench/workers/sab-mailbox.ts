// Hand-written single-slot SharedArrayBuffer mailbox: the fastest handoff a user can
// build from Atomics alone, as a baseline for weft's channels. Each mailbox is its own
// 16-byte buffer (state, sleepers, one f64). Each request from the parent runs `n`
// operations synchronously, then reports.

import { workerData } from 'node:worker_threads';
import { parent } from '../worker.ts';

const STATE = 0; // Int32 index: EMPTY or FULL
const SLEEPERS = 1; // Int32 index: threads parked (or about to park) on STATE
const EMPTY = 0;
const FULL = 1;

// A peer that is running answers within a microsecond, far below the cost of a
// futex wake, so waiting spins this many loads before parking.
const SPINS = 10_000;

class Mailbox {
  private readonly ctl: Int32Array;
  private readonly slot: Float64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.ctl = new Int32Array(buffer, 0, 2);
    this.slot = new Float64Array(buffer, 8, 1);
  }

  send(value: number): void {
    this.awaitChange(FULL);
    this.slot[0] = value; // published by the seq-cst store in set()
    this.set(FULL);
  }

  receive(): number {
    this.awaitChange(EMPTY);
    const value = this.slot[0];
    this.set(EMPTY);
    return value;
  }

  private awaitChange(from: number): void {
    for (let i = 0; i < SPINS; i++) if (Atomics.load(this.ctl, STATE) !== from) return;
    // Announce before sleeping: set() stores STATE then reads SLEEPERS, so either
    // it sees this sleeper and notifies, or wait() sees the new STATE and returns.
    Atomics.add(this.ctl, SLEEPERS, 1);
    while (Atomics.load(this.ctl, STATE) === from) Atomics.wait(this.ctl, STATE, from);
    Atomics.sub(this.ctl, SLEEPERS, 1);
  }

  // Notifying only when someone sleeps keeps the futex syscall off the fast path.
  private set(state: number): void {
    Atomics.store(this.ctl, STATE, state);
    if (Atomics.load(this.ctl, SLEEPERS) !== 0) Atomics.notify(this.ctl, STATE);
  }
}

type Role = 'producer' | 'consumer' | 'ping' | 'pong';

function operation(role: Role, [forth, back]: Mailbox[]): (n: number) => unknown {
  switch (role) {
    case 'producer':
      return (n) => {
        for (let i = 0; i < n; i++) forth.send(i + 0.5); // payload.ts's f64 values
        return n;
      };
    case 'consumer':
      return (n) => {
        let checksum = 0;
        for (let i = 0; i < n; i++) checksum += forth.receive();
        return { count: n, checksum };
      };
    case 'ping':
      return (n) => {
        for (let i = 0; i < n; i++) {
          forth.send(i);
          const answer = back.receive();
          if (answer !== i + 1) throw new Error(`ping-pong answer ${answer}, expected ${i + 1}`);
        }
        return n;
      };
    case 'pong':
      return (n) => {
        for (let i = 0; i < n; i++) back.send(forth.receive() + 1);
        return n;
      };
  }
}

// Always two mailboxes, there and back; one-way roles use only the first.
const { role, mailboxes } = workerData as { role: Role; mailboxes: [SharedArrayBuffer, SharedArrayBuffer] };
const run = operation(role, mailboxes.map((b) => new Mailbox(b)));
const control = parent();
control.on('message', (n: number) => control.postMessage(run(n)));
control.postMessage('ready');
