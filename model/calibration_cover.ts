/**
 * Calibration, covered (DESIGN.md section 16): ALERT_BUDGET counts false
 * *incidents*, and an alert within INCIDENT_GAP_SECONDS of another alert of
 * its symbol opens none: it joins that incident (model/incidents.ts). So the
 * budget is spent only by exceedances in seconds that no other alert is
 * near. Each symbol's calibration gets `covered`, per channel, the share of
 * its training seconds with trades that lie within the gap of another alert
 * (in another second, or another channel's in the same second: a channel's
 * own alert in a second is the exceedance itself), and a channel's threshold
 * becomes `share × budget ÷ (secondsPerHour × (1 − covered[channel]))`
 * (calibration.ts's `channelThreshold`): the same expected number of new
 * incidents per symbol-hour.
 *
 * - On a market whose training window has few alerts nothing changes: a
 *   budget of 1 alerts on about 1 second an hour, which covers 11 of 3 600.
 * - Where incidents are frequent (the seed stream puts an anomaly every
 *   ~20 s on each symbol), a third of the seconds are covered, and a false
 *   exceedance there would have merged into an incident the analyst sees
 *   anyway; the other channels' lines come in to spend the budget where it
 *   buys new incidents.
 * - `covered` is capped at {@linkcode MAX_COVERED} (the budget at most
 *   doubles per uncovered second), and computed twice: the lower lines of the
 *   first pass alert a little more, which covers a little more.
 *
 * Pure: no clock, no I/O.
 *
 * @module
 */
import {
  type Calibration,
  channelThreshold,
  type ScoredEvent,
  type SymbolCalibration,
  tailProbability,
} from "./calibration.ts";
import { groupBy } from "../lib/group.ts";

/** Largest `covered` share a symbol's calibration takes. */
export const MAX_COVERED = 0.5;

/** Options of {@linkcode coverCalibration}. */
export interface CoverOptions {
  /** INCIDENT_GAP_SECONDS in ms: alerts closer than this are one incident */
  gapMs: number;
  /** passes (default 2): each computes `covered` under the previous one's lines */
  passes?: number;
}

/**
 * Returns `cal` with each symbol's `covered` share, measured on the training
 * events it was fitted on (the fallback for unseen symbols keeps 0).
 *
 * @example
 * ```ts
 * import { fitCalibration } from "./calibration.ts";
 * import { coverCalibration } from "./calibration_cover.ts";
 * // an hour of a trade a second; every 20th second far out
 * const events = Array.from({ length: 3600 }, (_, i) => ({
 *   symbol: "BTC-USDT", ts_ms: i * 1000, scores: [i % 20 === 0 ? 200 : (i % 7) / 7],
 * }));
 * const o = { channels: ["price"], shares: { price: 1 }, budget: 1 };
 * const cal = coverCalibration(events, fitCalibration(events, o), { gapMs: 5000 });
 * console.log(cal.symbols["BTC-USDT"].covered.price); // 0.44875: ~9 of every 20 seconds are near one
 * ```
 */
export function coverCalibration(
  events: readonly ScoredEvent[],
  cal: Calibration,
  o: CoverOptions,
): Calibration {
  if (!(o.gapMs > 0)) throw new RangeError(`gapMs must be > 0, got ${o.gapMs}`);
  const passes = o.passes ?? 2;
  const bySymbol = secondsBySymbol(events);
  let out = cal;
  for (let pass = 0; pass < passes; pass++) {
    const symbols: Record<string, SymbolCalibration> = {};
    for (const [symbol, sc] of Object.entries(out.symbols)) {
      const s = bySymbol.get(symbol);
      symbols[symbol] = { ...sc, covered: s ? coveredShares(s, out, sc, o.gapMs) : {} };
    }
    out = { ...out, symbols };
  }
  return out;
}

/** A symbol's training events in time order, and its distinct seconds with a finite score. */
interface SymbolEvents {
  events: ScoredEvent[];
  seconds: number[];
}

function secondsBySymbol(events: readonly ScoredEvent[]): Map<string, SymbolEvents> {
  const m = new Map<string, SymbolEvents>();
  for (const [symbol, l] of groupBy(events, (e) => e.symbol)) {
    l.sort((a, b) => a.ts_ms - b.ts_ms);
    const secs = new Set<number>();
    for (const e of l) {
      if (e.scores.some(Number.isFinite)) secs.add(Math.floor(e.ts_ms / 1000));
    }
    m.set(symbol, { events: l, seconds: [...secs].sort((a, b) => a - b) });
  }
  return m;
}

/**
 * Per channel, the share of a symbol's seconds with trades within `gapMs` of
 * another alert under `cal`'s lines (capped): an alert in another second,
 * whichever channel raised it, or another channel's alert in the same second
 * (the channel's own alert there is the exceedance itself).
 */
function coveredShares(
  s: SymbolEvents,
  cal: Calibration,
  sc: SymbolCalibration,
  gapMs: number,
): Record<string, number> {
  const nc = cal.channels.length;
  const out: Record<string, number> = {};
  if (s.seconds.length === 0) return out;
  const lines = cal.channels.map((ch) => channelThreshold(cal, sc, ch));
  // alerting seconds (ascending) and, for each, a bit per channel that alerted in it
  const alerts: number[] = [];
  const masks: number[] = [];
  for (const e of s.events) {
    const sec = Math.floor(e.ts_ms / 1000);
    for (let c = 0; c < nc; c++) {
      const x = e.scores[c];
      const tail = sc.tails[cal.channels[c]];
      if (!Number.isFinite(x) || !tail || !(tailProbability(tail, x) <= lines[c])) continue;
      if (alerts.length === 0 || alerts[alerts.length - 1] !== sec) {
        alerts.push(sec);
        masks.push(0);
      }
      masks[masks.length - 1] |= 1 << c;
    }
  }
  // Two trades in seconds d apart are d + U₁ − U₂ apart (U uniform within
  // their seconds): within the gap with probability F(gap − d), F the CDF of
  // the triangular U₁ − U₂ on [−1, 1].
  const gapS = gapMs / 1000;
  const covered = new Float64Array(nc);
  let a = 0; // first alert at or after second − gap − 1
  for (const sec of s.seconds) {
    while (a < alerts.length && alerts[a] < sec - gapS - 1) a++;
    for (let c = 0; c < nc; c++) {
      let w = 0;
      for (let k = a; k < alerts.length && alerts[k] <= sec + gapS + 1 && w < 1; k++) {
        if (alerts[k] === sec && (masks[k] & ~(1 << c)) === 0) continue;
        w = Math.max(w, triangularCdf(gapS - Math.abs(alerts[k] - sec)));
      }
      covered[c] += w;
    }
  }
  cal.channels.forEach((ch, c) => {
    out[ch] = Number(Math.min(MAX_COVERED, covered[c] / s.seconds.length).toPrecision(6));
  });
  return out;
}

/** CDF of U₁ − U₂, two independent uniforms on [0, 1). */
export function triangularCdf(x: number): number {
  if (x <= -1) return 0;
  if (x <= 0) return 0.5 * (1 + x) * (1 + x);
  if (x < 1) return 1 - 0.5 * (1 - x) * (1 - x);
  return 1;
}
