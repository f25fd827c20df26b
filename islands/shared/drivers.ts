/**
 * Why a prediction is an anomaly, in the model's own terms: each feature
 * standardized with the active model's scaler (the values the forest
 * actually splits on), largest |z| first.
 *
 * @module
 */
import { FEATURE_NAMES, type FeatureName } from "./features.ts";

/** A model's scaler as `/model-info` gives it: mean and scale by feature. */
export interface ScalerView {
  mean: Record<FeatureName, number>;
  scale: Record<FeatureName, number>;
}

/** One feature's part in a verdict. */
export interface Driver {
  feature: FeatureName;
  /** the raw feature value */
  value: number;
  /** the value standardized by the model's scaler */
  z: number;
}

/**
 * The five features of `p` with their standardized values, largest |z|
 * first. Without a scaler the three z-score features rank by their own value
 * and the two relative deviations are left out (they are not z-scores).
 *
 * @example
 * ```ts
 * import { drivers } from "./drivers.ts";
 * const p = { z_score_price: 8, z_score_log_return: -1, z_score_volume: 0.5,
 *   rolling_price_std: 0.01, rolling_volume_std: 0.6 };
 * console.log(drivers(p, null).map((d) => d.feature)[0]); // "z_score_price"
 * ```
 */
export function drivers(
  p: Readonly<Record<FeatureName, number>>,
  scaler: ScalerView | null,
): Driver[] {
  const out: Driver[] = [];
  for (const f of FEATURE_NAMES) {
    const value = p[f];
    if (scaler) {
      const scale = scaler.scale[f];
      out.push({ feature: f, value, z: scale > 0 ? (value - scaler.mean[f]) / scale : 0 });
    } else if (f.startsWith("z_score")) {
      out.push({ feature: f, value, z: value });
    }
  }
  return out.sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
}
