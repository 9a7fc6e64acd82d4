// How a worker's boot is reported to a parent that may be blocked (the main thread
// waiting in spawn() for the runtime) and so cannot hear the worker's events: through
// shared words, [state, text length, ...text bytes].

/** Boot states written to a BootStatus word. */
export const Boot = { Starting: 0, Ready: 1, Failed: 2 } as const;

/** Room for the text of a failed boot. */
const TEXT_BYTES = 4096;

export class BootStatus {
  readonly words = new Int32Array(new SharedArrayBuffer(8 + TEXT_BYTES));

  get state(): number {
    return Atomics.load(this.words, 0);
  }

  /** The error text a failed boot left. */
  get failure(): string {
    const n = Atomics.load(this.words, 1);
    // Copied out: TextDecoder refuses views of shared memory in browsers.
    return new TextDecoder().decode(new Uint8Array(this.words.buffer, 8, n).slice());
  }
}

/** Marks `words` (a BootStatus's) ready, or failed with `text`, and wakes whoever waits. */
export function reportBoot(words: Int32Array, failure?: string): void {
  if (failure !== undefined) {
    const text = new TextEncoder().encode(failure);
    const bytes = new Uint8Array(words.buffer, 8, words.buffer.byteLength - 8);
    const n = Math.min(text.length, bytes.length);
    bytes.set(text.subarray(0, n));
    Atomics.store(words, 1, n);
  }
  Atomics.store(words, 0, failure === undefined ? Boot.Ready : Boot.Failed);
  Atomics.notify(words, 0);
}
