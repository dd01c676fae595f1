import { Worker } from 'node:worker_threads';

/**
 * The hot loops of training, over shared memory so two threads can split them. Trees grow level by
 * level: one sequential pass over the rows per level moves each row to its child (`nodeOf`) and adds
 * it to the histogram of its child when that child is the smaller of two siblings (the larger one's
 * histogram is its parent's minus its sibling's). Sequential passes over row-major bins keep memory
 * access predictable, which is where the time goes. Large passes are always summed as two halves,
 * on two threads or one, so the model never depends on the machine's core count.
 */
export const BINS = 256;
export const MISSING = 255;

/** Kernel: adds positions [start, end) to one histogram. Self-contained: the worker runs its source. */
export function accumulateRange(
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

/** Kernel: one level of growth for positions [start, end). Self-contained, like accumulateRange. */
export function levelPass(
  start: number,
  end: number,
  rows: Uint32Array,
  nodeOf: Int32Array,
  rowMajor: Uint8Array,
  width: number,
  gradients: Float32Array,
  splitFeature: Int32Array,
  splitBin: Int32Array,
  missingLeft: Int32Array,
  leftChild: Int32Array,
  smallSlot: Int32Array,
  hist: Float64Array,
  features: Int32Array,
  featureCount: number,
  accumulate: number,
): void {
  const slotSize = width * 512;
  for (let i = start; i < end; i++) {
    const node = nodeOf[i] as number;
    const f = splitFeature[node] as number;
    if (f < 0) continue;
    const row = rows[i] as number;
    const base = row * width;
    const b = rowMajor[base + f] as number;
    const left = b === 255 ? missingLeft[node] === 1 : b <= (splitBin[node] as number);
    const child = (leftChild[node] as number) + (left ? 0 : 1);
    nodeOf[i] = child;
    if (accumulate === 0) continue;
    const slot = smallSlot[child] as number;
    if (slot < 0) continue;
    const g = gradients[row * 2] as number;
    const h = gradients[row * 2 + 1] as number;
    const offset = slot * slotSize;
    for (let k = 0; k < featureCount; k++) {
      const ff = features[k] as number;
      const at = offset + (ff * 256 + (rowMajor[base + ff] as number)) * 2;
      hist[at] = (hist[at] as number) + g;
      hist[at + 1] = (hist[at + 1] as number) + h;
    }
  }
}

const workerSource = (): string => `
const { workerData } = require('node:worker_threads');
const accumulateRange = ${accumulateRange.toString()};
const levelPass = ${levelPass.toString()};
const w = workerData;
const ctrl = new Int32Array(w.control);
const rowMajor = new Uint8Array(w.rowMajor);
const rows = new Uint32Array(w.rows);
const nodeOf = new Int32Array(w.nodeOf);
const gradients = new Float32Array(w.gradients);
const splitFeature = new Int32Array(w.splitFeature);
const splitBin = new Int32Array(w.splitBin);
const missingLeft = new Int32Array(w.missingLeft);
const leftChild = new Int32Array(w.leftChild);
const smallSlot = new Int32Array(w.smallSlot);
const hist = new Float64Array(w.hist);
// Control: [state, job, start, end, featureCount, accumulate, slots, features...].
// States: 0 idle, 1 job posted, 2 job done, 3 stop. Only a posted job (1) or stop (3) wakes us.
for (;;) {
  let state;
  while ((state = Atomics.load(ctrl, 0)) !== 1 && state !== 3) Atomics.wait(ctrl, 0, state);
  if (state === 3) break;
  const job = ctrl[1], start = ctrl[2], end = ctrl[3], count = ctrl[4], accumulate = ctrl[5], slots = ctrl[6];
  const features = ctrl.subarray(7, 7 + count);
  hist.fill(0, 0, slots * w.width * 512);
  if (job === 1) accumulateRange(hist, rowMajor, w.width, features, count, rows, start, end, gradients);
  else levelPass(start, end, rows, nodeOf, rowMajor, w.width, gradients, splitFeature, splitBin, missingLeft, leftChild, smallSlot, hist, features, count, accumulate);
  Atomics.store(ctrl, 0, 2);
  Atomics.notify(ctrl, 0);
}
`;

/** Positions below which a pass runs as one piece on this thread. */
const PARALLEL_FROM = 20_000;
/** The worker's histogram space; a level needing more runs its halves on this thread. */
const WORKER_HIST_BYTES = 64 * 2 ** 20;

const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));

export class HistogramBuilder {
  /** Positions → rows of the current tree (the sampled rows, ascending). */
  readonly rows: Uint32Array;
  /** Positions → the node each row is in (after a tree: its leaf). */
  readonly nodeOf: Int32Array;
  /** Gradient and hessian of row r at 2r and 2r + 1: float32 like XGBoost's, one cache line per row. */
  readonly gradients: Float32Array;
  /** Per node: the split of the current level (-1: not split at this level). */
  readonly splitFeature: Int32Array;
  readonly splitBin: Int32Array;
  readonly missingLeft: Int32Array;
  readonly leftChild: Int32Array;
  /** Per node: its histogram slot in this level's pass, or -1 when it needs none. */
  readonly smallSlot: Int32Array;
  private readonly worker: Worker | undefined;
  private readonly control: Int32Array | undefined;
  private readonly workerHist: Float64Array | undefined;
  private readonly slotSize: number;

  constructor(
    readonly rowMajor: Uint8Array,
    readonly width: number,
    rowCount: number,
    maxNodes: number,
    threads: number,
  ) {
    this.slotSize = width * BINS * 2;
    this.rows = new Uint32Array(shared(rowCount * 4));
    this.nodeOf = new Int32Array(shared(rowCount * 4));
    this.gradients = new Float32Array(shared(rowCount * 8));
    this.splitFeature = new Int32Array(shared(maxNodes * 4));
    this.splitBin = new Int32Array(shared(maxNodes * 4));
    this.missingLeft = new Int32Array(shared(maxNodes * 4));
    this.leftChild = new Int32Array(shared(maxNodes * 4));
    this.smallSlot = new Int32Array(shared(maxNodes * 4));
    if (threads > 1 && rowCount >= PARALLEL_FROM && rowMajor.buffer instanceof SharedArrayBuffer) {
      const control = shared((7 + width) * 4);
      const hist = shared(
        Math.max(this.slotSize * 8, Math.floor(WORKER_HIST_BYTES / (this.slotSize * 8)) * this.slotSize * 8),
      );
      this.control = new Int32Array(control);
      this.workerHist = new Float64Array(hist);
      this.worker = new Worker(workerSource(), {
        eval: true,
        workerData: {
          control,
          width,
          hist,
          rowMajor: rowMajor.buffer,
          rows: this.rows.buffer,
          nodeOf: this.nodeOf.buffer,
          gradients: this.gradients.buffer,
          splitFeature: this.splitFeature.buffer,
          splitBin: this.splitBin.buffer,
          missingLeft: this.missingLeft.buffer,
          leftChild: this.leftChild.buffer,
          smallSlot: this.smallSlot.buffer,
        },
      });
      this.worker.unref();
    }
  }

  /** Runs `job` over [0, count) in two halves (worker + this thread when possible) into `hist`. */
  private run(
    job: 1 | 2,
    features: Int32Array,
    count: number,
    slots: number,
    accumulate: boolean,
    hist: Float64Array,
  ) {
    const local = (into: Float64Array, start: number, end: number) => {
      if (job === 1)
        accumulateRange(
          into,
          this.rowMajor,
          this.width,
          features,
          features.length,
          this.rows,
          start,
          end,
          this.gradients,
        );
      else
        levelPass(
          start,
          end,
          this.rows,
          this.nodeOf,
          this.rowMajor,
          this.width,
          this.gradients,
          this.splitFeature,
          this.splitBin,
          this.missingLeft,
          this.leftChild,
          this.smallSlot,
          into,
          features,
          features.length,
          accumulate ? 1 : 0,
        );
    };
    if (count < PARALLEL_FROM) {
      local(hist, 0, count);
      return;
    }
    const mid = count >> 1;
    const used = slots * this.slotSize;
    const { control, workerHist } = this;
    if (control && workerHist && used <= workerHist.length) {
      control[1] = job;
      control[2] = mid;
      control[3] = count;
      control[4] = features.length;
      control[5] = accumulate ? 1 : 0;
      control[6] = slots;
      control.set(features, 7);
      Atomics.store(control, 0, 1);
      Atomics.notify(control, 0);
      local(hist, 0, mid);
      while (Atomics.load(control, 0) === 1) Atomics.wait(control, 0, 1);
      for (let i = 0; i < used; i++) hist[i] = (hist[i] as number) + (workerHist[i] as number);
      Atomics.store(control, 0, 0);
      return;
    }
    const second = new Float64Array(used);
    local(hist, 0, mid);
    local(second, mid, count);
    for (let i = 0; i < used; i++) hist[i] = (hist[i] as number) + (second[i] as number);
  }

  /** The histogram of positions [0, count): the root of a tree. */
  root(features: Int32Array, count: number): Float64Array {
    const hist = new Float64Array(this.slotSize);
    this.run(1, features, count, 1, true, hist);
    return hist;
  }

  /**
   * Moves every row of a node split at this level to its child (per the node tables) and returns
   * the histograms of the children whose `smallSlot` is set, `slots` of them, slot after slot.
   */
  level(features: Int32Array, count: number, slots: number): Float64Array {
    const hist = new Float64Array(Math.max(1, slots) * this.slotSize);
    this.run(2, features, count, slots, slots > 0, hist);
    return hist;
  }

  close(): void {
    if (!this.control || !this.worker) return;
    Atomics.store(this.control, 0, 3);
    Atomics.notify(this.control, 0);
  }
}
