// The examples, run as a user runs them (`npm run example:<name>` runs the same command),
// each in a child process whose output is checked. The pool and browser examples have
// their own tests (pool.test.ts, browser.test.ts).
import assert from 'node:assert/strict';
import { spawn as spawnChild, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const nodeArgs = (name: string) => ['--conditions=weft-source', '--import', import.meta.resolve('tsx'), fileURLToPath(new URL(`../examples/${name}`, import.meta.url))];
const env = { ...process.env, NODE_OPTIONS: '' };

function run(name: string, args: string[] = []): string {
  const r = spawnSync(process.execPath, [...nodeArgs(name), ...args], { encoding: 'utf8', timeout: 90_000, env });
  assert.equal(r.status, 0, `${name} exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The number in `text` matched by `re` (its first group). */
function num(text: string, re: RegExp): number {
  const m = re.exec(text);
  assert.ok(m, `${re} in:\n${text}`);
  return Number(m[1]);
}

describe('examples', () => {
  test('pipeline: every line reaches the collector once, sorted into requests and errors', () => {
    const lines = 20_000;
    const out = run('pipeline.ts', [String(lines), '3']);
    // The producer's statuses: 500 every 97th line, else 404 every 13th, else 200.
    let e500 = 0, e404 = 0;
    for (let k = 0; k < lines; k++) {
      if (k % 97 === 0) e500++;
      else if (k % 13 === 0) e404++;
    }
    assert.equal(num(out, /lines parsed per worker: [\d, ]+ \(total (\d+)\)/), lines);
    assert.equal(num(out, /collected: (\d+) ok/), lines - e500 - e404);
    assert.match(out, new RegExp(`${e500 + e404} errors \\(${e404}× 404, ${e500}× 500\\)`));
    assert.ok(num(out, /found the queue full (\d+) times/) >= 0);
    const perWorker = /lines parsed per worker: ([\d, ]+) \(/.exec(out)![1].split(', ').map(Number);
    assert.equal(perWorker.length, 3);
  });

  test('cache: each key computed once however the threads race, every lookup answered', () => {
    const out = run('cache.ts', ['4', '20', '300']);
    assert.equal(num(out, /computed (\d+) values/), 20);
    assert.equal(num(out, /cache holds (\d+) entries/), 20);
    assert.equal(num(out, /lookups answered: (\d+)/), 4 * 300);
    const hits = num(out, /(\d+) hits/);
    const misses = num(out, /(\d+) misses/);
    assert.equal(hits + misses, 1200);
    assert.ok(misses >= 20);
    assert.match(out, /characters read per thread: (\d+), \1, \1, \1/); // same keys, same values in every thread
    assert.match(out, /CONFIG set a second time: false/);
  });

  test('rate limiter: no request without a token, never more in flight than the limit', () => {
    const out = run('rate_limiter.ts', ['200', '60', '4']);
    assert.match(out, /requests per thread: 15, 15, 15, 15/);
    assert.match(out, /the rate allows no less than 250 ms: respected/);
    assert.match(out, /every request had a token issued for it: yes/);
    const peak = num(out, /most requests in flight at once: (\d+)/);
    assert.ok(peak >= 1 && peak <= 3, `peak ${peak}`);
  });

  test('shutdown: a time limit stops the workers cleanly, every job accounted for', () => {
    const out = run('shutdown.ts', ['300']);
    assert.match(out, /stop requested by the 300 ms limit/);
    assert.match(out, /3 of 3 workers stopped cleanly/);
    assert.match(out, /every queued job accounted for: yes/);
  });

  test('shutdown: Ctrl+C (SIGINT) stops it the same way', async () => {
    const child = spawnChild(process.execPath, [...nodeArgs('shutdown.ts'), '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('press Ctrl+C')) resolve();
        });
        child.on('exit', () => reject(new Error(`exited before it was running:\n${out}\n${err}`)));
      });
      await new Promise((r) => setTimeout(r, 200)); // let it queue and finish a few jobs
      child.kill('SIGINT');
      assert.equal(await exited, 0, err);
    } finally {
      clearTimeout(killer);
    }
    assert.match(out, /stop requested by SIGINT/);
    assert.match(out, /3 of 3 workers stopped cleanly/);
    assert.match(out, /every queued job accounted for: yes/);
  });

  test('tour: runs every section, and its Condvar section shows the condvar at work', () => {
    const out = run('tour.ts');
    assert.match(out, /Condvar: the main thread slept [\d.]+ ms until worker \d+, the barrier's leader, reported all \d+ counts merged/);
    assert.match(out, /histogram of \d+ values/);
    assert.match(out, /numbers factored by \d+ workers/);
  });
});
