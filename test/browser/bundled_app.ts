// An application bundled whole by esbuild (weft inside app.js), with weft's worker
// entry bundled beside it as weft-worker.js: the README's browser recipe. Reports
// through window.__weft what it saw, including how a missing worker bundle fails.

import { Mutex, spawn, SpawnError } from 'weft';

async function main(): Promise<unknown> {
  const m = new Mutex(0);
  try {
    const handles = [1, 2, 3].map((k) => spawn((m: Mutex<number>, k: number) => m.withLock((v) => v + 0) + k, m, k));
    const joined = await Promise.all(handles.map((h) => h.joinAsync()));
    return { ok: true, joined };
  } catch (e) {
    let later: unknown;
    try {
      spawn(() => 0);
    } catch (f) {
      later = f;
    }
    return {
      ok: false,
      name: (e as Error).name,
      message: (e as Error).message,
      laterIsSpawnError: later instanceof SpawnError,
      laterMessage: later instanceof Error ? later.message : String(later),
    };
  }
}

(window as unknown as { __weft: unknown }).__weft = await main();
