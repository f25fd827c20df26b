/**
 * Calibration, trimmed (DESIGN.md section 16): the training window is
 * unlabelled, and on a market with anomalies part of it is anomalous (the
 * seed stream: a ×8 trade on 0.33 % of the trades; the realistic profile:
 * 6 % of the training trades in episodes). Those trades fatten the fitted
 * tails, so the lines move out and the detector spends a fraction of its
 * budget: 0.37 false incidents per symbol-hour on a budget of 1, seeds 1–5.
 *
 * So the fit is repeated, channel by channel: each pass scores the training
 * trades with the previous pass's calibration and, for a channel that alerts
 * on clearly more seconds than its share of the budget allows for the window
 * (more than twice as many, plus 5), leaves out of *that channel's* tail the
 * trades within `contextMs` of one it alerted on (an episode is more than its
 * alerting trades), then fits again.
 *
 * - A contaminated channel loses the anomalies it can already see, and its
 *   line comes in toward the clean market's.
 * - A channel that alerts on about what its share allows is not trimmed: its
 *   exceedances are the market's own, and cutting them out would thin the
 *   very tail that holds the budget. Measured: trimming every channel
 *   whenever any one was contaminated took the long-horizon price channel's
 *   line in on the seed stream, where a random walk's drifts then alerted in
 *   clusters of hundreds of trades (event F1 0.940 → 0.912 at a budget of
 *   10); and trimming a clean thin pair (whose budget is about a second in a
 *   hundred) raised its false incidents from 0.71 to 1.78 per symbol-hour.
 * - The seconds, trades and time span of every trade still set the rates:
 *   trimming changes the shape of a tail, not how busy the market is.
 *
 * Pure: no clock, no I/O.
 *
 * @module
 */
import {
  type Calibration,
  type CalibrationOptions,
  channelThreshold,
  fitCalibration,
  type ScoredEvent,
  tailProbability,
} from "./calibration.ts";
import { groupBy } from "../lib/group.ts";

/** Options of {@linkcode fitTrimmedCalibration}. */
export interface TrimOptions {
  /** fits after the first, each without what the previous one alerted on too often (default 2) */
  passes?: number;
  /** trades this close to an alerting trade of the same symbol are left out too, ms (default 5 000) */
  contextMs?: number;
}

/**
 * Fits a calibration, then refits it up to `passes` times, leaving out of
 * each over-alerting channel's tail the trades it alerted on (and their
 * `contextMs` neighbourhood).
 *
 * @example
 * ```ts
 * import { fitTrimmedCalibration } from "./calibration_trim.ts";
 * import { Random } from "../lib/random.ts";
 * const r = new Random(7);
 * // an hour of 5 trades a second, z²/2 scores, with 2 % of the trades far out
 * const events = Array.from({ length: 18_000 }, (_, i) => {
 *   const z = r.normal() + (r.float() < 0.02 ? 12 : 0);
 *   return { symbol: "BTC-USDT", ts_ms: i * 200, scores: [0.5 * z * z] };
 * });
 * const o = { channels: ["price"], shares: { price: 1 }, budget: 1 };
 * const cal = fitTrimmedCalibration(events, o);
 * console.log(cal.symbols["BTC-USDT"].tails.price.u < 2); // true: the 90th percentile of the clean part
 * ```
 */
export function fitTrimmedCalibration(
  events: readonly ScoredEvent[],
  o: CalibrationOptions,
  t: TrimOptions = {},
): Calibration {
  const passes = t.passes ?? 2;
  const contextMs = t.contextMs ?? 5_000;
  const bySymbol = indicesBySymbol(events);
  const hours = symbolHours(events, bySymbol);
  let cal = fitCalibration(events, o);
  // per channel: 1 for each event left out of its tail (null: none left out)
  const left: (Uint8Array | null)[] = o.channels.map(() => null);
  for (let pass = 0; pass < passes; pass++) {
    let changed = false;
    for (let c = 0; c < o.channels.length; c++) {
      const allowed = 2 * cal.shares[o.channels[c]] * o.budget * hours + 5;
      const { out, alertSeconds } = alerted(events, bySymbol, cal, c, contextMs);
      if (alertSeconds <= allowed) continue;
      // what was left out before stays out: a pass only adds
      const prev = left[c];
      if (prev !== null) { for (let i = 0; i < out.length; i++) out[i] |= prev[i]; }
      left[c] = out;
      changed = true;
    }
    if (!changed) break;
    const keep = (i: number, c: number) => (left[c]?.[i] ?? 0) === 0 && (o.keep?.(i, c) ?? true);
    cal = fitCalibration(events, { ...o, keep });
  }
  return cal;
}

/** Each symbol's event indices, in input order (time order per symbol). */
function indicesBySymbol(events: readonly ScoredEvent[]): Map<string, number[]> {
  return groupBy(events.keys(), (i) => events[i].symbol);
}

/** Hours between each symbol's first and last event, summed over symbols. */
function symbolHours(events: readonly ScoredEvent[], bySymbol: Map<string, number[]>): number {
  let h = 0;
  for (const idx of bySymbol.values()) {
    let lo = Infinity, hi = -Infinity;
    for (const i of idx) {
      if (events[i].ts_ms < lo) lo = events[i].ts_ms;
      if (events[i].ts_ms > hi) hi = events[i].ts_ms;
    }
    h += (hi - lo) / 3_600_000;
  }
  return h;
}

/**
 * For channel `c`: `out` is 1 for every event within `contextMs` of an event
 * of its symbol on which that channel alerts under `cal`; `alertSeconds`
 * counts the distinct (symbol, second) pairs it alerted on.
 */
function alerted(
  events: readonly ScoredEvent[],
  bySymbol: Map<string, number[]>,
  cal: Calibration,
  c: number,
  contextMs: number,
): { out: Uint8Array; alertSeconds: number } {
  const out = new Uint8Array(events.length);
  const ch = cal.channels[c];
  let alertSeconds = 0;
  for (const [symbol, idx] of bySymbol) {
    const sc = cal.symbols[symbol] ?? cal.fallback;
    const tail = sc.tails[ch];
    if (!tail) continue;
    const threshold = channelThreshold(cal, sc, ch);
    let a = 0; // first event (in idx) at or after t − contextMs
    let marked = 0; // idx[0 … marked) are marked or before every alert's context
    let lastSec = NaN;
    for (let k = 0; k < idx.length; k++) {
      const x = events[idx[k]].scores[c];
      if (!Number.isFinite(x) || !(tailProbability(tail, x) <= threshold)) continue;
      const t = events[idx[k]].ts_ms;
      if (Math.floor(t / 1000) !== lastSec) alertSeconds++;
      lastSec = Math.floor(t / 1000);
      while (events[idx[a]].ts_ms < t - contextMs) a++;
      let j = Math.max(a, marked);
      for (; j < idx.length && events[idx[j]].ts_ms <= t + contextMs; j++) out[idx[j]] = 1;
      marked = j;
    }
  }
  return { out, alertSeconds };
}
