// Takes the README's screenshot of the browser example with the headless Chromium the
// browser tests use:  node --import tsx examples/browser/screenshot.ts [out.png]

import { fileURLToPath } from 'node:url';
import { launchChromium, resultOf } from '../../test/browser/harness.ts';
import { startServer } from './serve.ts';

const out = process.argv[2] ?? fileURLToPath(new URL('./screenshot.png', import.meta.url));
const { server, url } = await startServer(0);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 960, height: 780 });
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  await page.goto(url);
  const done = await resultOf<Record<string, unknown>>(page, '__done', 120_000);
  console.log(JSON.stringify(done));
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.close();
}
