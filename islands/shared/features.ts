/**
 * The five model features as the browser knows them. The names are the
 * contract's (lib/contracts.ts `FEATURE_NAMES`, checked equal by
 * features_test.ts); they are repeated here so that the browser bundles do
 * not pull zod in.
 *
 * @module
 */

/** The five model features, in the model's order. */
export const FEATURE_NAMES = [
  "z_score_price",
  "z_score_log_return",
  "z_score_volume",
  "rolling_price_std",
  "rolling_volume_std",
] as const;
/** One of {@linkcode FEATURE_NAMES}. */
export type FeatureName = typeof FEATURE_NAMES[number];

/** Short labels for charts and tables. */
export const FEATURE_LABELS: Record<FeatureName, string> = {
  z_score_price: "z price",
  z_score_log_return: "z return",
  z_score_volume: "z volume",
  rolling_price_std: "price std",
  rolling_volume_std: "volume std",
};

/** What each feature means, for tooltips and the manual page. */
export const FEATURE_HELP: Record<FeatureName, string> = {
  z_score_price: "how many standard deviations the price is from the window's mean",
  z_score_log_return: "how unusual the move since the previous trade is (z of the log return)",
  z_score_volume: "how unusual the trade's size is (z of the volume)",
  rolling_price_std: "the window's price standard deviation relative to its mean (0.01 = 1 %)",
  rolling_volume_std: "the window's volume standard deviation relative to its mean",
};
