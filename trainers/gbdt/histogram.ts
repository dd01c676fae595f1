import { Worker } from 'node:worker_threads';

/**
 * Histogram building, the hot loop of training: per bin, the sums of gradients and hessians of a
 * node's rows. Bins are stored row-major so one pass over a row's bytes updates every feature.
 * Large nodes are split between this thread and one worker thread (both cores of a Lambda or a
 * small instance) over shared memory; small nodes stay on this thread, where handing off would
 * cost more than it saves.
 */
export const BINS = 256;

/** The kernel, self-contained so the worker can run the very same function (see `workerSource`). */
export function accumulate(
  hist: Float64Array,
  rowMajor: Uint8Array,
  width: number,
  features: Int32Array,
  featureCount: number,
  rows: Uint32Array,
  start: number,
  end: number,
  gradients: Float32Array,
): void {
  if (featureCount === width) {
    for (let i = start; i < end; i++) {
      const row = rows[i] as number;
      const g = gradients[row * 2] as number;
      const h = gradients[row * 2 + 1] as number;
      const base = row * width;
      for (let f = 0; f < width; f++) {
        const at = (f * 256 + (rowMajor[base + f] as number)) * 2;
        hist[at] = (hist[at] as number) + g;
        hist[at + 1] = (hist[at + 1] as number) + h;
      }
    }
    return;
  }
  for (let i = start; i < end; i++) {
    const row = rows[i] as number;
    const g = gradients[row * 2] as number;
    const h = gradients[row * 2 + 1] as number;
    const base = row * width;
    for (let k = 0; k < featureCount; k++) {
      const f = features[k] as number;
      const at = (f * 256 + (rowMajor[base + f] as number)) * 2;
      hist[at] = (hist[at] as number) + g;
      hist[at + 1] = (hist[at + 1] as number) + h;
    }
  }
}

const workerSource = (): string => `
const { workerData } = require('node:worker_threads');
const accumulate = ${accumulate.toString()};
const { control, rowMajor, width, rows, gradients, hist } = workerData;
const ctrl = new Int32Array(control);
const rm = new Uint8Array(rowMajor);
const r = new Uint32Array(rows);
const gh = new Float32Array(gradients);
const out = new Float64Array(hist);
// States: 0 idle, 1 job posted, 2 job done, 3 stop. Only a posted job (1) or stop (3) wakes us.
for (;;) {
  let state;
  while ((state = Atomics.load(ctrl, 0)) !== 1 && state !== 3) Atomics.wait(ctrl, 0, state);
  if (state === 3) break;
  const start = ctrl[1], end = ctrl[2], count = ctrl[3];
  const features = ctrl.subarray(4, 4 + count);
  out.fill(0);
  accumulate(out, rm, width, features, count, r, start, end, gh);
  Atomics.store(ctrl, 0, 2);
  Atomics.notify(ctrl, 0);
}
`;

/** Rows below which a node's histogram is built on this thread alone. */
const PARALLEL_FROM = 20_000;

/** Buffers every tree of a training run shares; SharedArrayBuffer-backed so the worker sees them. */
export class HistogramBuilder {
  readonly rows: Uint32Array;
  /** Gradient and hessian of row r at 2r and 2r + 1: float32 like XGBoost's, one cache line per row. */
  readonly gradients: Float32Array;
  private readonly worker: Worker | undefined;
  private readonly control: Int32Array | undefined;
  private readonly workerHist: Float64Array | undefined;

  constructor(
    readonly rowMajor: Uint8Array,
    readonly width: number,
    rowCount: number,
    threads: number,
  ) {
    this.rows = new Uint32Array(new SharedArrayBuffer(rowCount * 4));
    this.gradients = new Float32Array(new SharedArrayBuffer(rowCount * 8));
    if (threads > 1 && rowCount >= PARALLEL_FROM && rowMajor.buffer instanceof SharedArrayBuffer) {
      const control = new SharedArrayBuffer((4 + width) * 4);
      const hist = new SharedArrayBuffer(width * BINS * 2 * 8);
      this.control = new Int32Array(control);
      this.workerHist = new Float64Array(hist);
      this.worker = new Worker(workerSource(), {
        eval: true,
        workerData: {
          control,
          rowMajor: rowMajor.buffer,
          width,
          rows: this.rows.buffer,
          gradients: this.gradients.buffer,
          hist,
        },
      });
      this.worker.unref();
    }
  }

  build(features: Int32Array, start: number, end: number): Float64Array {
    const hist = new Float64Array(this.width * BINS * 2);
    const count = features.length;
    const { control, workerHist } = this;
    if (end - start < PARALLEL_FROM) {
      accumulate(hist, this.rowMajor, this.width, features, count, this.rows, start, end, this.gradients);
      return hist;
    }
    // Large nodes are always summed as two halves, with or without the worker, so the model does
    // not depend on how many cores the machine has.
    const mid = start + ((end - start) >> 1);
    if (!control || !workerHist) {
      const second = new Float64Array(hist.length);
      accumulate(hist, this.rowMajor, this.width, features, count, this.rows, start, mid, this.gradients);
      accumulate(second, this.rowMajor, this.width, features, count, this.rows, mid, end, this.gradients);
      for (let i = 0; i < hist.length; i++) hist[i] = (hist[i] as number) + (second[i] as number);
      return hist;
    }
    control[1] = mid;
    control[2] = end;
    control[3] = count;
    control.set(features, 4);
    Atomics.store(control, 0, 1);
    Atomics.notify(control, 0);
    accumulate(hist, this.rowMajor, this.width, features, count, this.rows, start, mid, this.gradients);
    while (Atomics.load(control, 0) === 1) Atomics.wait(control, 0, 1);
    for (let i = 0; i < hist.length; i++) hist[i] = (hist[i] as number) + (workerHist[i] as number);
    Atomics.store(control, 0, 0);
    return hist;
  }

  close(): void {
    if (!this.control || !this.worker) return;
    Atomics.store(this.control, 0, 3);
    Atomics.notify(this.control, 0);
  }
}
