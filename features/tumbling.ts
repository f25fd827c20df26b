/**
 * The seed's detection method, rebuilt with Sentinel's pure pieces so the
 * evaluation can compare against it on the same stream (issue 6): one-minute
 * **tumbling** windows per symbol and one feature row per closed window,
 * instead of one row per event over a rolling window.
 *
 * The row of a window [start, end) describes the window's **last** event
 * against the window's own statistics, every event of the window included
 * (the seed aggregated the window first, then compared its last event):
 *
 * - `z_score_x = (x_last − mean(x_window)) / std(x_window)` for price,
 *   log return and volume;
 * - `rolling_price_std = std(price) / mean(price)`,
 *   `rolling_volume_std = std(volume) / mean(volume)`.
 *
 * Standard deviations are sample ones (n − 1, Spark's `stddev`, the seed's
 * engine, and the same as Sentinel's features). The rolling stds are
 * **relative**, as Sentinel's, not absolute dollars as the seed's: with
 * absolute stds one forest would be comparing BTC at 43 000 with BNB at 320,
 * and the comparison would measure that mistake rather than the windowing.
 * A z-score whose std is 0 (or a window of one event) is 0, as in
 * features/features.ts. A window of fewer than `minWindowEvents` events is a
 * warm-up row (never scored or trained on).
 *
 * The row's `ts_ms` is the window's close (`end`): the earliest moment the
 * seed could have known the verdict (its Spark job also waited for a
 * watermark, so real delays were longer). Windows are aligned to the epoch
 * (`start = ⌊t / width⌋ · width`); an event earlier than its symbol's open
 * window is counted in that open window (late events are clamped, as in
 * features/window.ts). A window exists only if an event fell in it.
 *
 * @module
 */
import { eventTimeMs, type FeatureRow, type MarketEvent } from "../lib/contracts.ts";
import { addValue, checkWindowOptions, emptyMoments, type Moments, sampleStd } from "./window.ts";

/** A closed window's row: a {@linkcode FeatureRow} stamped at the close, plus the window. */
export type WindowRow = FeatureRow & {
  /** Window start, ms (inclusive). */
  window_start_ms: number;
  /** Window end = close time = `ts_ms`, ms (exclusive). */
  window_end_ms: number;
  /** Labelled anomalies among the window's events. */
  anomaly_count: number;
};

/** Options of {@linkcode TumblingWindows}. */
export interface TumblingWindowOptions {
  /** Window width in seconds (the seed: 60). */
  windowSeconds: number;
  /** Windows with fewer events are warm-up rows (MIN_WINDOW_EVENTS). */
  minWindowEvents: number;
}

interface OpenWindow {
  symbol: string;
  start: number;
  price: Moments;
  logReturn: Moments;
  volume: Moments;
  last: MarketEvent | null;
  anomalies: number;
  firstType: FeatureRow["anomaly_type"];
}

/**
 * Per-symbol tumbling windows; `update(event)` returns the row of the window
 * the event closed, if it closed one.
 *
 * @example
 * ```ts
 * import { TumblingWindows } from "./tumbling.ts";
 * const windows = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 2 });
 * const e = (price: number, s: number) => ({
 *   timestamp: s, symbol: "BTC-USDT", price, volume: 1, log_return: 0,
 *   is_anomaly: false, anomaly_type: null,
 * });
 * windows.update(e(100, 1));
 * windows.update(e(102, 2));
 * windows.update(e(104, 3));
 * const row = windows.update(e(100, 61))!; // the first event of the next minute closes [0, 60 s)
 * console.log(row.ts_ms, row.window_count, row.z_score_price); // 60000 3 1 = (104 − 102) / 2
 * ```
 */
export class TumblingWindows {
  /** Window width in ms. */
  readonly widthMs: number;
  /** Warm-up threshold. */
  readonly minWindowEvents: number;
  #open = new Map<string, OpenWindow>();

  /** Throws a `RangeError` unless the width is a positive integer and the threshold ≥ 0. */
  constructor(options: TumblingWindowOptions) {
    const { windowSeconds, minWindowEvents } = options;
    checkWindowOptions(options);
    this.widthMs = windowSeconds * 1000;
    this.minWindowEvents = minWindowEvents;
  }

  /**
   * Adds an event to its symbol's window. When the event belongs to a later
   * window than the symbol's open one, the open window closes first and its
   * row is returned; otherwise null.
   */
  update(e: MarketEvent): WindowRow | null {
    const t = eventTimeMs(e);
    const start = t - mod(t, this.widthMs);
    let w = this.#open.get(e.symbol);
    let closed: WindowRow | null = null;
    if (w === undefined || start > w.start) {
      if (w !== undefined) closed = this.#row(w);
      w = {
        symbol: e.symbol,
        start,
        price: emptyMoments(),
        logReturn: emptyMoments(),
        volume: emptyMoments(),
        last: null,
        anomalies: 0,
        firstType: null,
      };
      this.#open.set(e.symbol, w);
    }
    w.price = addValue(w.price, e.price);
    w.logReturn = addValue(w.logReturn, e.log_return);
    w.volume = addValue(w.volume, e.volume);
    w.last = e;
    if (e.is_anomaly) {
      if (w.anomalies === 0) w.firstType = e.anomaly_type ?? null;
      w.anomalies++;
    }
    return closed;
  }

  /** Start (ms) of the symbol's open window, the one its latest event went to; null before any. */
  openWindowStart(symbol: string): number | null {
    return this.#open.get(symbol)?.start ?? null;
  }

  /** Closes every open window (end of stream): their rows, in order of the symbols' first event. */
  flush(): WindowRow[] {
    const rows = [...this.#open.values()].map((w) => this.#row(w));
    this.#open.clear();
    return rows;
  }

  #row(w: OpenWindow): WindowRow {
    const last = w.last!;
    const n = w.price.count;
    const end = w.start + this.widthMs;
    const row: WindowRow = {
      symbol: w.symbol,
      ts_ms: end,
      z_score_price: zScore(last.price, w.price),
      z_score_log_return: zScore(last.log_return, w.logReturn),
      z_score_volume: zScore(last.volume, w.volume),
      rolling_price_std: relativeStd(w.price),
      rolling_volume_std: relativeStd(w.volume),
      window_count: n,
      warm_up: n < this.minWindowEvents,
      price: last.price,
      volume: last.volume,
      is_anomaly: w.anomalies > 0,
      anomaly_type: w.firstType,
      window_start_ms: w.start,
      window_end_ms: end,
      anomaly_count: w.anomalies,
    };
    if (last.source !== undefined) row.source = last.source;
    return row;
  }
}

function mod(a: number, b: number): number {
  const r = a % b;
  return r < 0 ? r + b : r;
}

function zScore(x: number, m: Moments): number {
  const std = sampleStd(m);
  if (!(std > 0)) return 0;
  const z = (x - m.mean) / std;
  return Number.isFinite(z) ? z : 0;
}

function relativeStd(m: Moments): number {
  if (m.count < 2 || !(m.mean > 0)) return 0;
  const r = sampleStd(m) / m.mean;
  return Number.isFinite(r) ? r : 0;
}
