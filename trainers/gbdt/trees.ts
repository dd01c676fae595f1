import type { HistogramBuilder } from './histogram';

/**
 * Histogram gradient-boosted trees. Values are bucketed once into at most `max_bin` bins per
 * feature (plus one bin for missing values); each node's split is found on per-bin gradient sums,
 * and a child's histogram is its parent's minus its sibling's, so only the smaller child is scanned.
 * Splits read "go left when x <= threshold", with a learned direction for missing values — exactly
 * what ONNX TreeEnsemble's BRANCH_LEQ and nodes_missing_value_tracks_true express.
 */
export const MISSING_BIN = 255;
const BINS = 256;

export interface Tree {
  /** Split feature per node, -1 for a leaf. */
  readonly feature: number[];
  readonly threshold: number[];
  /** The bin index of the threshold (training only: rows go left when their bin <= it). */
  readonly bin: number[];
  readonly left: number[];
  readonly right: number[];
  /** 1 when missing values go left. */
  readonly missingLeft: number[];
  /** Leaf output (learning rate applied); 0 on split nodes. */
  readonly value: number[];
}

export interface Binned {
  readonly cuts: readonly Float32Array[];
  /** Row-major bins: row r, feature f at r * width + f (shared memory, for the histogram worker). */
  readonly bins: Uint8Array;
  readonly width: number;
  readonly rows: number;
}

const SAMPLE_FOR_CUTS = 200_000;

/** Cut points from (a deterministic sample of) the values: bin k holds cuts[k-1] < v <= cuts[k]. */
export const findCuts = (values: Float32Array, maxBin: number): Float32Array => {
  const present: number[] = [];
  const stride = Math.max(1, Math.floor(values.length / SAMPLE_FOR_CUTS));
  for (let i = 0; i < values.length; i += stride) {
    const v = values[i] as number;
    if (!Number.isNaN(v)) present.push(v);
  }
  present.sort((a, b) => a - b);
  const unique: number[] = [];
  for (const v of present) if (unique.length === 0 || unique[unique.length - 1] !== v) unique.push(v);
  if (unique.length <= maxBin) return Float32Array.from(unique.slice(0, -1));
  const cuts: number[] = [];
  for (let i = 1; i < maxBin; i++) {
    const v = present[Math.floor((i * present.length) / maxBin)] as number;
    if (cuts.length === 0 || (cuts[cuts.length - 1] as number) < v) cuts.push(v);
  }
  // The largest value must not be a cut, or its bin would be empty.
  while (cuts.length > 0 && (cuts[cuts.length - 1] as number) >= (unique[unique.length - 1] as number))
    cuts.pop();
  return Float32Array.from(cuts);
};

const binOf = (cuts: Float32Array, v: number): number => {
  if (Number.isNaN(v)) return MISSING_BIN;
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cuts[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** Bins columns with the given cuts (the train split's, for every channel). */
export const rebin = (features: readonly Float32Array[], cuts: readonly Float32Array[]): Binned => {
  const width = features.length;
  const rows = features[0]?.length ?? 0;
  const bins = new Uint8Array(new SharedArrayBuffer(Math.max(1, rows * width)));
  features.forEach((column, f) => {
    const c = cuts[f] as Float32Array;
    for (let r = 0; r < rows; r++) bins[r * width + f] = binOf(c, column[r] as number);
  });
  return { cuts, bins, width, rows };
};

export const binMatrix = (features: readonly Float32Array[], maxBin: number): Binned =>
  rebin(
    features,
    features.map((f) => findCuts(f, maxBin)),
  );

export interface GrowOptions {
  readonly maxDepth: number;
  readonly minChildWeight: number;
  readonly lambda: number;
  readonly gamma: number;
  readonly eta: number;
  /** Features this tree may split on (column subsampling). */
  readonly features: Int32Array;
}

interface Split {
  readonly feature: number;
  readonly bin: number;
  readonly missingLeft: boolean;
  readonly gain: number;
  readonly gl: number;
  readonly hl: number;
}

const score = (g: number, h: number, lambda: number): number => (g * g) / (h + lambda);

const bestSplit = (
  hist: Float64Array,
  binned: Binned,
  G: number,
  H: number,
  o: GrowOptions,
): Split | undefined => {
  let best: Split | undefined;
  const parent = score(G, H, o.lambda);
  for (const f of o.features) {
    const base = f * BINS * 2;
    const gm = hist[base + MISSING_BIN * 2] as number;
    const hm = hist[base + MISSING_BIN * 2 + 1] as number;
    const lastBin = (binned.cuts[f] as Float32Array).length; // bins 0..lastBin; split after k < lastBin
    let gl = 0;
    let hl = 0;
    for (let k = 0; k < lastBin; k++) {
      gl += hist[base + k * 2] as number;
      hl += hist[base + k * 2 + 1] as number;
      // Missing values try both sides when there are any; the better side becomes their default.
      for (let side = 0; side < (hm > 0 ? 2 : 1); side++) {
        const missingLeft = side === 0;
        const GL = missingLeft ? gl + gm : gl;
        const HL = missingLeft ? hl + hm : hl;
        const GR = G - GL;
        const HR = H - HL;
        if (HL < o.minChildWeight || HR < o.minChildWeight || HL <= 0 || HR <= 0) continue;
        const gain = 0.5 * (score(GL, HL, o.lambda) + score(GR, HR, o.lambda) - parent) - o.gamma;
        if (gain > 1e-12 && (!best || gain > best.gain))
          best = { feature: f, bin: k, missingLeft, gain, gl: GL, hl: HL };
      }
    }
  }
  return best;
};

/**
 * Grows one tree, level by level, on rows [0, count) with the gradients in `builder.gradients` (a
 * row left out by sampling has zero ones). Afterwards `builder.nodeOf[row]` is the row's leaf, so
 * the caller can move margins without walking the tree again.
 */
export const growTree = (binned: Binned, builder: HistogramBuilder, count: number, o: GrowOptions): Tree => {
  const tree: Tree = { feature: [], threshold: [], bin: [], left: [], right: [], missingLeft: [], value: [] };
  const { gradients } = builder;
  const slotSize = binned.width * BINS * 2;
  const addNode = (): number => {
    const node = tree.feature.length;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.bin.push(-1);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.missingLeft.push(0);
    tree.value.push(0);
    builder.keep(node);
    return node;
  };
  let G = 0;
  let H = 0;
  for (let row = 0; row < count; row++) {
    G += gradients[row * 2] as number;
    H += gradients[row * 2 + 1] as number;
  }
  builder.nodeOf.fill(0, 0, count);
  interface Open {
    readonly node: number;
    readonly hist: Float64Array;
    readonly G: number;
    readonly H: number;
  }
  let open: Open[] = [{ node: addNode(), hist: builder.root(o.features, count), G, H }];
  for (let depth = 0; open.length > 0; depth++) {
    const splits: { parent: Open; split: Split; left: number; right: number }[] = [];
    for (const parent of open) {
      const split = depth < o.maxDepth ? bestSplit(parent.hist, binned, parent.G, parent.H, o) : undefined;
      if (!split) {
        tree.value[parent.node] = (-parent.G / (parent.H + o.lambda)) * o.eta;
        // A leaf's rows stay put, and its histogram slot of the last level is not theirs any more.
        builder.keep(parent.node);
        continue;
      }
      const { node } = parent;
      tree.feature[node] = split.feature;
      tree.threshold[node] = (binned.cuts[split.feature] as Float32Array)[split.bin] as number;
      tree.bin[node] = split.bin;
      tree.missingLeft[node] = split.missingLeft ? 1 : 0;
      const left = addNode();
      const right = addNode();
      tree.left[node] = left;
      tree.right[node] = right;
      builder.split(node, split.feature, split.bin, split.missingLeft, left);
      splits.push({ parent, split, left, right });
    }
    if (splits.length === 0) break;
    // Children at the depth limit become leaves, which need only their sums: no histograms.
    const needHist = depth + 1 < o.maxDepth;
    let slots = 0;
    for (const { parent, split, left, right } of splits) {
      const leftSmaller = split.hl <= parent.H - split.hl;
      if (needHist) builder.smallSlot[leftSmaller ? left : right] = slots++;
    }
    const levelHist = builder.level(o.features, count, needHist ? slots : 0);
    const next: Open[] = [];
    for (const { parent, split, left, right } of splits) {
      let leftHist = parent.hist;
      let rightHist = parent.hist;
      if (needHist) {
        const leftSlot = builder.smallSlot[left] as number;
        const smallSlot = leftSlot >= 0 ? leftSlot : (builder.smallSlot[right] as number);
        const small = levelHist.subarray(smallSlot * slotSize, (smallSlot + 1) * slotSize);
        const large = parent.hist;
        for (let i = 0; i < slotSize; i++) large[i] = (large[i] as number) - (small[i] as number);
        [leftHist, rightHist] = leftSlot >= 0 ? [small, large] : [large, small];
      }
      next.push({ node: left, hist: leftHist, G: split.gl, H: split.hl });
      next.push({ node: right, hist: rightHist, G: parent.G - split.gl, H: parent.H - split.hl });
    }
    open = next;
  }
  return tree;
};

/** The leaf a binned row reaches (training time: bins, which agree with the thresholds by construction). */
export const leafOfBinned = (tree: Tree, binned: Binned, row: number): number => {
  let node = 0;
  const base = row * binned.width;
  while ((tree.feature[node] as number) >= 0) {
    const b = binned.bins[base + (tree.feature[node] as number)] as number;
    const goLeft = b === MISSING_BIN ? tree.missingLeft[node] === 1 : b <= (tree.bin[node] as number);
    node = (goLeft ? tree.left[node] : tree.right[node]) as number;
  }
  return node;
};
