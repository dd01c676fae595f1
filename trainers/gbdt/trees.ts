import { BINS, type HistogramBuilder } from './histogram';

/**
 * Histogram gradient-boosted trees. Values are bucketed once into at most `max_bin` bins per
 * feature (plus one bin for missing values); each node's split is found on per-bin gradient sums,
 * and a child's histogram is its parent's minus its sibling's, so only the smaller child is scanned.
 * A numeric feature splits as "go left when x <= threshold", with a learned direction for missing
 * values — what ONNX TreeEnsemble's BRANCH_LEQ and nodes_missing_value_tracks_true express. A
 * categorical feature (codes 0, 1, …) splits as a set, "go left when x is one of these codes"
 * (BRANCH_MEMBER), found as LightGBM and XGBoost find it: the node's categories sorted by their
 * gradient ratio, and the best prefix of that order goes left.
 */
export const MISSING_BIN = BINS - 1;

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
  /** Set splits: the category codes that go left, ascending; null on threshold splits and leaves. */
  readonly categories: (readonly number[] | null)[];
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

/**
 * A categorical feature's cuts: codes 0 … m-2 each get their own bin, and bin m-1 holds every code
 * from m-1 on (m = at most 255 bins). Codes are ordered by frequency (dataset.ts), so
 * only the rarest categories share the last bin. Every other bin is one category: bin k is code k.
 */
const categoryCuts = (categoryCount: number): Float32Array =>
  Float32Array.from({ length: Math.max(0, Math.min(categoryCount, MISSING_BIN) - 1) }, (_, k) => k);

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

/** `categoryCounts[f]`: the number of categories of feature f, 0 for a numeric feature. */
export const binMatrix = (
  features: readonly Float32Array[],
  maxBin: number,
  categoryCounts: readonly number[],
): Binned =>
  rebin(
    features,
    features.map((f, i) =>
      (categoryCounts[i] ?? 0) > 0 ? categoryCuts(categoryCounts[i] as number) : findCuts(f, maxBin),
    ),
  );

export interface GrowOptions {
  readonly maxDepth: number;
  readonly minChildWeight: number;
  readonly lambda: number;
  readonly gamma: number;
  readonly eta: number;
  /** Features this tree may split on (column subsampling). */
  readonly features: Int32Array;
  /** Per feature: its number of categories (split as sets), 0 when numeric (split by threshold). */
  readonly categoryCounts: readonly number[];
  /**
   * Categories one set split sends left, at most (hyperparameter max_cat_threshold). onnxruntime
   * tests a set's members one after another, so large sets slow serving. Flights-3m, 300 trees of
   * depth 8: threshold splits on frequency codes AUC 0.696, onnxruntime 6.6 ms per 1,000 rows; sets
   * of at most 32 AUC 0.713, 18.6 ms; unbounded sets AUC 0.716, 24.7 ms (.scratch/flights-sets.ts).
   */
  readonly maxSetSize: number;
}

interface Split {
  readonly feature: number;
  readonly bin: number;
  readonly missingLeft: boolean;
  readonly gain: number;
  readonly gl: number;
  readonly hl: number;
  /** Set splits: the bins that go left. */
  readonly leftBins?: readonly number[];
}

/**
 * Set splits rank a node's categories by G / (H + CATEGORY_SMOOTHING) and leave out categories with
 * a hessian sum under MIN_CATEGORY_HESSIAN (they go right, with the rest): a rare category's ratio
 * is mostly noise, and ranking it would fit that noise (LightGBM's cat_smooth and
 * min_data_per_group, https://lightgbm.readthedocs.io/en/latest/Parameters.html#cat_smooth).
 */
const CATEGORY_SMOOTHING = 10;
const MIN_CATEGORY_HESSIAN = 5;

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
    const lastBin = (binned.cuts[f] as Float32Array).length; // bins 0..lastBin; split after k < lastBin
    const scan: Scan = { hist, base, f, G, H, parent, o };
    const split =
      (o.categoryCounts[f] ?? 0) > 0 ? bestSetSplit(scan, lastBin) : bestPrefix(scan, BIN_ORDER, lastBin);
    // Strictly better only: on a tie the earlier feature keeps the split.
    if (split && (!best || split.gain > best.gain)) best = split;
  }
  return best;
};

/** Bins in their own order: threshold splits send a prefix of it left. */
const BIN_ORDER = Int32Array.from({ length: BINS }, (_, k) => k);

/** One feature's split search at one node: its histogram at `base`, the node's sums and score. */
interface Scan {
  readonly hist: Float64Array;
  readonly base: number;
  readonly f: number;
  readonly G: number;
  readonly H: number;
  readonly parent: number;
  readonly o: GrowOptions;
}

/**
 * The best split of feature f that sends the first j + 1 bins of `order` left (j < count), with
 * missing values on the side that gains more; `bin` is j (for thresholds, the last bin that goes left).
 */
const bestPrefix = (
  { hist, base, f, G, H, parent, o }: Scan,
  order: ArrayLike<number>,
  count: number,
): Split | undefined => {
  const gm = hist[base + MISSING_BIN * 2] as number;
  const hm = hist[base + MISSING_BIN * 2 + 1] as number;
  let best: Split | undefined;
  let gl = 0;
  let hl = 0;
  for (let j = 0; j < count; j++) {
    const k = order[j] as number;
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
        best = { feature: f, bin: j, missingLeft, gain, gl: GL, hl: HL };
    }
  }
  return best;
};

/**
 * The best set split of categorical feature f: a prefix of its categories ranked by gradient ratio,
 * at most `o.maxSetSize` of them, goes left, the rest right. The last bin of a feature with more than
 * 254 categories (its rarest, together) is never ranked, so a set holds only single categories.
 */
const bestSetSplit = (scan: Scan, lastBin: number): Split | undefined => {
  const { hist, base, f, o } = scan;
  const shared = (o.categoryCounts[f] as number) > lastBin + 1 ? lastBin : -1;
  const ranked: number[] = [];
  for (let k = 0; k <= lastBin; k++)
    if (k !== shared && (hist[base + k * 2 + 1] as number) >= MIN_CATEGORY_HESSIAN) ranked.push(k);
  const ratio = (k: number) =>
    (hist[base + k * 2] as number) / ((hist[base + k * 2 + 1] as number) + CATEGORY_SMOOTHING);
  // Ties keep bin order (Array.prototype.sort is stable), so the split is deterministic.
  ranked.sort((a, b) => ratio(a) - ratio(b));
  // At least one ranked category stays right: all of them left would leave the right side only the
  // unranked ones, which ranking has just called noise. (Prefixes from the other end as well gave
  // AUC 0.719 on flights-3m, but with larger sets serving took twice as long.)
  const split = bestPrefix(scan, ranked, Math.min(o.maxSetSize, ranked.length - 1));
  if (!split) return undefined;
  return { ...split, bin: -1, leftBins: ranked.slice(0, split.bin + 1).sort((a, b) => a - b) };
};

/**
 * Fills `out` (BINS entries) with 1 for each bin that split node `node` sends left: bins agree with
 * the thresholds by construction, and a set's codes are its bins (see categoryCuts). Training, the margins of other
 * channels and a resumed checkpoint all route rows by this one reading of the tree.
 */
const fillLeftOfBins = (tree: Tree, node: number, out: Uint8Array): void => {
  out.fill(0);
  const set = tree.categories[node];
  if (set) for (const code of set) out[code] = 1;
  else out.fill(1, 0, (tree.bin[node] as number) + 1);
  out[MISSING_BIN] = tree.missingLeft[node] as number;
};

/** The level pass's form of a node's routing: bit b of word b >> 5 set when bin b goes right. */
const rightBinsMask = (leftOf: Uint8Array): Int32Array => {
  const mask = new Int32Array(BINS >> 5);
  for (let b = 0; b < BINS; b++)
    if (leftOf[b] === 0) mask[b >> 5] = (mask[b >> 5] as number) | (1 << (b & 31));
  return mask;
};

/**
 * Grows one tree, level by level, on rows [0, count) with the gradients in `builder.gradients` (a
 * row left out by sampling has zero ones). Afterwards `builder.nodeOf[row]` is the row's leaf, so
 * the caller can move margins without walking the tree again.
 */
export const growTree = (binned: Binned, builder: HistogramBuilder, count: number, o: GrowOptions): Tree => {
  const tree: Tree = {
    feature: [],
    threshold: [],
    bin: [],
    left: [],
    right: [],
    missingLeft: [],
    value: [],
    categories: [],
  };
  const { gradients } = builder;
  const slotSize = binned.width * BINS * 2;
  const leftOf = new Uint8Array(BINS);
  const addNode = (): number => {
    const node = tree.feature.length;
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.bin.push(-1);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.missingLeft.push(0);
    tree.value.push(0);
    tree.categories.push(null);
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
      // A set's bins are its codes: the shared last bin is never in one (bestSetSplit).
      if (split.leftBins) tree.categories[node] = split.leftBins;
      else {
        tree.threshold[node] = (binned.cuts[split.feature] as Float32Array)[split.bin] as number;
        tree.bin[node] = split.bin;
      }
      tree.missingLeft[node] = split.missingLeft ? 1 : 0;
      const left = addNode();
      const right = addNode();
      tree.left[node] = left;
      tree.right[node] = right;
      fillLeftOfBins(tree, node, leftOf);
      builder.split(node, split.feature, rightBinsMask(leftOf), left);
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

/** Per node, per bin: 1 when a row with that bin goes left (see fillLeftOfBins). */
export const leftOfBins = (tree: Tree): Uint8Array => {
  const table = new Uint8Array(tree.feature.length * BINS);
  tree.feature.forEach((feature, node) => {
    if (feature >= 0) fillLeftOfBins(tree, node, table.subarray(node * BINS, (node + 1) * BINS));
  });
  return table;
};

/** The leaf a binned row reaches, with the tree's `leftOfBins` table. */
export const leafOfBinned = (tree: Tree, leftOf: Uint8Array, binned: Binned, row: number): number => {
  let node = 0;
  const base = row * binned.width;
  for (let f = tree.feature[0] as number; f >= 0; f = tree.feature[node] as number) {
    const b = binned.bins[base + f] as number;
    node = (leftOf[node * BINS + b] === 1 ? tree.left[node] : tree.right[node]) as number;
  }
  return node;
};
