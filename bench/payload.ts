// The messages the channel benchmarks send, and the checksum a receiver keeps so
// the sender's work cannot be skipped and a lost or mangled message is caught.

export type Shape = 'f64' | 'object';

export interface Item {
  id: number;
  name: string;
  tags: string[];
}

export type Payload = number | Item;

export function makePayload(shape: Shape): (i: number) => Payload {
  return shape === 'f64' ? (i) => i + 0.5 : (i) => ({ id: i, name: 'x', tags: ['a', 'b'] });
}

export function weigh(shape: Shape): (msg: Payload) => number {
  return shape === 'f64' ? (msg) => msg as number : (msg) => {
    const item = msg as Item;
    return item.id + item.name.length + item.tags.length;
  };
}

/** The checksum of messages 0..n-1; exact in f64 for any n a sample reaches. */
export function expectedChecksum(shape: Shape, n: number): number {
  return shape === 'f64' ? (n * n) / 2 : (n * (n - 1)) / 2 + 3 * n;
}

/** Throws unless a receiver saw exactly `n` messages with the right checksum. */
export function verify(shape: Shape, n: number, got: { count: number; checksum: number }): void {
  const want = expectedChecksum(shape, n);
  if (got.count !== n || got.checksum !== want) {
    throw new Error(`receiver saw ${got.count} messages, checksum ${got.checksum}; expected ${n}, ${want}`);
  }
}
