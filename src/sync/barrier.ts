// Barrier: n threads meet, exactly one of each generation is the leader, and the
// barrier is reusable. The last arrival resets the count and bumps the generation,
// which is the word the others sleep on.

import { Adopt, allocObject, defineKind, Handle } from '../heap/handle.ts';
import { heap } from '../heap/heap.ts';
import { Kind } from '../heap/kinds.ts';
import { add, assertCanBlock, load, notify, store, wait, waitAsync } from '../wait/futex.ts';

const N = 2, COUNT = 3, GENERATION = 4;

export interface BarrierWaitResult {
  readonly isLeader: boolean;
}

export class Barrier extends Handle {
  constructor(n: number | Adopt) {
    if (!(n instanceof Adopt) && (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1)) {
      throw new RangeError(`new Barrier(n): n must be a non-negative integer, got ${String(n)}`);
    }
    super(n instanceof Adopt ? n.offset : allocObject(Kind.Barrier, 12));
    if (!(n instanceof Adopt)) store(heap().i32, (this.offset >> 2) + N, n);
  }

  protected get kindName(): string {
    return 'Barrier';
  }

  /** Blocks until n threads have called wait(); one of them is told it is the leader. */
  wait(): BarrierWaitResult {
    this.checkOpen();
    assertCanBlock('Barrier.wait()', 'waitAsync()');
    const i = heap().i32;
    const b = this.offset >> 2;
    const gen = load(i, b + GENERATION);
    if (this.#arrive(i, b, gen)) return { isLeader: true };
    while (load(i, b + GENERATION) === gen) wait(i, b + GENERATION, gen);
    return { isLeader: false };
  }

  async waitAsync(): Promise<BarrierWaitResult> {
    this.checkOpen();
    const i = heap().i32;
    const b = this.offset >> 2;
    const gen = load(i, b + GENERATION);
    if (this.#arrive(i, b, gen)) return { isLeader: true };
    while (load(i, b + GENERATION) === gen) await waitAsync(i, b + GENERATION, gen);
    return { isLeader: false };
  }

  /** Counts this thread in; true for the last one of the generation (the leader). */
  #arrive(i: Int32Array, b: number, gen: number): boolean {
    const n = load(i, b + N);
    if (add(i, b + COUNT, 1) + 1 < n) return false;
    // Nobody of the next generation can arrive before the bump: they are all asleep here.
    store(i, b + COUNT, 0);
    store(i, b + GENERATION, gen + 1);
    notify(i, b + GENERATION);
    return true;
  }
}

defineKind(Kind.Barrier, { name: 'Barrier', wrap: (p) => new Barrier(new Adopt(p)) });
