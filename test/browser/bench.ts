// Runs test/browser/bench_workloads.ts in Node and in headless Chromium and prints a
// Markdown table (the README's browser table):
//   node --conditions=weft-source --import tsx test/browser/bench.ts

import { join } from 'node:path';
import * as weft from '../../src/index.ts';
import { runBench, type BenchRow } from './bench_workloads.ts';
import { bundle, launchChromium, pageWithImportMap, resultOf, root, serve, weftBundles } from './harness.ts';

const node = await runBench(weft);
const { weft: weftJs, worker } = weftBundles();
const files = new Map<string, string>([
  ['/index.html', pageWithImportMap("import * as weft from 'weft'; import { runBench } from '/bench.js'; window.__bench = await runBench(weft);")],
  ['/bench.js', bundle(join(root, 'test/browser/bench_workloads.ts'), { weftExternal: true })],
  ['/weft.js', weftJs],
  ['/weft-worker.js', worker],
]);
const { server, url } = await serve(files);
const browser = await launchChromium();
let chromium: BenchRow[];
try {
  const page = await browser.newPage();
  await page.goto(`${url}/`);
  chromium = await resultOf<BenchRow[]>(page, '__bench', 300_000);
} finally {
  await browser.close();
  server.close();
}
const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
console.log(`| workload | Node ${process.version} | Chromium (headless) |`);
console.log('|---|---|---|');
node.forEach((r, k) => console.log(`| ${r.name} | ${fmt(r.value)} ${r.unit} | ${fmt(chromium[k].value)} ${chromium[k].unit} |`));
process.exit(0);
