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
  readonly bins: readonly Uint8Array[];
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

export const binColumn = (values: Float32Array, cuts: Float32Array): Uint8Array => {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) {
      out[i] = MISSING_BIN;
      continue;
    }
    let lo = 0;
    let hi = cuts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cuts[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return out;
};

export const binMatrix = (features: readonly Float32Array[], maxBin: number): Binned => {
  const cuts = features.map((f) => findCuts(f, maxBin));
  return {
    cuts,
    bins: features.map((f, i) => binColumn(f, cuts[i] as Float32Array)),
    rows: features[0]?.length ?? 0,
  };
};

export const rebin = (features: readonly Float32Array[], cuts: readonly Float32Array[]): Binned => ({
  cuts,
  bins: features.map((f, i) => binColumn(f, cuts[i] as Float32Array)),
  rows: features[0]?.length ?? 0,
});

export interface GrowOptions {
  readonly maxDepth: number;
  readonly minChildWeight: number;
  readonly lambda: number;
  readonly gamma: number;
  readonly eta: number;
  /** Features this tree may split on (column subsampling). */
  readonly features: readonly number[];
}

interface Split {
  feature: number;
  bin: number;
  missingLeft: boolean;
  gain: number;
}

const buildHistogram = (
  binned: Binned,
  features: readonly number[],
  rows: Uint32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
): Float64Array => {
  const hist = new Float64Array(binned.bins.length * BINS * 2);
  for (const f of features) {
    const bins = binned.bins[f] as Uint8Array;
    const base = f * BINS * 2;
    for (let i = start; i < end; i++) {
      const row = rows[i] as number;
      const at = base + (bins[row] as number) * 2;
      hist[at] = (hist[at] as number) + (grad[row] as number);
      hist[at + 1] = (hist[at + 1] as number) + (hess[row] as number);
    }
  }
  return hist;
};

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
      for (const missingLeft of hm > 0 ? [true, false] : [true]) {
        const GL = missingLeft ? gl + gm : gl;
        const HL = missingLeft ? hl + hm : hl;
        const GR = G - GL;
        const HR = H - HL;
        if (HL < o.minChildWeight || HR < o.minChildWeight || HL <= 0 || HR <= 0) continue;
        const gain = 0.5 * (score(GL, HL, o.lambda) + score(GR, HR, o.lambda) - parent) - o.gamma;
        if (gain > 1e-12 && (!best || gain > best.gain)) best = { feature: f, bin: k, missingLeft, gain };
      }
    }
  }
  return best;
};

/** Grows one tree on rows[0..count) (the sampled rows) and returns it. */
export const growTree = (
  binned: Binned,
  grad: Float64Array,
  hess: Float64Array,
  sampled: Uint32Array,
  o: GrowOptions,
): Tree => {
  const tree: Tree = { feature: [], threshold: [], bin: [], left: [], right: [], missingLeft: [], value: [] };
  const rows = sampled.slice();
  const scratch = new Uint32Array(rows.length);
  const addNode = (): number => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.bin.push(-1);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.missingLeft.push(0);
    tree.value.push(0);
    return tree.feature.length - 1;
  };
  const sums = (start: number, end: number): [number, number] => {
    let g = 0;
    let h = 0;
    for (let i = start; i < end; i++) {
      const row = rows[i] as number;
      g += grad[row] as number;
      h += hess[row] as number;
    }
    return [g, h];
  };
  const grow = (
    node: number,
    start: number,
    end: number,
    depth: number,
    hist: Float64Array,
    G: number,
    H: number,
  ) => {
    const split = depth < o.maxDepth && end - start >= 2 ? bestSplit(hist, binned, G, H, o) : undefined;
    if (!split) {
      tree.value[node] = (-G / (H + o.lambda)) * o.eta;
      return;
    }
    const bins = binned.bins[split.feature] as Uint8Array;
    // Stable partition: left rows first, in their original order, so results never depend on timing.
    let l = start;
    let r = 0;
    for (let i = start; i < end; i++) {
      const row = rows[i] as number;
      const b = bins[row] as number;
      const goLeft = b === MISSING_BIN ? split.missingLeft : b <= split.bin;
      if (goLeft) rows[l++] = row;
      else scratch[r++] = row;
    }
    rows.set(scratch.subarray(0, r), l);
    const mid = l;
    tree.feature[node] = split.feature;
    tree.threshold[node] = (binned.cuts[split.feature] as Float32Array)[split.bin] as number;
    tree.bin[node] = split.bin;
    tree.missingLeft[node] = split.missingLeft ? 1 : 0;
    const leftNode = addNode();
    const rightNode = addNode();
    tree.left[node] = leftNode;
    tree.right[node] = rightNode;
    const [GL, HL] = sums(start, mid);
    const leftSmaller = mid - start <= end - mid;
    const small = leftSmaller
      ? buildHistogram(binned, o.features, rows, start, mid, grad, hess)
      : buildHistogram(binned, o.features, rows, mid, end, grad, hess);
    for (let i = 0; i < hist.length; i++) hist[i] = (hist[i] as number) - (small[i] as number);
    const [leftHist, rightHist] = leftSmaller ? [small, hist] : [hist, small];
    grow(leftNode, start, mid, depth + 1, leftHist, GL, HL);
    grow(rightNode, mid, end, depth + 1, rightHist, G - GL, H - HL);
  };
  const root = addNode();
  const [G, H] = sums(0, rows.length);
  grow(root, 0, rows.length, 0, buildHistogram(binned, o.features, rows, 0, rows.length, grad, hess), G, H);
  return tree;
};

/** The leaf a binned row reaches (training time: bins, which agree with the thresholds by construction). */
export const leafOfBinned = (tree: Tree, binned: Binned, row: number): number => {
  let node = 0;
  while ((tree.feature[node] as number) >= 0) {
    const b = (binned.bins[tree.feature[node] as number] as Uint8Array)[row] as number;
    const goLeft = b === MISSING_BIN ? tree.missingLeft[node] === 1 : b <= (tree.bin[node] as number);
    node = (goLeft ? tree.left[node] : tree.right[node]) as number;
  }
  return node;
};

/** The output of a tree for raw float32 values (serving-time semantics, as ONNX evaluates it). */
export const treeOutput = (tree: Tree, x: Float32Array, offset: number): number => {
  let node = 0;
  while ((tree.feature[node] as number) >= 0) {
    const v = x[offset + (tree.feature[node] as number)] as number;
    const goLeft = Number.isNaN(v) ? tree.missingLeft[node] === 1 : v <= (tree.threshold[node] as number);
    node = (goLeft ? tree.left[node] : tree.right[node]) as number;
  }
  return tree.value[node] as number;
};
