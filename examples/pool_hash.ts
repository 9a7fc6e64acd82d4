// Hash many files in parallel on a ThreadPool, with a progress bar on stderr.
// Prints `<sha256>  <path>` lines on stdout, as sha256sum does, in the order of the
// file list, whatever thread hashed each file.
//
//   npm run example:pool-hash -- [directory or file ...]   (default: this project's src/)
//
// Each file is a pool task (pool.spawn): tasks read and hash with node:crypto on the
// pool's threads, and bump a shared AtomicI32 that the main thread reads to draw the bar.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtomicI32, availableParallelism, ThreadPool } from 'weft';

/** Every file under `root` (a file itself, or a directory walked recursively), sorted. */
function listFiles(root: string): string[] {
  if (statSync(root).isFile()) return [root];
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === '.git') continue;
    const path = join(root, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/** A pool task: the file's SHA-256 and size. Self-contained: it runs on a pool thread. */
async function hashFile(path: string, done: AtomicI32): Promise<{ hash: string; bytes: number }> {
  const { createHash } = await import('node:crypto');
  const { openSync, readSync, closeSync } = await import('node:fs');
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; bytes += n) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  done.fetchAdd(1);
  return { hash: hash.digest('hex'), bytes };
}

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} files`;
}

const roots = process.argv.slice(2);
if (roots.length === 0) roots.push(fileURLToPath(new URL('../src/', import.meta.url)));
const files = roots.flatMap(listFiles);

const started = performance.now();
await using pool = new ThreadPool({ name: 'hash' });
const done = new AtomicI32(0);
const tasks = files.map((path) => pool.spawn(hashFile, path, done));

// Redraw the bar while the tasks run; the event loop is free, as we only await.
const tty = process.stderr.isTTY === true;
const draw = (): void => {
  if (tty) process.stderr.write(`\r${bar(done.load(), files.length)}`);
};
const timer = setInterval(draw, 50);
let bytes = 0;
try {
  for (let k = 0; k < files.length; k++) {
    const r = await tasks[k].joinAsync();
    bytes += r.bytes;
    process.stdout.write(`${r.hash}  ${relative(process.cwd(), files[k]) || files[k]}\n`);
  }
} finally {
  clearInterval(timer);
}
draw();
const ms = performance.now() - started;
const s = pool.stats();
process.stderr.write(
  `${tty ? '\n' : ''}hashed ${files.length} files (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${ms.toFixed(0)} ms ` +
    `on ${s.threads} threads (${availableParallelism()} cores); ${s.completed} tasks completed, ${s.failed} failed, ` +
    `mean queue wait ${s.waitTime.mean.toFixed(2)} ms\n`,
);
