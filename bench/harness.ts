// The benchmark model: a group compares its cases against the one baseline case.
// A case owns its own timing (it may run workers), and the harness only decides how
// many operations a sample runs and how many samples to take. A case measured outside
// this process (the Rust std program, rust.ts) brings its own measure(). A weft case
// names the Rust workload it is the counterpart of (`rust`), so the report can print
// weft/Rust beside the baseline ratio.

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
  /** The Rust std workload (rust.ts) this case is compared with. */
  rust?: string;
  /** Set for the Rust std row of workload `rust` itself (a case that measures outside this process). */
  rustRow?: boolean;
  /** Set-up outside the timed region: start workers, allocate buffers. */
  open(): Promise<Session>;
  /** Measures the case some other way than open() and the harness's calibration. */
  measure?(settings: Settings): Promise<Measurement>;
}

export interface Group {
  name: string;
  cases: Case[];
}

/** `c`, compared with the Rust std workload `key` in the report. */
export function vsRust(c: Case, key: string): Case {
  return { ...c, rust: key };
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
  if (c.measure) return c.measure(settings);
  const session = await c.open();
  try {
    const ops = await calibrate(session, settings.sampleSeconds);
    for (let i = 0; i < settings.warmups; i++) await session.run(ops);
    const seconds: number[] = [];
    for (let i = 0; i < settings.samples; i++) seconds.push(await session.run(ops));
    return summarize(c.metric, ops, seconds);
  } finally {
    await session.close?.();
  }
}

/** The measurement of samples that each ran `ops` operations in the given seconds. */
export function summarize(metric: Metric, ops: number, seconds: number[]): Measurement {
  const samples = seconds.map((s) => inMetric(metric, ops, s));
  const sorted = [...samples].sort((a, b) => a - b);
  return { value: median(sorted), min: sorted[0], max: sorted.at(-1)!, samples, opsPerSample: ops };
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
