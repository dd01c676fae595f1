import { Worker } from 'node:worker_threads';
import { emitKernelModule, type KernelLayout } from './wasm-kernels';

/**
 * The hot loops of training, over shared memory so two threads can split them. Trees grow level by
 * level: one sequential pass over the rows per level moves each row to its child (`nodeOf`) and adds
 * it to the histogram of its child when that child is the smaller of two siblings (the larger one's
 * histogram is its parent's minus its sibling's). Sequential passes over row-major bins keep memory
 * access predictable, which is where the time goes. Large passes are always summed as two halves,
 * on two threads or one, so the model never depends on the machine's core count.
 *
 * The histogram passes run as WebAssembly SIMD (wasm-kernels.ts) over one shared memory when the
 * data fits in it (32-bit addresses), else as the JavaScript kernels below; both add the same numbers
 * in the same order. Gradients and the margins' leaf updates are JavaScript on both threads.
 * On flights-3m (2.4 M rows, 7 features, depth 8) a round took 255 ms with the JavaScript kernels
 * and 159 ms with the WebAssembly ones (.scratch measurements, 30 rounds).
 */
/** Histogram bins per feature: 255 for values, the last for missing ones. */
export const BINS = 256;

/** Adds rows [start, end) to one histogram. */
export type AccumulateKernel = (
  hist: Float64Array,
  rowMajor: Uint8Array,
  start: number,
  end: number,
  gradients: Float64Array,
) => void;

/**
 * One level of growth for rows [start, end): moves each row to the child its node's split sends it
 * to (a node that is not split sends it to itself) and, when `accumulate` is 1, adds it to its
 * child's histogram slot when the child has one. `picked` is scratch space for the rows to add.
 */
export type LevelKernel = (
  hist: Float64Array,
  rowMajor: Uint8Array,
  start: number,
  end: number,
  gradients: Float64Array,
  nodeOf: Int32Array,
  splitFeature: Int32Array,
  rightBins: Int32Array,
  leftChild: Int32Array,
  smallSlot: Int32Array,
  picked: Int32Array,
  accumulate: number,
) => void;

export interface Kernels {
  readonly accumulate: AccumulateKernel;
  readonly level: LevelKernel;
}

/**
 * Compiles both kernels for one feature list, unrolled, with each feature's histogram offset a
 * constant. V8 then drops the per-feature table loads and most bound checks: on flights-3m's binned
 * rows a histogram pass takes half the time of the same loop over a feature array (.scratch
 * micro-benchmark, 4.1 → 1.5 ns per update with float64 gradients). Self-contained: the worker
 * compiles its own copies from this function's source. Only numbers are spliced into the code.
 */
export function compileKernels(features: ArrayLike<number>, width: number): Kernels {
  let add = '';
  for (let k = 0; k < features.length; k++) {
    const f = Number(features[k]);
    add += `at = offset + ${f * 512} + (rowMajor[base + ${f}] << 1); hist[at] += g; hist[at + 1] += h;\n`;
  }
  // Both kernels' first parameters, in the order of AccumulateKernel and LevelKernel.
  const common = ['hist', 'rowMajor', 'start', 'end', 'gradients'];
  const accumulate = new Function(
    ...common,
    `const offset = 0;
    for (let row = start; row < end; row++) {
      const g = gradients[row * 2];
      const h = gradients[row * 2 + 1];
      const base = row * ${Number(width)};
      let at;
      ${add}
    }`,
  );
  const level = new Function(
    ...common,
    'nodeOf',
    'splitFeature',
    'rightBins',
    'leftChild',
    'smallSlot',
    'picked',
    'accumulate',
    // Which way a row goes and whether it is added are coin flips a branch predictor loses half
    // the time, so the first loop decides both with integer arithmetic: right when bit b of the
    // node's 256-bit rightBins mask is set (a threshold, a set of categories and the missing bin
    // alike; a shift count is taken mod 32). The rows to add are collected branch-free, then added
    // by a second loop.
    `let picks = start;
    for (let i = start; i < end; i++) {
      const node = nodeOf[i];
      const b = rowMajor[i * ${Number(width)} + splitFeature[node]];
      const child = leftChild[node] + ((rightBins[(node << 3) + (b >>> 5)] >>> b) & 1);
      nodeOf[i] = child;
      picked[picks] = i;
      picks += (smallSlot[child] >>> 31) ^ 1;
    }
    if (accumulate === 0) return;
    for (let j = start; j < picks; j++) {
      const row = picked[j];
      const g = gradients[row * 2];
      const h = gradients[row * 2 + 1];
      const base = row * ${Number(width)};
      const offset = smallSlot[nodeOf[row]] * ${Number(width) * 512};
      let at;
      ${add}
    }`,
  );
  return { accumulate, level } as Kernels;
}

/** Objectives as the gradient kernel knows them. */
export const OBJECTIVE_CODE = { 'reg:squarederror': 0, 'binary:logistic': 1, 'multi:softprob': 2 } as const;

/**
 * Kernel: gradient and hessian of the loss at the margins of rows [start, end) for group k, rounded
 * to float32 as XGBoost keeps them. Self-contained: the worker runs its source.
 */
export function gradientRange(
  objective: number,
  groups: number,
  k: number,
  margins: Float64Array,
  label: Float64Array,
  out: Float64Array,
  start: number,
  end: number,
): void {
  if (objective === 0) {
    for (let i = start; i < end; i++) {
      out[i * 2] = Math.fround((margins[i] as number) - (label[i] as number));
      out[i * 2 + 1] = 1;
    }
  } else if (objective === 1) {
    for (let i = start; i < end; i++) {
      const p = 1 / (1 + Math.exp(-(margins[i] as number)));
      out[i * 2] = Math.fround(p - (label[i] as number));
      out[i * 2 + 1] = Math.fround(Math.max(p * (1 - p), 1e-16));
    }
  } else {
    for (let i = start; i < end; i++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < groups; c++) max = Math.max(max, margins[i * groups + c] as number);
      let sum = 0;
      for (let c = 0; c < groups; c++) sum += Math.exp((margins[i * groups + c] as number) - max);
      const p = Math.exp((margins[i * groups + k] as number) - max) / sum;
      out[i * 2] = Math.fround(p - (label[i] === k ? 1 : 0));
      out[i * 2 + 1] = Math.fround(Math.max(p * (1 - p), 1e-16));
    }
  }
}

/**
 * Kernel: for rows [start, end), adds (`add` 1) or writes (0) the value of the leaf each row ended
 * in to `target` at row * groups + k. Self-contained, like gradientRange.
 */
export function leafValueRange(
  nodeOf: Int32Array,
  leafValue: Float64Array,
  target: Float64Array,
  groups: number,
  k: number,
  add: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const at = i * groups + k;
    const value = leafValue[nodeOf[i] as number] as number;
    target[at] = add === 1 ? (target[at] as number) + value : value;
  }
}

/** Compiled kernels by feature list; bounded, as column sampling can draw a new list every tree. */
const kernelCache = new Map<string, Kernels>();
const KERNEL_CACHE_SIZE = 64;

const kernelsFor = (features: Int32Array, width: number): Kernels => {
  const key = `${width}:${features.join(',')}`;
  let kernels = kernelCache.get(key);
  if (!kernels) {
    if (kernelCache.size >= KERNEL_CACHE_SIZE) kernelCache.clear();
    kernels = compileKernels(features, width);
    kernelCache.set(key, kernels);
  }
  return kernels;
};

const workerSource = (): string => `
'use strict';
const { workerData } = require('node:worker_threads');
// Transpilers that keep function names (tsx, esbuild's keepNames) call this helper in nested functions.
const __name = (target) => target;
const compileKernels = ${compileKernels.toString()};
const emitKernelModule = ${emitKernelModule.toString()};
const gradientRange = ${gradientRange.toString()};
const leafValueRange = ${leafValueRange.toString()};
const w = workerData;
const { control: ctrl, rowMajor, nodeOf, gradients, splitFeature, rightBins, leftChild } = w;
const { smallSlot, picked, hist, margins, label, deltas, leafValue, wasm } = w;
const cache = new Map();
const kernelsOf = (features) => {
  const key = features.join(',');
  let kernels = cache.get(key);
  if (!kernels) {
    if (cache.size >= ${KERNEL_CACHE_SIZE}) cache.clear();
    kernels = wasm
      ? new WebAssembly.Instance(new WebAssembly.Module(emitKernelModule(features, w.width, wasm.layout)), {
          m: { memory: wasm.memory },
        }).exports
      : compileKernels(features, w.width);
    cache.set(key, kernels);
  }
  return kernels;
};
// States: 0 idle, 1 job posted, 2 job done, 3 stop, 4 failed (the error left in w.failure).
// Only a posted job (1) or stop (3) wakes us.
try {
for (;;) {
  let state;
  while ((state = Atomics.load(ctrl, 0)) !== 1 && state !== 3) Atomics.wait(ctrl, 0, state);
  if (state === 3) break;
  const job = ctrl[${AT.job}], start = ctrl[${AT.start}], end = ctrl[${AT.end}];
  const groups = ctrl[${AT.groups}], k = ctrl[${AT.k}], add = ctrl[${AT.add}];
  if (job === ${JOB.gradients}) gradientRange(ctrl[${AT.objective}], groups, k, margins, label, gradients, start, end);
  else if (job === ${JOB.leafValues})
    leafValueRange(nodeOf, leafValue, add === 1 ? margins : deltas, groups, k, add, start, end);
  else {
    const accumulate = ctrl[${AT.accumulate}], slots = ctrl[${AT.slots}];
    const kernels = kernelsOf(ctrl.slice(${AT.features}, ${AT.features} + ctrl[${AT.featureCount}]));
    hist.fill(0, 0, slots * w.width * 512);
    if (wasm) {
      if (job === ${JOB.accumulate}) kernels.accumulate(hist.byteOffset, start, end);
      else kernels.level(hist.byteOffset, start, end, accumulate);
    } else if (job === ${JOB.accumulate}) kernels.accumulate(hist, rowMajor, start, end, gradients);
    else kernels.level(hist, rowMajor, start, end, gradients, nodeOf, splitFeature, rightBins, leftChild, smallSlot, picked, accumulate);
  }
  Atomics.store(ctrl, 0, 2);
  Atomics.notify(ctrl, 0);
}
} catch (error) {
  const text = new TextEncoder().encode(String((error && error.stack) || error)).subarray(0, w.failure.length - 4);
  new DataView(w.failure.buffer).setInt32(0, text.length);
  w.failure.set(text, 4);
  Atomics.store(ctrl, 0, 4);
  Atomics.notify(ctrl, 0);
}
`;

/** Jobs the worker runs; the numbers travel through the control array. */
const JOB = { accumulate: 1, level: 2, gradients: 3, leafValues: 4 } as const;
/** The control array's slots: the worker's state, then the posted job's fields, then its features. */
const AT = {
  state: 0,
  job: 1,
  start: 2,
  end: 3,
  featureCount: 4,
  accumulate: 5,
  slots: 6,
  objective: 7,
  groups: 8,
  k: 9,
  add: 10,
  features: 11,
} as const;

/** Positions below which a pass runs as one piece on this thread. */
const PARALLEL_FROM = 20_000;
/** Each thread's histogram space; a level needing more runs its halves in JavaScript, on this thread. */
const HIST_SCRATCH_BYTES = 64 * 2 ** 20;
/** WebAssembly memory is addressed by 32 bits; larger data trains with the JavaScript kernels. */
const WASM_MAX_BYTES = 3.5 * 2 ** 30;

const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));

/** Which kernels build histograms: the model is the same with either. */
export type KernelChoice = 'webassembly' | 'javascript';

/** Byte offsets of `sizes`' regions, each 16-byte aligned, from 16 on. */
const regionsOf = <K extends string>(sizes: Record<K, number>): { at: Record<K, number>; bytes: number } => {
  let next = 16;
  const at = {} as Record<K, number>;
  for (const key of Object.keys(sizes) as K[]) {
    at[key] = next;
    next += (Math.max(16, sizes[key]) + 15) & ~15;
  }
  return { at, bytes: next };
};

/** The WebAssembly API as used here (its types come with the DOM lib, which tsconfig leaves out). */
interface WebAssemblyApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

interface WasmKernels {
  readonly accumulate: (hist: number, start: number, end: number) => void;
  readonly level: (hist: number, start: number, end: number, accumulate: number) => void;
}

interface WasmState {
  readonly memory: WasmMemory;
  readonly layout: KernelLayout;
  /** This thread's histogram scratch, a view into the memory. */
  readonly hist: Float64Array;
  readonly kernels: Map<string, WasmKernels>;
}

/** A shared memory of `pages`, or none where the runtime cannot give one (then JavaScript kernels run). */
const wasmMemory = (pages: number): WasmMemory | undefined => {
  try {
    return new webAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  } catch {
    return undefined;
  }
};

export class HistogramBuilder {
  /** The node each row is in (after a tree: its leaf). A row left out of a round is in one too. */
  readonly nodeOf: Int32Array;
  /**
   * Gradient and hessian of row r at 2r and 2r + 1, rounded to float32 like XGBoost's but stored as
   * float64: the histogram kernels then add them without a conversion (a quarter faster).
   */
  readonly gradients: Float64Array;
  /**
   * Per node: where the level pass sends its rows (see `split` and `keep`): to `leftChild` + 1 when
   * bit b of its 256-bit `rightBins` mask (8 words a node) is set for the row's bin b of
   * `splitFeature`, else to `leftChild`.
   */
  readonly splitFeature: Int32Array;
  readonly rightBins: Int32Array;
  readonly leftChild: Int32Array;
  /** Per node: its histogram slot in this level's pass, or -1 when it needs none. */
  readonly smallSlot: Int32Array;
  /** Scratch: positions a level pass adds to histograms. */
  private readonly picked: Int32Array;
  /** Margins of row r at r * groups + k (the model's raw output so far). */
  readonly margins: Float64Array;
  readonly label: Float64Array;
  /** A round's leaf values per row when there are several groups (margins move after the round). */
  readonly deltas: Float64Array;
  /** Per node: the leaf value of the tree just grown. */
  private readonly leafValue: Float64Array;
  private readonly worker: Worker | undefined;
  private readonly control: Int32Array | undefined;
  private readonly workerHist: Float64Array | undefined;
  /** Where the worker leaves its error (length, then UTF-8) before it reports state 4. */
  private readonly failure = new Uint8Array(shared(4096));
  private readonly slotSize: number;
  private readonly wasm: WasmState | undefined;
  /** The bins, row-major (width bytes a row); in WebAssembly memory when those kernels run. */
  readonly rowMajor: Uint8Array;

  constructor(
    rowMajor: Uint8Array,
    readonly width: number,
    label: Float64Array,
    readonly groups: number,
    maxNodes: number,
    threads: number,
    kernels: KernelChoice = 'webassembly',
  ) {
    const rowCount = label.length;
    this.slotSize = width * BINS * 2;
    const slotBytes = this.slotSize * 8;
    // A level histograms at most maxNodes / 8 small children (the last two levels need none).
    const histBytes =
      slotBytes * Math.max(1, Math.min(Math.floor(HIST_SCRATCH_BYTES / slotBytes), maxNodes >> 3));
    const worker = threads > 1 && rowCount >= PARALLEL_FROM;
    const { at, bytes } = regionsOf({
      rowMajor: rowMajor.length,
      nodeOf: rowCount * 4,
      picked: rowCount * 4,
      gradients: rowCount * 16,
      splitFeature: maxNodes * 4,
      rightBins: maxNodes * 32,
      leftChild: maxNodes * 4,
      smallSlot: maxNodes * 4,
      hist: histBytes,
      workerHist: worker ? histBytes : 0,
    });
    const pages = Math.ceil(bytes / 65_536);
    const memory = kernels === 'webassembly' && bytes <= WASM_MAX_BYTES ? wasmMemory(pages) : undefined;
    // In WebAssembly memory, every array the kernels touch is a view at its offset; else each its own.
    const alloc = <T>(
      make: (buffer: SharedArrayBuffer, offset: number, length: number) => T,
      region: keyof typeof at,
      length: number,
      size: number,
    ): T => (memory ? make(memory.buffer, at[region], length) : make(shared(length * size), 0, length));
    this.rowMajor = alloc((b, o, n) => new Uint8Array(b, o, n), 'rowMajor', rowMajor.length, 1);
    this.rowMajor.set(rowMajor);
    this.nodeOf = alloc((b, o, n) => new Int32Array(b, o, n), 'nodeOf', rowCount, 4);
    this.picked = alloc((b, o, n) => new Int32Array(b, o, n), 'picked', rowCount, 4);
    this.gradients = alloc((b, o, n) => new Float64Array(b, o, n), 'gradients', rowCount * 2, 8);
    this.splitFeature = alloc((b, o, n) => new Int32Array(b, o, n), 'splitFeature', maxNodes, 4);
    this.rightBins = alloc((b, o, n) => new Int32Array(b, o, n), 'rightBins', maxNodes * 8, 4);
    this.leftChild = alloc((b, o, n) => new Int32Array(b, o, n), 'leftChild', maxNodes, 4);
    this.smallSlot = alloc((b, o, n) => new Int32Array(b, o, n), 'smallSlot', maxNodes, 4);
    const layout: KernelLayout = { ...at, pages };
    this.wasm = memory && {
      memory,
      layout,
      hist: new Float64Array(memory.buffer, at.hist, histBytes / 8),
      kernels: new Map(),
    };
    this.margins = new Float64Array(shared(rowCount * groups * 8));
    this.label = new Float64Array(shared(rowCount * 8));
    this.label.set(label);
    this.deltas = new Float64Array(shared(groups > 1 ? rowCount * groups * 8 : 8));
    this.leafValue = new Float64Array(shared(maxNodes * 8));
    if (worker) {
      this.control = new Int32Array(shared((AT.features + width) * 4));
      this.workerHist = alloc((b, o, n) => new Float64Array(b, o, n), 'workerHist', histBytes / 8, 8);
      // Typed arrays over shared memory reach the worker as views of the same memory.
      this.worker = new Worker(workerSource(), {
        eval: true,
        workerData: {
          control: this.control,
          width,
          hist: this.workerHist,
          rowMajor: this.rowMajor,
          nodeOf: this.nodeOf,
          gradients: this.gradients,
          splitFeature: this.splitFeature,
          rightBins: this.rightBins,
          leftChild: this.leftChild,
          smallSlot: this.smallSlot,
          picked: this.picked,
          margins: this.margins,
          label: this.label,
          deltas: this.deltas,
          leafValue: this.leafValue,
          wasm: memory && { memory, layout },
          failure: this.failure,
        },
      });
      this.worker.unref();
    }
  }

  /**
   * Runs [0, count) as two halves, the second on the worker (as `job`, with the control fields
   * already set) when there is one; `local` runs a half on this thread, or the whole range when the
   * worker is not used.
   */
  private halves(
    job: number,
    count: number,
    local: (start: number, end: number) => void,
    onWorker = true,
  ): void {
    const { control } = this;
    const mid = count >> 1;
    if (!control || !onWorker) {
      local(0, count);
      return;
    }
    control[AT.job] = job;
    control[AT.start] = mid;
    control[AT.end] = count;
    Atomics.store(control, 0, 1);
    Atomics.notify(control, 0);
    local(0, mid);
    while (Atomics.load(control, 0) === 1) Atomics.wait(control, 0, 1);
    if (Atomics.load(control, 0) === 4) {
      const failure = this.failure;
      const length = new DataView(failure.buffer).getInt32(0);
      throw new Error(
        `the histogram worker failed: ${new TextDecoder().decode(failure.slice(4, 4 + length))}`,
      );
    }
    Atomics.store(control, 0, 0);
  }

  /** Runs a histogram job over [0, count) as two halves summed into `hist`. */
  private histograms(
    job: typeof JOB.accumulate | typeof JOB.level,
    features: Int32Array,
    count: number,
    slots: number,
    accumulate: boolean,
    hist: Float64Array,
  ) {
    const used = slots * this.slotSize;
    const wasm = this.wasm && used <= this.wasm.hist.length ? this.wasm : undefined;
    const compiled = wasm ? this.wasmKernelsFor(wasm, features) : undefined;
    // The JavaScript kernels are compiled only where they run.
    let kernels: Kernels | undefined;
    const local = (into: Float64Array, start: number, end: number) => {
      if (wasm && compiled) {
        const scratch = wasm.hist;
        scratch.fill(0, 0, used);
        if (job === JOB.accumulate) compiled.accumulate(scratch.byteOffset, start, end);
        else compiled.level(scratch.byteOffset, start, end, accumulate ? 1 : 0);
        for (let i = 0; i < used; i++) into[i] = (into[i] as number) + (scratch[i] as number);
        return;
      }
      kernels ??= kernelsFor(features, this.width);
      if (job === JOB.accumulate) kernels.accumulate(into, this.rowMajor, start, end, this.gradients);
      else
        kernels.level(
          into,
          this.rowMajor,
          start,
          end,
          this.gradients,
          this.nodeOf,
          this.splitFeature,
          this.rightBins,
          this.leftChild,
          this.smallSlot,
          this.picked,
          accumulate ? 1 : 0,
        );
    };
    if (count < PARALLEL_FROM) {
      local(hist, 0, count);
      return;
    }
    const { control, workerHist } = this;
    if (control && workerHist && used <= workerHist.length) {
      control[AT.featureCount] = features.length;
      control[AT.accumulate] = accumulate ? 1 : 0;
      control[AT.slots] = slots;
      control.set(features, AT.features);
      this.halves(job, count, (start, end) => local(hist, start, end));
      for (let i = 0; i < used; i++) hist[i] = (hist[i] as number) + (workerHist[i] as number);
      return;
    }
    const mid = count >> 1;
    const second = new Float64Array(used);
    local(hist, 0, mid);
    local(second, mid, count);
    for (let i = 0; i < used; i++) hist[i] = (hist[i] as number) + (second[i] as number);
  }

  private wasmKernelsFor(wasm: WasmState, features: Int32Array): WasmKernels {
    const key = features.join(',');
    let kernels = wasm.kernels.get(key);
    if (!kernels) {
      if (wasm.kernels.size >= KERNEL_CACHE_SIZE) wasm.kernels.clear();
      const module = new webAssembly.Module(emitKernelModule(features, this.width, wasm.layout));
      kernels = new webAssembly.Instance(module, { m: { memory: wasm.memory } })
        .exports as unknown as WasmKernels;
      wasm.kernels.set(key, kernels);
    }
    return kernels;
  }

  /** A job over rows [0, count), in halves when large; `fields` go to the worker's control first. */
  private rowJob(
    job: number,
    count: number,
    fields: Readonly<Record<number, number>>,
    local: (start: number, end: number) => void,
  ): void {
    const { control } = this;
    if (control) for (const [at, value] of Object.entries(fields)) control[Number(at)] = value;
    this.halves(job, count, local, count >= PARALLEL_FROM);
  }

  /** Gradients and hessians of every row for group k at the current margins. */
  computeGradients(objective: keyof typeof OBJECTIVE_CODE, k: number): void {
    const code = OBJECTIVE_CODE[objective];
    const { groups, margins, label, gradients } = this;
    this.rowJob(
      JOB.gradients,
      label.length,
      { [AT.objective]: code, [AT.groups]: groups, [AT.k]: k },
      (start, end) => gradientRange(code, groups, k, margins, label, gradients, start, end),
    );
  }

  /**
   * After a tree of group k grown on positions [0, count): adds each row's leaf value to its margin
   * (`into` "margins") or writes it to `deltas` (several groups: margins move after the round).
   */
  applyLeaves(values: readonly number[], count: number, k: number, into: 'margins' | 'deltas'): void {
    const { groups, nodeOf, leafValue } = this;
    leafValue.set(values);
    const add = into === 'margins' ? 1 : 0;
    const target = add === 1 ? this.margins : this.deltas;
    this.rowJob(JOB.leafValues, count, { [AT.groups]: groups, [AT.k]: k, [AT.add]: add }, (start, end) =>
      leafValueRange(nodeOf, leafValue, target, groups, k, add, start, end),
    );
  }

  /** Node `node` keeps its rows in the next level pass (a new node, or a leaf). */
  keep(node: number): void {
    this.splitFeature[node] = 0;
    // No bin goes right: every row goes "left", to the node itself.
    this.rightBins.fill(0, node << 3, (node + 1) << 3);
    this.leftChild[node] = node;
    this.smallSlot[node] = -1;
  }

  /** Node `node`'s rows go to `left + 1` in the next level pass when `rightBins` has their bin, else to `left`. */
  split(node: number, feature: number, rightBins: Int32Array, left: number): void {
    this.splitFeature[node] = feature;
    this.rightBins.set(rightBins, node << 3);
    this.leftChild[node] = left;
  }

  /** The histogram of positions [0, count): the root of a tree. */
  root(features: Int32Array, count: number): Float64Array {
    const hist = new Float64Array(this.slotSize);
    this.histograms(JOB.accumulate, features, count, 1, true, hist);
    return hist;
  }

  /**
   * Moves every row of a node split at this level to its child (per the node tables) and returns
   * the histograms of the children whose `smallSlot` is set, `slots` of them, slot after slot.
   */
  level(features: Int32Array, count: number, slots: number): Float64Array {
    const hist = new Float64Array(Math.max(1, slots) * this.slotSize);
    this.histograms(JOB.level, features, count, slots, slots > 0, hist);
    return hist;
  }

  close(): void {
    if (!this.control || !this.worker) return;
    Atomics.store(this.control, 0, 3);
    Atomics.notify(this.control, 0);
  }
}
