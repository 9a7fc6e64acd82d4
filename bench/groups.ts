// Every benchmark group, in run order. Each group's baseline is the tool a user has
// without weft; weft's own cases join the groups they compete in, each marked with
// the Rust std workload it faces (vsRust), whose row (rustStd) joins the group too.

import { portOneWay } from './baselines/port-oneway.ts';
import { portRoundTrip } from './baselines/port-roundtrip.ts';
import { sabOneWay, sabRoundTrip } from './baselines/sab-mailbox.ts';
import { spawnEsm, spawnJs, spawnTs, weftFromDist } from './baselines/worker-startup.ts';
import { group, vsRust, type Group } from './harness.ts';
import { rustStd } from './rust.ts';
import { objectShapes } from './payload.ts';
import {
  atomicLoadFloor, casLockContended, casLockUncontended, peerMutexUncontended, weftMutexContended,
  weftMutexIncrement, weftMutexUncontended, weftOnceFastPath, weftOnceLockGet,
} from './weft/sync.ts';
import { weftMainReceive, weftOneWay, weftRoundTrip } from './weft/channel.ts';
import { weftModuleThreadsFromDist, weftParkRoundTrip, weftSpawnJoin, weftSpawnJoinFromDist } from './weft/threads.ts';
import { piscinaMap, piscinaRoundTrip } from './baselines/piscina.ts';
import { weftPoolMap, weftPoolRoundTrip } from './weft/pool.ts';

/** A TypeScript module thread against a JavaScript one, when dist/ is built. */
function moduleThreadGroups(): Group[] {
  const cases = weftModuleThreadsFromDist();
  return cases.length === 0 ? [] : [group('module thread spawn→join, warm', cases)];
}

export const groups: Group[] = [
  group('channel one-way f64', [
    portOneWay('f64'), sabOneWay(),
    rustStd('channel_unbounded'), vsRust(weftOneWay('f64'), 'channel_unbounded'),
    rustStd('channel_bounded'), vsRust(weftOneWay('f64', 1, 1024), 'channel_bounded'),
    rustStd('channel_unbounded_4'), vsRust(weftOneWay('f64', 4), 'channel_unbounded_4'),
  ]),
  group('async receive time slice', [portOneWay('f64'), weftMainReceive('blocking'), weftMainReceive('async')]),
  ...objectShapes.map((shape) => group(`channel one-way ${shape}`, [portOneWay(shape), weftOneWay(shape)])),
  group('channel round trip', [portRoundTrip(), sabRoundTrip(), rustStd('ping_pong'), vsRust(weftRoundTrip(), 'ping_pong')]),
  group('wake round trip', [portRoundTrip(), sabRoundTrip(), weftParkRoundTrip()]),
  group('uncontended lock+unlock', [
    casLockUncontended(),
    rustStd('mutex_uncontended'), vsRust(weftMutexUncontended(), 'mutex_uncontended'),
    rustStd('mutex_increment'), vsRust(weftMutexIncrement('using'), 'mutex_increment'),
    vsRust(weftMutexIncrement('unlock'), 'mutex_increment'),
    peerMutexUncontended(),
  ]),
  group('contended increments', [casLockContended(), rustStd('mutex_contended'), vsRust(weftMutexContended(), 'mutex_contended')]),
  group('once and once-lock fast paths', [atomicLoadFloor(), rustStd('once_completed'), vsRust(weftOnceFastPath(), 'once_completed'), weftOnceLockGet()]),
  group('spawn to first message', [spawnJs('message'), spawnEsm('message'), spawnTs('message'), ...weftFromDist('message')]),
  group('spawn to exit', [spawnJs('exit'), spawnEsm('exit'), spawnTs('exit'), rustStd('spawn_join'), vsRust(weftSpawnJoin(false), 'spawn_join'), weftSpawnJoin(true), ...weftSpawnJoinFromDist()]),
  ...moduleThreadGroups(),
  group('pool task round trip', [piscinaRoundTrip(), weftPoolRoundTrip(false), weftPoolRoundTrip(true)]),
  group('pool map of 1e5 small items', [piscinaMap(100_000, false, true), piscinaMap(100_000, true), weftPoolMap(100_000)]),
];
