/**
 * The Manual Test page's presets: a feature vector for a quiet trade and one
 * for each anomaly the simulator injects, each one that models trained on the
 * default simulated stream classify as expected.
 *
 * Where the numbers come from: `deno run -P scripts/manual_presets.ts` runs
 * the default stream (seed 42, BTC/ETH/BNB, an event per symbol every 0.2 s,
 * 1 % anomalies, 60 s windows) for an hour, trains on the first ten minutes
 * as the trainer does (200 trees, contamination 0.01), and prints the
 * quantiles of each feature per kind of row and how many of each kind the
 * model flags (quiet 0.4 %, PRICE_SPIKE 88 %, FLASH_CRASH 84 %,
 * VOLUME_SPIKE 29 %).
 *
 * - Normal: the per-feature median of the quiet rows the model passes.
 * - Price Spike / Flash Crash: a clear case rather than the median one
 *   (a median spike sits within 0.01 of the threshold for some training
 *   sets): z_score_price ±12.5 and z_score_log_return ±15, between the 75th
 *   and 95th percentiles of the labelled rows (the simulator's 5–15 % jumps
 *   against windows whose price deviates about 1.3 %); the other three features are
 *   the medians of the flagged rows of that kind.
 * - Volume Spike: a lone 8× trade on a quiet market is close to the
 *   threshold (the model flags only 29 % of them), so the preset is a burst
 *   the model does flag: z_score_volume 25 (labelled p75 13.7, p95 29.9), in
 *   a busier window (rolling_volume_std 1.0, the labelled p95) with a small
 *   price drift (z 1.5).
 *
 * islands/shared/presets_test.ts checks the verdicts under models trained on
 * the default stream and on the browser suite's faster stream, with several
 * seeds and training-set sizes.
 *
 * @module
 */
import type { FeatureName } from "./features.ts";

/** One preset: a name, what it shows, and the five features. */
export interface Preset {
  id: "normal" | "price_spike" | "volume_spike" | "flash_crash";
  label: string;
  description: string;
  expected: "normal" | "anomaly";
  features: Record<FeatureName, number>;
}

/** The four presets, in the order the page shows them. */
export const PRESETS: readonly Preset[] = [
  {
    id: "normal",
    label: "Normal",
    description: "a quiet trade: price, move and size at their usual values",
    expected: "normal",
    features: {
      z_score_price: 0.05,
      z_score_log_return: 0,
      z_score_volume: -0.2,
      rolling_price_std: 0.0122,
      rolling_volume_std: 0.59,
    },
  },
  {
    id: "price_spike",
    label: "Price Spike",
    description: "one trade far above the window's price, as in a 5–15 % spike",
    expected: "anomaly",
    features: {
      z_score_price: 12.5,
      z_score_log_return: 15,
      z_score_volume: -0.25,
      rolling_price_std: 0.0133,
      rolling_volume_std: 0.62,
    },
  },
  {
    id: "volume_spike",
    label: "Volume Spike",
    description: "a trade many times the usual size in a busy window, with a small price drift",
    expected: "anomaly",
    features: {
      z_score_price: 1.5,
      z_score_log_return: 0.1,
      z_score_volume: 25,
      rolling_price_std: 0.014,
      rolling_volume_std: 1.0,
    },
  },
  {
    id: "flash_crash",
    label: "Flash Crash",
    description: "one trade far below the window's price, as in a 5–15 % crash",
    expected: "anomaly",
    features: {
      z_score_price: -12.5,
      z_score_log_return: -15,
      z_score_volume: -0.23,
      rolling_price_std: 0.0125,
      rolling_volume_std: 0.6,
    },
  },
];

/** Slider range and step of each feature on the Manual Test page. */
export const SLIDERS: Record<FeatureName, { min: number; max: number; step: number }> = {
  z_score_price: { min: -20, max: 20, step: 0.05 },
  z_score_log_return: { min: -20, max: 20, step: 0.05 },
  z_score_volume: { min: -5, max: 40, step: 0.05 },
  rolling_price_std: { min: 0, max: 0.06, step: 0.0001 },
  rolling_volume_std: { min: 0, max: 3, step: 0.01 },
};
