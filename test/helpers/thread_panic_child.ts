// Child process for the panic report tests: what a panicking thread prints to stderr.
import { Builder, spawn } from '../../src/index.ts';

const mode = process.argv[2];
if (mode === 'unjoined') {
  const h = new Builder().name('lost').spawn(() => {
    throw new Error('nobody joins me');
  });
  // Wait for the end without joining: isFinished() never takes the result.
  while (!h.isFinished());
  console.log('done');
} else if (mode === 'joined') {
  try {
    spawn(() => {
      throw new TypeError('joined');
    }).join();
  } catch (e) {
    console.log((e as Error).name);
  }
} else {
  spawn(() => 1).join();
  try {
    spawn(() => process.exit(2)).join();
  } catch {
    console.log('ok');
  }
}
