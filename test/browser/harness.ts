// What the browser tests and the browser bench share: bundling pages with esbuild the
// way the README tells an app to, a tiny static server on 127.0.0.1 that makes pages
// cross-origin isolated (COOP same-origin + COEP require-corp, without which there is
// no SharedArrayBuffer), and a headless Chromium driven by playwright-core.

import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const root = fileURLToPath(new URL('../..', import.meta.url));

export const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
export const INSTALL_HINT =
  `Chromium was not found at ${CHROMIUM}. The browser suite needs it: install it with ` +
  '`apt-get update && apt-get install -y --no-install-recommends chromium` (as root; .ci/run does this), ' +
  'or point WEFT_CHROMIUM at a Chromium binary; WEFT_SKIP_BROWSER=1 skips the browser suite.';

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

interface Esbuild {
  buildSync(options: Record<string, unknown>): { outputFiles: { text: string }[] };
}
const esbuild = require('esbuild') as Esbuild;

/**
 * Bundles `entry` for the browser as one ES module. `weftExternal`: leave `weft` to the
 * page's import map (so `import('weft')` in spawned functions survives bundling).
 */
export function bundle(entry: string, options: { weftExternal?: boolean } = {}): string {
  const out = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    // The tests run weft from its TypeScript sources, as the rest of the suite does.
    conditions: ['weft-source'],
    external: options.weftExternal ? ['weft'] : [],
    absWorkingDir: root,
    write: false,
    outdir: join(mkdtempSync(join(tmpdir(), 'weft-bundle-')), 'out'),
    logLevel: 'error',
  });
  return out.outputFiles[0].text;
}

/** weft for a page (import map target) and weft's worker entry, bundled from the sources. */
export function weftBundles(): { weft: string; worker: string } {
  return { weft: bundle(join(root, 'src/index.ts')), worker: bundle(join(root, 'src/thread/worker_main.ts')) };
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.png': 'image/png' };

/** Serves `files` (path → body) on 127.0.0.1 with the cross-origin isolation headers. */
export async function serve(files: Map<string, string | Buffer>, port = 0): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = files.get(path) ?? files.get(path.endsWith('/') ? `${path}index.html` : `${path}/index.html`);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    res.setHeader('Cache-Control', 'no-store');
    if (body === undefined) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const ext = /\.[a-z]+$/.exec(path)?.[0] ?? '.html';
    res.setHeader('Content-Type', TYPES[ext] ?? 'application/octet-stream');
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the test server has no port');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

/** A page that maps `weft` to /weft.js and runs `script` (a module). */
export function pageWithImportMap(script: string): string {
  return `<!doctype html><meta charset="utf-8"><title>weft</title>
<script type="importmap">{ "imports": { "weft": "/weft.js" } }</script>
<script type="module">${script}</script>`;
}

interface PlaywrightChromium {
  launch(options: Record<string, unknown>): Promise<Browser>;
}
export interface Page {
  goto(url: string): Promise<unknown>;
  waitForFunction(f: string, arg?: unknown, options?: { timeout: number; polling?: number }): Promise<unknown>;
  evaluate<T>(f: string): Promise<T>;
  on(event: 'console' | 'pageerror', f: (m: { text(): string } & Error) => void): void;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
}
export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Headless Chromium, as CI runs it (root needs --no-sandbox). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = require('playwright-core') as { chromium: PlaywrightChromium };
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Waits until the page sets `window[name]`, and returns it. */
export async function resultOf<T>(page: Page, name: string, timeoutMs: number): Promise<T> {
  await page.waitForFunction(`window[${JSON.stringify(name)}] !== undefined`, undefined, { timeout: timeoutMs, polling: 100 });
  return page.evaluate<T>(`window[${JSON.stringify(name)}]`);
}
