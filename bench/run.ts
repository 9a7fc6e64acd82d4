// Runs the benchmark groups, prints a table as rows finish, and writes latest.json and
// latest.svg: to bench/out/ (ignored by git), or to bench/results/ with --save.
//
// Usage: npm run bench [-- [--only <group>[,<group>...]] [--save] [--no-rust]]
//   --only   runs the groups whose name contains one of the given words (case-insensitive;
//            repeatable; a bare word works too, as before)
//   --save   writes the results into bench/results/ (tracked) instead of bench/out/
//   --no-rust leaves out the Rust std rows (they are built with cargo when it is here)

import { availableParallelism } from 'node:os';
import { groups } from './groups.ts';
import { defaultSettings, higherIsBetter, measure, speedup, type Group } from './harness.ts';
import { describeMachine, legend, machine, Table, writeResults, type Row } from './report.ts';
import { buildRust } from './rust.ts';

function parseArgs(argv: string[]): { only: string[]; save: boolean; rust: boolean } {
  const only: string[] = [];
  let save = false;
  let rust = true;
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    if (arg === '--save') save = true;
    else if (arg === '--no-rust') rust = false;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++k] : arg.slice('--only='.length);
      if (!value) throw new Error('--only needs a group name (or part of one)');
      only.push(...value.split(','));
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}; options: --only <group>, --save, --no-rust`);
    else only.push(arg);
  }
  return { only: only.map((w) => w.trim().toLowerCase()).filter((w) => w !== ''), save, rust };
}

let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

let selected: Group[] = groups.filter((g) => args.only.length === 0 || args.only.some((w) => g.name.toLowerCase().includes(w)));
if (selected.length === 0) {
  console.error(`No bench group matches ${args.only.join(', ')}. Groups: ${groups.map((g) => g.name).join(', ')}`);
  process.exit(1);
}

// A case awaiting something nothing will deliver (no live worker, no timer) empties
// the event loop, and Node exits with 13 mid-table; say why.
process.on('exit', (code) => {
  if (code === 13) console.error('\nbench stopped: a case awaited something that can no longer happen');
});

const info = machine();
let rustNote: string | undefined;
if (selected.some((g) => g.cases.some((c) => c.rustRow))) {
  const rust = args.rust ? await buildRust() : { skipped: '--no-rust' };
  if ('skipped' in rust) {
    rustNote = `Rust std rows skipped: ${rust.skipped}`;
    selected = selected.map((g) => ({ ...g, cases: g.cases.filter((c) => !c.rustRow) }));
  } else info.rustc = rust.version;
}
console.log(`${describeMachine(info)} (${availableParallelism()} available to this process)`);
if (rustNote) console.log(rustNote);
console.log();

const started = performance.now();
const table = new Table(selected);
const rows: Row[] = [];
for (const g of selected) {
  let reference: number | undefined; // the baseline's value; group() puts it first
  const rustValues = new Map<string, number>(); // Rust rows come before the weft rows facing them
  for (const c of g.cases) {
    const row: Row = {
      group: g.name,
      case: c.name,
      metric: c.metric,
      better: higherIsBetter(c.metric) ? 'higher' : 'lower',
      baseline: c.baseline === true,
      rust: c.rust,
      rustRow: c.rustRow,
    };
    try {
      row.measurement = await measure(c);
      if (c.baseline) reference = row.measurement.value;
      if (reference !== undefined) row.speedup = speedup(c.metric, row.measurement.value, reference);
      if (c.rust !== undefined) {
        if (c.rustRow) rustValues.set(c.rust, row.measurement.value);
        else if (rustValues.has(c.rust)) row.vsRust = speedup(c.metric, row.measurement.value, rustValues.get(c.rust)!);
      }
    } catch (err) {
      row.error = err instanceof Error ? err.message : String(err);
      process.exitCode = 1;
    }
    table.print(row);
    rows.push(row);
  }
}
console.log(`\n${legend}`);
if (rustNote) console.log(rustNote);

// The load average again: a run that another process disturbed shows it here.
const after = machine();
info.loadAverage1m = Math.max(info.loadAverage1m, after.loadAverage1m);
const dir = new URL(args.save ? './results/' : './out/', import.meta.url);
const written = await writeResults(dir, { machine: info, settings: defaultSettings, filter: args.only.join(',') || undefined, rows });
const seconds = ((performance.now() - started) / 1e3).toFixed(1);
console.log(`${rows.length} cases in ${seconds} s, load ${after.loadAverage1m} at the end; wrote ${written.map((u) => u.pathname).join(', ')}`);
