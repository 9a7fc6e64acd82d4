// Blur a raw RGBA image held in a SharedArray, rows split across a ThreadPool, and check
// the result against the same blur run on one thread.
//
//   npm run example:pool-image -- [--width 1920] [--height 1080] [--radius 8] [--out blurred.ppm]
//
// The image never travels: the tasks get the SharedArray handles (a few bytes each)
// and read and write the pixels in place. A separable box blur takes two passes
// (horizontal into a scratch array, then vertical), and the second may only start once
// the first is complete everywhere: two pool.map calls, the first awaited.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { sharedArray, ThreadPool, type SharedArray } from 'weft';

const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '1920' },
    height: { type: 'string', default: '1080' },
    radius: { type: 'string', default: '8' },
    out: { type: 'string' },
  },
});
const width = Number(values.width);
const height = Number(values.height);
const radius = Number(values.radius);
for (const [name, v] of [['width', width], ['height', height], ['radius', radius]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a positive integer, got ${String(values[name])}`);
}

/** One band of rows for one pass. Travels inside map() items: handles and numbers only. */
interface Band {
  src: SharedArray<Uint8ClampedArray> | SharedArray<Float32Array>;
  dst: SharedArray<Float32Array> | SharedArray<Uint8ClampedArray>;
  width: number;
  height: number;
  radius: number;
  from: number;
  to: number;
}

/**
 * Horizontal box blur of rows [from, to): each output pixel is the mean of the
 * 2r+1 pixels around it in its row (edges clamped). Self-contained: it runs on the pool.
 */
function horizontalPass(b: Band): number {
  const src = b.src.array;
  const dst = b.dst.array;
  const { width: w, radius: r } = b;
  for (let y = b.from; y < b.to; y++) {
    const row = y * w * 4;
    for (let c = 0; c < 4; c++) {
      let sum = 0;
      for (let k = -r; k <= r; k++) sum += src[row + Math.min(w - 1, Math.max(0, k)) * 4 + c];
      for (let x = 0; x < w; x++) {
        dst[row + x * 4 + c] = sum / (2 * r + 1);
        sum += src[row + Math.min(w - 1, x + r + 1) * 4 + c] - src[row + Math.max(0, x - r) * 4 + c];
      }
    }
  }
  return b.to - b.from;
}

/** Vertical box blur of rows [from, to), reading the horizontal pass's rows around them. */
function verticalPass(b: Band): number {
  const src = b.src.array;
  const dst = b.dst.array;
  const { width: w, height: h, radius: r } = b;
  const stride = w * 4;
  for (let x = 0; x < stride; x++) {
    let sum = 0;
    for (let k = b.from - r; k <= b.from + r; k++) sum += src[Math.min(h - 1, Math.max(0, k)) * stride + x];
    for (let y = b.from; y < b.to; y++) {
      dst[y * stride + x] = Math.round(sum / (2 * r + 1));
      sum += src[Math.min(h - 1, y + r + 1) * stride + x] - src[Math.max(0, y - r) * stride + x];
    }
  }
  return b.to - b.from;
}

/** A deterministic test picture: gradients, rings and a checkerboard, so the blur has edges to soften. */
function paint(image: Uint8ClampedArray): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 4;
      const ring = Math.hypot(x - width / 2, y - height / 2) % 64 < 32 ? 255 : 0;
      image[p] = (x * 255) / width;
      image[p + 1] = ring;
      image[p + 2] = ((x >> 4) + (y >> 4)) % 2 === 0 ? 255 : 0;
      image[p + 3] = 255;
    }
  }
}

const pixels = width * height * 4;
using image = sharedArray(Uint8ClampedArray, pixels);
using scratch = sharedArray(Float32Array, pixels);
using blurred = sharedArray(Uint8ClampedArray, pixels);
paint(image.array);

const RUNS = 3; // best of three for each side: the first run of a function is not yet compiled

// One thread: the reference.
const reference = new Uint8ClampedArray(pixels);
{
  using refScratch = sharedArray(Float32Array, pixels);
  using refOut = sharedArray(Uint8ClampedArray, pixels);
  let best = Infinity;
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    horizontalPass({ src: image, dst: refScratch, width, height, radius, from: 0, to: height });
    verticalPass({ src: refScratch, dst: refOut, width, height, radius, from: 0, to: height });
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`one thread: ${best.toFixed(1)} ms`);
  reference.set(refOut.array);
}

// The pool: bands of rows, a few per thread so that uneven bands still balance.
await using pool = new ThreadPool({ name: 'blur' });
await pool.map(Array.from({ length: pool.threads }, (_, k) => k), (k: number) => k); // threads started
const bandRows = Math.max(1, Math.ceil(height / (pool.threads * 4)));
const bands = (src: Band['src'], dst: Band['dst']): Band[] => {
  const out: Band[] = [];
  for (let from = 0; from < height; from += bandRows) out.push({ src, dst, width, height, radius, from, to: Math.min(height, from + bandRows) });
  return out;
};
let best = Infinity;
let rows = 0;
for (let run = 0; run < RUNS; run++) {
  blurred.array.fill(0);
  const t0 = performance.now();
  const rowsH = await pool.map(bands(image, scratch), horizontalPass);
  const rowsV = await pool.map(bands(scratch, blurred), verticalPass);
  best = Math.min(best, performance.now() - t0);
  rows = [...rowsH, ...rowsV].reduce((a, b) => a + b, 0);
}
console.log(`${pool.threads} threads: ${best.toFixed(1)} ms (bands of ${bandRows} rows, ${rows} rows blurred per run)`);

let differing = 0;
const out = blurred.array;
for (let k = 0; k < pixels; k++) if (out[k] !== reference[k]) differing++;
console.log(differing === 0 ? `identical to the one-thread blur (${width}x${height}, radius ${radius})` : `${differing} values differ from the one-thread blur`);

if (values.out !== undefined) {
  // Binary PPM: RGB without alpha.
  const rgb = Buffer.alloc(width * height * 3);
  for (let p = 0, q = 0; p < pixels; p += 4, q += 3) {
    rgb[q] = out[p];
    rgb[q + 1] = out[p + 1];
    rgb[q + 2] = out[p + 2];
  }
  writeFileSync(values.out, Buffer.concat([Buffer.from(`P6\n${width} ${height}\n255\n`), rgb]));
  console.log(`wrote ${values.out}`);
}
process.exitCode = differing === 0 ? 0 : 1;
