// Mandelbrot on every core of the browser: the rows of the image are jobs in one
// channel that every thread receives from (rx.clone(): each row goes to exactly one
// thread); threads write their pixels into one SharedArray (zero-copy: the same memory
// in every thread) and report each row done through a second channel. The page's
// main thread cannot block, so it reads that channel with recvAsync and repaints the
// canvas once per animation frame.

import { availableParallelism, channel, codecs, sharedArray, spawn, type Receiver, type Sender, type SharedArray } from 'weft';

const canvas = document.querySelector<HTMLCanvasElement>('#canvas')!;
const progress = document.querySelector<HTMLDivElement>('#progress')!;
const status = document.querySelector<HTMLDivElement>('#status')!;
const perThread = document.querySelector<HTMLDivElement>('#threads')!;
const { width, height } = canvas;
const ctx = canvas.getContext('2d')!;

/** The part of the plane drawn, and how hard each pixel is worked. */
const view = { x: -0.7436, y: 0.1318, span: 0.0155, maxIter: 1500 };

/** One thread: takes rows until the job channel is closed and drained. */
function renderRows(
  jobs: Receiver<number>, done: Sender<number>, image: SharedArray<Uint32Array>, me: number,
  width: number, height: number, view: { x: number; y: number; span: number; maxIter: number },
): number {
  const pixels = image.array;
  const scale = view.span / width;
  let rows = 0;
  for (const row of jobs) {
    const ci = view.y + (row - height / 2) * scale;
    for (let col = 0; col < width; col++) {
      const cr = view.x + (col - width / 2) * scale;
      let zr = 0, zi = 0, n = 0;
      while (n < view.maxIter && zr * zr + zi * zi <= 256) {
        const t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        n++;
      }
      let rgba = 0xff000000;
      if (n < view.maxIter) {
        // Smooth colouring: a fractional escape count, through a cosine palette.
        const mu = n + 1 - Math.log2(Math.log2(Math.sqrt(zr * zr + zi * zi)));
        const t = mu / 64;
        const r = 128 + 127 * Math.cos(6.283 * (t + 0.0));
        const g = 128 + 127 * Math.cos(6.283 * (t + 0.15));
        const b = 128 + 127 * Math.cos(6.283 * (t + 0.3));
        rgba = 0xff000000 | (b << 16) | (g << 8) | r;
      }
      pixels[row * width + col] = rgba;
    }
    done.send(row * 64 + me); // which row, and which thread drew it
    rows++;
  }
  return rows;
}

async function main(): Promise<void> {
  const threads = availableParallelism();
  document.querySelector('#cores')!.textContent = String(threads);
  const image = sharedArray(Uint32Array, width * height);
  const [jobsTx, jobsRx] = channel<number>({ codec: codecs.i32 });
  const [doneTx, doneRx] = channel<number>({ codec: codecs.i32 });
  // Rows from the middle out, so the picture grows from its centre.
  for (let d = 0; d < height; d++) jobsTx.send(height / 2 + (d % 2 ? -(d + 1) / 2 : d / 2));
  jobsTx.close();

  const started = performance.now();
  const handles = Array.from({ length: threads }, (_, me) =>
    spawn(renderRows, jobsRx.clone(), doneTx.clone(), image, me, width, height, view),
  );
  // Each thread has its own clones: the channels end when the threads do.
  jobsRx.close();
  doneTx.close();

  const counts = new Array<number>(threads).fill(0);
  perThread.innerHTML = counts.map((_, k) => `<span id="t${k}">thread ${k}: 0 rows</span>`).join('');
  const frame = new ImageData(width, height);
  const frameWords = new Uint32Array(frame.data.buffer);
  let finished = 0;
  let next = 0;
  const paint = (): void => {
    frameWords.set(image.array); // ImageData cannot sit on shared memory: copy the frame out
    ctx.putImageData(frame, 0, 0);
    progress.style.width = `${(100 * finished) / height}%`;
    const ms = performance.now() - started;
    status.textContent = `${finished} / ${height} rows · ${(ms / 1000).toFixed(2)} s · ${Math.round((finished * width) / (ms / 1000) / 1e6 * 10) / 10} Mpixel/s`;
    counts.forEach((c, k) => (document.querySelector(`#t${k}`)!.textContent = `thread ${k}: ${c} rows`));
    next = requestAnimationFrame(paint);
  };
  next = requestAnimationFrame(paint);

  for await (const report of doneRx) {
    counts[report % 64]++;
    finished++;
  }
  const rows = await Promise.all(handles.map((h) => h.joinAsync()));
  cancelAnimationFrame(next);
  paint();
  cancelAnimationFrame(next);
  const ms = performance.now() - started;
  status.textContent += ' · done';
  image.close();
  (window as unknown as { __done: unknown }).__done = { ms, threads, rows };
}

main().catch((e) => {
  status.textContent = `failed: ${e instanceof Error ? e.message : String(e)}`;
  (window as unknown as { __done: unknown }).__done = { error: String(e) };
});
