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

/** One channel's calibrated tail. */
export const ChannelTail = z.object({
  /** score quantiles of the body: `scores[k]` is the 0.9·k/(length − 1) quantile (ascending) */
  scores: z.array(z.number()).min(2),
  /** POT: threshold u (the score at pu), exceedance probability pu, mean excess beta */
  u: z.number(),
  pu: z.number(),
  beta: z.number().positive(),
  /** seconds the table was fitted on */
  seconds: z.number().int().nonnegative(),
});
/** One channel's calibrated tail. */
export type ChannelTail = z.infer<typeof ChannelTail>;

/** A symbol's calibration: one tail per channel and its trading seconds per hour. */
export const SymbolCalibration = z.object({
  tails: z.record(z.string(), ChannelTail),
  secondsPerHour: z.number().positive(),
  /** true when the tails are the pooled ones (too few seconds of its own) */
  pooled: z.boolean(),
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
}

const GRID = 100;
/** Tail probability of the k-th grid entry of a tail with `n` entries. */
const gridP = (k: number, n: number) => 1 - (0.9 * k) / (n - 1);
const round6 = (x: number) => Number(x.toPrecision(6));

/**
 * Fits one channel's tail from per-second maxima. The exponential tail is
 * anchored in the body — u = the 90th percentile, β from the spacing of the
 * 70th and 90th (exact for an exponential, within 5 % for Gaussian z²/2) —
 * (and never below 1, the asymptotic β of Gaussian z²/2), rather than fitted
 * on the largest points: the training window is unlabelled
 * and may hold anomalies in its top few percent of seconds (the simulated
 * stream has them in 5 % of its seconds), and a tail fitted on them would
 * put the threshold beyond every anomaly.
 */
export function fitTail(maxima: readonly number[], betaFloor = 1): ChannelTail {
  const s = maxima.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { scores: [0, 0], u: 0, pu: 0.1, beta: 1, seconds: 0 };
  const scores: number[] = [];
  const at = (q: number) => s[Math.min(n - 1, Math.floor(q * (n - 1)))];
  for (let k = 0; k <= GRID; k++) scores.push(round6(at((0.9 * k) / GRID)));
  const u = scores[GRID];
  // β is at least 1, the asymptotic mean excess of a Gaussian z²/2: a one-sided
  // channel's body (half its seconds at 0) would otherwise extrapolate too thin a tail.
  const beta = Math.max((u - at(0.7)) / Math.log(3), betaFloor, 1e-6);
  return { scores, u, pu: 0.1, beta: round6(beta), seconds: n };
}

/** Tail probability of a score under a channel's tail: P(second max ≥ s). */
export function tailProbability(t: ChannelTail, s: number): number {
  if (!(s > t.scores[0])) return 1;
  if (s > t.u) return Math.min(t.pu, t.pu * Math.exp(-(s - t.u) / t.beta));
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
  if (p >= 1) return t.scores[0];
  if (p <= t.pu) return t.u + t.beta * Math.log(t.pu / p);
  for (let k = t.scores.length - 1; k > 0; k--) {
    if (gridP(k, t.scores.length) >= p) return t.scores[k];
  }
  return t.scores[0];
}

/** Per-second maxima of each channel for each symbol, and seconds per hour. */
function perSecondMaxima(events: Iterable<ScoredEvent>, channels: number) {
  const bySymbol = new Map<
    string,
    { maxima: number[][]; first: number; last: number; lastSec: number }
  >();
  for (const e of events) {
    let s = bySymbol.get(e.symbol);
    if (!s) {
      s = {
        maxima: Array.from({ length: channels }, () => []),
        first: e.ts_ms,
        last: e.ts_ms,
        lastSec: NaN,
      };
      bySymbol.set(e.symbol, s);
    }
    const sec = Math.floor(e.ts_ms / 1000);
    const fresh = sec !== s.lastSec;
    s.lastSec = sec;
    s.first = Math.min(s.first, e.ts_ms);
    s.last = Math.max(s.last, e.ts_ms);
    for (let c = 0; c < channels; c++) {
      const x = e.scores[c];
      if (!Number.isFinite(x)) continue;
      const m = s.maxima[c];
      if (fresh || m.length === 0) m.push(x);
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
  const bySymbol = perSecondMaxima(events, nc);
  const pooled: number[][] = Array.from({ length: nc }, () => []);
  let pooledSeconds = 0;
  let pooledHours = 0;
  for (const s of bySymbol.values()) {
    for (let c = 0; c < nc; c++) for (const x of s.maxima[c]) pooled[c].push(x);
    pooledSeconds += Math.max(...s.maxima.map((m) => m.length));
    pooledHours += Math.max((s.last - s.first) / 3_600_000, 1 / 60);
  }
  const pooledTails = (): Record<string, ChannelTail> =>
    Object.fromEntries(o.channels.map((ch, c) => [ch, fitTail(pooled[c], o.betaFloor?.[ch] ?? 1)]));
  const pooledCal = (secondsPerHour: number): SymbolCalibration => ({
    tails: pooledTails(),
    secondsPerHour,
    pooled: true,
  });
  const symbols: Record<string, SymbolCalibration> = {};
  for (const [symbol, s] of bySymbol) {
    const seconds = Math.max(...s.maxima.map((m) => m.length));
    const hours = Math.max((s.last - s.first) / 3_600_000, 1 / 60);
    const secondsPerHour = Math.max(1, Math.min(3600, seconds / hours));
    symbols[symbol] = seconds >= minSeconds
      ? {
        tails: Object.fromEntries(
          o.channels.map((ch, c) => [ch, fitTail(s.maxima[c], o.betaFloor?.[ch] ?? 1)]),
        ),
        secondsPerHour,
        pooled: false,
      }
      : pooledCal(secondsPerHour);
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
    fallback: pooledCal(fallbackRate),
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
 * `share × budget ÷ secondsPerHour`. Severity is the largest of
 * ½·ln p ÷ ln p_threshold over channels, clipped to [0, 1], so it means the
 * same on BTC and on a thin pair: 0.5 is the alert line.
 */
export function verdict(cal: Calibration, symbol: string, scores: readonly number[]): Verdict {
  const sc = cal.symbols[symbol] ?? cal.fallback;
  let best = 0;
  let driver = 0;
  let bestP = 1;
  for (let c = 0; c < cal.channels.length; c++) {
    const x = scores[c];
    if (!Number.isFinite(x)) continue;
    const ch = cal.channels[c];
    const tail = sc.tails[ch];
    if (!tail) continue;
    const p = Math.max(tailProbability(tail, x), 1e-300);
    const pThr = Math.min(0.5, (cal.shares[ch] * cal.budget) / sc.secondsPerHour);
    const sev = Math.min(1, Math.max(0, (0.5 * Math.log(p)) / Math.log(pThr)));
    if (sev > best) {
      best = sev;
      driver = c;
      bestP = p;
    }
  }
  return { alert: best >= 0.5, severity: best, driver, p: bestP };
}
