// The Rust std side of the bench: bench/rust is a cargo project with no dependencies
// whose binary runs the same workloads as weft's rows (mpsc channels, Mutex, Once,
// thread::spawn). It is built once per run (offline, release, into the ignored
// bench/out/) when cargo is on the machine, and each Rust row runs it for its one
// workload right when the row is due, so Rust and weft figures come from the same
// sitting and load. Without cargo, or with --no-rust, the Rust rows are left out.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { summarize, type Case, type Measurement, type Metric, type Settings } from './harness.ts';

const run = promisify(execFile);

const project = fileURLToPath(new URL('./rust/', import.meta.url));
const targetDir = fileURLToPath(new URL('./out/rust-target/', import.meta.url));
const binary = `${targetDir}release/weft-bench-rust${process.platform === 'win32' ? '.exe' : ''}`;

/** The workloads of bench/rust/src/main.rs, as rows: name and the metric of the weft cases they face. */
const workloads: Record<string, { name: string; metric: Metric }> = {
  channel_unbounded: { name: 'Rust std mpsc::channel', metric: 'ops/s' },
  channel_bounded: { name: 'Rust std mpsc::sync_channel(1024)', metric: 'ops/s' },
  channel_unbounded_4: { name: 'Rust std mpsc::channel, 4 senders', metric: 'ops/s' },
  ping_pong: { name: 'Rust std mpsc ping-pong', metric: 'µs/op' },
  mutex_uncontended: { name: 'Rust std Mutex lock+unlock', metric: 'ops/s' },
  mutex_increment: { name: 'Rust std Mutex<u64> lock, += 1, unlock', metric: 'ops/s' },
  mutex_contended: { name: 'Rust std Mutex, 2 threads', metric: 'ops/s' },
  once_completed: { name: 'Rust std Once::call_once (completed)', metric: 'ops/s' },
  spawn_join: { name: 'Rust std thread::spawn→join', metric: 'ms/op' },
};

/** The row of Rust std workload `key`. */
export function rustStd(key: string): Case {
  const w = workloads[key];
  if (!w) throw new Error(`no Rust workload "${key}"; bench/rust has ${Object.keys(workloads).join(', ')}`);
  return {
    name: w.name,
    metric: w.metric,
    rust: key,
    rustRow: true,
    async open() {
      throw new Error('a Rust row is measured by its own program');
    },
    measure: (settings) => measureRust(key, w.metric, settings),
  };
}

export interface RustToolchain {
  /** `rustc --version`, for the machine line. */
  version: string;
}

/**
 * Builds the Rust program (offline, release). Resolves to the toolchain, or to the
 * reason the Rust rows cannot run (no cargo, a failed build).
 */
export async function buildRust(): Promise<RustToolchain | { skipped: string }> {
  let version: string;
  try {
    version = (await run('rustc', ['--version'])).stdout.trim();
    await run('cargo', ['--version']);
  } catch {
    return { skipped: 'cargo is not on this machine' };
  }
  try {
    await run('cargo', ['build', '--release', '--offline', '--quiet', '--manifest-path', `${project}Cargo.toml`, '--target-dir', targetDir], {
      maxBuffer: 1 << 24,
    });
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim().split('\n').slice(-3).join(' ') ?? String(e);
    return { skipped: `cargo build of bench/rust failed: ${detail}` };
  }
  return { version };
}

async function measureRust(key: string, metric: Metric, settings: Settings): Promise<Measurement> {
  const args = ['--sample-seconds', String(settings.sampleSeconds), '--warmups', String(settings.warmups), '--samples', String(settings.samples), key];
  const { stdout } = await run(binary, args, { maxBuffer: 1 << 20 });
  const line = stdout.trim().split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the Rust program printed no result for ${key}`);
  const result = JSON.parse(line) as { key: string; ops: number; seconds: number[] };
  if (result.key !== key || !(result.ops > 0) || result.seconds.length === 0) throw new Error(`unexpected Rust result: ${line}`);
  return summarize(metric, result.ops, result.seconds);
}
