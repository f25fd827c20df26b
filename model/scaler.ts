/**
 * Standardisation in front of the forest (DESIGN.md section 6), with
 * scikit-learn's `StandardScaler` semantics so an exported sklearn scaler
 * transforms identically.
 *
 * @module
 */

/** The scaler's JSON form inside a bundle (`scaler: { mean, scale }`). */
export interface ScalerJSON {
  mean: number[];
  scale: number[];
}

/**
 * `(x − mean) / scale` per column, where `mean` is the column mean and `scale`
 * the population standard deviation (ddof 0). A constant column gets scale 1
 * (so it maps to 0 instead of NaN), as does one whose standard deviation is
 * below 10 machine epsilons, like scikit-learn's `_handle_zeros_in_scale`.
 * Matrices are row-major `Float64Array`s (`X[r * cols + c]`).
 *
 * @example
 * ```ts
 * import { StandardScaler } from "./scaler.ts";
 * const s = StandardScaler.fit(new Float64Array([1, 10, 3, 10]), 2, 2);
 * console.log(Array.from(s.transform(new Float64Array([1, 10, 3, 10]), 2))); // [-1, 0, 1, 0]
 * ```
 */
export class StandardScaler {
  /** Column means. */
  readonly mean: Float64Array;
  /** Column divisors (population std, or 1 for a constant column). */
  readonly scale: Float64Array;

  /** Wraps already known means and scales (e.g. from a bundle). */
  constructor(mean: ArrayLike<number>, scale: ArrayLike<number>) {
    if (mean.length !== scale.length) {
      throw new RangeError(`mean has ${mean.length} columns, scale has ${scale.length}`);
    }
    this.mean = Float64Array.from(mean);
    this.scale = Float64Array.from(scale);
    for (let c = 0; c < this.scale.length; c++) {
      if (
        !Number.isFinite(this.mean[c]) || !(this.scale[c] > 0) || !Number.isFinite(this.scale[c])
      ) {
        throw new RangeError(`column ${c}: mean must be finite and scale finite and > 0`);
      }
    }
  }

  /** Number of columns the scaler expects. */
  get cols(): number {
    return this.mean.length;
  }

  /**
   * Learns means and scales from `rows × cols` row-major data (at least one row).
   * Two passes (mean, then squared deviations) keep the variance accurate for
   * columns with a large mean and a tiny spread.
   */
  static fit(X: Float64Array, rows: number, cols: number): StandardScaler {
    checkShape(X, rows, cols);
    if (rows < 1) throw new RangeError("cannot fit a scaler on zero rows");
    const mean = new Float64Array(cols);
    const scale = new Float64Array(cols);
    for (let c = 0; c < cols; c++) {
      let sum = 0, min = Infinity, max = -Infinity;
      for (let r = 0; r < rows; r++) {
        const v = X[r * cols + c];
        if (!Number.isFinite(v)) throw new RangeError(`row ${r}, column ${c} is not finite`);
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const m = sum / rows;
      let ss = 0;
      for (let r = 0; r < rows; r++) {
        const d = X[r * cols + c] - m;
        ss += d * d;
      }
      const std = Math.sqrt(ss / rows);
      mean[c] = m;
      scale[c] = min === max || std < 10 * Number.EPSILON ? 1 : std;
    }
    return new StandardScaler(mean, scale);
  }

  /** Scales `rows` row-major rows into a new array. */
  transform(X: Float64Array, rows: number): Float64Array {
    const cols = this.cols;
    checkShape(X, rows, cols);
    const out = new Float64Array(rows * cols);
    const mean = this.mean, scale = this.scale;
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) out[base + c] = (X[base + c] - mean[c]) / scale[c];
    }
    return out;
  }

  /** Scales one row into `out` (no allocation on the hot path) and returns `out`. */
  transformRow(x: ArrayLike<number>, out: Float64Array): Float64Array {
    const cols = this.cols;
    if (x.length !== cols || out.length < cols) {
      throw new RangeError(`expected a row of ${cols} values (got ${x.length})`);
    }
    for (let c = 0; c < cols; c++) out[c] = (x[c] - this.mean[c]) / this.scale[c];
    return out;
  }

  /** The bundle's `scaler` object. */
  toJSON(): ScalerJSON {
    return { mean: Array.from(this.mean), scale: Array.from(this.scale) };
  }

  /** Inverse of {@linkcode StandardScaler.toJSON}. */
  static fromJSON(json: ScalerJSON): StandardScaler {
    return new StandardScaler(json.mean, json.scale);
  }
}

function checkShape(X: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1) {
    throw new RangeError(`bad shape ${rows} × ${cols}`);
  }
  if (X.length !== rows * cols) {
    throw new RangeError(`expected ${rows} × ${cols} = ${rows * cols} values, got ${X.length}`);
  }
}
