import assert from "node:assert/strict";
import type { AnomalyType } from "../lib/contracts.ts";
import {
  type Alert,
  AlertClass,
  classifyAlerts,
  evaluateDetector,
  type EventVerdicts,
  falsePositiveAnatomy,
  type LabelledStream,
} from "./evaluate.ts";

// A hand-made stream whose answers are known by construction: two symbols, one
// event a second each for 20 s (t = 0 … 19 000 ms), interleaved in time order.
// A: PRICE_SPIKE at 5 s, VOLUME_SPIKE at 12 s.  B: FLASH_CRASH at 8 s.
const A = "AAA-USDT", B = "BBB-USDT";
const LABELS = new Map<string, AnomalyType>([
  [`${A}@5000`, "PRICE_SPIKE"],
  [`${A}@12000`, "VOLUME_SPIKE"],
  [`${B}@8000`, "FLASH_CRASH"],
]);
const events: { ts: number; symbol: string; type: AnomalyType | null }[] = [];
for (let s = 0; s < 20; s++) {
  for (const symbol of [A, B]) {
    events.push({ ts: s * 1000, symbol, type: LABELS.get(`${symbol}@${s * 1000}`) ?? null });
  }
}
const stream: LabelledStream = {
  ts_ms: events.map((e) => e.ts),
  symbol: events.map((e) => e.symbol),
  is_anomaly: events.map((e) => e.type !== null),
  anomaly_type: events.map((e) => e.type),
};
const N = events.length; // 40
// 2 symbols × 20 s of stream, given exactly so the false-alarm rate is easy to check by hand.
const SYMBOL_HOURS = (2 * 20) / 3600;
const isAnomaly = (e: { type: AnomalyType | null }) => e.type !== null;

/** A detector that flags `pick`ed events, alerting at the events' own times. */
function flagging(pick: (e: typeof events[number], i: number) => boolean) {
  const verdicts: EventVerdicts = {
    flagged: events.map(pick),
    anomaly_score: events.map((e, i) => (pick(e, i) ? -0.1 : 0.1)),
  };
  const alerts: Alert[] = events.filter(pick).map((e) => ({
    ts_ms: e.ts,
    symbol: e.symbol,
    score: -0.1,
  }));
  return { verdicts, alerts };
}

/** Alerts `lagMs` after each labelled anomaly; rows flagged = none of the anomalies' own rows. */
function late(lagMs: number) {
  const alerts: Alert[] = events.filter(isAnomaly).map((e) => ({
    ts_ms: e.ts + lagMs,
    symbol: e.symbol,
    score: -0.1,
  }));
  const at = new Set(alerts.map((a) => `${a.symbol}@${a.ts_ms}`));
  const pick = (e: typeof events[number]) => at.has(`${e.symbol}@${e.ts}`);
  return {
    verdicts: {
      flagged: events.map(pick),
      anomaly_score: events.map((e) => (pick(e) ? -0.1 : 0.1)),
    },
    alerts,
  };
}

const rates = (r: ReturnType<typeof evaluateDetector>, key: AnomalyType | "ALL") =>
  r.detection[key].detected_within.map((d) => d.rate);

Deno.test("a detector that flags exactly the labelled events is perfect", () => {
  const { verdicts, alerts } = flagging(isAnomaly);
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  for (const key of ["PRICE_SPIKE", "VOLUME_SPIKE", "FLASH_CRASH", "ALL"] as const) {
    assert.deepEqual(rates(r, key), [1, 1, 1], key);
    assert.deepEqual(r.detection[key].delay_ms, { median: 0, p95: 0 });
    assert.equal(r.detection[key].own_row_flagged, 1);
  }
  assert.equal(r.detection.ALL.injected, 3);
  assert.equal(r.detection.PRICE_SPIKE.injected, 1);
  assert.equal(r.false_alarms.alerts, 3);
  assert.equal(r.false_alarms.false_alarms, 0);
  assert.equal(r.false_alarms.per_symbol_hour, 0);
  const e = r.event_level;
  assert.deepEqual([e.precision, e.recall, e.f1], [1, 1, 1]);
  assert.deepEqual(e.confusion_matrix, [[37, 0], [0, 3]]);
  assert.equal(e.roc_auc, 1);
  assert.equal(e.average_precision, 1);
});

Deno.test("a detector that flags nothing detects nothing and raises no alarm", () => {
  const { verdicts, alerts } = flagging(() => false);
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  assert.deepEqual(rates(r, "ALL"), [0, 0, 0]);
  assert.deepEqual(r.detection.ALL.delay_ms, { median: null, p95: null });
  assert.equal(r.detection.ALL.own_row_flagged, 0);
  assert.equal(r.false_alarms.false_alarms, 0);
  // scikit-learn's zero_division=0: no predicted positive → precision 0.
  assert.deepEqual([r.event_level.precision, r.event_level.recall, r.event_level.f1], [0, 0, 0]);
  assert.deepEqual(r.event_level.confusion_matrix, [[37, 0], [3, 0]]);
  // Every score tied: ROC-AUC is 0.5, AP is the positive share (one threshold, precision 3/40).
  assert.equal(r.event_level.roc_auc, 0.5);
  assert.equal(r.event_level.average_precision, 3 / 40);
});

Deno.test("a detector that flags everything: every anomaly at once, false alarms by hand", () => {
  const { verdicts, alerts } = flagging(() => true);
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  assert.deepEqual(rates(r, "ALL"), [1, 1, 1]);
  assert.deepEqual(r.detection.ALL.delay_ms, { median: 0, p95: 0 });
  // A: alerts at 5…10 s and 12…17 s are within 5 s after an anomaly (12 of 20), 8 are false.
  // B: alerts at 8…13 s are covered (6 of 20), 14 are false. 22 false alarms in 40 s of
  // symbol time = 22 × 90 per symbol-hour.
  assert.equal(r.false_alarms.alerts, 40);
  assert.equal(r.false_alarms.false_alarms, 22);
  assert.equal(r.false_alarms.per_symbol_hour, 22 * 90);
  assert.equal(r.false_alarms.alerts_per_symbol_hour, 40 * 90);
  // Precision 3/40, recall 1, F1 = 2·3 / (2·3 + 37 + 0).
  assert.equal(r.event_level.precision, 3 / 40);
  assert.equal(r.event_level.recall, 1);
  assert.equal(r.event_level.f1, 6 / 43);
  assert.equal(r.event_level.flagged, 40);
});

Deno.test("a detector exactly one second late: within 1 s (ends included), delays 1000 ms", () => {
  const { verdicts, alerts } = late(1000);
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  for (const key of ["PRICE_SPIKE", "VOLUME_SPIKE", "FLASH_CRASH", "ALL"] as const) {
    assert.deepEqual(rates(r, key), [1, 1, 1], key);
    assert.deepEqual(r.detection[key].delay_ms, { median: 1000, p95: 1000 });
    // The alert is on the next event's row, not the anomaly's own.
    assert.equal(r.detection[key].own_row_flagged, 0);
  }
  // 1 s after the anomaly is inside the default 5 s tolerance: no false alarm ...
  assert.equal(r.false_alarms.false_alarms, 0);
  // ... but every alert is false with a 500 ms tolerance.
  const strict = evaluateDetector(stream, verdicts, alerts, {
    symbolHours: SYMBOL_HOURS,
    toleranceMs: 500,
  });
  assert.equal(strict.false_alarms.false_alarms, 3);
  assert.equal(strict.false_alarms.per_symbol_hour, 3 * 90);
  assert.equal(strict.false_alarms.tolerance_ms, 500);
  // Event level: the flagged rows are normal ones, the anomalies are missed.
  assert.deepEqual(r.event_level.confusion_matrix, [[34, 3], [3, 0]]);
  assert.deepEqual([r.event_level.precision, r.event_level.recall, r.event_level.f1], [0, 0, 0]);
});

Deno.test("a detector two seconds late is missed within 1 s and caught within 5 s", () => {
  const { verdicts, alerts } = late(2000);
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  assert.deepEqual(rates(r, "ALL"), [0, 1, 1]);
  assert.deepEqual(r.detection.ALL.detected_within.map((d) => d.detected), [0, 3, 3]);
  assert.deepEqual(r.detection.ALL.delay_ms, { median: 2000, p95: 2000 });
});

Deno.test("detection needs an alert of the same symbol, at or after the event", () => {
  const alerts: Alert[] = [
    { ts_ms: 5000, symbol: B, score: -1 }, // at A's spike time, but B's alert
    { ts_ms: 11_999, symbol: A, score: -1 }, // 1 ms before A's volume spike, 6 999 ms after its price spike
    { ts_ms: 8000 + 60_001, symbol: B, score: -1 }, // B's crash, 1 ms past 60 s
  ];
  const none = flagging(() => false).verdicts;
  const r = evaluateDetector(stream, none, alerts, { symbolHours: SYMBOL_HOURS });
  // Only A's price spike is caught, by the 11.999 s alert, 6 999 ms after it.
  assert.deepEqual(rates(r, "PRICE_SPIKE"), [0, 0, 1]);
  assert.deepEqual(rates(r, "VOLUME_SPIKE"), [0, 0, 0]);
  assert.deepEqual(rates(r, "FLASH_CRASH"), [0, 0, 0]);
  assert.deepEqual(rates(r, "ALL"), [0, 0, 1 / 3]);
  assert.deepEqual(r.detection.ALL.delay_ms, { median: 6999, p95: 6999 });
  // B@5 s precedes B's crash, A@11.999 s is 6.999 s after A's spike, B@68.001 s is too late.
  assert.equal(r.false_alarms.false_alarms, 3);
  // A wider last horizon catches the crash, 60 001 ms late.
  const wide = evaluateDetector(stream, none, alerts, { horizonsMs: [1000, 60_001] });
  assert.deepEqual(wide.detection.FLASH_CRASH.detected_within.map((d) => d.rate), [0, 1]);
  assert.deepEqual(wide.detection.FLASH_CRASH.delay_ms, { median: 60_001, p95: 60_001 });
});

Deno.test("delay percentiles are numpy-linear over the detected events only", () => {
  // Lags 0, 1 s, 4 s for A@5 s, B@8 s, A@12 s: median 1000, p95 = 1000 + 0.9 × 3000.
  const alerts: Alert[] = [
    { ts_ms: 5000, symbol: A, score: -1 },
    { ts_ms: 9000, symbol: B, score: -1 },
    { ts_ms: 16_000, symbol: A, score: -1 },
  ];
  const r = evaluateDetector(stream, flagging(() => false).verdicts, alerts, {
    symbolHours: SYMBOL_HOURS,
  });
  assert.equal(r.detection.ALL.delay_ms.median, 1000);
  // numpy gives 3699.9999999999995 too (its lerp from the upper end), hence the tolerance.
  assert.ok(Math.abs(r.detection.ALL.delay_ms.p95! - 3700) < 1e-9);
  // Within 1 s: the 0 and 1 s lags; within 5 s: all three.
  assert.deepEqual(rates(r, "ALL"), [2 / 3, 1, 1]);
  assert.deepEqual(rates(r, "VOLUME_SPIKE"), [0, 1, 1]);
});

Deno.test("precision, recall and F1 on a mixed detector, by hand", () => {
  // Flags A@5 s (hit), B@8 s (hit), A@6 s, A@7 s, B@0 s (false), misses A@12 s:
  // tp 2, fp 3, fn 1 → precision 2/5, recall 2/3, F1 = 4 / (4 + 3 + 1) = 1/2.
  const picked = new Set([`${A}@5000`, `${B}@8000`, `${A}@6000`, `${A}@7000`, `${B}@0`]);
  const { verdicts, alerts } = flagging((e) => picked.has(`${e.symbol}@${e.ts}`));
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  assert.deepEqual(r.event_level.confusion_matrix, [[34, 3], [1, 2]]);
  assert.equal(r.event_level.precision, 2 / 5);
  assert.equal(r.event_level.recall, 2 / 3);
  assert.equal(r.event_level.f1, 1 / 2);
  // Alerts A@6 s and A@7 s are within 5 s of A's spike; only B@0 s is false.
  assert.equal(r.false_alarms.false_alarms, 1);
});

Deno.test("ROC-AUC and average precision rank scored events by −anomaly_score", () => {
  // The three anomalies and one normal event (B@0 s) score −1, the rest +1.
  // AUC: each positive beats 36 negatives and ties 1 → (36 + ½) / 37.
  // AP: one threshold group of 4 holding the 3 positives → precision 3/4 at recall 1.
  const top = (e: typeof events[number]) => e.type !== null || (e.symbol === B && e.ts === 0);
  const verdicts: EventVerdicts = {
    flagged: events.map(() => false),
    anomaly_score: events.map((e) => (top(e) ? -1 : 1)),
  };
  const r = evaluateDetector(stream, verdicts, [], { symbolHours: SYMBOL_HOURS });
  assert.equal(r.event_level.roc_auc, 36.5 / 37);
  assert.equal(r.event_level.average_precision, 0.75);
  assert.equal(r.event_level.scored, 40);
});

Deno.test("unscored events are left out of AUC and AP, which are null with one class", () => {
  // Events of the first 3 seconds are warm-up (NaN): 34 scored, 3 of them positive.
  const warm = (e: typeof events[number]) => e.ts < 3000;
  const verdicts: EventVerdicts = {
    flagged: events.map(() => false),
    anomaly_score: events.map((e) => (warm(e) ? NaN : e.type !== null ? -1 : 1)),
  };
  const r = evaluateDetector(stream, verdicts, [], { symbolHours: SYMBOL_HOURS });
  assert.equal(r.event_level.scored, 34);
  assert.equal(r.event_level.roc_auc, 1);
  assert.equal(r.event_level.average_precision, 1);
  // No anomaly scored: one class, AUC and AP undefined.
  const noPositives: EventVerdicts = {
    flagged: events.map(() => false),
    anomaly_score: events.map((e) => (e.type !== null ? NaN : 0.2)),
  };
  const r2 = evaluateDetector(stream, noPositives, [], { symbolHours: SYMBOL_HOURS });
  assert.equal(r2.event_level.roc_auc, null);
  assert.equal(r2.event_level.average_precision, null);
  // Nothing scored at all.
  const nothing: EventVerdicts = {
    flagged: events.map(() => false),
    anomaly_score: events.map(() => NaN),
  };
  const r3 = evaluateDetector(stream, nothing, [], { symbolHours: SYMBOL_HOURS });
  assert.equal(r3.event_level.scored, 0);
  assert.equal(r3.event_level.roc_auc, null);
});

Deno.test("symbol-hours default to each symbol's first-to-last span", () => {
  const { verdicts, alerts } = flagging(() => true);
  const r = evaluateDetector(stream, verdicts, alerts);
  // 19 s per symbol, two symbols.
  assert.equal(r.false_alarms.symbol_hours, 38 / 3600);
  assert.equal(r.false_alarms.per_symbol_hour, 22 / (38 / 3600));
});

Deno.test("a stream without anomalies has null rates and every alert false", () => {
  const quiet: LabelledStream = { ...stream, is_anomaly: events.map(() => false) };
  const { verdicts, alerts } = flagging((_, i) => i % 10 === 0);
  const r = evaluateDetector(quiet, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  assert.equal(r.detection.ALL.injected, 0);
  assert.deepEqual(rates(r, "ALL"), [null, null, null]);
  assert.equal(r.detection.ALL.own_row_flagged, null);
  assert.equal(r.false_alarms.false_alarms, alerts.length);
  assert.equal(r.event_level.roc_auc, null);
  assert.equal(r.event_level.average_precision, null);
});

Deno.test("an anomaly without a type counts in ALL only", () => {
  const untyped: LabelledStream = {
    ...stream,
    anomaly_type: events.map((e) => (e.type === "FLASH_CRASH" ? null : e.type)),
  };
  const { verdicts, alerts } = flagging(isAnomaly);
  const r = evaluateDetector(untyped, verdicts, alerts);
  assert.equal(r.detection.ALL.injected, 3);
  assert.equal(r.detection.FLASH_CRASH.injected, 0);
  assert.equal(r.detection.FLASH_CRASH.detected_within[0].rate, null);
});

Deno.test("mismatched columns and bad options are refused", () => {
  const { verdicts, alerts } = flagging(isAnomaly);
  assert.throws(
    () => evaluateDetector(stream, { ...verdicts, flagged: [true] }, alerts),
    /column flagged has 1 entries, ts_ms has 40/,
  );
  assert.throws(
    () => evaluateDetector(stream, verdicts, alerts, { horizonsMs: [5000, 1000] }),
    RangeError,
  );
  assert.throws(() => evaluateDetector(stream, verdicts, alerts, { horizonsMs: [] }), RangeError);
  assert.throws(() => evaluateDetector(stream, verdicts, alerts, { toleranceMs: -1 }), RangeError);
  assert.equal(N, 40);
});

Deno.test("false alarms in an anomaly's shadow are counted apart, by hand", () => {
  const { verdicts, alerts } = flagging(() => true);
  const r = evaluateDetector(stream, verdicts, alerts, { symbolHours: SYMBOL_HOURS });
  // A's false alarms: 0…4 s (no anomaly before), 11 s (6 s after 5 s), 18, 19 s (after 12 s).
  // B's: 0…7 s (before its crash), 14…19 s (6–11 s after 8 s). In the 60 s shadow: 3 + 6.
  assert.equal(r.false_alarms.in_shadow, 9);
  assert.equal(r.false_alarms.shadow_ms, 60_000);
  // A 6 s shadow keeps only the alerts exactly 6 s after an anomaly: A@11 s, A@18 s, B@14 s.
  const narrow = evaluateDetector(stream, verdicts, alerts, { shadowMs: 6000 });
  assert.equal(narrow.false_alarms.in_shadow, 3);
  assert.equal(narrow.false_alarms.false_alarms, 22);
  assert.throws(
    () => evaluateDetector(stream, verdicts, alerts, { toleranceMs: 5000, shadowMs: 4000 }),
    RangeError,
  );
  const classes = classifyAlerts(stream, alerts, 5000, 60_000);
  assert.equal(classes.length, 40);
  assert.equal(classes.filter((c) => c === AlertClass.True).length, 18);
  assert.equal(classes.filter((c) => c === AlertClass.Unexplained).length, 13);
});

Deno.test("false-positive anatomy: snap-backs and the anomalies the window held, by hand", () => {
  // One symbol, an event a second for 10 s; PRICE_SPIKE at 2 s, VOLUME_SPIKE at 5 s; a 3 s window.
  // Flagged: 3 s (the snap-back after the spike), 6 s (window [3, 6) holds the volume spike), 9 s.
  const ts = Array.from({ length: 10 }, (_, i) => i * 1000);
  const kind = (t: number): AnomalyType | null =>
    t === 2000 ? "PRICE_SPIKE" : t === 5000 ? "VOLUME_SPIKE" : null;
  const s: LabelledStream = {
    ts_ms: ts,
    symbol: ts.map(() => A),
    is_anomaly: ts.map((t) => kind(t) !== null),
    anomaly_type: ts.map(kind),
  };
  const flagged = ts.map((t) => t === 3000 || t === 6000 || t === 9000);
  const a = falsePositiveAnatomy(s, flagged, 3000, 1);
  assert.equal(a.normal_events, 8);
  assert.equal(a.false_positives, 3);
  assert.deepEqual(a.snap_back, { events: 1, false_positives: 1, rate: 1 });
  // Others: 0, 1, 4, 9 s see no volume spike (1 FP: 9 s); 6, 7, 8 s see one (1 FP: 6 s).
  assert.deepEqual(a.by_volume_spikes_in_window, [
    { key: "0", events: 4, false_positives: 1, rate: 1 / 4 },
    { key: "1+", events: 3, false_positives: 1, rate: 1 / 3 },
  ]);
  // Only 4 s still has the price spike (2 s) in its window [1, 4).
  assert.deepEqual(a.by_price_anomalies_in_window, [
    { key: "0", events: 6, false_positives: 2, rate: 2 / 6 },
    { key: "1+", events: 1, false_positives: 0, rate: 0 },
  ]);
  // Symbols are independent; out-of-order events of one symbol are refused.
  const two: LabelledStream = {
    ts_ms: [0, 0, 1000, 1000],
    symbol: [A, B, A, B],
    is_anomaly: [true, false, false, false],
    anomaly_type: ["FLASH_CRASH", null, null, null],
  };
  const b = falsePositiveAnatomy(two, [false, false, true, true]);
  assert.deepEqual(b.snap_back, { events: 1, false_positives: 1, rate: 1 });
  assert.deepEqual(b.by_price_anomalies_in_window.map((x) => x.events), [2, 0, 0, 0]);
  // A late event counts at its symbol's latest time: 5.5 s arriving after 9 s is at 9 s,
  // where the window [6, 9) no longer holds the volume spike at 5 s (at 5.5 s it would).
  const late: LabelledStream = {
    ts_ms: [...ts, 5500],
    symbol: [...ts.map(() => A), A],
    is_anomaly: [...s.is_anomaly as boolean[], false],
    anomaly_type: [...s.anomaly_type as (AnomalyType | null)[], null],
  };
  const c = falsePositiveAnatomy(late, [...flagged, true], 3000, 1);
  assert.deepEqual(c.by_volume_spikes_in_window[0], {
    key: "0",
    events: 5,
    false_positives: 2,
    rate: 2 / 5,
  });
});
