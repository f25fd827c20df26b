/**
 * Isolation Forest (Liu, Ting & Zhou 2008) with scikit-learn's semantics
 * (DESIGN.md section 6), stored flat in typed arrays so that scoring touches
 * no per-node objects. The node arrays (feature, threshold, left, right,
 * n_samples, all trees concatenated) are the canonical form; for scoring each
 * forest up to depth 10 is also compiled into a branch-free complete-tree
 * layout (see `HeapLayout` below).
 *
 * Two sklearn details are kept on purpose so that an exported sklearn forest
 * scores identically (tests/sklearn_parity_test.ts):
 * - trees read their inputs as float32: sklearn casts `X` to `np.float32`
 *   before `tree.apply`, and compares that float32 against a float64
 *   threshold. Here each input is `Math.fround`ed once and compared the same way.
 * - a leaf contributes `(sklearnDepth + c(n)) − 1` where `sklearnDepth` counts
 *   the root as 1, i.e. our depth + c(n), summed tree by tree in order.
 *
 * @module
 */
import { Random } from "../lib/random.ts";
import { percentileOfSorted } from "./metrics.ts";

/** Euler–Mascheroni constant as numpy's `np.euler_gamma`. */
const EULER_GAMMA = 0.5772156649015329;
/** sklearn's `FEATURE_THRESHOLD`: a feature whose node range is at most this is constant. */
const FEATURE_THRESHOLD = 1e-7;
/** Rows scored per block in batch scoring: inputs and sums of a block stay in L2 across trees. */
const SCORE_BLOCK_ROWS = 2048;
/**
 * Deepest forest compiled to the complete-tree scoring layout: 2^10 leaf
 * slots × 8 B + 1023 nodes × 12 B ≈ 20 KB per tree, still L1-sized. ψ = 256
 * (depth 8) needs 5 KB per tree. Deeper forests are walked node by node.
 */
const MAX_COMPILED_DEPTH = 10;

/**
 * Average path length of an unsuccessful search in a binary search tree of
 * `n` points, c(n), used to normalise path lengths (sklearn's
 * `_average_path_length`): c(0) = c(1) = 0, c(2) = 1,
 * c(n) = 2 (ln(n − 1) + γ) − 2 (n − 1) / n.
 *
 * @example
 * ```ts
 * import { averagePathLength } from "./forest.ts";
 * console.log(averagePathLength(2)); // 1
 * ```
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/** Training parameters; every field has a default in {@linkcode DEFAULT_FOREST_PARAMS}. */
export interface ForestParams {
  /** Number of trees. */
  nEstimators: number;
  /** Sub-sample size per tree: `"auto"` = min(256, rows), or a positive integer (capped at rows). */
  maxSamples: number | "auto";
  /** Expected anomaly share in (0, 0.5] that sets `offset`, or `"auto"` for offset −0.5. */
  contamination: number | "auto";
  /** Seed of the {@linkcode Random} that draws sub-samples, features and thresholds. */
  seed: number;
}

/** The defaults, spelled out once (DESIGN.md section 13: N_ESTIMATORS 200, CONTAMINATION 0.01). */
export const DEFAULT_FOREST_PARAMS: Readonly<ForestParams> = Object.freeze({
  nEstimators: 200,
  maxSamples: "auto",
  contamination: 0.01,
  seed: 0,
});

/**
 * One tree in the bundle's JSON form: parallel arrays indexed by node, root
 * at 0, children after their parent. Leaves have `feature`, `left` and
 * `right` −1; internal nodes go left when `x <= threshold`.
 */
export interface TreeJSON {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  n_samples: number[];
}

/** The forest's part of a bundle: `params`, `offset`, `trees`. */
export interface ForestJSON {
  params: {
    n_estimators: number;
    max_samples: number;
    contamination: number | "auto";
    seed: number;
  };
  offset: number;
  trees: TreeJSON[];
}

/**
 * Why a tree is malformed for `nFeatures` inputs, or `null` when it is sound:
 * equal array lengths, leaves marked consistently, features in range, finite
 * thresholds, positive integer sample counts, and every child index greater
 * than its parent's with each non-root node having exactly one parent (so
 * the nodes form one tree rooted at 0 and a walk always terminates). sklearn's
 * depth-first builder produces exactly this shape.
 *
 * @example
 * ```ts
 * import { treeProblem } from "./forest.ts";
 * const leaf = { feature: [-1], threshold: [0], left: [-1], right: [-1], n_samples: [1] };
 * console.log(treeProblem(leaf, 5)); // null
 * ```
 */
export function treeProblem(tree: TreeJSON, nFeatures: number): string | null {
  const n = tree.feature.length;
  if (n === 0) return "tree has no nodes";
  for (const key of ["threshold", "left", "right", "n_samples"] as const) {
    if (tree[key].length !== n) return `${key} has ${tree[key].length} entries, feature has ${n}`;
  }
  const parents = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const f = tree.feature[i], l = tree.left[i], r = tree.right[i], s = tree.n_samples[i];
    if (!Number.isInteger(s) || s < 1) return `node ${i}: n_samples must be a positive integer`;
    if (f === -1) {
      if (l !== -1 || r !== -1) return `node ${i}: a leaf (feature -1) must have left = right = -1`;
      continue;
    }
    if (!Number.isInteger(f) || f < 0 || f >= nFeatures) {
      return `node ${i}: feature ${f} out of range [0, ${nFeatures})`;
    }
    if (!Number.isFinite(tree.threshold[i])) return `node ${i}: threshold must be finite`;
    for (const child of [l, r]) {
      if (!Number.isInteger(child) || child <= i || child >= n) {
        return `node ${i}: child ${child} must be an index in (${i}, ${n})`;
      }
      parents[child]++;
    }
    if (l === r) return `node ${i}: left and right are the same node`;
  }
  for (let i = 1; i < n; i++) {
    if (parents[i] !== 1) return `node ${i} has ${parents[i]} parents, expected 1`;
  }
  return null;
}

/**
 * An isolation forest over `nFeatures` columns. Fit one with
 * {@linkcode IsolationForest.fit} or load one with
 * {@linkcode IsolationForest.fromJSON}; scores follow sklearn:
 * `scoreSamples` = −2^(−E[h(x)]/c(ψ)) in [−1, 0), lower = more anomalous;
 * `decisionFunction` = scoreSamples − offset, negative = anomaly.
 *
 * @example
 * ```ts
 * import { IsolationForest } from "./forest.ts";
 * import { Random } from "../lib/random.ts";
 * const rnd = new Random(1), rows = 500, X = new Float64Array(rows * 2);
 * for (let i = 0; i < X.length; i++) X[i] = rnd.normal();
 * const forest = IsolationForest.fit(X, rows, 2, { nEstimators: 50, seed: 7 });
 * console.log(forest.scoreOne([0, 0]) > forest.scoreOne([6, -6])); // true
 * ```
 */
export class IsolationForest {
  /** Number of input columns. */
  readonly nFeatures: number;
  /** Sub-sample size ψ each tree was grown on; sets the normaliser c(ψ). */
  readonly maxSamples: number;
  /** Parameters as trained (reported in the bundle). */
  readonly params: ForestJSON["params"];
  /** Split feature per node, −1 for a leaf (all trees concatenated). */
  readonly feature: Int32Array;
  /** Split threshold per node (0 for a leaf). */
  readonly threshold: Float64Array;
  /** Left child per node as an index into the concatenated arrays, −1 for a leaf. */
  readonly left: Int32Array;
  /** Right child per node, same convention as `left`. */
  readonly right: Int32Array;
  /** Training samples that reached each node. */
  readonly nSamples: Int32Array;
  /** Per leaf, the path length it contributes: depth + c(leaf size); 0 for internal nodes. */
  readonly leafValue: Float64Array;
  /** Index of each tree's root in the concatenated arrays. */
  readonly roots: Int32Array;
  readonly #denominator: number;
  readonly #row: Float64Array;
  readonly #heap: HeapLayout | null;
  #offset: number;

  private constructor(
    nFeatures: number,
    maxSamples: number,
    offset: number,
    params: ForestJSON["params"],
    nodes: FlatNodes,
  ) {
    this.nFeatures = nFeatures;
    this.maxSamples = maxSamples;
    this.#offset = offset;
    this.params = params;
    this.feature = nodes.feature;
    this.threshold = nodes.threshold;
    this.left = nodes.left;
    this.right = nodes.right;
    this.nSamples = nodes.nSamples;
    this.roots = nodes.roots;
    const depth = nodeDepths(nodes);
    this.leafValue = leafValues(nodes, depth);
    this.#heap = compileHeap(nodes, depth, this.leafValue);
    // sklearn: denominator = n_trees * c(ψ); a zero denominator (ψ = 1) scores every row −0.5.
    this.#denominator = this.roots.length * averagePathLength(maxSamples);
    this.#row = new Float64Array(nFeatures);
  }

  /** Threshold on `scoreSamples`: below it a row is an anomaly (sklearn's `offset_`). */
  get offset(): number {
    return this.#offset;
  }

  /** Number of trees. */
  get nEstimators(): number {
    return this.roots.length;
  }

  /**
   * Grows a forest on `rows × cols` row-major data. `random` defaults to
   * `new Random(params.seed)`: same data + same seed → identical trees.
   * With a numeric contamination the offset is that quantile of the training
   * rows' `scoreSamples`, so fitting includes scoring every training row.
   */
  static fit(
    X: Float64Array,
    rows: number,
    cols: number,
    params: Partial<ForestParams> = {},
    random?: Random,
  ): IsolationForest {
    const p = resolveParams(params);
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
      throw new RangeError(`bad shape ${rows} × ${cols}`);
    }
    if (X.length !== rows * cols) {
      throw new RangeError(`expected ${rows} × ${cols} = ${rows * cols} values, got ${X.length}`);
    }
    const x32 = new Float32Array(rows * cols);
    for (let i = 0; i < x32.length; i++) {
      const v = X[i];
      if (!Number.isFinite(v)) {
        throw new RangeError(`value ${i} (row ${Math.floor(i / cols)}) is not finite`);
      }
      x32[i] = v;
    }
    const psi = p.maxSamples === "auto" ? Math.min(256, rows) : Math.min(p.maxSamples, rows);
    const nodes = growTrees(x32, rows, cols, psi, p.nEstimators, random ?? new Random(p.seed));
    const jsonParams = {
      n_estimators: p.nEstimators,
      max_samples: psi,
      contamination: p.contamination,
      seed: p.seed,
    };
    // sklearn: −0.5 for "auto", the paper's threshold s = 0.5 with the sign flipped.
    const forest = new IsolationForest(cols, psi, -0.5, jsonParams, nodes);
    if (p.contamination !== "auto") {
      const scores = new Float64Array(rows);
      forest.#scoreFloat32(x32, rows, scores);
      // As sklearn: np.percentile(score_samples(X_train), 100 * contamination).
      forest.#offset = percentileOfSorted(scores.sort(), 100 * p.contamination);
    }
    return forest;
  }

  /** Loads a forest from its bundle form, validating every tree (throws on a malformed one). */
  static fromJSON(json: ForestJSON, nFeatures: number): IsolationForest {
    const { params, offset, trees } = json;
    if (trees.length === 0) throw new RangeError("a forest needs at least one tree");
    if (!Number.isInteger(params.max_samples) || params.max_samples < 1) {
      throw new RangeError(`max_samples must be a positive integer, got ${params.max_samples}`);
    }
    if (!Number.isFinite(offset)) throw new RangeError("offset must be finite");
    let total = 0;
    for (let t = 0; t < trees.length; t++) {
      const problem = treeProblem(trees[t], nFeatures);
      if (problem) throw new RangeError(`tree ${t}: ${problem}`);
      total += trees[t].feature.length;
    }
    const nodes = allocNodes(total, trees.length);
    let base = 0;
    for (let t = 0; t < trees.length; t++) {
      const tree = trees[t];
      nodes.roots[t] = base;
      for (let i = 0; i < tree.feature.length; i++) {
        const leaf = tree.feature[i] === -1;
        nodes.feature[base + i] = tree.feature[i];
        nodes.threshold[base + i] = leaf ? 0 : tree.threshold[i];
        nodes.left[base + i] = leaf ? -1 : base + tree.left[i];
        nodes.right[base + i] = leaf ? -1 : base + tree.right[i];
        nodes.nSamples[base + i] = tree.n_samples[i];
      }
      base += tree.feature.length;
    }
    return new IsolationForest(nFeatures, params.max_samples, offset, { ...params }, nodes);
  }

  /** The bundle's `params`, `offset` and `trees` (child indices local to each tree). */
  toJSON(): ForestJSON {
    const trees: TreeJSON[] = [];
    for (let t = 0; t < this.roots.length; t++) {
      const start = this.roots[t];
      const end = t + 1 < this.roots.length ? this.roots[t + 1] : this.feature.length;
      const tree: TreeJSON = { feature: [], threshold: [], left: [], right: [], n_samples: [] };
      for (let i = start; i < end; i++) {
        const leaf = this.feature[i] < 0;
        tree.feature.push(this.feature[i]);
        tree.threshold.push(this.threshold[i]);
        tree.left.push(leaf ? -1 : this.left[i] - start);
        tree.right.push(leaf ? -1 : this.right[i] - start);
        tree.n_samples.push(this.nSamples[i]);
      }
      trees.push(tree);
    }
    return { params: { ...this.params }, offset: this.offset, trees };
  }

  /** sklearn's `score_samples` for `rows` row-major rows: −2^(−E[h]/c(ψ)), lower = more anomalous. */
  scoreSamples(X: ArrayLike<number>, rows: number): Float64Array {
    const cols = this.nFeatures;
    if (X.length !== rows * cols) {
      throw new RangeError(`expected ${rows} × ${cols} = ${rows * cols} values, got ${X.length}`);
    }
    // One float32 copy: the rounding sklearn applies, and half the bytes to stream per tree.
    const x32 = X instanceof Float32Array ? X : new Float32Array(X);
    const out = new Float64Array(rows);
    this.#scoreFloat32(x32, rows, out);
    return out;
  }

  /** `scoreSamples` of one row, without allocating. */
  scoreOne(row: ArrayLike<number>): number {
    const cols = this.nFeatures;
    if (row.length !== cols) throw new RangeError(`expected ${cols} values, got ${row.length}`);
    const x = this.#row;
    for (let c = 0; c < cols; c++) x[c] = Math.fround(row[c]);
    const heap = this.#heap;
    return this.#toScore(heap ? heapPathSumOne(heap, x) : nodePathSumOne(this, x));
  }

  /** sklearn's `decision_function`: `scoreSamples − offset`, negative = anomaly. */
  decisionFunction(X: ArrayLike<number>, rows: number): Float64Array {
    const out = this.scoreSamples(X, rows);
    for (let i = 0; i < rows; i++) out[i] -= this.offset;
    return out;
  }

  /** Per row 1 = anomaly (decision function < 0), 0 = normal (sklearn's −1 / 1). */
  predict(X: ArrayLike<number>, rows: number): Uint8Array {
    const scores = this.scoreSamples(X, rows);
    const out = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) out[i] = scores[i] - this.offset < 0 ? 1 : 0;
    return out;
  }

  #toScore(depthSum: number): number {
    const d = this.#denominator;
    return -Math.pow(2, -(d !== 0 ? depthSum / d : 1));
  }

  // Tree-outer, row-inner within blocks of rows: one tree's nodes stay in L1
  // while a block of rows walks it, and the block's inputs stay in L2 across trees.
  #scoreFloat32(x: Float32Array, rows: number, out: Float64Array): void {
    out.fill(0, 0, rows);
    const heap = this.#heap;
    for (let start = 0; start < rows; start += SCORE_BLOCK_ROWS) {
      const end = Math.min(rows, start + SCORE_BLOCK_ROWS);
      if (heap) heapPathSums(heap, x, this.nFeatures, start, end, out);
      else nodePathSums(this, x, start, end, out);
    }
    for (let r = 0; r < rows; r++) out[r] = this.#toScore(out[r]);
  }
}

/**
 * The scoring layout: every tree padded to a complete binary tree of the
 * forest's depth D and stored in heap order (children of slot i at 2i + 1 and
 * 2i + 2), so a walk is exactly D steps of `i = 2i + 1 + (x > threshold)` —
 * no leaf test, no data-dependent branch, and several walks can be
 * interleaved to keep the CPU busy. A leaf above depth D becomes a chain of
 * padding nodes with a NaN threshold (`x <= NaN` is false for every x, NaN
 * included, so they always go right) ending at a leaf slot holding its value.
 * The node arrays stay the canonical form (JSON, inspection); this is derived.
 */
interface HeapLayout {
  depth: number;
  /** 2^D − 1: node slots per tree. */
  nodesPerTree: number;
  /** 2^D: leaf slots per tree. */
  leavesPerTree: number;
  nTrees: number;
  feature: Int32Array;
  threshold: Float64Array;
  leaf: Float64Array;
}

function compileHeap(
  nodes: FlatNodes,
  depth: Int32Array,
  leafValue: Float64Array,
): HeapLayout | null {
  let maxDepth = 0;
  for (let i = 0; i < depth.length; i++) if (depth[i] > maxDepth) maxDepth = depth[i];
  if (maxDepth > MAX_COMPILED_DEPTH) return null;
  const nTrees = nodes.roots.length;
  const nodesPerTree = (1 << maxDepth) - 1, leavesPerTree = 1 << maxDepth;
  const heap: HeapLayout = {
    depth: maxDepth,
    nodesPerTree,
    leavesPerTree,
    nTrees,
    feature: new Int32Array(nTrees * nodesPerTree),
    threshold: new Float64Array(nTrees * nodesPerTree),
    leaf: new Float64Array(nTrees * leavesPerTree),
  };
  // Unreachable slots (under padding) keep feature 0 / threshold 0 / leaf 0.
  const stackSize = 2 * (maxDepth + 2);
  const stSrc = new Int32Array(stackSize), stPos = new Int32Array(stackSize);
  for (let t = 0; t < nTrees; t++) {
    const nodeBase = t * nodesPerTree, leafBase = t * leavesPerTree - nodesPerTree;
    let sp = 0;
    stSrc[sp] = nodes.roots[t], stPos[sp] = 0, sp++;
    while (sp > 0) {
      sp--;
      const src = stSrc[sp], pos = stPos[sp];
      if (pos >= nodesPerTree) {
        heap.leaf[leafBase + pos] = leafValue[src];
      } else if (nodes.feature[src] < 0) {
        heap.threshold[nodeBase + pos] = NaN;
        stSrc[sp] = src, stPos[sp] = 2 * pos + 2, sp++;
      } else {
        heap.feature[nodeBase + pos] = nodes.feature[src];
        heap.threshold[nodeBase + pos] = nodes.threshold[src];
        stSrc[sp] = nodes.left[src], stPos[sp] = 2 * pos + 1, sp++;
        stSrc[sp] = nodes.right[src], stPos[sp] = 2 * pos + 2, sp++;
      }
    }
  }
  return heap;
}

// The heap kernels below are deliberately unrolled eight ways: eight independent
// walks (eight rows of one tree, or eight trees of one row) overlap their memory
// latency. `+!(x <= t)` is 1 for "go right" and compiles to a flag move, not a
// branch; it sends NaN right, as sklearn does for trees fitted without missing
// values. Per row, tree contributions are still added in tree order (sklearn's order).

function heapPathSums(
  heap: HeapLayout,
  x: Float32Array,
  cols: number,
  start: number,
  end: number,
  out: Float64Array,
): void {
  const feature = heap.feature, threshold = heap.threshold, leaf = heap.leaf;
  const depth = heap.depth, nodesPerTree = heap.nodesPerTree, leavesPerTree = heap.leavesPerTree;
  for (let t = 0; t < heap.nTrees; t++) {
    const n = t * nodesPerTree, l = t * leavesPerTree - nodesPerTree;
    let r = start;
    for (; r + 8 <= end; r += 8) {
      const b0 = r * cols, b1 = b0 + cols, b2 = b1 + cols, b3 = b2 + cols;
      const b4 = b3 + cols, b5 = b4 + cols, b6 = b5 + cols, b7 = b6 + cols;
      let i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
      for (let d = 0; d < depth; d++) {
        i0 = 2 * i0 + 1 + +!(x[b0 + feature[n + i0]] <= threshold[n + i0]);
        i1 = 2 * i1 + 1 + +!(x[b1 + feature[n + i1]] <= threshold[n + i1]);
        i2 = 2 * i2 + 1 + +!(x[b2 + feature[n + i2]] <= threshold[n + i2]);
        i3 = 2 * i3 + 1 + +!(x[b3 + feature[n + i3]] <= threshold[n + i3]);
        i4 = 2 * i4 + 1 + +!(x[b4 + feature[n + i4]] <= threshold[n + i4]);
        i5 = 2 * i5 + 1 + +!(x[b5 + feature[n + i5]] <= threshold[n + i5]);
        i6 = 2 * i6 + 1 + +!(x[b6 + feature[n + i6]] <= threshold[n + i6]);
        i7 = 2 * i7 + 1 + +!(x[b7 + feature[n + i7]] <= threshold[n + i7]);
      }
      out[r] += leaf[l + i0];
      out[r + 1] += leaf[l + i1];
      out[r + 2] += leaf[l + i2];
      out[r + 3] += leaf[l + i3];
      out[r + 4] += leaf[l + i4];
      out[r + 5] += leaf[l + i5];
      out[r + 6] += leaf[l + i6];
      out[r + 7] += leaf[l + i7];
    }
    for (; r < end; r++) {
      const b = r * cols;
      let i = 0;
      for (let d = 0; d < depth; d++) i = 2 * i + 1 + +!(x[b + feature[n + i]] <= threshold[n + i]);
      out[r] += leaf[l + i];
    }
  }
}

function heapPathSumOne(heap: HeapLayout, x: Float64Array): number {
  const feature = heap.feature, threshold = heap.threshold, leaf = heap.leaf;
  const depth = heap.depth, N = heap.nodesPerTree, L = heap.leavesPerTree;
  let sum = 0;
  let t = 0;
  for (; t + 8 <= heap.nTrees; t += 8) {
    const n0 = t * N, n1 = n0 + N, n2 = n1 + N, n3 = n2 + N;
    const n4 = n3 + N, n5 = n4 + N, n6 = n5 + N, n7 = n6 + N;
    let i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, i6 = 0, i7 = 0;
    for (let d = 0; d < depth; d++) {
      i0 = 2 * i0 + 1 + +!(x[feature[n0 + i0]] <= threshold[n0 + i0]);
      i1 = 2 * i1 + 1 + +!(x[feature[n1 + i1]] <= threshold[n1 + i1]);
      i2 = 2 * i2 + 1 + +!(x[feature[n2 + i2]] <= threshold[n2 + i2]);
      i3 = 2 * i3 + 1 + +!(x[feature[n3 + i3]] <= threshold[n3 + i3]);
      i4 = 2 * i4 + 1 + +!(x[feature[n4 + i4]] <= threshold[n4 + i4]);
      i5 = 2 * i5 + 1 + +!(x[feature[n5 + i5]] <= threshold[n5 + i5]);
      i6 = 2 * i6 + 1 + +!(x[feature[n6 + i6]] <= threshold[n6 + i6]);
      i7 = 2 * i7 + 1 + +!(x[feature[n7 + i7]] <= threshold[n7 + i7]);
    }
    const l = t * L - N;
    sum += leaf[l + i0];
    sum += leaf[l + L + i1];
    sum += leaf[l + 2 * L + i2];
    sum += leaf[l + 3 * L + i3];
    sum += leaf[l + 4 * L + i4];
    sum += leaf[l + 5 * L + i5];
    sum += leaf[l + 6 * L + i6];
    sum += leaf[l + 7 * L + i7];
  }
  for (; t < heap.nTrees; t++) {
    const n = t * N;
    let i = 0;
    for (let d = 0; d < depth; d++) i = 2 * i + 1 + +!(x[feature[n + i]] <= threshold[n + i]);
    sum += leaf[t * L - N + i];
  }
  return sum;
}

// Node-by-node walks for forests deeper than MAX_COMPILED_DEPTH (ψ > 1024).

function nodePathSums(
  forest: IsolationForest,
  x: Float32Array,
  start: number,
  end: number,
  out: Float64Array,
): void {
  const cols = forest.nFeatures;
  const feature = forest.feature, threshold = forest.threshold;
  const left = forest.left,
    right = forest.right,
    leafValue = forest.leafValue,
    roots = forest.roots;
  for (let t = 0; t < roots.length; t++) {
    const root = roots[t];
    for (let r = start; r < end; r++) {
      const base = r * cols;
      let node = root;
      let f = feature[node];
      while (f >= 0) {
        node = x[base + f] <= threshold[node] ? left[node] : right[node];
        f = feature[node];
      }
      out[r] += leafValue[node];
    }
  }
}

function nodePathSumOne(forest: IsolationForest, x: Float64Array): number {
  const feature = forest.feature, threshold = forest.threshold;
  const left = forest.left,
    right = forest.right,
    leafValue = forest.leafValue,
    roots = forest.roots;
  let sum = 0;
  for (let t = 0; t < roots.length; t++) {
    let node = roots[t];
    let f = feature[node];
    while (f >= 0) {
      node = x[f] <= threshold[node] ? left[node] : right[node];
      f = feature[node];
    }
    sum += leafValue[node];
  }
  return sum;
}

interface FlatNodes {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  nSamples: Int32Array;
  roots: Int32Array;
}

function allocNodes(nodes: number, trees: number): FlatNodes {
  return {
    feature: new Int32Array(nodes),
    threshold: new Float64Array(nodes),
    left: new Int32Array(nodes),
    right: new Int32Array(nodes),
    nSamples: new Int32Array(nodes),
    roots: new Int32Array(trees),
  };
}

function growNodes(nodes: FlatNodes, capacity: number): FlatNodes {
  const grown = allocNodes(capacity, nodes.roots.length);
  grown.feature.set(nodes.feature);
  grown.threshold.set(nodes.threshold);
  grown.left.set(nodes.left);
  grown.right.set(nodes.right);
  grown.nSamples.set(nodes.nSamples);
  grown.roots.set(nodes.roots);
  return grown;
}

function resolveParams(params: Partial<ForestParams>): ForestParams {
  const p: ForestParams = { ...DEFAULT_FOREST_PARAMS };
  for (const key of Object.keys(params) as (keyof ForestParams)[]) {
    if (params[key] !== undefined) (p as unknown as Record<string, unknown>)[key] = params[key];
  }
  if (!Number.isInteger(p.nEstimators) || p.nEstimators < 1) {
    throw new RangeError(`nEstimators must be a positive integer, got ${p.nEstimators}`);
  }
  if (p.maxSamples !== "auto" && (!Number.isInteger(p.maxSamples) || p.maxSamples < 1)) {
    throw new RangeError(`maxSamples must be "auto" or a positive integer, got ${p.maxSamples}`);
  }
  if (p.contamination !== "auto" && !(p.contamination > 0 && p.contamination <= 0.5)) {
    throw new RangeError(`contamination must be "auto" or in (0, 0.5], got ${p.contamination}`);
  }
  if (!Number.isFinite(p.seed)) throw new RangeError(`seed must be a finite number, got ${p.seed}`);
  return p;
}

/** Depth of every node, each root at 0. */
function nodeDepths(nodes: FlatNodes): Int32Array {
  const n = nodes.feature.length;
  const depth = new Int32Array(n);
  // Children always come after their parent (checked on load, true by construction on fit),
  // so one forward pass sets every depth; roots stay 0 because the array starts zeroed.
  for (let i = 0; i < n; i++) {
    if (nodes.feature[i] >= 0) {
      depth[nodes.left[i]] = depth[i] + 1;
      depth[nodes.right[i]] = depth[i] + 1;
    }
  }
  return depth;
}

/** Each leaf's path-length contribution, computed exactly as sklearn adds it; 0 for internal nodes. */
function leafValues(nodes: FlatNodes, depth: Int32Array): Float64Array {
  const value = new Float64Array(depth.length);
  for (let i = 0; i < depth.length; i++) {
    if (nodes.feature[i] < 0) {
      // sklearn: decision_path_length (root = 1) + c(n_node_samples) − 1.0, in that order.
      value[i] = depth[i] + 1 + averagePathLength(nodes.nSamples[i]) - 1;
    }
  }
  return value;
}

/** Grows `nTrees` isolation trees on float32 data; returns them concatenated. */
function growTrees(
  x: Float32Array,
  rows: number,
  cols: number,
  psi: number,
  nTrees: number,
  random: Random,
): FlatNodes {
  const maxDepth = Math.ceil(Math.log2(Math.max(psi, 2)));
  const maxNodesPerTree = 2 * psi - 1;
  // One tree is grown into `tree` (sized for the worst case, 2ψ − 1 nodes), then
  // appended to `all`, which grows by doubling: memory follows the real node count.
  const tree = allocNodes(maxNodesPerTree, 0);
  let all = allocNodes(Math.min(nTrees * maxNodesPerTree, nTrees * 64), nTrees);
  const perm = new Int32Array(rows);
  for (let i = 0; i < rows; i++) perm[i] = i;
  const swaps = new Int32Array(psi);
  const sub = new Float32Array(psi * cols); // the tree's sub-sample, contiguous
  const idx = new Int32Array(psi); // rows of `sub`, partitioned in place as the tree grows
  const candidates = new Int32Array(cols);
  // Depth-first stack of (node, start, end, depth); a split pops one entry and pushes two.
  const stackSize = 2 * (maxDepth + 2);
  const stNode = new Int32Array(stackSize), stStart = new Int32Array(stackSize);
  const stEnd = new Int32Array(stackSize), stDepth = new Int32Array(stackSize);
  let total = 0;
  for (let t = 0; t < nTrees; t++) {
    // Sub-sample without replacement: a partial Fisher–Yates, undone afterwards in O(ψ).
    for (let i = 0; i < psi; i++) {
      const j = i + random.int(rows - i);
      swaps[i] = j;
      const tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }
    for (let i = 0; i < psi; i++) {
      const src = perm[i] * cols, dst = i * cols;
      for (let c = 0; c < cols; c++) sub[dst + c] = x[src + c];
      idx[i] = i;
    }
    for (let i = psi - 1; i >= 0; i--) {
      const j = swaps[i];
      const tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }

    let next = 0;
    const root = next++;
    let sp = 0;
    stNode[sp] = root, stStart[sp] = 0, stEnd[sp] = psi, stDepth[sp] = 0, sp++;
    while (sp > 0) {
      sp--;
      const node = stNode[sp], start = stStart[sp], end = stEnd[sp], depth = stDepth[sp];
      const n = end - start;
      tree.nSamples[node] = n;
      let splitFeature = -1, lo = 0, hi = 0;
      if (depth < maxDepth && n > 1) {
        // Uniform over features, skipping the ones constant at this node (as sklearn's
        // random splitter does); no non-constant feature left → leaf.
        for (let c = 0; c < cols; c++) candidates[c] = c;
        let k = cols;
        while (k > 0) {
          const j = random.int(k);
          const f = candidates[j];
          let min = Infinity, max = -Infinity;
          for (let i = start; i < end; i++) {
            const v = sub[idx[i] * cols + f];
            if (v < min) min = v;
            if (v > max) max = v;
          }
          if (max <= min + FEATURE_THRESHOLD) {
            candidates[j] = candidates[k - 1];
            k--;
            continue;
          }
          splitFeature = f, lo = min, hi = max;
          break;
        }
      }
      if (splitFeature < 0) {
        tree.feature[node] = -1;
        tree.threshold[node] = 0;
        tree.left[node] = -1;
        tree.right[node] = -1;
        continue;
      }
      let thr = lo + (hi - lo) * random.float();
      // sklearn's guard: a threshold equal to the max would leave the right side empty.
      if (thr === hi) thr = lo;
      // Partition idx[start, end): x <= thr to the front.
      let i = start, j = end - 1;
      while (i <= j) {
        if (sub[idx[i] * cols + splitFeature] <= thr) i++;
        else {
          const tmp = idx[i];
          idx[i] = idx[j];
          idx[j] = tmp;
          j--;
        }
      }
      const leftId = next++, rightId = next++;
      tree.feature[node] = splitFeature;
      tree.threshold[node] = thr;
      tree.left[node] = leftId;
      tree.right[node] = rightId;
      // Push right first so the left subtree is grown first (depth-first, like sklearn).
      stNode[sp] = rightId, stStart[sp] = i, stEnd[sp] = end, stDepth[sp] = depth + 1, sp++;
      stNode[sp] = leftId, stStart[sp] = start, stEnd[sp] = i, stDepth[sp] = depth + 1, sp++;
    }
    if (total + next > all.feature.length) {
      all = growNodes(all, Math.max(2 * all.feature.length, total + next));
    }
    all.roots[t] = total;
    for (let i = 0; i < next; i++) {
      const leaf = tree.feature[i] < 0;
      all.feature[total + i] = tree.feature[i];
      all.threshold[total + i] = tree.threshold[i];
      all.left[total + i] = leaf ? -1 : tree.left[i] + total;
      all.right[total + i] = leaf ? -1 : tree.right[i] + total;
      all.nSamples[total + i] = tree.nSamples[i];
    }
    total += next;
  }
  return {
    feature: all.feature.slice(0, total),
    threshold: all.threshold.slice(0, total),
    left: all.left.slice(0, total),
    right: all.right.slice(0, total),
    nSamples: all.nSamples.slice(0, total),
    roots: all.roots,
  };
}
