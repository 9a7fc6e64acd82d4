// Runs the benchmark groups (all, or those whose name contains the first argument),
// prints a table as rows finish, and writes bench/results/latest.{json,svg}.
// Usage: npm run bench [-- <group filter>]

import { groups } from './groups.ts';
import { defaultSettings, higherIsBetter, measure, speedup } from './harness.ts';
import { legend, machine, Table, writeResults, type Row } from './report.ts';

const filter = process.argv[2];
const selected = groups.filter((g) => !filter || g.name.toLowerCase().includes(filter.toLowerCase()));
if (selected.length === 0) {
  console.error(`No bench group matches "${filter}". Groups: ${groups.map((g) => g.name).join(', ')}`);
  process.exit(1);
}

// A case awaiting something nothing will deliver (no live worker, no timer) empties
// the event loop, and Node exits with 13 mid-table; say why.
process.on('exit', (code) => {
  if (code === 13) console.error('\nbench stopped: a case awaited something that can no longer happen');
});

const info = machine();
console.log(`node ${info.node}, ${info.cpus}× ${info.cpuModel}, load ${info.loadAverage1m}\n`);
const started = performance.now();
const table = new Table(selected);
const rows: Row[] = [];
for (const g of selected) {
  let reference: number | undefined; // the baseline's value; group() puts it first
  for (const c of g.cases) {
    const row: Row = {
      group: g.name,
      case: c.name,
      metric: c.metric,
      better: higherIsBetter(c.metric) ? 'higher' : 'lower',
      baseline: c.baseline === true,
    };
    try {
      row.measurement = await measure(c);
      if (c.baseline) reference = row.measurement.value;
      if (reference !== undefined) row.speedup = speedup(c.metric, row.measurement.value, reference);
    } catch (err) {
      row.error = err instanceof Error ? err.message : String(err);
      process.exitCode = 1;
    }
    table.print(row);
    rows.push(row);
  }
}
console.log(`\n${legend}`);

const written = await writeResults(new URL('./results/', import.meta.url), {
  machine: info,
  settings: defaultSettings,
  filter,
  rows,
});
const seconds = ((performance.now() - started) / 1e3).toFixed(1);
console.log(`${rows.length} cases in ${seconds} s; wrote ${written.map((u) => u.pathname).join(', ')}`);
