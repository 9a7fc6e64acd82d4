// A primitive of your own, built from weft's parts: a single-producer single-consumer
// ring buffer of numbers. The slots and the two indices live in SharedArrays (zero
// copy, the same memory in both threads); each index is written by one side only, with
// a plain Atomics.store, and read by the other with Atomics.load. Nothing locks. The
// only waiting is done through two AtomicWakers: the consumer sleeps on `notEmpty`
// when the ring is empty, the producer on `notFull` when it is full, each with the
// register(); check; wait() loop that loses no wake-up.
//
// Run: node --conditions=weft-source --import tsx examples/ring_buffer.ts

import { isMainThread } from 'node:worker_threads';
import { AtomicWaker, sharedArray, spawn, type SharedArray } from 'weft';

// Indices count items (wrapping at 2^32), not slots: head = next to read, tail = next
// to write, so tail - head is the length. They sit 64 bytes apart so the two sides do
// not fight over one cache line.
const HEAD = 0, TAIL = 16;

/** A ring's parts: all handles, so this plain object can be passed to a thread or sent. */
export interface RingParts {
  readonly indices: SharedArray<Int32Array>;
  readonly slots: SharedArray<Float64Array>;
  readonly notEmpty: AtomicWaker;
  readonly notFull: AtomicWaker;
}

/** One side's view of a ring: use it from one producer thread and one consumer thread. */
export class Ring {
  readonly parts: RingParts;
  readonly #idx: Int32Array;
  readonly #slots: Float64Array;
  readonly #mask: number;
  /** How many times this side had to sleep (the ring was full, or empty). */
  waits = 0;

  constructor(parts: RingParts) {
    this.parts = parts;
    this.#idx = parts.indices.array;
    this.#slots = parts.slots.array;
    this.#mask = this.#slots.length - 1;
  }

  /** A new ring of `capacity` slots (a power of two). */
  static create(capacity: number): Ring {
    if (!Number.isInteger(capacity) || capacity < 1 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`Ring.create(capacity): capacity must be a power of two, got ${capacity}`);
    }
    return new Ring({
      indices: sharedArray(Int32Array, TAIL + 1),
      slots: sharedArray(Float64Array, capacity),
      notEmpty: new AtomicWaker(),
      notFull: new AtomicWaker(),
    });
  }

  #length(): number {
    return (Atomics.load(this.#idx, TAIL) - Atomics.load(this.#idx, HEAD)) | 0;
  }

  /** Producer: appends `v` unless the ring is full. */
  tryPush(v: number): boolean {
    const tail = Atomics.load(this.#idx, TAIL);
    if (((tail - Atomics.load(this.#idx, HEAD)) | 0) > this.#mask) return false;
    this.#slots[tail & this.#mask] = v;
    // The slot is written before the index that publishes it: a consumer that loads
    // the new tail sees the value.
    Atomics.store(this.#idx, TAIL, (tail + 1) | 0);
    this.parts.notEmpty.wake();
    return true;
  }

  /** Producer: appends `v`, sleeping while the ring is full. */
  push(v: number): void {
    while (!this.tryPush(v)) {
      this.parts.notFull.register();
      // Checked after register(): a pop from here on wakes the wait below.
      if (this.#length() > this.#mask) {
        this.parts.notFull.wait();
        this.waits++;
      }
    }
  }

  /** Producer: push() without blocking the event loop. */
  async pushAsync(v: number): Promise<void> {
    while (!this.tryPush(v)) {
      this.parts.notFull.register();
      if (this.#length() > this.#mask) {
        await this.parts.notFull.waitAsync();
        this.waits++;
      }
    }
  }

  /** Consumer: the oldest value, or undefined if the ring is empty. */
  tryPop(): number | undefined {
    const head = Atomics.load(this.#idx, HEAD);
    if (head === Atomics.load(this.#idx, TAIL)) return undefined;
    const v = this.#slots[head & this.#mask];
    // Read before the slot is handed back to the producer.
    Atomics.store(this.#idx, HEAD, (head + 1) | 0);
    this.parts.notFull.wake();
    return v;
  }

  /** Consumer: the oldest value, sleeping while the ring is empty. */
  pop(): number {
    for (;;) {
      const v = this.tryPop();
      if (v !== undefined) return v;
      this.parts.notEmpty.register();
      if (this.#length() === 0) {
        this.parts.notEmpty.wait();
        this.waits++;
      }
    }
  }
}

/** The consumer thread: pops `n` numbers and sums them. */
export function consume(parts: RingParts, n: number): { sum: number; waits: number } {
  const ring = new Ring(parts);
  let sum = 0;
  for (let k = 0; k < n; k++) sum += ring.pop();
  return { sum, waits: ring.waits };
}

if (isMainThread) {
  const N = 1_000_000;
  const CAPACITY = 1024;
  const ring = Ring.create(CAPACITY);
  const t0 = performance.now();
  const consumer = spawn<{ sum: number; waits: number }>({ module: import.meta.url, export: 'consume' }, ring.parts, N);
  // The main thread produces, awaiting room when the ring is full (its event loop keeps running).
  let expected = 0;
  for (let k = 0; k < N; k++) {
    const v = k * 0.5;
    expected += v;
    if (!ring.tryPush(v)) await ring.pushAsync(v);
  }
  const { sum, waits } = await consumer.joinAsync();
  const ms = performance.now() - t0;
  const ok = sum === expected;
  console.log(
    `ring buffer: ${N} numbers through ${CAPACITY} slots in ${ms.toFixed(0)} ms ` +
      `(${(N / ms / 1000).toFixed(1)} M/s); the producer waited for room ${ring.waits} times, ` +
      `the consumer for numbers ${waits} times; sum ${sum} ${ok ? 'is right' : `is WRONG (expected ${expected})`}`,
  );
  if (!ok) process.exitCode = 1;
}
