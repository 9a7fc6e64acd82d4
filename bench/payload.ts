// The messages the channel benchmarks send, and the checksum a receiver keeps so
// the sender's work cannot be skipped and a lost or mangled message is caught.

/**
 * f64: a number. object: `{ id, name, tags[2] }`. The object shapes a program sends:
 * flat (numbers, a boolean, a short string), nested (objects and arrays inside) and
 * strings (mostly text). Each object weighs its id + 3, so one checksum fits all.
 */
export type Shape = 'f64' | 'object' | 'flat' | 'nested' | 'strings';

export const objectShapes = ['object', 'flat', 'nested', 'strings'] as const;

// The makers and weights are written out again in bench/weft/channel.ts, whose
// threads get functions as source text (no imports).
export function makePayload(shape: Shape): (i: number) => unknown {
  switch (shape) {
    case 'f64': return (i) => i + 0.5;
    case 'object': return (i) => ({ id: i, name: 'x', tags: ['a', 'b'] });
    case 'flat': return (i) => ({ id: i, price: i * 0.25, qty: 3, ok: true, name: 'widget' });
    case 'nested': return (i) => ({ id: i, user: { name: 'ada', roles: ['admin', 'dev'] }, pos: { x: 1, y: -2.5 }, tags: [] });
    case 'strings': return (i) => ({ id: i, title: 'The quick brown fox', author: 'Ada Lovelace', path: '/usr/local/share/doc', lang: 'en-GB' });
  }
}

/** What the receiver adds up for a message (reads a few fields, so nothing is skipped). */
export function weigh(shape: Shape): (msg: any) => number { // eslint-disable-line @typescript-eslint/no-explicit-any
  switch (shape) {
    case 'f64': return (m) => m;
    case 'object': return (m) => m.id + m.name.length + m.tags.length;
    case 'flat': return (m) => m.id + m.qty;
    case 'nested': return (m) => m.id + m.user.roles.length + m.pos.x;
    case 'strings': return (m) => m.id + m.lang.length - 2;
  }
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
