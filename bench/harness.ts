// The benchmark model: a group compares its cases against the one baseline case.
// A case owns its own timing (it may run workers), and the harness only decides how
// many operations a sample runs and how many samples to take.

/** `ops/s` is a rate (higher is better); the others are time per operation (lower is better). */
export type Metric = 'ops/s' | 'µs/op' | 'ms/op';

export interface Session {
  /** Runs `ops` operations and resolves to the seconds they took. */
  run(ops: number): Promise<number>;
  /** Releases what `open` set up (terminates workers). */
  close?(): Promise<void>;
}

export interface Case {
  name: string;
  metric: Metric;
  baseline?: boolean;
  /** Set-up outside the timed region: start workers, allocate buffers. */
  open(): Promise<Session>;
}

export interface Group {
  name: string;
  cases: Case[];
}

/** A group whose first case is its one baseline, so ratios have one reference. */
export function group(name: string, cases: Case[]): Group {
  const baselines = cases.filter((c) => c.baseline);
  if (baselines.length !== 1) throw new Error(`bench group "${name}" needs exactly one baseline case`);
  return { name, cases: [...baselines, ...cases.filter((c) => !c.baseline)] };
}

export function higherIsBetter(metric: Metric): boolean {
  return metric === 'ops/s';
}

export interface Settings {
  /** Seconds a sample should take; long enough to drown the per-sample start/stop messages. */
  sampleSeconds: number;
  warmups: number;
  samples: number;
}

export const defaultSettings: Settings = { sampleSeconds: 0.2, warmups: 1, samples: 7 };

export interface Measurement {
  /** Median over the samples, in the case's metric. */
  value: number;
  min: number;
  max: number;
  samples: number[];
  opsPerSample: number;
}

export async function measure(c: Case, settings: Settings = defaultSettings): Promise<Measurement> {
  const session = await c.open();
  try {
    const ops = await calibrate(session, settings.sampleSeconds);
    for (let i = 0; i < settings.warmups; i++) await session.run(ops);
    const samples: number[] = [];
    for (let i = 0; i < settings.samples; i++) samples.push(inMetric(c.metric, ops, await session.run(ops)));
    const sorted = [...samples].sort((a, b) => a - b);
    return { value: median(sorted), min: sorted[0], max: sorted.at(-1)!, samples, opsPerSample: ops };
  } finally {
    await session.close?.();
  }
}

/** Relative performance against the baseline's value: above 1 is better, whatever the metric. */
export function speedup(metric: Metric, value: number, baseline: number): number {
  return higherIsBetter(metric) ? value / baseline : baseline / value;
}

// Grows the op count until a run takes at least half the target, then scales it to
// the target. Small first runs are dominated by fixed costs, so growth per step is
// capped rather than extrapolated from them; these runs double as warm-up.
async function calibrate(session: Session, target: number): Promise<number> {
  let ops = 1;
  for (;;) {
    const seconds = await session.run(ops);
    if (seconds >= target / 2) return Math.max(1, Math.round((ops * target) / seconds));
    ops = Math.ceil(ops * Math.min(100, Math.max(2, target / Math.max(seconds, 1e-9))));
  }
}

function inMetric(metric: Metric, ops: number, seconds: number): number {
  switch (metric) {
    case 'ops/s':
      return ops / seconds;
    case 'µs/op':
      return (seconds * 1e6) / ops;
    case 'ms/op':
      return (seconds * 1e3) / ops;
  }
}

function median(sorted: number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
