// Every benchmark group, in run order. Each group's baseline is the tool a user has
// without weft; weft's own cases join the groups they compete in.

import { portOneWay } from './baselines/port-oneway.ts';
import { portRoundTrip } from './baselines/port-roundtrip.ts';
import { sabOneWay, sabRoundTrip } from './baselines/sab-mailbox.ts';
import { spawnJs, spawnTs } from './baselines/worker-startup.ts';
import { group, type Group } from './harness.ts';
import {
  atomicLoadFloor, casLockContended, casLockUncontended, peerMutexUncontended, weftMutexContended,
  weftMutexUncontended, weftOnceFastPath, weftOnceLockGet,
} from './weft/sync.ts';
import { weftOneWay, weftRoundTrip } from './weft/channel.ts';
import { weftParkRoundTrip, weftSpawnJoin } from './weft/threads.ts';

export const groups: Group[] = [
  group('channel one-way f64', [portOneWay('f64'), sabOneWay(), weftOneWay('f64'), weftOneWay('f64', 4)]),
  group('channel one-way object', [portOneWay('object'), weftOneWay('object')]),
  group('channel round trip', [portRoundTrip(), sabRoundTrip(), weftRoundTrip()]),
  group('wake round trip', [portRoundTrip(), sabRoundTrip(), weftParkRoundTrip()]),
  group('uncontended lock+unlock', [casLockUncontended(), weftMutexUncontended(), peerMutexUncontended()]),
  group('contended increments', [casLockContended(), weftMutexContended()]),
  group('once and once-lock fast paths', [atomicLoadFloor(), weftOnceFastPath(), weftOnceLockGet()]),
  group('spawn to first message', [spawnJs('message'), spawnTs('message')]),
  group('spawn to exit', [spawnJs('exit'), spawnTs('exit'), weftSpawnJoin(false), weftSpawnJoin(true)]),
];
