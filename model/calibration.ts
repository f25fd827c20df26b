/**
 * Calibration (DESIGN.md section 16): raw channel scores → an empirical tail
 * probability per symbol, and a threshold that holds an alert budget in
 * *market time*: ALERT_BUDGET false incidents per symbol-hour, whatever the
 * trade rate.
 *
 * Why per second and not per trade: a busy market has a hundred times more
 * trades than a quiet one, so a per-trade quantile (CONTAMINATION) buys a
 * hundred times more alerts. Here the unit is the *second with trades*: the
 * training scores of a symbol are reduced to each second's maximum, p(s) is
 * the share of those seconds whose maximum reached s, and the threshold is
 * the p at which (seconds with trades per hour) × p = the channel's share of
 * the budget. Hundreds of trades in one second can only make one alerting
 * second.
 *
 * Above the 90th percentile the tail is an exponential anchored in the body
 * (see {@linkcode fitTail}): scores are z²/2, whose Gaussian tail is
 * exponential, so the extrapolation is sound where the data ends, and the
 * anomalies an unlabelled training window holds cannot inflate it.
 *
 * A symbol with too few training seconds borrows the distribution pooled
 * over all symbols (its own seconds-per-hour still sets its threshold).
 *
 * Pure: no clock, no I/O.
 *
 * @module
 */
import { z } from "zod";
import { Emg, lnSurvival, survivalQuantile } from "./trade_tail.ts";
import { fitSizeTail } from "./trade_tail_excess.ts";

/** One channel's calibrated tail. */
export const ChannelTail = z.object({
  /** score quantiles of the body: `scores[k]` is the 0.9·k/(length − 1) quantile (ascending) */
  scores: z.array(z.number()).min(2),
  /** the tail above u (the 90th percentile, exceeded with probability pu): a generalised Pareto */
  u: z.number(),
  pu: z.number(),
  /** GPD scale */
  beta: z.number().positive(),
  /** GPD shape: 0 is an exponential tail, > 0 a heavier (power-law) one */
  xi: z.number().min(0).max(1).default(0),
  /** seconds the table was fitted on */
  seconds: z.number().int().nonnegative(),
  /**
   * A trade-tail channel's per-trade distribution (model/trade_tail.ts) and
   * its trades per second with trades: P(second max ≥ s) = per_second ×
   * P(trade ≥ s). When present it answers above the body instead of the
   * GPD (which stays fitted, for older readers).
   */
  trade: Emg.extend({ per_second: z.number().positive() }).optional(),
});
/** One channel's calibrated tail. */
export type ChannelTail = z.infer<typeof ChannelTail>;

/** A symbol's calibration: one tail per channel and its trading seconds per hour. */
export const SymbolCalibration = z.object({
  tails: z.record(z.string(), ChannelTail),
  secondsPerHour: z.number().positive(),
  /** true when the tails are the pooled ones (too few seconds of its own) */
  pooled: z.boolean(),
  /**
   * per channel, the share of the training seconds with trades within
   * INCIDENT_GAP_SECONDS of another alert, where the channel's exceedance
   * opens no incident (model/calibration_cover.ts); none in older bundles
   */
  covered: z.record(z.string(), z.number().min(0).max(0.5)).default({}),
});
/** A symbol's calibration. */
export type SymbolCalibration = z.infer<typeof SymbolCalibration>;

/** Everything the live scorer needs to turn channel scores into verdicts. */
export const Calibration = z.object({
  channels: z.array(z.string()).min(1),
  /** share of the alert budget given to each channel (sums to 1) */
  shares: z.record(z.string(), z.number().positive()),
  /** ALERT_BUDGET: expected false incidents per symbol-hour */
  budget: z.number().positive(),
  symbols: z.record(z.string(), SymbolCalibration),
  /** for symbols unseen in training */
  fallback: SymbolCalibration,
});
/** Everything the live scorer needs to turn channel scores into verdicts. */
export type Calibration = z.infer<typeof Calibration>;

/** One training observation: a symbol, its event time, and a score per channel (NaN: not ready). */
export interface ScoredEvent {
  symbol: string;
  ts_ms: number;
  scores: readonly number[];
}

/** Options of {@linkcode fitCalibration}. */
export interface CalibrationOptions {
  channels: readonly string[];
  shares: Readonly<Record<string, number>>;
  budget: number;
  /** a symbol needs this many seconds with trades for its own tails */
  minSeconds?: number;
  /**
   * least β of a channel's exponential tail (default 1, right for z²/2 scores;
   * a bounded score such as Half-Space Trees' mass needs a lower one)
   */
  betaFloor?: Readonly<Record<string, number>>;
  /**
   * channels whose tail is the per-trade family of model/trade_tail.ts,
   * fitted on the body of the trades' signed z (their score is ½·z·|z|),
   * instead of the empirical per-second tail
   */
  tradeTails?: readonly string[];
  /**
   * whether the training event at this index enters this channel's tail
   * (default: all); every event still counts toward its symbol's seconds,
   * trades and time span (model/calibration_trim.ts leaves out what a first
   * fit alerted on)
   */
  keep?: (index: number, channel: number) => boolean;
}

/** A trade-tail fit is used only when its CDF misses no fitted percentile by more than this. */
export const MAX_TRADE_MISFIT = 0.03;

/** The signed z behind a trade-tail channel's score ½·z·|z|. */
const zOfScore = (s: number) => (s >= 0 ? Math.sqrt(2 * s) : -Math.sqrt(-2 * s));

const GRID = 100;
/** Tail probability of the k-th grid entry of a tail with `n` entries. */
const gridP = (k: number, n: number) => 1 - (0.9 * k) / (n - 1);
const round6 = (x: number) => Number(x.toPrecision(6));

/** Largest GPD shape fitted: heavier tails than a cubic power law are taken as that. */
const MAX_XI = 0.5;

/**
 * Fits one channel's tail from per-second maxima: the body as a quantile grid
 * up to u = the 90th percentile, and above it a generalised Pareto tail whose
 * shape and scale come from Pickands' estimator on the 90th, 97.5th and
 * 99.375th percentiles (ξ = log₄((q₃ − q₂)/(q₂ − q₁)), clamped to [0, 0.5]).
 *
 * - Real trades have heavy tails (sweeps through the book, volatility
 *   regimes): an exponential fitted on the body put the realistic profile's
 *   0.1 % quantile at p = 6e-8 and fired 14 incidents per symbol-hour on a
 *   budget of 1. The shape is therefore estimated, not assumed.
 * - The training window is unlabelled: first the gross outliers are trimmed
 *   (beyond u + 25 β of the body's exponential, β from the 70th–90th spacing:
 *   e^−25 is never reached by the market itself), so a simulated stream
 *   whose price spikes fill 3 % of its seconds does not set the tail.
 *   Anomalies close to the noise (a ×8 trade on a lognormal size) cannot be
 *   told from a heavy tail without labels; they make the tail heavier and
 *   the detector more conservative, never the reverse.
 * - `betaFloor` (1 for z²/2 scores, the Gaussian's asymptotic scale) keeps a
 *   one-sided channel's body (half its seconds at 0) from extrapolating too
 *   thin a tail.
 */
export function fitTail(maxima: readonly number[], betaFloor = 1): ChannelTail {
  const all = maxima.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (all.length === 0) return { scores: [0, 0], u: 0, pu: 0.1, beta: 1, xi: 0, seconds: 0 };
  const q = (v: readonly number[], p: number) =>
    v[Math.min(v.length - 1, Math.floor(p * (v.length - 1)))];
  const u0 = q(all, 0.9);
  const beta0 = Math.max((u0 - q(all, 0.7)) / Math.log(3), betaFloor, 1e-6);
  const cut = u0 + 25 * beta0;
  let n = all.length;
  while (n > 1 && all[n - 1] > cut) n--;
  const s = all.slice(0, n);
  const scores: number[] = [];
  for (let k = 0; k <= GRID; k++) scores.push(round6(q(s, (0.9 * k) / GRID)));
  const u = scores[GRID];
  const q2 = q(s, 0.975);
  const q3 = q(s, 0.99375);
  let xi = 0;
  if (q2 - u > 0 && q3 - q2 > 0) xi = Math.log((q3 - q2) / (q2 - u)) / Math.log(4);
  xi = Math.min(MAX_XI, Math.max(0, xi));
  // GPD quantile spacing: q2 − u = σ (4^ξ − 1)/ξ (σ ln 4 when ξ = 0).
  const spread = q2 - u;
  let beta = xi > 1e-6 ? (spread * xi) / (Math.pow(4, xi) - 1) : spread / Math.log(4);
  beta = Math.max(beta, xi > 1e-6 ? 1e-6 : beta0, 1e-6);
  return { scores, u, pu: 0.1, beta: round6(beta), xi: round6(xi), seconds: all.length };
}

/** Tail probability of a score under a channel's tail: P(second max ≥ s). */
export function tailProbability(t: ChannelTail, s: number): number {
  if (t.trade !== undefined) {
    if (!(s > 0)) return 1;
    return Math.min(1, t.trade.per_second * Math.exp(lnSurvival(t.trade, Math.sqrt(2 * s))));
  }
  if (!(s > t.scores[0])) return 1;
  if (s > t.u) {
    const xi = t.xi ?? 0;
    const tail = xi > 1e-6
      ? Math.pow(1 + (xi * (s - t.u)) / t.beta, -1 / xi)
      : Math.exp(-(s - t.u) / t.beta);
    return Math.min(t.pu, t.pu * tail);
  }
  // Linear interpolation on the quantile grid (scores ascending, p descending).
  let lo = 0;
  let hi = t.scores.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t.scores[mid] < s) lo = mid;
    else hi = mid;
  }
  const a = t.scores[lo];
  const b = t.scores[hi];
  const f = b > a ? (s - a) / (b - a) : 1;
  const n = t.scores.length;
  return Math.max(t.pu, gridP(lo, n) + f * (gridP(hi, n) - gridP(lo, n)));
}

/** The score at which a tail's probability falls to `p` (inverse of {@linkcode tailProbability}). */
export function tailScore(t: ChannelTail, p: number): number {
  if (t.trade !== undefined && p / t.trade.per_second < 0.5) {
    const z = Math.max(0, survivalQuantile(t.trade, Math.log(p / t.trade.per_second)));
    return 0.5 * z * z;
  }
  if (p >= 1) return t.scores[0];
  if (p <= t.pu) {
    const xi = t.xi ?? 0;
    return xi > 1e-6
      ? t.u + (t.beta / xi) * (Math.pow(t.pu / p, xi) - 1)
      : t.u + t.beta * Math.log(t.pu / p);
  }
  for (let k = t.scores.length - 1; k > 0; k--) {
    if (gridP(k, t.scores.length) >= p) return t.scores[k];
  }
  return t.scores[0];
}

/**
 * Per-second maxima of each channel for each symbol, its time span, its
 * trades, and the signed z of each trade on the trade-tail channels.
 */
function perSecondMaxima(
  events: Iterable<ScoredEvent>,
  channels: number,
  tradeChannels: readonly number[],
  keep?: (index: number, channel: number) => boolean,
) {
  const bySymbol = new Map<
    string,
    {
      maxima: number[][];
      first: number;
      last: number;
      /** per channel, the second of the last kept event (a second's maximum is over its kept events) */
      keptSec: number[];
      trades: number;
      /** seconds with a scored trade (kept or not) */
      seconds: number;
      scoredSec: number;
      zs: number[][];
      /** per trade channel: whether the trim left some of its trades out (the sample is censored) */
      cut: boolean[];
    }
  >();
  let index = -1;
  for (const e of events) {
    index++;
    let s = bySymbol.get(e.symbol);
    if (!s) {
      s = {
        maxima: Array.from({ length: channels }, () => []),
        first: e.ts_ms,
        last: e.ts_ms,
        keptSec: new Array<number>(channels).fill(NaN),
        trades: 0,
        seconds: 0,
        scoredSec: NaN,
        zs: tradeChannels.map(() => []),
        cut: tradeChannels.map(() => false),
      };
      bySymbol.set(e.symbol, s);
    }
    const sec = Math.floor(e.ts_ms / 1000);
    if (sec !== s.scoredSec && e.scores.some(Number.isFinite)) {
      s.seconds++;
      s.scoredSec = sec;
    }
    s.first = Math.min(s.first, e.ts_ms);
    s.last = Math.max(s.last, e.ts_ms);
    s.trades++;
    for (let k = 0; k < tradeChannels.length; k++) {
      const x = e.scores[tradeChannels[k]];
      if (!Number.isFinite(x)) continue;
      if (keep === undefined || keep(index, tradeChannels[k])) s.zs[k].push(zOfScore(x));
      else s.cut[k] = true;
    }
    for (let c = 0; c < channels; c++) {
      if (keep !== undefined && !keep(index, c)) continue;
      const x = e.scores[c];
      const newSecond = sec !== s.keptSec[c];
      s.keptSec[c] = sec;
      if (!Number.isFinite(x)) continue;
      const m = s.maxima[c];
      if (newSecond || m.length === 0) m.push(x);
      else if (x > m[m.length - 1]) m[m.length - 1] = x;
    }
    // keep the channels' second lists aligned: a not-ready channel adds nothing
  }
  return bySymbol;
}

/**
 * Fits a {@linkcode Calibration} on training events (unlabelled: anomalies in
 * the training window only make it more conservative).
 *
 * @example
 * ```ts
 * import { fitCalibration, verdict } from "./calibration.ts";
 * const events = Array.from({ length: 36_000 }, (_, i) => ({
 *   symbol: "BTC-USDT", ts_ms: i * 100, scores: [((i * 7919) % 1000) / 250],
 * }));
 * const cal = fitCalibration(events, { channels: ["price"], shares: { price: 1 }, budget: 1 });
 * console.log(verdict(cal, "BTC-USDT", [0.1]).alert, verdict(cal, "BTC-USDT", [50]).alert); // false true
 * ```
 */
export function fitCalibration(events: Iterable<ScoredEvent>, o: CalibrationOptions): Calibration {
  const nc = o.channels.length;
  const minSeconds = o.minSeconds ?? 1800;
  const tradeChannels = o.channels.flatMap((ch, c) => (o.tradeTails?.includes(ch) ? [c] : []));
  const bySymbol = perSecondMaxima(events, nc, tradeChannels, o.keep);
  const pooled: number[][] = Array.from({ length: nc }, () => []);
  const pooledZs: number[][] = tradeChannels.map(() => []);
  const pooledCut = tradeChannels.map(() => false);
  let pooledSeconds = 0;
  let pooledHours = 0;
  let pooledTrades = 0;
  for (const s of bySymbol.values()) {
    for (let c = 0; c < nc; c++) for (const x of s.maxima[c]) pooled[c].push(x);
    for (let k = 0; k < tradeChannels.length; k++) {
      for (const x of s.zs[k]) pooledZs[k].push(x);
      pooledCut[k] ||= s.cut[k];
    }
    pooledSeconds += s.seconds;
    pooledHours += Math.max((s.last - s.first) / 3_600_000, 1 / 60);
    pooledTrades += s.trades;
  }
  // The tails without their trades-per-second: fitted once per symbol, and once for the pool.
  // A trimmed size sample has lost every trade above the previous line: it is censored there.
  const fitAll = (maxima: number[][], zs: number[][], cut: boolean[]) => ({
    gpd: o.channels.map((ch, c) => fitTail(maxima[c], o.betaFloor?.[ch] ?? 1)),
    trade: zs.map((z, k) => {
      const f = fitSizeTail(z, { censored: cut[k] });
      return f !== null && f.misfit <= MAX_TRADE_MISFIT ? f : null;
    }),
  });
  const tailsOf = (fit: ReturnType<typeof fitAll>, perSecond: number) => {
    const tails: Record<string, ChannelTail> = {};
    o.channels.forEach((ch, c) => {
      const k = tradeChannels.indexOf(c);
      const f = k >= 0 ? fit.trade[k] : null;
      tails[ch] = f === null ? fit.gpd[c] : {
        ...fit.gpd[c],
        trade: {
          mu: round6(f.mu),
          sigma: round6(f.sigma),
          scale: round6(f.scale),
          per_second: round6(Math.max(1, perSecond)),
        },
      };
    });
    return tails;
  };
  let pooledFit: ReturnType<typeof fitAll> | null = null;
  const pooledCal = (secondsPerHour: number, perSecond: number): SymbolCalibration => {
    pooledFit ??= fitAll(pooled, pooledZs, pooledCut);
    return { tails: tailsOf(pooledFit, perSecond), secondsPerHour, pooled: true, covered: {} };
  };
  const symbols: Record<string, SymbolCalibration> = {};
  for (const [symbol, s] of bySymbol) {
    const seconds = s.seconds;
    const hours = Math.max((s.last - s.first) / 3_600_000, 1 / 60);
    const secondsPerHour = Math.max(1, Math.min(3600, seconds / hours));
    const perSecond = s.trades / Math.max(seconds, 1);
    symbols[symbol] = seconds >= minSeconds
      ? {
        tails: tailsOf(fitAll(s.maxima, s.zs, s.cut), perSecond),
        secondsPerHour,
        pooled: false,
        covered: {},
      }
      : pooledCal(secondsPerHour, perSecond);
  }
  const fallbackRate = pooledHours > 0
    ? Math.max(1, Math.min(3600, pooledSeconds / pooledHours))
    : 3600;
  const total = o.channels.reduce((a, ch) => a + (o.shares[ch] ?? 0), 0);
  if (!(total > 0)) throw new RangeError("calibration shares must be positive");
  return {
    channels: [...o.channels],
    shares: Object.fromEntries(o.channels.map((ch) => [ch, (o.shares[ch] ?? 0) / total])),
    budget: o.budget,
    symbols,
    fallback: pooledCal(fallbackRate, pooledTrades / Math.max(pooledSeconds, 1)),
  };
}

/** What {@linkcode verdict} says of one event. */
export interface Verdict {
  alert: boolean;
  /** calibrated severity in [0, 1]: 0.5 at the threshold, 1 at p = threshold² */
  severity: number;
  /** index of the channel with the largest severity */
  driver: number;
  /** that channel's tail probability */
  p: number;
}

/**
 * The verdict on one event's channel scores (NaN scores are ignored):
 * alert when some channel's tail probability is at or below its threshold
 * ({@linkcode channelThreshold}). Severity is the largest of
 * ½·ln p ÷ ln p_threshold over channels, clipped to [0, 1], so it means the
 * same on BTC and on a thin pair: 0.5 is the alert line.
 */
export function verdict(cal: Calibration, symbol: string, scores: readonly number[]): Verdict {
  const sc = cal.symbols[symbol] ?? cal.fallback;
  const lnThr = thresholdsOf(cal, sc);
  let best = 0;
  let driver = 0;
  let bestP = 1;
  for (let c = 0; c < cal.channels.length; c++) {
    const x = scores[c];
    if (!Number.isFinite(x)) continue;
    const tail = sc.tails[cal.channels[c]];
    if (!tail) continue;
    const p = Math.max(tailProbability(tail, x), 1e-300);
    const sev = Math.min(1, Math.max(0, (0.5 * Math.log(p)) / lnThr[c]));
    if (sev > best) {
      best = sev;
      driver = c;
      bestP = p;
    }
  }
  return { alert: best >= 0.5, severity: best, driver, p: bestP };
}

/**
 * A channel's alert line for one symbol: the tail probability p at or below
 * which it alerts, `share × budget ÷ (secondsPerHour × (1 − covered[channel]))` (at
 * most ½): the seconds an exceedance would open a new incident in share the
 * channel's part of the budget.
 */
export function channelThreshold(cal: Calibration, sc: SymbolCalibration, channel: string): number {
  const open = sc.secondsPerHour * (1 - (sc.covered?.[channel] ?? 0));
  return Math.min(0.5, (cal.shares[channel] * cal.budget) / open);
}

/** ln of each channel's threshold p for one symbol, computed once per calibration object. */
const thresholdCache = new WeakMap<SymbolCalibration, Float64Array>();
function thresholdsOf(cal: Calibration, sc: SymbolCalibration): Float64Array {
  let t = thresholdCache.get(sc);
  if (t === undefined) {
    t = new Float64Array(cal.channels.length);
    for (let c = 0; c < t.length; c++) {
      const ch = cal.channels[c];
      t[c] = Math.log(channelThreshold(cal, sc, ch));
    }
    thresholdCache.set(sc, t);
  }
  return t;
}
