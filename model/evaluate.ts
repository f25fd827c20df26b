/**
 * How well a detector did on a labelled stream (issue 6): detection rate and
 * delay per anomaly type, false alarms per symbol-hour, and event-level
 * precision / recall / F1 / ROC-AUC / average precision. Pure arithmetic on
 * what the detector said and what the labels say; the harness that produces
 * both is `bench/eval.ts`.
 *
 * Definitions, spelled out once:
 * - **Detected within T.** An injected event of symbol s at time t is detected
 *   within T when some alert for s fires at a time in [t, t + T] (both ends
 *   included). Its **delay** is the time from t to the first alert for s at or
 *   after t; delays are summarised over the events detected within the
 *   largest horizon.
 * - **False alarm.** An alert for s at time a is true when some labelled
 *   event of s lies in [a − tolerance, a] (the alert is within the event's
 *   tolerance window [t, t + tolerance]); otherwise it is a false alarm.
 *   False alarms per symbol-hour = false alarms ÷ (hours of stream × symbols).
 *   A false alarm within the shadow (default 60 s, one feature window) after
 *   a labelled event of its symbol is counted apart: it is what an anomaly
 *   left behind in the window, not noise.
 * - **Event level.** An event is predicted positive when its own row was
 *   flagged. Precision, recall and F1 are of the anomaly class over every
 *   event (an unscored event is a negative prediction); ROC-AUC and average
 *   precision rank the scored events by −anomaly_score (higher = more
 *   anomalous) and are null when the scored events hold only one class.
 *
 * @module
 */
import { ANOMALY_TYPES, type AnomalyType } from "../lib/contracts.ts";
import {
  averagePrecision,
  classificationReport,
  type ConfusionMatrix,
  percentile,
  rocAuc,
} from "./metrics.ts";
import { groupBy } from "../lib/group.ts";

/** Detection horizons of the report: 1 s, 5 s, 60 s. */
export const DEFAULT_HORIZONS_MS: readonly number[] = Object.freeze([1_000, 5_000, 60_000]);
/** An alert up to this long after a labelled event of its symbol is not a false alarm. */
export const DEFAULT_TOLERANCE_MS = 5_000;
/**
 * A false alarm up to this long after a labelled event of its symbol is "in
 * the anomaly's shadow": the anomaly is still inside a 60 s feature window.
 */
export const DEFAULT_SHADOW_MS = 60_000;

const HOUR_MS = 3_600_000;

/**
 * The stream the detector saw, as columns (one entry per event; a day of
 * events stays compact). Order does not matter to the metrics.
 */
export interface LabelledStream {
  /** Event time, ms. */
  ts_ms: ArrayLike<number>;
  /** Symbol of each event. */
  symbol: ArrayLike<string>;
  /** Ground truth: the event is an injected anomaly. */
  is_anomaly: ArrayLike<boolean>;
  /** Kind of the anomaly (read only where `is_anomaly`); null when unknown. */
  anomaly_type: ArrayLike<AnomalyType | null>;
}

/** What the detector said of each event, aligned with {@linkcode LabelledStream}. */
export interface EventVerdicts {
  /** The event's own row was flagged. */
  flagged: ArrayLike<boolean>;
  /** `anomaly_score` (decision function, negative = anomalous), NaN when not scored. */
  anomaly_score: ArrayLike<number>;
}

/** One alert: the detector raised it for `symbol` at `ts_ms`. */
export interface Alert {
  ts_ms: number;
  symbol: string;
  /** `anomaly_score` of the alert (informative; the metrics only use time and symbol). */
  score: number;
}

/** Options of {@linkcode evaluateDetector}; defaults spelled out in the constants above. */
export interface EvaluateOptions {
  /** Detection horizons, ms, ascending; default {@linkcode DEFAULT_HORIZONS_MS}. */
  horizonsMs?: readonly number[];
  /** False-alarm tolerance, ms; default {@linkcode DEFAULT_TOLERANCE_MS}. */
  toleranceMs?: number;
  /** Shadow of an anomaly for the false-alarm breakdown, ms; default {@linkcode DEFAULT_SHADOW_MS}. */
  shadowMs?: number;
  /**
   * Hours of stream × symbols, the false-alarm denominator. Default: the sum
   * over symbols of (last event time − first event time); pass the exact
   * figure when the stream's extent is known (e.g. 23 h × 3 symbols).
   */
  symbolHours?: number;
}

/** Detections within one horizon. */
export interface HorizonDetection {
  within_ms: number;
  detected: number;
  /** `detected / injected`, null when nothing was injected. */
  rate: number | null;
}

/** How one anomaly type (or all of them) was detected. */
export interface TypeDetection {
  injected: number;
  detected_within: HorizonDetection[];
  /** Share of the injected events whose own row was flagged (event-level recall). */
  own_row_flagged: number | null;
  /** Of the events detected within the largest horizon: delay percentiles (numpy linear), ms. */
  delay_ms: { median: number | null; p95: number | null };
}

/** Alerts and false alarms. */
export interface FalseAlarmReport {
  alerts: number;
  false_alarms: number;
  tolerance_ms: number;
  /** False alarms within `shadow_ms` after a labelled event of their symbol (but past the tolerance). */
  in_shadow: number;
  shadow_ms: number;
  symbol_hours: number;
  /** `false_alarms / symbol_hours`, null when the stream has no extent. */
  per_symbol_hour: number | null;
  /** `alerts / symbol_hours`, null when the stream has no extent. */
  alerts_per_symbol_hour: number | null;
}

/** Event-level classification figures. */
export interface EventLevelReport {
  events: number;
  /** Events with a score (not warm-up). */
  scored: number;
  /** Labelled anomalies. */
  positives: number;
  /** Events predicted positive. */
  flagged: number;
  precision: number;
  recall: number;
  f1: number;
  /** `[[tn, fp], [fn, tp]]`. */
  confusion_matrix: ConfusionMatrix;
  roc_auc: number | null;
  average_precision: number | null;
}

/** Everything {@linkcode evaluateDetector} measures. */
export interface DetectorReport {
  /** Per anomaly type, plus `ALL` (every labelled anomaly, typed or not). */
  detection: Record<AnomalyType | "ALL", TypeDetection>;
  false_alarms: FalseAlarmReport;
  event_level: EventLevelReport;
}

/**
 * Measures a detector on a labelled stream; see the module notes for the
 * exact definitions.
 *
 * @example
 * ```ts
 * import { evaluateDetector } from "./evaluate.ts";
 * // One symbol, an event a second for 10 s, a spike at 3 s caught one second late.
 * const ts = Array.from({ length: 10 }, (_, i) => i * 1000);
 * const report = evaluateDetector(
 *   {
 *     ts_ms: ts,
 *     symbol: ts.map(() => "BTC-USDT"),
 *     is_anomaly: ts.map((t) => t === 3000),
 *     anomaly_type: ts.map((t) => (t === 3000 ? "PRICE_SPIKE" : null)),
 *   },
 *   { flagged: ts.map((t) => t === 4000), anomaly_score: ts.map((t) => (t === 4000 ? -0.1 : 0.1)) },
 *   [{ ts_ms: 4000, symbol: "BTC-USDT", score: -0.1 }],
 * );
 * console.log(report.detection.PRICE_SPIKE.delay_ms.median); // 1000
 * console.log(report.false_alarms.false_alarms, report.event_level.recall); // 0 0
 * ```
 */
export function evaluateDetector(
  stream: LabelledStream,
  verdicts: EventVerdicts,
  alerts: readonly Alert[],
  options: EvaluateOptions = {},
): DetectorReport {
  const n = stream.ts_ms.length;
  for (
    const [name, column] of [
      ["symbol", stream.symbol],
      ["is_anomaly", stream.is_anomaly],
      ["anomaly_type", stream.anomaly_type],
      ["flagged", verdicts.flagged],
      ["anomaly_score", verdicts.anomaly_score],
    ] as const
  ) {
    if (column.length !== n) {
      throw new RangeError(`column ${name} has ${column.length} entries, ts_ms has ${n}`);
    }
  }
  const horizons = [...(options.horizonsMs ?? DEFAULT_HORIZONS_MS)];
  if (
    horizons.length === 0 || horizons.some((h, i) => !(h >= 0) || (i > 0 && h < horizons[i - 1]))
  ) {
    throw new RangeError(`horizonsMs must be non-negative and ascending, got ${horizons}`);
  }
  const toleranceMs = options.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  if (!(toleranceMs >= 0)) throw new RangeError(`toleranceMs must be >= 0, got ${toleranceMs}`);
  const shadowMs = options.shadowMs ?? DEFAULT_SHADOW_MS;
  if (!(shadowMs >= toleranceMs)) {
    throw new RangeError(`shadowMs must be >= toleranceMs (${toleranceMs}), got ${shadowMs}`);
  }
  const symbolHours = options.symbolHours ?? streamSymbolHours(stream);
  if (!(symbolHours >= 0)) throw new RangeError(`symbolHours must be >= 0, got ${symbolHours}`);

  return {
    detection: detectionByType(stream, verdicts, alerts, horizons),
    false_alarms: falseAlarms(stream, alerts, toleranceMs, shadowMs, symbolHours),
    event_level: eventLevel(stream, verdicts),
  };
}

/** Σ over symbols of (last − first event time), in hours. */
function streamSymbolHours(stream: LabelledStream): number {
  const span = new Map<string, [number, number]>();
  for (let i = 0; i < stream.ts_ms.length; i++) {
    const t = stream.ts_ms[i];
    const s = span.get(stream.symbol[i]);
    if (s === undefined) span.set(stream.symbol[i], [t, t]);
    else {
      if (t < s[0]) s[0] = t;
      if (t > s[1]) s[1] = t;
    }
  }
  let ms = 0;
  for (const [lo, hi] of span.values()) ms += hi - lo;
  return ms / HOUR_MS;
}

/** Ascending times per symbol. */
function timesBySymbol(
  items: Iterable<{ symbol: string; ts_ms: number }>,
): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [s, l] of groupBy(items, (x) => x.symbol)) {
    out.set(s, Float64Array.from(l, (x) => x.ts_ms).sort());
  }
  return out;
}

/** First index whose value is >= x (length when none). */
function lowerBound(sorted: Float64Array, x: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > x (length when none). */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0, hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function* anomalies(stream: LabelledStream): Generator<number> {
  for (let i = 0; i < stream.ts_ms.length; i++) if (stream.is_anomaly[i]) yield i;
}

function detectionByType(
  stream: LabelledStream,
  verdicts: EventVerdicts,
  alerts: readonly Alert[],
  horizons: number[],
): Record<AnomalyType | "ALL", TypeDetection> {
  const alertTimes = timesBySymbol(alerts);
  const largest = horizons[horizons.length - 1];
  type Acc = { injected: number; detected: number[]; ownFlagged: number; delays: number[] };
  const fresh = (): Acc => ({
    injected: 0,
    detected: horizons.map(() => 0),
    ownFlagged: 0,
    delays: [],
  });
  const acc = new Map<AnomalyType | "ALL", Acc>([["ALL", fresh()]]);
  for (const t of ANOMALY_TYPES) acc.set(t, fresh());
  for (const i of anomalies(stream)) {
    const t = stream.ts_ms[i];
    const times = alertTimes.get(stream.symbol[i]);
    let delay = Infinity;
    if (times !== undefined) {
      const k = lowerBound(times, t);
      if (k < times.length) delay = times[k] - t;
    }
    const type = stream.anomaly_type[i];
    for (const a of type === null ? [acc.get("ALL")!] : [acc.get("ALL")!, acc.get(type)!]) {
      a.injected++;
      if (verdicts.flagged[i]) a.ownFlagged++;
      for (let h = 0; h < horizons.length; h++) if (delay <= horizons[h]) a.detected[h]++;
      if (delay <= largest) a.delays.push(delay);
    }
  }
  const out = {} as Record<AnomalyType | "ALL", TypeDetection>;
  for (const [key, a] of acc) {
    out[key] = {
      injected: a.injected,
      detected_within: horizons.map((h, k) => ({
        within_ms: h,
        detected: a.detected[k],
        rate: a.injected === 0 ? null : a.detected[k] / a.injected,
      })),
      own_row_flagged: a.injected === 0 ? null : a.ownFlagged / a.injected,
      delay_ms: a.delays.length === 0
        ? { median: null, p95: null }
        : { median: percentile(a.delays, 50), p95: percentile(a.delays, 95) },
    };
  }
  return out;
}

/** Verdict on one alert by {@linkcode classifyAlerts}. */
export const AlertClass = Object.freeze(
  {
    /** Within the tolerance after a labelled event of its symbol. */
    True: 0,
    /** A false alarm within the shadow (but past the tolerance) of a labelled event. */
    InShadow: 1,
    /** A false alarm with no labelled event of its symbol in the shadow before it. */
    Unexplained: 2,
  } as const,
);

/**
 * Classifies each alert against the labelled events of its symbol: true
 * (a labelled event lies in [a − toleranceMs, a]), a false alarm in an
 * anomaly's shadow (one lies in [a − shadowMs, a − toleranceMs)), or an
 * unexplained false alarm. One entry per alert, in the alerts' order.
 *
 * @example
 * ```ts
 * import { AlertClass, classifyAlerts } from "./evaluate.ts";
 * const stream = {
 *   ts_ms: [0, 1000], symbol: ["BTC-USDT", "BTC-USDT"],
 *   is_anomaly: [true, false], anomaly_type: ["PRICE_SPIKE" as const, null],
 * };
 * const classes = classifyAlerts(stream, [
 *   { ts_ms: 0, symbol: "BTC-USDT", score: -1 },
 *   { ts_ms: 30_000, symbol: "BTC-USDT", score: -1 },
 * ], 5_000, 60_000);
 * console.log(classes[0] === AlertClass.True, classes[1] === AlertClass.InShadow); // true true
 * ```
 */
export function classifyAlerts(
  stream: LabelledStream,
  alerts: readonly Alert[],
  toleranceMs: number,
  shadowMs: number,
): Uint8Array {
  const labelled: { symbol: string; ts_ms: number }[] = [];
  for (const i of anomalies(stream)) {
    labelled.push({ symbol: stream.symbol[i], ts_ms: stream.ts_ms[i] });
  }
  const eventTimes = timesBySymbol(labelled);
  const out = new Uint8Array(alerts.length);
  for (let j = 0; j < alerts.length; j++) {
    const a = alerts[j];
    const times = eventTimes.get(a.symbol);
    // Only the latest labelled event at or before the alert can be within tolerance of it.
    const k = times === undefined ? 0 : upperBound(times, a.ts_ms);
    const since = times === undefined || k === 0 ? Infinity : a.ts_ms - times[k - 1];
    out[j] = since <= toleranceMs
      ? AlertClass.True
      : since <= shadowMs
      ? AlertClass.InShadow
      : AlertClass.Unexplained;
  }
  return out;
}

function falseAlarms(
  stream: LabelledStream,
  alerts: readonly Alert[],
  toleranceMs: number,
  shadowMs: number,
  symbolHours: number,
): FalseAlarmReport {
  const classes = classifyAlerts(stream, alerts, toleranceMs, shadowMs);
  let count = 0, inShadow = 0;
  for (const c of classes) {
    if (c !== AlertClass.True) count++;
    if (c === AlertClass.InShadow) inShadow++;
  }
  return {
    alerts: alerts.length,
    false_alarms: count,
    tolerance_ms: toleranceMs,
    in_shadow: inShadow,
    shadow_ms: shadowMs,
    symbol_hours: symbolHours,
    per_symbol_hour: symbolHours > 0 ? count / symbolHours : null,
    alerts_per_symbol_hour: symbolHours > 0 ? alerts.length / symbolHours : null,
  };
}

/** Flagged normal events among the events of one kind. */
export interface FalsePositiveBucket {
  /** what the bucket holds, e.g. "0", "1", "3+" anomalies in the window */
  key: string;
  /** normal events in the bucket */
  events: number;
  /** of them, flagged */
  false_positives: number;
  /** `false_positives / events`, null for an empty bucket */
  rate: number | null;
}

/** What the event-level false positives had just seen; see {@linkcode falsePositiveAnatomy}. */
export interface FalsePositiveAnatomy {
  window_ms: number;
  normal_events: number;
  false_positives: number;
  /** Normal events right after a price anomaly of their symbol: the snap-back of the price. */
  snap_back: { events: number; false_positives: number; rate: number | null };
  /** The other normal events, by volume spikes of their symbol in the `window_ms` before them. */
  by_volume_spikes_in_window: FalsePositiveBucket[];
  /** The other normal events, by price anomalies (spikes, crashes) in the `window_ms` before them. */
  by_price_anomalies_in_window: FalsePositiveBucket[];
}

/**
 * Where a detector's event-level false positives (flagged normal events)
 * come from, from the labels alone:
 * - **snap-back**: the symbol's previous event was a price anomaly
 *   (PRICE_SPIKE or FLASH_CRASH), so this event's log return jumps back;
 * - otherwise, how many labelled anomalies of the symbol the feature window
 *   before the event, [t − windowMs, t), still held, counted separately for
 *   volume spikes and for price anomalies (`maxCount` and more share one bucket).
 *
 * A false-positive rate that climbs with the anomalies in the window means
 * past anomalies, not the event itself, are setting the alarm off.
 * "Previous" and "before" follow the stream's order; an event earlier than
 * its symbol's latest one counts at that latest time (as the feature
 * windows clamp late events).
 *
 * @example
 * ```ts
 * import { falsePositiveAnatomy } from "./evaluate.ts";
 * const a = falsePositiveAnatomy(
 *   {
 *     ts_ms: [0, 1000, 2000], symbol: ["X-Y", "X-Y", "X-Y"],
 *     is_anomaly: [true, false, false], anomaly_type: ["PRICE_SPIKE", null, null],
 *   },
 *   [true, true, false],
 * );
 * console.log(a.snap_back); // { events: 1, false_positives: 1, rate: 1 }
 * ```
 */
export function falsePositiveAnatomy(
  stream: LabelledStream,
  flagged: ArrayLike<boolean>,
  windowMs = DEFAULT_SHADOW_MS,
  maxCount = 3,
): FalsePositiveAnatomy {
  const n = stream.ts_ms.length;
  if (flagged.length !== n) {
    throw new RangeError(`flagged has ${flagged.length} entries, ts_ms has ${n}`);
  }
  type Recent = { times: number[]; volume: boolean[]; head: number; lastTs: number; prev: boolean };
  const bySymbol = new Map<string, Recent>();
  const buckets = () => Array.from({ length: maxCount + 1 }, () => [0, 0]);
  const vol = buckets(), price = buckets();
  const snap = [0, 0];
  let normal = 0, fp = 0;
  for (let i = 0; i < n; i++) {
    let t = stream.ts_ms[i];
    let r = bySymbol.get(stream.symbol[i]);
    if (r === undefined) {
      bySymbol.set(
        stream.symbol[i],
        r = { times: [], volume: [], head: 0, lastTs: t, prev: false },
      );
    }
    // A late event counts at its symbol's latest time, as the feature windows clamp it.
    if (t < r.lastTs) t = r.lastTs;
    r.lastTs = t;
    while (r.head < r.times.length && r.times[r.head] < t - windowMs) r.head++;
    const anomaly = stream.is_anomaly[i] === true;
    const type = stream.anomaly_type[i];
    if (!anomaly) {
      const hit = flagged[i] === true ? 1 : 0;
      normal++;
      fp += hit;
      if (r.prev) {
        snap[0]++;
        snap[1] += hit;
      } else {
        let v = 0, p = 0;
        for (let k = r.head; k < r.times.length; k++) r.volume[k] ? v++ : p++;
        vol[Math.min(v, maxCount)][0]++;
        vol[Math.min(v, maxCount)][1] += hit;
        price[Math.min(p, maxCount)][0]++;
        price[Math.min(p, maxCount)][1] += hit;
      }
    } else {
      r.times.push(t);
      r.volume.push(type === "VOLUME_SPIKE");
      // Drop what left the window now and then, so memory stays O(anomalies per window).
      if (r.head > 1024) {
        r.times = r.times.slice(r.head);
        r.volume = r.volume.slice(r.head);
        r.head = 0;
      }
    }
    r.prev = anomaly && (type === "PRICE_SPIKE" || type === "FLASH_CRASH");
  }
  const rate = (f: number, e: number) => (e === 0 ? null : f / e);
  const out = (b: number[][]): FalsePositiveBucket[] =>
    b.map(([events, f], k) => ({
      key: k === maxCount ? `${k}+` : String(k),
      events,
      false_positives: f,
      rate: rate(f, events),
    }));
  return {
    window_ms: windowMs,
    normal_events: normal,
    false_positives: fp,
    snap_back: { events: snap[0], false_positives: snap[1], rate: rate(snap[1], snap[0]) },
    by_volume_spikes_in_window: out(vol),
    by_price_anomalies_in_window: out(price),
  };
}

function eventLevel(stream: LabelledStream, verdicts: EventVerdicts): EventLevelReport {
  const n = stream.ts_ms.length;
  const yTrue = new Array<boolean>(n);
  const yPred = new Array<boolean>(n);
  let scored = 0, positives = 0, flagged = 0;
  for (let i = 0; i < n; i++) {
    yTrue[i] = stream.is_anomaly[i] === true;
    yPred[i] = verdicts.flagged[i] === true;
    if (yTrue[i]) positives++;
    if (yPred[i]) flagged++;
    if (!Number.isNaN(verdicts.anomaly_score[i])) scored++;
  }
  const scoredTrue = new Array<boolean>(scored);
  const anomalousness = new Float64Array(scored);
  for (let i = 0, j = 0; i < n; i++) {
    const s = verdicts.anomaly_score[i];
    if (Number.isNaN(s)) continue;
    scoredTrue[j] = yTrue[i];
    anomalousness[j++] = -s;
  }
  const report = classificationReport(yTrue, yPred);
  const nullIfNaN = (x: number) => (Number.isNaN(x) ? null : x);
  return {
    events: n,
    scored,
    positives,
    flagged,
    precision: report.anomaly.precision,
    recall: report.anomaly.recall,
    f1: report.anomaly.f1,
    confusion_matrix: report.confusion_matrix,
    roc_auc: scored === 0 ? null : nullIfNaN(rocAuc(scoredTrue, anomalousness)),
    average_precision: scored === 0 ? null : nullIfNaN(averagePrecision(scoredTrue, anomalousness)),
  };
}
