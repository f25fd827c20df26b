/**
 * Detection v2's scores stage (DESIGN.md section 16): robust features →
 * one score per channel → calibrated verdict. The channel scores are z²/2
 * (two-sided for price, one-sided — only *large* — for flow), whose
 * Gaussian tail is exponential, which is what the calibration's per-second
 * tail fit assumes. Volume's score is the signed ½·z·|z|: its calibration is
 * the per-trade size family of model/trade_tail.ts, which reads the whole
 * body of z, small trades included; only a large trade can alert.
 * Pure: the worker, `deno task eval` and the benchmarks call it alike.
 *
 * Window-state features (the seed's rolling stds) are not channels: they
 * describe the last minute, not the trade, and never raise an alert.
 *
 * @module
 */
import type { RobustFeatures } from "../features/robust.ts";
import { HalfSpaceTrees, type HstOptions, type HstState, squash } from "./hst.ts";
import {
  type Calibration,
  type CalibrationOptions,
  type ScoredEvent,
  type Verdict,
  verdict,
} from "./calibration.ts";
import { fitTrimmedCalibration } from "./calibration_trim.ts";
import { coverCalibration } from "./calibration_cover.ts";

/** The channels of the robust detector, in score order. */
export const CHANNELS = ["price_z", "price_z_long", "volume_z", "flow_z"] as const;
/** One of {@linkcode CHANNELS}. */
export type Channel = typeof CHANNELS[number];

/**
 * Default share of the alert budget per channel. Price anomalies are large
 * against a robust spread and need little of the budget; single-trade size
 * anomalies sit close to the noise and get most of it; the long-horizon
 * price channel, whose level shifts are large too, gives up 2 points to
 * volume without losing an episode of any profile (measured with
 * `deno task eval`, docs/detection.md).
 */
export const DEFAULT_SHARES: Readonly<Record<Channel, number>> = Object.freeze({
  price_z: 0.05,
  price_z_long: 0.03,
  volume_z: 0.82,
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
 * console.log(s); // [8, 0.5, -4.5, 2]
 * ```
 */
export function channelScores(f: RobustFeatures): number[] {
  if (!f.robust_ready) return [NaN, NaN, NaN, NaN];
  const pos = (x: number) => (x > 0 ? x : 0);
  return [
    0.5 * f.price_z * f.price_z,
    0.5 * f.price_z_long * f.price_z_long,
    0.5 * f.volume_z * Math.abs(f.volume_z),
    0.5 * pos(f.flow_z) ** 2,
  ];
}

/** A row's robust features, or null when it has none (rows stored before detection v2). */
export function robustOf(
  r: Partial<RobustFeatures>,
): RobustFeatures | null {
  if (r.robust_ready === undefined) return null;
  return {
    price_z: r.price_z ?? 0,
    price_z_long: r.price_z_long ?? 0,
    volume_z: r.volume_z ?? 0,
    flow_z: r.flow_z ?? 0,
    robust_ready: r.robust_ready,
  };
}

/**
 * Fits the calibration of a model's channels (default: the robust ones) on
 * training trades, trimmed of what it alerts on (model/calibration_trim.ts),
 * its lines set for new incidents (model/calibration_cover.ts).
 */
export function fitRobustCalibration(
  events: Iterable<ScoredEvent>,
  o: {
    budget: number;
    model?: DetectionModel;
    shares?: Readonly<Record<string, number>>;
    minSeconds?: number;
    /** INCIDENT_GAP_SECONDS in ms (default 5 000): exceedances this close to another alert open no incident */
    gapMs?: number;
  },
): Calibration {
  const model = o.model ?? "robust";
  const opts: CalibrationOptions = {
    channels: modelChannels(model),
    shares: o.shares ?? modelShares(model),
    // HST's score −ln(mass share) is bounded by its depth: its tail is fitted, not floored.
    betaFloor: { hst: 0 },
    tradeTails: ["volume_z"],
    budget: o.budget,
    minSeconds: o.minSeconds,
  };
  const all = Array.isArray(events) ? events : [...events];
  return coverCalibration(all, fitTrimmedCalibration(all, opts), { gapMs: o.gapMs ?? 5000 });
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

/**
 * The detection models (MODEL): `robust` — the four calibrated channels;
 * `hst` — Half-Space Trees, learning online on every trade of the symbol,
 * as one calibrated channel; `combo` — both, the budget split between them.
 * (`iforest` is the seed-compatible forest on the seed's five features, with
 * CONTAMINATION; it is served by model/bundle.ts, not here.)
 */
export const MODELS = ["robust", "hst", "combo"] as const;
/** One of {@linkcode MODELS}. */
export type DetectionModel = typeof MODELS[number];

/** The channels a model scores, in order. */
export function modelChannels(model: DetectionModel): string[] {
  if (model === "robust") return [...CHANNELS];
  if (model === "hst") return ["hst"];
  return [...CHANNELS, "hst"];
}

/** The default budget shares of a model's channels. */
export function modelShares(model: DetectionModel): Record<string, number> {
  if (model === "robust") return { ...DEFAULT_SHARES };
  if (model === "hst") return { hst: 1 };
  const out: Record<string, number> = {};
  for (const c of CHANNELS) out[c] = DEFAULT_SHARES[c] * 0.8;
  out.hst = 0.2;
  return out;
}

/** Half-Space Trees settings per symbol: small enough to checkpoint with each batch. */
export const HST_OPTIONS: Readonly<HstOptions> = Object.freeze({
  dims: 4,
  trees: 15,
  depth: 6,
  windowSize: 250,
  seed: 7,
});

/** Persisted state of a {@linkcode SymbolScorer}. */
export interface SymbolScorerState {
  hst: HstState | null;
}

/**
 * One symbol's scores stage: robust features → channel scores of the model,
 * learning online where the model does (HST scores an event, then learns it).
 *
 * @example
 * ```ts
 * import { SymbolScorer } from "./detector.ts";
 * const s = new SymbolScorer("combo");
 * const f = { price_z: 0.3, price_z_long: 0.1, volume_z: 0.5, flow_z: 0, robust_ready: true };
 * console.log(s.scores(f).length); // 5: four robust channels and HST
 * ```
 */
export class SymbolScorer {
  readonly model: DetectionModel;
  #hst: HalfSpaceTrees | null;
  readonly #x = new Float64Array(4);

  constructor(model: DetectionModel, state?: SymbolScorerState) {
    this.model = model;
    this.#hst = model === "robust"
      ? null
      : state?.hst
      ? HalfSpaceTrees.fromJSON(HST_OPTIONS, state.hst)
      : new HalfSpaceTrees(HST_OPTIONS);
  }

  /** Channel scores of {@linkcode modelChannels}(model); NaN while not ready. */
  scores(f: RobustFeatures): number[] {
    const robust = channelScores(f);
    if (this.#hst === null) return robust;
    let h = NaN;
    if (f.robust_ready) {
      this.#x[0] = squash(f.price_z);
      this.#x[1] = squash(f.price_z_long);
      this.#x[2] = squash(f.volume_z);
      this.#x[3] = squash(f.flow_z);
      const a = this.#hst.score(this.#x);
      this.#hst.learn(this.#x);
      h = -Math.log(Math.max(1 - a, 1e-12));
    }
    return this.model === "hst" ? [h] : [...robust, h];
  }

  /** State as plain JSON. */
  toJSON(): SymbolScorerState {
    return { hst: this.#hst?.toJSON() ?? null };
  }
}

/** The calibrated verdict on a trade's channel scores, with the driver's name. */
export function judgeScores(
  cal: Calibration,
  symbol: string,
  scores: readonly number[],
): ChannelVerdict {
  if (scores.every((x) => Number.isNaN(x))) {
    return { alert: false, severity: 0, driver: 0, p: 1, driverName: cal.channels[0] };
  }
  const v = verdict(cal, symbol, scores) as ChannelVerdict;
  v.driverName = cal.channels[v.driver];
  return v;
}
