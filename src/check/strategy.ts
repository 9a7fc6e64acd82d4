// How the checker picks the next thread, and the seeds that name a schedule.
//
// A seed is one number, `rng + 2^32 * (strategy + STRATEGIES * k/16)`: the random
// generator's start, the strategy and, for PCT, the expected length of an execution.
// Everything a schedule depends on is in it, so model(body, { seed }) replays it.
//
// - Random walk: at each point any thread that can go on is picked with equal chance,
//   or the running one is kept with a "stay" bias (0, 50% or 90%): low bias explores
//   fine interleavings, high bias long runs of one thread between switches.
// - PCT (Burckhardt et al., "A randomized scheduler with probabilistic guarantees of
//   finding bugs", ASPLOS 2010): threads get random distinct priorities and the
//   highest one that can go on runs; at d-1 random steps the running thread drops
//   below all others. A bug of depth d is found with probability at least
//   1/(n k^(d-1)) per execution, for n threads and k steps.
//
// A thread that spins (Backoff, the wait driver's spin phase) yields: random walk then
// picks another thread if any can go on, and PCT drops the spinner's priority, so a
// spin loop cannot starve the thread it waits for.
//
// Timed waits are choices too: "the time runs out" for a thread whose wait has a
// timeout. Random walk picks it like any thread; PCT lets time run out only when no
// thread can go on, earliest deadline first.

import {
  Control, earliestTimedEntry, G_CHANGE, G_LOW_PRIO, G_PARAM, G_PSTEP, G_RNG, G_STRATEGY, G_THREADS, MAX_CHANGE,
  State, T_ASYNC_TIMED, T_PRIO, T_STATE, T_TIMED, T_WOKEN,
} from './control.ts';

export const Strategy = { Random: 0, Pct: 1 } as const;

interface Variant {
  readonly strategy: number;
  /** Stay bias per mille (random) or depth d (PCT). */
  readonly param: number;
  readonly name: string;
}

/** The strategies seeds rotate through. */
const VARIANTS: readonly Variant[] = [
  { strategy: Strategy.Random, param: 0, name: 'random walk' },
  { strategy: Strategy.Pct, param: 2, name: 'PCT d=2' },
  { strategy: Strategy.Random, param: 500, name: 'random walk, stay 50%' },
  { strategy: Strategy.Pct, param: 1, name: 'PCT d=1' },
  { strategy: Strategy.Random, param: 900, name: 'random walk, stay 90%' },
  { strategy: Strategy.Pct, param: 3, name: 'PCT d=3' },
];
export const STRATEGIES = VARIANTS.length;
const TWO_32 = 2 ** 32;
/** Largest PCT length a seed carries (in units of 16 steps), keeping seeds below 2^53. */
const MAX_K_UNITS = Math.floor(2 ** 21 / STRATEGIES) - 1;

export interface Schedule {
  readonly seed: number;
  readonly rng: number;
  readonly variant: Variant;
  /** PCT: expected steps of an execution. */
  readonly k: number;
}

/** Mixes `x` into a well-spread 32-bit value (the finaliser of MurmurHash3). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The seed of the `n`th schedule of a run: strategies rotate, the generator is spread from `base`. */
export function seedOf(base: number, n: number, expectedSteps: number, only?: number): number {
  const rng = mix32((base ^ mix32(n + 0x9e3779b9)) >>> 0);
  const variant = only !== undefined ? only : n % STRATEGIES;
  const kUnits = Math.min(MAX_K_UNITS, Math.max(1, Math.ceil(expectedSteps / 16)));
  return rng + TWO_32 * (variant + STRATEGIES * kUnits);
}

/** Decodes a seed; throws RangeError for anything that is not one. */
export function scheduleOf(seed: number): Schedule {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`model(): options.seed must be a seed printed by a failing model run (a non-negative safe integer), got ${String(seed)}`);
  }
  const rng = seed % TWO_32;
  const meta = Math.floor(seed / TWO_32);
  const variant = VARIANTS[meta % STRATEGIES];
  const k = Math.max(1, Math.floor(meta / STRATEGIES)) * 16;
  return { seed, rng, variant, k };
}

/** Index of the variant named by `name` ('random' or 'pct'), for options.strategy. */
export function variantsOf(name: 'random' | 'pct' | undefined): number[] | undefined {
  if (name === undefined) return undefined;
  const want = name === 'random' ? Strategy.Random : Strategy.Pct;
  return VARIANTS.flatMap((v, i) => (v.strategy === want ? [i] : []));
}

export function describeSchedule(s: Schedule): string {
  return s.variant.strategy === Strategy.Pct ? `${s.variant.name}, k=${s.k}` : s.variant.name;
}

/** Next value of the control block's generator, uniform in [0, 1). */
export function random(c: Control): number {
  let x = c.get(G_RNG) | 0;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  c.set(G_RNG, x);
  return (x >>> 0) / TWO_32;
}

/** Sets the block up for schedule `s` (before the main thread's slot is made). */
export function startSchedule(c: Control, s: Schedule): void {
  c.set(G_RNG, s.rng === 0 ? 0x2545f491 : s.rng | 0);
  c.set(G_STRATEGY, s.variant.strategy);
  c.set(G_PARAM, s.variant.param);
  c.set(G_LOW_PRIO, -1);
  if (s.variant.strategy === Strategy.Pct) {
    const changes = Math.min(MAX_CHANGE, s.variant.param - 1);
    for (let j = 0; j < changes; j++) c.set(G_CHANGE + j, 1 + Math.floor(random(c) * s.k));
    // (steps are counted from 1: a change point 0 never fires)
  }
}

/** A new thread's PCT priority: random, above every lowered one. */
export function initialPriority(c: Control): number {
  return 1 + Math.floor(random(c) * 0x3fffffff);
}

/** The pick: a slot to run, or a slot whose wait times out (TIMEOUT bit). NONE when nothing can happen. */
export const TIMEOUT = 0x100;
export const NONE = -1;

function runnable(c: Control, t: number): boolean {
  const s = c.get(c.slot(t, T_STATE));
  return s === State.Ready || (s === State.Idle && c.get(c.slot(t, T_WOKEN)) > 0);
}

function timeoutable(c: Control, t: number): boolean {
  const s = c.get(c.slot(t, T_STATE));
  if (s === State.Blocked) return c.get(c.slot(t, T_TIMED)) !== 0;
  return s === State.Idle && c.get(c.slot(t, T_WOKEN)) === 0 && c.get(c.slot(t, T_ASYNC_TIMED)) > 0;
}

function deadlineOf(c: Control, t: number): number {
  if (c.get(c.slot(t, T_STATE)) === State.Blocked) return c.f64[c.slotDeadline(t)];
  const e = earliestTimedEntry(c, t);
  return e < 0 ? Infinity : c.f64[c.entryDeadline(e)];
}

/**
 * Picks what happens next. `self` is the deciding thread, its state already set
 * (Ready at a point, Blocked in a wait, Idle, Done); `yielding` when it spins.
 */
export function choose(c: Control, self: number, yielding: boolean): number {
  const n = c.get(G_THREADS);
  if (c.get(G_STRATEGY) === Strategy.Pct) return choosePct(c, self, yielding, n);
  const selfReady = c.get(c.slot(self, T_STATE)) === State.Ready;
  const stay = c.get(G_PARAM);
  if (selfReady && !yielding && stay > 0 && random(c) * 1000 < stay) return self;
  const picks: number[] = [];
  for (let t = 0; t < n; t++) {
    if (runnable(c, t)) {
      if (!(yielding && t === self)) picks.push(t);
    } else if (timeoutable(c, t)) picks.push(t | TIMEOUT);
  }
  if (picks.length === 0) return selfReady ? self : NONE;
  return picks[Math.floor(random(c) * picks.length)];
}

function choosePct(c: Control, self: number, yielding: boolean, n: number): number {
  const selfReady = c.get(c.slot(self, T_STATE)) === State.Ready;
  if (selfReady) {
    // Change points fall among the steps where a switch can happen at all: a thread
    // running alone (spawning the others, say) takes none of them.
    let others = false;
    for (let t = 0; t < n && !others; t++) others = t !== self && runnable(c, t);
    const step = others ? c.get(G_PSTEP) + 1 : 0;
    if (others) c.set(G_PSTEP, step);
    let lower = yielding;
    for (let j = 0; j < MAX_CHANGE && !lower; j++) lower = c.get(G_CHANGE + j) === step;
    if (lower) {
      const low = c.get(G_LOW_PRIO);
      c.set(G_LOW_PRIO, low - 1);
      c.set(c.slot(self, T_PRIO), low);
    }
  }
  let best = NONE;
  for (let t = 0; t < n; t++) {
    if (runnable(c, t) && (best === NONE || c.get(c.slot(t, T_PRIO)) > c.get(c.slot(best, T_PRIO)))) best = t;
  }
  if (best !== NONE) return best;
  let soonest = Infinity;
  for (let t = 0; t < n; t++) {
    if (!timeoutable(c, t)) continue;
    const d = deadlineOf(c, t);
    if (best === NONE || d < soonest) {
      best = t | TIMEOUT;
      soonest = d;
    }
  }
  return best;
}
