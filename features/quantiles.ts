/**
 * A streaming quantile sketch: an exponentially decayed histogram over fixed
 * bins, indexed by a Fenwick tree. Detection v2 (DESIGN.md section 16) needs
 * medians and upper quantiles of recent values (trade sizes, price
 * deviations) on every event, at any trade rate, with state small enough to
 * checkpoint with each batch.
 *
 * Why this shape rather than a sorted window or two heaps:
 * - O(log B) per update and per quantile (B = bins, a few thousand), whatever
 *   the history length; a sorted window of N values costs O(N) per update.
 * - Exponential forgetting by count (a half-life in observations) needs no
 *   ring of past values: every new value is added with weight `g^n` (g > 1),
 *   so older ones weigh less *relatively*; quantiles only depend on ratios.
 *   When weights grow large they are all rescaled at once (rare, O(B)).
 * - Accuracy is the bin width, a choice made once per use (e.g. 0.02 in
 *   ln-volume is a 2 % error on a trade size), and is tested against a brute
 *   force weighted quantile.
 *
 * State serialises as the non-negligible bins only (a few hundred numbers).
 *
 * @module
 */

/** Fixed bins: `[lo, lo + width)`, …; values outside are clamped to the end bins. */
export interface Binning {
  lo: number;
  hi: number;
  width: number;
}

/** Persisted form of a {@linkcode DecayedQuantiles}. */
export interface DecayedQuantilesState {
  /** bin indices with weight, ascending */
  bins: number[];
  /** weights of those bins, relative to `scale` */
  weights: number[];
  /** observations seen (capped; used for readiness) */
  seen: number;
}

const RESCALE_AT = 1e150;

/**
 * Exponentially decayed histogram with quantile queries.
 *
 * @example
 * ```ts
 * import { DecayedQuantiles } from "./quantiles.ts";
 * const q = new DecayedQuantiles({ lo: 0, hi: 100, width: 1 }, 1000);
 * for (let i = 0; i < 100; i++) q.add(i);
 * console.log(Math.round(q.quantile(0.5))); // 50 (the median of 0..99, to the bin width)
 * ```
 */
export class DecayedQuantiles {
  readonly binning: Binning;
  /** observations after which a value's weight has halved */
  readonly halfLife: number;
  readonly #n: number;
  /** Fenwick tree of bin weights (1-based) */
  readonly #tree: Float64Array;
  /** plain bin weights, for serialisation and rescaling */
  readonly #w: Float64Array;
  readonly #growth: number;
  #next = 1;
  #total = 0;
  #seen = 0;
  readonly #top: number;

  constructor(binning: Binning, halfLife: number) {
    if (!(binning.width > 0) || !(binning.hi > binning.lo)) {
      throw new RangeError("binning needs hi > lo and width > 0");
    }
    if (!(halfLife >= 1)) throw new RangeError(`halfLife must be >= 1, got ${halfLife}`);
    this.binning = binning;
    this.halfLife = halfLife;
    this.#n = Math.ceil((binning.hi - binning.lo) / binning.width);
    this.#tree = new Float64Array(this.#n + 1);
    this.#w = new Float64Array(this.#n);
    this.#growth = Math.pow(2, 1 / halfLife);
    let top = 1;
    while (top * 2 <= this.#n) top *= 2;
    this.#top = top;
  }

  /** Number of observations added (ever, including restored ones). */
  get seen(): number {
    return this.#seen;
  }

  /** Bin of a value (clamped to the range). */
  bin(x: number): number {
    const i = Math.floor((x - this.binning.lo) / this.binning.width);
    return i < 0 ? 0 : i >= this.#n ? this.#n - 1 : i;
  }

  /** Adds one observation (NaN is ignored). O(log B). */
  add(x: number): void {
    if (Number.isNaN(x)) return;
    this.#addWeight(this.bin(x), this.#next);
    this.#total += this.#next;
    this.#seen++;
    this.#next *= this.#growth;
    if (this.#next > RESCALE_AT) this.#rescale(1 / this.#next);
  }

  #addWeight(i: number, w: number): void {
    this.#w[i] += w;
    for (let k = i + 1; k <= this.#n; k += k & -k) this.#tree[k] += w;
  }

  #rescale(f: number): void {
    this.#tree.fill(0);
    let total = 0;
    for (let i = 0; i < this.#n; i++) {
      const w = this.#w[i] * f;
      // Weights that fall below 1e-300 of the newest are forgotten for good.
      this.#w[i] = w < 1e-300 ? 0 : w;
      total += this.#w[i];
    }
    for (let i = 0; i < this.#n; i++) {
      const w = this.#w[i];
      if (w === 0) continue;
      for (let k = i + 1; k <= this.#n; k += k & -k) this.#tree[k] += w;
    }
    this.#next *= f;
    this.#total = total;
  }

  /**
   * The q-quantile (0 ≤ q ≤ 1) of the decayed distribution, interpolated
   * inside its bin; NaN while empty. O(log B).
   */
  quantile(q: number): number {
    const total = this.#total;
    if (!(total > 0)) return NaN;
    const target = Math.min(1, Math.max(0, q)) * total;
    // Fenwick descent: the largest prefix of bins whose weight is < target.
    let pos = 0;
    let acc = 0;
    for (let step = this.#top; step > 0; step >>= 1) {
      const k = pos + step;
      if (k <= this.#n && acc + this.#tree[k] < target) {
        pos = k;
        acc += this.#tree[k];
      }
    }
    const i = Math.min(pos, this.#n - 1);
    const w = this.#w[i];
    const frac = w > 0 ? Math.min(1, Math.max(0, (target - acc) / w)) : 0.5;
    return this.binning.lo + (i + frac) * this.binning.width;
  }

  /** The decayed state as plain JSON (negligible bins dropped). */
  toJSON(): DecayedQuantilesState {
    const bins: number[] = [];
    const weights: number[] = [];
    const f = this.#next > 0 ? 1 / this.#next : 1;
    for (let i = 0; i < this.#n; i++) {
      const w = this.#w[i] * f;
      if (w > 1e-9 * this.#total * f) {
        bins.push(i);
        weights.push(Number(w.toPrecision(6)));
      }
    }
    return { bins, weights, seen: this.#seen };
  }

  /** A sketch with `binning` and `halfLife` continuing from `state`. */
  static fromJSON(
    binning: Binning,
    halfLife: number,
    state: DecayedQuantilesState,
  ): DecayedQuantiles {
    const q = new DecayedQuantiles(binning, halfLife);
    const n = Math.min(state.bins.length, state.weights.length);
    for (let j = 0; j < n; j++) {
      const i = state.bins[j];
      const w = state.weights[j];
      if (!Number.isInteger(i) || i < 0 || i >= q.#n || !(w > 0) || !Number.isFinite(w)) continue;
      q.#addWeight(i, w);
      q.#total += w;
    }
    q.#seen = Number.isFinite(state.seen) && state.seen > 0 ? Math.floor(state.seen) : 0;
    return q;
  }
}
