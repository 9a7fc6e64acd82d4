// The package as npm delivers it: `npm pack` (whose prepack builds dist/), the tarball
// installed into a fresh project next to TypeScript 5.0 from the registry, then a plain
// Node 20 JavaScript program run against it and a TypeScript program type-checked by
// TypeScript 5.0 and by this repository's TypeScript, neither with skipLibCheck.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Nothing of this repository's npm run (its config, its loader options) leaks into the consumer.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'INIT_CWD'),
);

let dir = '';
let tarball = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-pack-'));
  const out = execFileSync(npm, ['pack', '--pack-destination', dir, '--silent'], { cwd: root, encoding: 'utf8', env, timeout: 120_000 });
  tarball = join(dir, out.trim().split('\n').pop()!);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync(
    npm,
    ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', '--loglevel=error', tarball, 'typescript@5.0'],
    { cwd: dir, encoding: 'utf8', env, timeout: 120_000 },
  );
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the tarball ships the build, its maps and sources, README, LICENSE and CHANGELOG, and nothing of the repo', () => {
  const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').map((f) => f.replace(/^package\//, ''));
  for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map',
    'dist/index.d.ts.map', 'dist/thread/worker_main.js', 'dist/platform/node.js', 'dist/platform/browser.js', 'src/index.ts']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.deepEqual(files.filter((f) => /^(test|bench|examples|scripts|node_modules|\.ci)\//.test(f)), []);
  // The JavaScript is the bundle (scripts/build.mjs): three entries, their shared chunks
  // and the two hosts, not a file per module.
  const js = files.filter((f) => f.endsWith('.js'));
  for (const f of js) {
    assert.match(f, /^dist\/(index|check\/index|thread\/worker_main|platform\/(node|browser)|chunks\/[\w-]+)\.js$/, f);
  }
  assert.ok(js.length <= 12, `${js.length} JavaScript files: ${js.join(', ')}`);
  // Each file's map names its sources by paths that exist in the package.
  for (const f of js) {
    assert.ok(files.includes(`${f}.map`), `${f}.map is shipped`);
    const map = JSON.parse(readFileSync(join(dir, 'node_modules/weft', `${f}.map`), 'utf8')) as { sources: string[] };
    for (const s of map.sources) assert.ok(files.includes(join(dirname(f), s)), `${s} (from ${f}.map) is shipped`);
  }
});

test('the typings expose no internals', () => {
  const dts = (f: string) => readFileSync(join(dir, 'node_modules/weft/dist', f), 'utf8');
  for (const f of ['heap/handle.d.ts', 'sync/mutex.d.ts', 'channel/sender.d.ts', 'sync/atomic.d.ts']) {
    assert.doesNotMatch(dts(f), /\bAdopt\b|shareRef|prepareShare|readonly offset/, f);
  }
  assert.doesNotMatch(readFileSync(join(dir, 'node_modules/weft/dist/index.js'), 'utf8'), /API\.md/);
});

test('a plain Node JavaScript program (no `using`, no loader) uses the installed package', () => {
  writeFileSync(
    join(dir, 'main.js'),
    `import { spawn, Mutex, syncChannel, select, Semaphore, AtomicI32, scope } from 'weft';

const total = new Mutex(0);
scope((s) => {
  for (let k = 0; k < 3; k++) {
    s.spawn((m) => {
      for (let i = 0; i < 100; i++) {
        const g = m.lock();
        try {
          g.value++;
        } finally {
          g.unlock();
        }
      }
    }, total);
  }
});

const [tx, rx] = syncChannel(2);
const [tx2, rx2] = syncChannel(2);
const producer = spawn(async (tx, tx2) => {
  const weft = await import('weft'); // the thread's own weft, from the same package
  tx.send('a');
  tx2.send(weft.current().id > 1);
}, tx.clone(), tx2.clone()); // ours stay open: a drained channel whose senders are gone would end select
const picked = [select([rx, rx2]), select([rx, rx2])].sort((x, y) => x.index - y.index).map((r) => r.value);
producer.join();
tx.close();
tx2.close();

const permits = new Semaphore(2);
const live = new AtomicI32(0);
const peak = new AtomicI32(0);
const hs = [0, 1, 2, 3].map(() => spawn((permits, live, peak) => {
  const p = permits.acquire();
  try {
    peak.fetchMax(live.fetchAdd(1) + 1);
    for (let t = Date.now(); Date.now() - t < 5; );
    live.fetchSub(1);
  } finally {
    p.release();
  }
}, permits, live, peak));
for (const h of hs) h.join();
console.log(JSON.stringify({ total: total.withLock((v) => v), picked, peak: peak.load() }));
`,
  );
  const out = execFileSync(process.execPath, ['main.js'], { cwd: dir, encoding: 'utf8', env, timeout: 60_000 });
  const r = JSON.parse(out) as { total: number; picked: unknown[]; peak: number };
  assert.equal(r.total, 300);
  assert.deepEqual(r.picked, ['a', true]);
  assert.ok(r.peak >= 1 && r.peak <= 2, `at most 2 permits held at once, saw ${r.peak}`);
});

const program = `import { spawn, Mutex, channel, select, Semaphore, AtomicI32, OnceLock, PanicError, type Sender, type Receiver, type JoinHandle } from 'weft';

const h: JoinHandle<number> = spawn((a: number, b: number) => a + b, 2, 3);
const five: number = h.join();
// @ts-expect-error a thread's arguments are checked against its function
spawn((a: number) => a, 'one');

const m = new Mutex({ hits: 0 });
const g = m.lock();
try {
  g.value.hits += five;
} finally {
  g.unlock();
}
// @ts-expect-error the guarded value keeps its type
m.withLock((v) => v.misses);

const [tx, rx]: [Sender<string>, Receiver<string>] = channel<string>();
// @ts-expect-error a Sender<string> takes strings
tx.send(1);
const [ntx, nrx] = channel<number>();
tx.send('x');
ntx.send(1);
const r = select([rx, nrx]);
const v: string | number = r.value;

const s = new Semaphore(1);
s.acquire().release();
const n = new AtomicI32(1);
const was: number = n.fetchAdd(1);
const cell = new OnceLock<string>();
const got: string = cell.getOrInit(() => 'init');
const failed: boolean = (h as unknown) instanceof PanicError;
export const all = [v, was, got, failed];
`;

function typecheck(tsc: string): void {
  writeFileSync(join(dir, 'main.ts'), program);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
        skipLibCheck: false, lib: ['ES2022', 'DOM'], types: [],
      },
      files: ['main.ts'],
    }),
  );
  try {
    execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: dir, encoding: 'utf8', env, timeout: 90_000 });
  } catch (e) {
    assert.fail(`${tsc} -p . failed:\n${(e as { stdout?: string }).stdout ?? e}`);
  }
}

test('the typings type-check with TypeScript 5.0, without skipLibCheck', () => {
  const version = JSON.parse(readFileSync(join(dir, 'node_modules/typescript/package.json'), 'utf8')).version as string;
  assert.match(version, /^5\.0\./);
  typecheck(join(dir, 'node_modules/typescript/bin/tsc'));
});

test("the typings type-check with this repository's TypeScript, without skipLibCheck", () => {
  typecheck(join(root, 'node_modules/typescript/bin/tsc'));
});
