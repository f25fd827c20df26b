/**
 * Detection v2's scores stage (DESIGN.md section 16): robust features →
 * one score per channel → calibrated verdict. The channel scores are z²/2
 * (two-sided for price, one-sided — only *large* — for volume and flow), whose
 * Gaussian tail is exponential, which is what the calibration's tail fit
 * assumes. Pure: the worker, `deno task eval` and the benchmarks call it alike.
 *
 * Window-state features (the seed's rolling stds) are not channels: they
 * describe the last minute, not the trade, and never raise an alert.
 *
 * @module
 */
import type { RobustFeatures } from "../features/robust.ts";
import {
  type Calibration,
  type CalibrationOptions,
  fitCalibration,
  type ScoredEvent,
  type Verdict,
  verdict,
} from "./calibration.ts";

/** The channels of the robust detector, in score order. */
export const CHANNELS = ["price_z", "price_z_long", "volume_z", "flow_z"] as const;
/** One of {@linkcode CHANNELS}. */
export type Channel = typeof CHANNELS[number];

/**
 * Default share of the alert budget per channel. Price anomalies are large
 * against a robust spread and need little of the budget; single-trade size
 * anomalies sit close to the noise and get most of it (measured with
 * `deno task eval`, docs/detection.md).
 */
export const DEFAULT_SHARES: Readonly<Record<Channel, number>> = Object.freeze({
  price_z: 0.05,
  price_z_long: 0.05,
  volume_z: 0.8,
  flow_z: 0.1,
});

/**
 * The channel scores of one trade: NaN for every channel while the features
 * are warming up (not scored, not counted).
 *
 * @example
 * ```ts
 * import { channelScores } from "./detector.ts";
 * const s = channelScores({ price_z: -4, price_z_long: 1, volume_z: -3, flow_z: 2, robust_ready: true });
 * console.log(s); // [8, 0.5, 0, 2]
 * ```
 */
export function channelScores(f: RobustFeatures): number[] {
  if (!f.robust_ready) return [NaN, NaN, NaN, NaN];
  const pos = (x: number) => (x > 0 ? x : 0);
  return [
    0.5 * f.price_z * f.price_z,
    0.5 * f.price_z_long * f.price_z_long,
    0.5 * pos(f.volume_z) ** 2,
    0.5 * pos(f.flow_z) ** 2,
  ];
}

/** Fits the calibration of the robust channels on training trades. */
export function fitRobustCalibration(
  events: Iterable<ScoredEvent>,
  o: { budget: number; shares?: Readonly<Record<string, number>>; minSeconds?: number },
): Calibration {
  const opts: CalibrationOptions = {
    channels: CHANNELS,
    shares: o.shares ?? DEFAULT_SHARES,
    budget: o.budget,
    minSeconds: o.minSeconds,
  };
  return fitCalibration(events, opts);
}

/** A verdict with the driving channel's name. */
export interface ChannelVerdict extends Verdict {
  driverName: string;
}

/** The calibrated verdict on one trade's robust features (not ready: no alert, severity 0). */
export function judge(cal: Calibration, symbol: string, f: RobustFeatures): ChannelVerdict {
  if (!f.robust_ready) {
    return { alert: false, severity: 0, driver: 0, p: 1, driverName: cal.channels[0] };
  }
  const v = verdict(cal, symbol, channelScores(f));
  return { ...v, driverName: cal.channels[v.driver] };
}
