/**
 * Calibration, trimmed (DESIGN.md section 16): the training window is
 * unlabelled, and on a market with episodes a good share of it is anomalous
 * (the simulator's realistic profile: 6 % of the training trades, its thin
 * one: 10 %). Those trades fatten the fitted tails, so the lines move out and
 * the detector spends a fraction of its budget: on the thin profile the short
 * price channel's line sat at 9.8 σ, against 6.1 σ on the same market without
 * episodes.
 *
 * So the fit is repeated: each pass scores the training trades with the
 * previous pass's calibration and, when it alerts on clearly more seconds
 * than the budget allows for the window (more than twice as many, plus 5),
 * leaves out of the tails every trade within `contextMs` of one it alerted
 * on (an episode is more than its alerting trades), then fits again. A
 * contaminated window loses the anomalies the detector can already see, and
 * the lines come in toward the clean market's. A clean window is not
 * trimmed at all: it alerts on about what the budget allows, and cutting
 * those seconds out would thin the tail it was fitted on (on a thin pair,
 * whose budget is a second in a hundred, trimming a clean window raised the
 * false incidents from 0.71 to 1.78 per symbol-hour). The seconds, trades
 * and time span of every trade still set the per-second rates: trimming
 * changes the shape of the tails, not how busy the market is.
 *
 * Pure: no clock, no I/O.
 *
 * @module
 */
import {
  type Calibration,
  type CalibrationOptions,
  fitCalibration,
  type ScoredEvent,
  verdict,
} from "./calibration.ts";

/** Options of {@linkcode fitTrimmedCalibration}. */
export interface TrimOptions {
  /** fits after the first, each on what the previous one did not alert on (default 2) */
  passes?: number;
  /** trades this close to an alerting trade of the same symbol are left out too, ms (default 5 000) */
  contextMs?: number;
}

/**
 * Fits a calibration, then refits it `passes` times without the trades the
 * previous fit alerted on (and their `contextMs` neighbourhood).
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
  let cal = fitCalibration(events, o);
  let left: Uint8Array = new Uint8Array(events.length); // 1: left out of the tails
  let leftCount = 0;
  const allowed = 2 * o.budget * symbolHours(events) + 5;
  for (let pass = 0; pass < passes; pass++) {
    const { out, alertSeconds } = trimmed(events, cal, contextMs);
    if (alertSeconds <= allowed) break;
    let n = 0;
    for (let i = 0; i < out.length; i++) n += out[i];
    // a pass that leaves out no more than the previous one changes nothing
    if (n <= leftCount) break;
    left = out;
    leftCount = n;
    const keep = (i: number) => left[i] === 0 && (o.keep?.(i) ?? true);
    cal = fitCalibration(events, { ...o, keep });
  }
  return cal;
}

/** Hours between each symbol's first and last event, summed over symbols. */
function symbolHours(events: readonly ScoredEvent[]): number {
  const span = new Map<string, [number, number]>();
  for (const e of events) {
    const s = span.get(e.symbol);
    if (!s) span.set(e.symbol, [e.ts_ms, e.ts_ms]);
    else {
      if (e.ts_ms < s[0]) s[0] = e.ts_ms;
      if (e.ts_ms > s[1]) s[1] = e.ts_ms;
    }
  }
  let h = 0;
  for (const [a, b] of span.values()) h += (b - a) / 3_600_000;
  return h;
}

/**
 * `out`: 1 for every event within `contextMs` of an event of its symbol that
 * `cal` alerts on; `alertSeconds`: the distinct (symbol, second) pairs alerted on.
 */
function trimmed(
  events: readonly ScoredEvent[],
  cal: Calibration,
  contextMs: number,
): { out: Uint8Array; alertSeconds: number } {
  const out = new Uint8Array(events.length);
  let alertSeconds = 0;
  // per symbol: the indices of its events, in input order (which is time order per symbol)
  const bySymbol = new Map<string, number[]>();
  for (let i = 0; i < events.length; i++) {
    let l = bySymbol.get(events[i].symbol);
    if (!l) bySymbol.set(events[i].symbol, l = []);
    l.push(i);
  }
  for (const idx of bySymbol.values()) {
    let a = 0; // first event (in idx) at or after t − contextMs
    let marked = 0; // idx[0 … marked) are marked or before every alert's context
    let lastSec = NaN;
    for (let k = 0; k < idx.length; k++) {
      const e = events[idx[k]];
      if (!e.scores.some(Number.isFinite) || !verdict(cal, e.symbol, e.scores).alert) continue;
      const t = e.ts_ms;
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
