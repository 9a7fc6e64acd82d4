// Child process for the process-lifetime tests.
import { spawn } from '../../src/index.ts';

const mode = process.argv[2];
if (mode === 'join') {
  console.log(spawn((x: number) => x + 1, 1).join());
  // Nothing else is pending: the idle supervisor and pool must let the process exit.
} else {
  // Only an async join is pending while the thread works: it keeps the process alive.
  void spawn(async () => {
    await new Promise((r) => setTimeout(r, 300));
    return 'late';
  }).joinAsync().then((v) => console.log(v));
}
