// A panic is printed to stderr once, and only if nobody receives it: as Rust's default
// hook prints it, but a joined (or scope-delivered) panic prints nothing. Each case
// runs in a child process so that its stderr (written straight to fd 2) can be asserted
// exactly, including what is printed at exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const child = fileURLToPath(new URL('./helpers/thread_panic_child.ts', import.meta.url));

function run(...args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=weft-source', '--import', 'tsx', child, ...args], {
    encoding: 'utf8',
    timeout: 40_000,
  });
  assert.equal(r.signal, null, `child timed out or was killed (${r.signal}): ${args.join(' ')}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout.trim(), stderr: r.stderr };
}

/** The report lines (`thread '...' ...`) in stderr; stack lines are left out. */
const reports = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('thread '));

/** Asserts that stderr is exactly these reports, each followed by its payload's stack. */
function assertReports(stderr: string, expected: string[]): void {
  assert.deepEqual(reports(stderr).sort(), [...expected].sort(), stderr);
  for (const line of expected) {
    if (!line.includes('has overflowed its stack')) assert.ok(stderr.includes(`${line}\n    at `), `no stack after ${line}:\n${stderr}`);
  }
  // Nothing but reports and their stacks.
  for (const l of stderr.split('\n')) assert.ok(l === '' || l.startsWith('thread ') || /^\s+at /.test(l), `unexpected stderr line: ${l}`);
}

describe('panics nobody joins are printed once', () => {
  test('a handle closed or dropped by `using`, before the thread ran or after it ended', { timeout: 60_000 }, () => {
    const r = run('dropped');
    assert.equal(r.stdout, 'done');
    assertReports(r.stderr, [
      "thread 'early-close' panicked: Error: closed before it ran",
      "thread 'early-using' panicked: Error: dropped by using",
      "thread 'late-close' panicked: Error: closed after it ended",
    ]);
  });

  test('the panic racing the release of the last JoinHandle on another thread is printed exactly once', { timeout: 60_000 }, () => {
    const rounds = 24;
    const r = run('race', String(rounds));
    assert.equal(r.stdout, 'done');
    assertReports(r.stderr, Array.from({ length: rounds }, (_, k) => `thread '<unnamed>' panicked: Error: race ${k}`));
  });

  test('a handle kept but never joined: printed when the process exits', { timeout: 60_000 }, () => {
    const r = run('kept');
    assert.equal(r.stdout, 'done');
    assertReports(r.stderr, ["thread 'kept' panicked: Error: nobody joins me"]);
  });

  test('a thread that panics after its handle was closed prints it itself', { timeout: 60_000 }, () => {
    const r = run('closedThenPanic');
    assert.equal(r.stdout, 'done');
    assertReports(r.stderr, ["thread 'orphan' panicked: Error: panicked after its handle was closed"]);
  });

  test('a JoinHandle moved to another thread and dropped there unjoined', { timeout: 60_000 }, () => {
    const r = run('movedDropped');
    assert.equal(r.stdout, 'done');
    assertReports(r.stderr, [
      "thread 'dropped-there' panicked: Error: closed by another thread",
      "thread 'ended-with-it' panicked: Error: released with its holder",
      "thread 'panics-later' panicked: Error: after its handle was dropped elsewhere",
    ]);
  });

  test('a JoinHandle stored in a Mutex value: reads keep it quiet, dropping the mutex prints it', { timeout: 60_000 }, () => {
    const r = run('stored');
    assert.equal(r.stdout, 'PanicError');
    assertReports(r.stderr, ["thread 'stored-dropped' panicked: Error: dropped with its mutex"]);
  });

  test('an error thrown by a timer of a running thread nobody joins', { timeout: 60_000 }, () => {
    const r = run('timer');
    assert.equal(r.stdout, "thread 'timer-joined' panicked: Error: thrown by a timer");
    assertReports(r.stderr, ["thread 'timer-dropped' panicked: Error: thrown by a timer"]);
  });

  test('stack overflow keeps its own line', { timeout: 60_000 }, () => {
    const r = run('overflow');
    assert.equal(r.stdout, 'done');
    assertReports(r.stderr, ["thread 'deep' has overflowed its stack"]);
  });

  test('of two unjoined scoped panics, the scope throws the first and the second is printed', { timeout: 60_000 }, () => {
    const r = run('scopedTwo');
    assert.equal(r.stdout, 'one');
    assertReports(r.stderr, ["thread 'second' panicked: Error: two"]);
  });
});

describe('panics someone receives print nothing', () => {
  test('join() and joinAsync(), also long after the thread ended', { timeout: 60_000 }, () => {
    const r = run('joined');
    assert.equal(r.stdout, 'PanicError PanicError PanicError');
    assert.equal(r.stderr, '');
  });

  test('a JoinHandle moved to another thread and joined there', { timeout: 60_000 }, () => {
    const r = run('movedJoined');
    assert.equal(r.stdout, "thread 'moved' panicked: Error: joined elsewhere");
    assert.equal(r.stderr, '');
  });

  test('a scope receives its unjoined threads panics and throws them', { timeout: 60_000 }, () => {
    const r = run('scoped');
    assert.deepEqual(r.stdout.split('\n'), [
      'a scoped thread panicked: scoped, unjoined',
      'a scoped thread panicked: async scope',
      'PanicError',
    ]);
    assert.equal(r.stderr, '');
  });

  test('returning, process.exit() in the thread and terminate() are not panics to print', { timeout: 60_000 }, () => {
    const r = run('quiet');
    assert.deepEqual(r.stdout.split('\n'), ['exit is a PanicError', 'done']);
    assert.equal(r.stderr, '');
  });
});
