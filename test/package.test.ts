// The built package as a consumer sees it: plain Node, no TypeScript loader, no
// export condition. `npm run build` must have run (CI builds before testing).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(join(root, 'dist/index.js')) && existsSync(join(root, 'dist/index.d.ts'));

test('a consumer project imports weft from dist, and so do its threads', { skip: !built && 'run npm run build first' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/weft'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
    writeFileSync(
      join(dir, 'main.js'),
      `import { spawn, AtomicI32 } from 'weft';
       const n = new AtomicI32(1);
       const r = spawn(async (a) => {
         const weft = await import('weft');
         a.fetchAdd(1);
         return weft.current().id > 1 && typeof weft.spawn === 'function';
       }, n).join();
       console.log(JSON.stringify({ r, n: n.load() }));`,
    );
    const out = execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.deepEqual(JSON.parse(out), { r: true, n: 2 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
