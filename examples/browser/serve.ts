// Serves the browser example: bundles main.ts and weft's worker entry with esbuild
// (the README's browser recipe: the app in one bundle, weft-worker.js beside it) and
// serves them on 127.0.0.1 with the two headers that make the page cross-origin
// isolated, without which a browser gives no SharedArrayBuffer:
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
//
//   npm run example:browser          # then open http://127.0.0.1:8080/
//   PORT=9000 npm run example:browser

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));
const esbuild = createRequire(import.meta.url)('esbuild') as {
  buildSync(o: Record<string, unknown>): { outputFiles: { text: string }[] };
};

function bundle(entry: string): string {
  return esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    // This repository runs weft from its TypeScript sources; an app using the
    // published package drops this line.
    conditions: ['weft-source'],
    absWorkingDir: root,
    write: false,
    outdir: '/',
    logLevel: 'error',
  }).outputFiles[0].text;
}

export function startServer(port: number): Promise<{ server: Server; url: string }> {
  const files = new Map<string, [string, string]>([
    ['/', ['text/html', readFileSync(`${here}/index.html`, 'utf8')]],
    ['/main.js', ['text/javascript', bundle(`${here}/main.ts`)]],
    ['/weft-worker.js', ['text/javascript', bundle(`${root}/src/thread/worker_main.ts`)]],
  ]);
  const server = createServer((req, res) => {
    const file = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', `${file[0]}; charset=utf-8`);
    res.end(file[1]);
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${address.port}/` });
    }),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { url } = await startServer(Number(process.env.PORT ?? 8080));
  console.log(`weft browser example: open ${url} (Ctrl-C to stop)`);
}
