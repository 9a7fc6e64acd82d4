// Presenting results: the console table, and the JSON and SVG a run writes (to the
// ignored bench/out/, or with --save to bench/results/, see run.ts).

import { mkdir, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { higherIsBetter, type Group, type Measurement, type Metric, type Settings } from './harness.ts';

export interface Row {
  group: string;
  case: string;
  metric: Metric;
  better: 'higher' | 'lower';
  baseline: boolean;
  measurement?: Measurement;
  /** Performance relative to the group's baseline; above 1 is better. */
  speedup?: number;
  /** The Rust std workload this row measures (rustRow) or faces. */
  rust?: string;
  rustRow?: boolean;
  /** A weft row's performance relative to its Rust std row; above 1 is better. */
  vsRust?: number;
  error?: string;
}

export interface Machine {
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  loadAverage1m: number;
  date: string;
  /** `rustc --version` when the Rust rows ran. */
  rustc?: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    // Other work on the machine is the usual cause of a noisy run.
    loadAverage1m: Number(os.loadavg()[0].toFixed(2)),
    date: new Date().toISOString(),
  };
}

function formatValue(metric: Metric, value: number): string {
  if (metric !== 'ops/s') return value.toPrecision(3);
  if (value >= 1e6) return `${(value / 1e6).toPrecision(3)}M`;
  if (value >= 1e3) return `${(value / 1e3).toPrecision(3)}k`;
  return value.toPrecision(3);
}

function formatRatio(row: Row): string {
  if (row.speedup === undefined) return 'n/a';
  if (row.baseline) return 'baseline';
  return faster(row.speedup);
}

const faster = (r: number): string => (r >= 1 ? `${r.toPrecision(3)}x faster` : `${(1 / r).toPrecision(3)}x slower`);

function formatVsRust(row: Row): string {
  if (row.rustRow) return row.measurement ? 'Rust std' : '';
  return row.vsRust === undefined ? '' : faster(row.vsRust);
}

/** The machine line printed at the top of a run and of the chart. */
export function describeMachine(info: Machine): string {
  const rust = info.rustc ? `, ${info.rustc}` : '';
  return `node ${info.node}${rust}, ${info.cpus}× ${info.cpuModel}, ${info.memoryGiB} GiB, ${info.platform}, load ${info.loadAverage1m}`;
}

// Median absolute deviation, relative to the median: robust to the odd sample a
// busy machine spoils, where min..max (kept in the JSON) is not.
function spread(m: Measurement): string {
  const deviations = m.samples.map((v) => Math.abs(v - m.value)).sort((a, b) => a - b);
  const mad = deviations[deviations.length >> 1];
  return `±${((mad / m.value) * 100).toFixed(1)}%`;
}

/** A console table printed a row at a time, its widths fixed from the case names up front. */
export class Table {
  private readonly widths: number[];

  constructor(groups: Group[]) {
    const names = groups.flatMap((g) => g.cases.map((c) => [g.name, c.name]));
    this.widths = [
      Math.max(5, ...names.map(([g]) => g.length)),
      Math.max(4, ...names.map(([, c]) => c.length)),
      6,
      9,
      7,
    ];
    this.widths.push(14);
    this.line(['group', 'case', 'metric', 'value', 'spread', 'vs baseline', 'vs Rust std']);
    this.line(this.widths.map((w) => '-'.repeat(w)).concat('-'.repeat(12)));
  }

  print(row: Row): void {
    const m = row.measurement;
    const value = m ? formatValue(row.metric, m.value) : 'failed';
    if (row.error) return this.line([row.group, row.case, row.metric, value, '', row.error]);
    this.line([row.group, row.case, row.metric, value, m ? spread(m) : '', formatRatio(row), formatVsRust(row)]);
  }

  private line(cells: string[]): void {
    const padded = cells.map((cell, i) => {
      const width = this.widths[i];
      if (width === undefined) return cell;
      return i === 3 || i === 4 ? cell.padStart(width) : cell.padEnd(width); // numbers align right
    });
    console.log(padded.join('  '));
  }
}

export const legend =
  'ops/s: higher is better; µs/op and ms/op: lower is better. value = median of samples; ' +
  'spread = median absolute deviation of the samples. vs Rust std: a weft row against the Rust std ' +
  'row of the same workload (bench/rust), measured in the same run.';

/** Writes latest.json and latest.svg, each through a temporary file so a reader never sees half of one. */
export async function writeResults(
  dir: URL,
  report: { machine: Machine; settings: Settings; filter?: string; rows: Row[] },
): Promise<URL[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['latest.json', `${JSON.stringify(report, null, 2)}\n`],
    ['latest.svg', svg(report.rows, report.machine)],
  ];
  return Promise.all(
    files.map(async ([name, text]) => {
      const url = new URL(name, dir);
      const tmp = new URL(`${name}.tmp`, dir);
      await writeFile(tmp, text);
      await rename(tmp, url);
      return url;
    }),
  );
}

// Hand-written SVG: per group, one bar per case, its length the speedup over the
// baseline on a linear scale, with a dashed line where the baseline (1x) falls. Rust
// std rows have their own colour, and a weft row facing one says how it compares.
const WIDTH = 1000;
const LABEL_X = 16;
const BAR_X = 250;
const BAR_MAX = 340;
const ROW = 22;
const TITLE = 30;

function svg(rows: Row[], info: Machine): string {
  const parts: string[] = [];
  let y = 28;
  parts.push(text(LABEL_X, y, 'weft benchmarks: speed relative to each group’s baseline (longer bar is better)', 'font-size="15" font-weight="bold"'));
  y += 18;
  parts.push(text(LABEL_X, y, `${describeMachine(info)}, ${info.date}`, 'fill="#555"'));
  y += 10;

  for (const name of [...new Set(rows.map((r) => r.group))]) {
    const members = rows.filter((r) => r.group === name);
    const scale = BAR_MAX / Math.max(1, ...members.map((r) => r.speedup ?? 0));
    y += TITLE;
    const metric = members[0].metric;
    parts.push(text(LABEL_X, y - 8, `${name} (${metric}, ${higherIsBetter(metric) ? 'higher' : 'lower'} is better)`, 'font-weight="bold"'));
    const top = y;
    for (const row of members) {
      const width = row.speedup === undefined ? 0 : Math.max(1, row.speedup * scale);
      const colour = row.baseline ? '#8a8a8a' : row.rustRow ? '#7b3f00' : (row.speedup ?? 0) >= 1 ? '#2e8b57' : '#d2691e';
      parts.push(text(LABEL_X, y + 15, row.case));
      parts.push(`<rect x="${BAR_X}" y="${y + 4}" width="${width.toFixed(1)}" height="14" fill="${colour}"/>`);
      const value = row.measurement ? ` (${formatValue(row.metric, row.measurement.value)} ${row.metric})` : '';
      const rust = row.vsRust === undefined ? '' : `; vs Rust std: ${faster(row.vsRust)}`;
      parts.push(text(BAR_X + width + 6, y + 15, row.error ? 'failed' : `${formatRatio(row)}${value}${rust}`));
      y += ROW;
    }
    const one = (BAR_X + scale).toFixed(1);
    parts.push(`<line x1="${one}" y1="${top}" x2="${one}" y2="${y + 2}" stroke="#333" stroke-dasharray="3 3"/>`);
  }

  const height = y + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function text(x: number, y: number, content: string, attributes?: string): string {
  const extra = attributes ? ` ${attributes}` : '';
  return `<text x="${x.toFixed(1)}" y="${y}"${extra}>${escapeXml(content)}</text>`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}
