/**
 * Drift: has the live feature distribution moved away from the one the
 * active model was trained on? Compared per feature in the model's own
 * scaled units: the shift of the live mean, and the ratio of the live std, to
 * the training scaler's mean and scale. Pure: the trainer feeds it rows.
 *
 * @module
 */
import { FEATURE_NAMES, featureArray, type FeatureRow } from "../lib/contracts.ts";

/** Thresholds of {@linkcode detectDrift}. */
export interface DriftOptions {
  /** |live mean − training mean| / training scale above which a feature drifted (default 0.5) */
  maxMeanShift?: number;
  /** live std / training scale outside [1/r, r] means a feature drifted (default 2) */
  maxScaleRatio?: number;
  /** fewer usable rows than this: no verdict (default 500) */
  minRows?: number;
}

/** Per-feature comparison and the verdict. */
export interface DriftReport {
  drifted: boolean;
  rows: number;
  features: { name: string; mean_shift: number; scale_ratio: number; drifted: boolean }[];
  /** one line for logs and `/system-status` */
  summary: string;
}

/**
 * Compares live rows with a training scaler.
 *
 * @example
 * ```ts
 * import { detectDrift } from "./drift.ts";
 * const r = detectDrift([], { mean: [0, 0, 0, 0, 0], scale: [1, 1, 1, 1, 1] });
 * console.log(r.drifted, r.summary); // false "too few rows (0 < 500)"
 * ```
 */
export function detectDrift(
  rows: readonly FeatureRow[],
  scaler: { mean: ArrayLike<number>; scale: ArrayLike<number> },
  o: DriftOptions = {},
): DriftReport {
  const maxShift = o.maxMeanShift ?? 0.5;
  const maxRatio = o.maxScaleRatio ?? 2;
  const minRows = o.minRows ?? 500;
  const usable = rows.filter((r) => !r.warm_up);
  const k = FEATURE_NAMES.length;
  if (usable.length < minRows) {
    return {
      drifted: false,
      rows: usable.length,
      features: [],
      summary: `too few rows (${usable.length} < ${minRows})`,
    };
  }
  // Two passes per feature: the mean, then squared deviations (stable).
  const mean = new Array(k).fill(0);
  for (const r of usable) featureArray(r).forEach((x, j) => mean[j] += x);
  for (let j = 0; j < k; j++) mean[j] /= usable.length;
  const m2 = new Array(k).fill(0);
  for (const r of usable) featureArray(r).forEach((x, j) => m2[j] += (x - mean[j]) ** 2);
  const features = FEATURE_NAMES.map((name, j) => {
    const scale = scaler.scale[j] || 1;
    const std = Math.sqrt(m2[j] / usable.length);
    const mean_shift = Math.abs(mean[j] - scaler.mean[j]) / scale;
    const scale_ratio = std / scale;
    const drifted = mean_shift > maxShift || scale_ratio > maxRatio || scale_ratio < 1 / maxRatio;
    return { name, mean_shift, scale_ratio, drifted };
  });
  const bad = features.filter((f) => f.drifted);
  return {
    drifted: bad.length > 0,
    rows: usable.length,
    features,
    summary: bad.length
      ? `drift in ${
        bad.map((f) =>
          `${f.name} (shift ${f.mean_shift.toFixed(2)}, std ×${f.scale_ratio.toFixed(2)})`
        )
          .join(", ")
      }`
      : `no drift over ${usable.length} rows (largest shift ${
        Math.max(...features.map((f) => f.mean_shift)).toFixed(2)
      })`,
  };
}
