/**
 * Half-Space Trees (Tan, Ting & Liu, "Fast anomaly detection for streaming
 * data", IJCAI 2011): the online model of detection v2. It learns on every
 * event (River's `learn_one` / `score_one` shape) with constant memory and
 * time, and adapts to drift by swapping its reference window every
 * `windowSize` events.
 *
 * Each tree splits random dimensions at the middle of a random work range of
 * the unit cube, to a fixed depth. A node counts the events of the latest
 * window (`l`) and keeps the counts of the previous, complete window (`r`).
 * An event's mass score is Σ over trees of r(node) · 2^depth at the deepest
 * node on its path whose r is at least `sizeLimit`: dense regions score high.
 * Sentinel reports `anomaly = 1 − mass / maxMass` (0 = normal, 1 = never seen).
 *
 * Inputs are the robust z-scores squashed into [0, 1] by ½ + atan(z/4)/π, so
 * the unit cube covers every z without clipping. Pure and seeded.
 *
 * @module
 */
import { Random } from "../lib/random.ts";

/** Options of a {@linkcode HalfSpaceTrees}. */
export interface HstOptions {
  dims: number;
  trees?: number;
  depth?: number;
  windowSize?: number;
  sizeLimit?: number;
  seed?: number;
}

/** Persisted state: the tree structure is rebuilt from the seed; only masses are saved. */
export interface HstState {
  r: number[];
  l: number[];
  count: number;
  windows: number;
}

/** ½ + atan(z/4)/π: a z-score into (0, 1). */
export function squash(z: number): number {
  return 0.5 + Math.atan(z / 4) / Math.PI;
}

/**
 * Half-Space Trees over `dims` features in [0, 1].
 *
 * @example
 * ```ts
 * import { HalfSpaceTrees } from "./hst.ts";
 * const h = new HalfSpaceTrees({ dims: 2, windowSize: 100, seed: 1 });
 * for (let i = 0; i < 1000; i++) h.learn([0.5 + (i % 10) / 100, 0.5]);
 * console.log(h.score([0.52, 0.5]) < h.score([0.05, 0.95])); // true
 * ```
 */
export class HalfSpaceTrees {
  readonly trees: number;
  readonly depth: number;
  readonly windowSize: number;
  readonly sizeLimit: number;
  readonly dims: number;
  /** per node (trees × (2^(depth+1) − 1), heap order): split dimension and value */
  readonly #dim: Int32Array;
  readonly #split: Float64Array;
  readonly #r: Float64Array;
  readonly #l: Float64Array;
  readonly #nodes: number;
  #count = 0;
  #windows = 0;
  readonly #maxMass: number;

  constructor(o: HstOptions) {
    this.dims = o.dims;
    this.trees = o.trees ?? 25;
    this.depth = o.depth ?? 8;
    this.windowSize = o.windowSize ?? 250;
    this.sizeLimit = o.sizeLimit ?? Math.max(1, Math.floor(0.1 * this.windowSize));
    this.#nodes = 2 ** (this.depth + 1) - 1;
    const n = this.trees * this.#nodes;
    this.#dim = new Int32Array(n);
    this.#split = new Float64Array(n);
    this.#r = new Float64Array(n);
    this.#l = new Float64Array(n);
    const rnd = new Random(o.seed ?? 0);
    for (let t = 0; t < this.trees; t++) {
      // Work range per dimension: s_q random in [0,1], range [s − 2·max(s, 1−s), s + 2·max(s, 1−s)].
      const lo = new Float64Array(this.dims);
      const hi = new Float64Array(this.dims);
      for (let q = 0; q < this.dims; q++) {
        const s = rnd.float();
        const w = 2 * Math.max(s, 1 - s);
        lo[q] = s - w;
        hi[q] = s + w;
      }
      this.#build(t * this.#nodes, 0, 0, lo, hi, rnd);
    }
    this.#maxMass = this.trees * this.windowSize * 2 ** this.depth;
  }

  #build(
    base: number,
    node: number,
    level: number,
    lo: Float64Array,
    hi: Float64Array,
    rnd: Random,
  ): void {
    if (level === this.depth) return;
    const q = rnd.int(this.dims);
    const mid = (lo[q] + hi[q]) / 2;
    this.#dim[base + node] = q;
    this.#split[base + node] = mid;
    const h0 = hi[q];
    hi[q] = mid;
    this.#build(base, 2 * node + 1, level + 1, lo, hi, rnd);
    hi[q] = h0;
    const l0 = lo[q];
    lo[q] = mid;
    this.#build(base, 2 * node + 2, level + 1, lo, hi, rnd);
    lo[q] = l0;
  }

  /** Anomaly in [0, 1]: 1 − mass / maxMass; 0.5 (unknown) before the first complete window. */
  score(x: ArrayLike<number>): number {
    if (this.#windows === 0) return 0.5;
    let mass = 0;
    for (let t = 0; t < this.trees; t++) {
      const base = t * this.#nodes;
      let node = 0;
      let level = 0;
      while (level < this.depth) {
        const next = x[this.#dim[base + node]] < this.#split[base + node]
          ? 2 * node + 1
          : 2 * node + 2;
        if (this.#r[base + next] < this.sizeLimit) break;
        node = next;
        level++;
      }
      mass += this.#r[base + node] * 2 ** level;
    }
    return Math.min(1, Math.max(0, 1 - mass / this.#maxMass));
  }

  /** Learns one event: counts it in the latest window; swaps windows every `windowSize`. */
  learn(x: ArrayLike<number>): void {
    for (let t = 0; t < this.trees; t++) {
      const base = t * this.#nodes;
      let node = 0;
      this.#l[base]++;
      for (let level = 0; level < this.depth; level++) {
        node = x[this.#dim[base + node]] < this.#split[base + node] ? 2 * node + 1 : 2 * node + 2;
        this.#l[base + node]++;
      }
    }
    if (++this.#count >= this.windowSize) {
      this.#r.set(this.#l);
      this.#l.fill(0);
      this.#count = 0;
      this.#windows++;
    }
  }

  /** Masses as plain JSON (sparse would be smaller; the structure comes from the seed). */
  toJSON(): HstState {
    return {
      r: Array.from(this.#r),
      l: Array.from(this.#l),
      count: this.#count,
      windows: this.#windows,
    };
  }

  /** A model with options `o` continuing from `s`. */
  static fromJSON(o: HstOptions, s: HstState): HalfSpaceTrees {
    const h = new HalfSpaceTrees(o);
    if (s.r.length === h.#r.length && s.l.length === h.#l.length) {
      h.#r.set(s.r);
      h.#l.set(s.l);
      h.#count = s.count;
      h.#windows = s.windows;
    }
    return h;
  }
}
