// Type tests: the typecheck (tsconfig.json covers test/) fails if a `@ts-expect-error`
// line compiles or a typed line does not. The runtime part checks that what the types
// promise is what the calls return.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Builder, channel, oneshot, scope, select, selectAsync, spawn, syncChannel, type JoinHandle, type Receiver, type Selected,
} from 'weft';

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
const expectType = <T>(_: T & {}): void => {};
const assertType = <Check extends true>(): Check => true as Check;

const entry = new URL('./helpers/thread_entry.ts', import.meta.url);
type Entry = typeof import('./helpers/thread_entry.ts');

test('module entries are typed by the export named in spawn<typeof f>(...)', () => {
  const h = spawn<Entry['default']>(entry, 41);
  assertType<Equal<typeof h, JoinHandle<number>>>();
  assert.equal(h.join(), 42);

  const g = new Builder().name('greeter').spawn<Entry['greet']>({ module: entry, export: 'greet' }, 'weft');
  const greeting: string = g.join();
  assert.equal(greeting, 'hello, weft');

  scope((s) => {
    const k = s.spawn<Entry['default']>(entry, 1);
    assertType<Equal<ReturnType<typeof k.join>, number>>();
  });

  if (false as boolean) {
    // @ts-expect-error the argument is checked against the export's parameter
    spawn<Entry['default']>(entry, 'one');
    // @ts-expect-error too many arguments
    spawn<Entry['greet']>({ module: entry, export: 'greet' }, 'a', 'b');
    // @ts-expect-error the result is the export's
    const wrong: string = spawn<Entry['default']>(entry, 1).join();
    void wrong;
  }
  // Untyped entries still work as before: the result type named, arguments unchecked.
  const loose = spawn<number>(entry, 2);
  assertType<Equal<typeof loose, JoinHandle<number>>>();
  assert.equal(loose.join(), 3);
});

test('inline functions: arguments checked, result awaited', () => {
  const h = spawn(async (a: number, b: string) => `${b}${a}`, 1, 'n');
  assertType<Equal<typeof h, JoinHandle<string>>>();
  assert.equal(h.join(), 'n1');
  if (false as boolean) {
    // @ts-expect-error the second argument must be a string
    spawn((a: number, b: string) => a + b, 1, 2);
  }
});

test('select: the value is correlated with the index of a tuple of receivers', () => {
  const [ntx, nrx] = channel<number>();
  const [stx, srx] = syncChannel<string>(1);
  const [otx, orx] = oneshot<boolean>();
  ntx.send(7);
  const r = select([nrx, srx, orx]);
  assertType<Equal<typeof r, Selected<number, 0> | Selected<string, 1> | Selected<boolean, 2>>>();
  if (r.index === 0) {
    expectType<number>(r.value);
    assert.equal(r.value + 1, 8);
  } else {
    // @ts-expect-error outside the index-0 branch the value may be a string or a boolean
    expectType<number>(r.value);
    assert.fail(`expected receiver 0, got ${r.index}`);
  }
  // With a timeout nothing may come: undefined is part of the type.
  const maybe = select([nrx, srx], 0);
  assertType<Equal<typeof maybe, Selected<number, 0> | Selected<string, 1> | undefined>>();
  assert.equal(maybe, undefined);
  otx.send(true);
  const got = select([srx, orx]);
  if (got.index === 1) assert.equal(got.value satisfies boolean, true);
  else assert.fail(`only the oneshot had a message, got ${got.index}`);
  stx.send('s');
  const [btx, brx] = channel<boolean>();
  btx.send(false);
  const seen: Array<string | boolean> = [];
  for (let k = 0; k < 2; k++) {
    const next = select([srx, brx]);
    if (next.index === 1) seen.push(next.value satisfies boolean);
    else seen.push(next.value satisfies string);
  }
  assert.deepEqual(seen.sort(), [false, 's'].sort());
});

test('select over an array of receivers gives the union of their messages', async () => {
  const pairs = [channel<number>(), channel<number>()];
  const rxs: Receiver<number>[] = pairs.map(([, rx]) => rx);
  pairs[1][0].send(5);
  const r = select(rxs);
  assertType<Equal<typeof r, Selected<number, number>>>();
  assert.deepEqual([r.index, r.value], [1, 5]);
  pairs[0][0].send(6);
  const a = await selectAsync([rxs[0], rxs[1]] as const);
  assertType<Equal<typeof a, Selected<number, 0> | Selected<number, 1>>>();
  assert.equal(a.value, 6);
});
