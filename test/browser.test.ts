// weft in a real browser: headless Chromium (Debian's chromium package, driven by
// playwright-core) loads pages served on 127.0.0.1 with cross-origin isolation and
// runs test/browser/suite.ts there, plus the README's bundling recipes, from the
// sources and from the built package. Without Chromium this file fails and says how
// to install it; WEFT_SKIP_BROWSER=1 skips it.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  bundle, chromiumInstalled, INSTALL_HINT, launchChromium, pageWithImportMap, resultOf, root, serve, weftBundles,
  type Browser, type Page,
} from './browser/harness.ts';

const SKIP = process.env.WEFT_SKIP_BROWSER === '1';
if (SKIP) console.log('browser suite skipped (WEFT_SKIP_BROWSER=1)');

// As in test/package.test.ts: locally a missing dist/ skips the built package's page; in CI it fails.
const built = existsSync(join(root, 'dist/index.js'));
const skipDist = !built && !process.env.CI && 'dist/ is missing: run `npm run build` first';

const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync(o: Record<string, unknown>): { outputFiles: { text: string }[] } };

/**
 * The README's browser recipe against the built package, as an app depending on weft
 * runs it: no `weft-source` condition, so `weft` is dist/index.js, whose chunks import
 * the host as ../platform/node.js, which package.json's browser field swaps.
 */
function bundleFromDist(entry: string): string {
  return esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    absWorkingDir: root,
    write: false,
    outdir: join(mkdtempSync(join(tmpdir(), 'weft-bundle-')), 'out'),
    logLevel: 'error',
  }).outputFiles[0].text;
}

describe('browser (headless Chromium)', { skip: SKIP }, () => {
  let browser: Browser | undefined;
  let url = '';
  let close = (): void => {};
  /** What the server serves, by path. */
  let files = new Map<string, string>();

  before(async () => {
    assert.ok(chromiumInstalled(), INSTALL_HINT);
    const { weft, worker } = weftBundles();
    const app = bundle(join(root, 'test/browser/bundled_app.ts'));
    files = new Map<string, string>([
      ['/index.html', pageWithImportMap("import { run } from '/suite.js'; window.__weft = await run();")],
      ['/suite.js', bundle(join(root, 'test/browser/suite.ts'), { weftExternal: true })],
      ['/weft.js', weft],
      ['/weft-worker.js', worker],
      // The whole app in one bundle, weft's worker entry beside it.
      ['/bundled/index.html', '<!doctype html><script type="module" src="./app.js"></script>'],
      ['/bundled/app.js', app],
      ['/bundled/weft-worker.js', worker],
      // The same, with the worker bundle forgotten.
      ['/missing/index.html', '<!doctype html><script type="module" src="./app.js"></script>'],
      ['/missing/app.js', app],
    ]);
    if (built) {
      // The same app and worker entry, bundled from dist/.
      files.set('/dist/index.html', '<!doctype html><script type="module" src="./app.js"></script>');
      files.set('/dist/app.js', bundleFromDist(join(root, 'test/browser/bundled_app.ts')));
      files.set('/dist/weft-worker.js', bundleFromDist(join(root, 'dist/thread/worker_main.js')));
    }
    const s = await serve(files);
    url = s.url;
    close = () => s.server.close();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    close();
  });

  async function open(path: string): Promise<Page> {
    const page = await browser!.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e.stack ?? e.message}`));
    await page.goto(`${url}${path}`);
    return page;
  }

  test('the browser suite: threads, panics, channels, locks, terminate, scope, park', { timeout: 240_000 }, async () => {
    const page = await open('/');
    const r = await resultOf<{ passed: number; failed: number; lines: string[] }>(page, '__weft', 230_000);
    console.log(r.lines.join('\n'));
    assert.equal(r.failed, 0, r.lines.filter((l) => l.startsWith('not ok')).join('\n'));
    assert.ok(r.passed >= 20, `${r.passed} passed`);
  });

  test('an app bundled whole by esbuild runs with weft-worker.js beside it', { timeout: 60_000 }, async () => {
    const r = await resultOf<{ ok: boolean; joined: number[] }>(await open('/bundled/'), '__weft', 50_000);
    assert.deepEqual(r, { ok: true, joined: [1, 2, 3] });
  });

  test('an app bundled from the built package runs with weft-worker.js bundled from dist beside it', { timeout: 60_000, skip: skipDist }, async () => {
    // Built from dist's chunks, with the host the browser field swapped in: no Node host.
    for (const f of ['/dist/app.js', '/dist/weft-worker.js']) {
      assert.match(files.get(f)!, /^\/\/ dist\/chunks\//m, f);
      assert.doesNotMatch(files.get(f)!, /worker_threads/, f);
    }
    const r = await resultOf<{ ok: boolean; joined: number[] }>(await open('/dist/'), '__weft', 50_000);
    assert.deepEqual(r, { ok: true, joined: [1, 2, 3] });
  });

  test('without weft-worker.js, spawns fail fast with the recipe instead of hanging', { timeout: 60_000 }, async () => {
    const r = await resultOf<Record<string, unknown>>(await open('/missing/'), '__weft', 50_000);
    assert.equal(r.ok, false);
    assert.equal(r.name, 'PanicError');
    assert.match(String(r.message), /weft-worker\.js/);
    assert.match(String(r.message), /esbuild node_modules\/weft\/dist\/thread\/worker_main\.js --bundle --format=esm --platform=browser/);
    assert.equal(r.laterIsSpawnError, true, String(r.laterMessage));
  });
});
