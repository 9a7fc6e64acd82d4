// A weft thread's name is its Worker's name, which is what debuggers and profilers
// show: observed here through the inspector protocol, whose NodeWorker domain titles
// each worker "[worker <id>] <name>". Thread workers are children of the supervisor
// worker, so the supervisor's own NodeWorker domain is asked for them.
import assert from 'node:assert/strict';
import { Session } from 'node:inspector';
import { after, before, test } from 'node:test';
import { Builder, spawn, type JoinHandle } from '../src/index.ts';

const session = new Session();
/** Titles of every worker seen: the supervisor and the threads' workers. */
const titles = new Set<string>();
let supervisorSession: string | undefined;
let nextId = 1;

function post(method: string, params: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

before(async () => {
  session.connect();
  session.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string; workerInfo: { title: string } } }) => {
    titles.add(m.params.workerInfo.title);
    if (m.params.workerInfo.title.endsWith('] weft supervisor')) supervisorSession = m.params.sessionId;
  });
  // Messages from the supervisor's inspector: its own workers attaching.
  session.on('NodeWorker.receivedMessageFromWorker', (m: { params: { message: string } }) => {
    const msg = JSON.parse(m.params.message) as { method?: string; params?: { workerInfo?: { title: string } } };
    if (msg.method === 'NodeWorker.attachedToWorker') titles.add(msg.params!.workerInfo!.title);
  });
  await post('NodeWorker.enable', { waitForDebuggerOnStart: false });
  spawn(() => 0).join(); // starts the supervisor
  await waitFor(() => supervisorSession !== undefined, 'the supervisor worker to be reported');
  const message = JSON.stringify({ id: nextId++, method: 'NodeWorker.enable', params: { waitForDebuggerOnStart: false } });
  await post('NodeWorker.sendMessageToWorker', { sessionId: supervisorSession, message });
});

after(() => session.disconnect());

async function waitFor(ok: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; workers seen: ${[...titles].join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const hasWorker = (name: string): boolean => [...titles].some((t) => t.endsWith(`] ${name}`));

/** Spawns a thread that parks until unparked, so its worker is alive while we look. */
function parked(b: Builder): JoinHandle<string> {
  return b.spawn(async () => {
    const { park, current } = await import('weft');
    park();
    return current().name ?? '<unnamed>';
  });
}

test('a named thread runs on a worker of its name, the supervisor is named, unnamed threads run on "weft" workers', async () => {
  const named = parked(new Builder().name('pixel-cruncher'));
  const sized = parked(new Builder().name('deep-recursion').stackSize(8 << 20));
  await waitFor(() => hasWorker('pixel-cruncher') && hasWorker('deep-recursion'), 'the named workers');
  assert.ok(hasWorker('weft supervisor'));
  assert.ok(hasWorker('weft'), `an unnamed pool worker: ${[...titles].join(', ')}`);
  named.thread.unpark();
  sized.thread.unpark();
  assert.equal(await named.joinAsync(), 'pixel-cruncher');
  assert.equal(await sized.joinAsync(), 'deep-recursion');
});

test('a later thread of the same name reuses its worker; another name gets a worker of its own', async () => {
  const first = new Builder().name('reused').spawn(() => 1);
  assert.equal(await first.joinAsync(), 1);
  const count = (name: string): number => [...titles].filter((t) => t.endsWith(`] ${name}`)).length;
  await waitFor(() => count('reused') === 1, 'the first worker named "reused"');
  for (let k = 0; k < 3; k++) assert.equal(await new Builder().name('reused').spawn((k: number) => k, k).joinAsync(), k);
  assert.equal(count('reused'), 1, 'no new worker for a name whose worker is idle');
  assert.equal(await new Builder().name('other').spawn(() => 'x').joinAsync(), 'x');
  await waitFor(() => count('other') === 1, 'a worker named "other"');
});
