/**
 * From verdicts to figures: what the evaluation reports of one detector over
 * the test period (model/evaluate.ts's event- and alert-level metrics, the
 * false alarms' drivers, the strongest alerts) and the one-line `summary`
 * the detectors are compared on. Pure: no stream, no clock.
 *
 * @module
 */
import {
  type AnomalyType,
  FEATURE_NAMES,
  type FeatureName,
  type Prediction,
} from "../lib/contracts.ts";
import type { Scorer } from "../model/bundle.ts";
import { scoreDistribution } from "../model/metrics.ts";
import {
  type Alert,
  AlertClass,
  classifyAlerts,
  DEFAULT_SHADOW_MS,
  type DetectorReport,
  evaluateDetector,
  falsePositiveAnatomy,
  type LabelledStream,
} from "../model/evaluate.ts";
import type { Verdicts } from "./eval_detectors.ts";
import type { IncidentReport, SummaryEntry } from "./eval_incidents.ts";
import type { EvalOptions } from "./eval_options.ts";
import { type AlertDetail, type DetectorResult, type Driver, iso } from "./eval_results.ts";
import type { V2Detector, V2Verdicts } from "./eval_v2.ts";

const TOP_ALERTS = 20;
const MAX_LISTED_ALERTS = 1000;

/** The test period a detector is measured on. */
export interface MeasureContext {
  o: EvalOptions;
  stream: LabelledStream;
  /** every test event carries a label */
  labelled: boolean;
  testHours: number;
  symbolHours: number;
}

/** Each feature of an alert with its z under the model's scaler, largest |z| first. */
function driversOf(p: Prediction, scorer: Scorer): Driver[] {
  const raw = new Float64Array([
    p.z_score_price,
    p.z_score_log_return,
    p.z_score_volume,
    p.rolling_price_std,
    p.rolling_volume_std,
  ]);
  const z = scorer.scaler.transformRow(raw, new Float64Array(raw.length));
  return FEATURE_NAMES.map((feature, k) => ({ feature, value: raw[k], z: z[k] }))
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
}

/** An alert as the report lists it. */
function detail(p: Prediction, scorer: Scorer): AlertDetail {
  const d: AlertDetail = {
    ts_ms: p.ts_ms,
    time: iso(p.ts_ms),
    symbol: p.symbol,
    anomaly_score: p.anomaly_score,
    label: p.label,
    anomaly_type: p.anomaly_type ?? null,
    drivers: driversOf(p, scorer),
  };
  if (p.price !== undefined) d.price = p.price;
  if (p.volume !== undefined) d.volume = p.volume;
  return d;
}

/** The figures every detector reports the same way, in the report's key order. */
function figures(
  ctx: MeasureContext,
  scored: number[],
  report: DetectorReport | null,
  drivers: Partial<Record<FeatureName, number>> | null,
  flagged: boolean[],
  alerts: number,
): Pick<
  DetectorResult,
  | "score_distribution"
  | "report"
  | "false_alarm_drivers"
  | "false_positive_anatomy"
  | "alerts"
  | "alerts_per_hour"
  | "alerts_per_symbol_hour"
> {
  const { o, stream, labelled, testHours, symbolHours } = ctx;
  return {
    score_distribution: scored.length ? scoreDistribution(scored) : null,
    report,
    false_alarm_drivers: drivers,
    false_positive_anatomy: labelled
      ? falsePositiveAnatomy(stream, flagged, o.windowSeconds * 1000)
      : null,
    alerts,
    alerts_per_hour: testHours > 0 ? alerts / testHours : null,
    alerts_per_symbol_hour: symbolHours > 0 ? alerts / symbolHours : null,
  };
}

/** One forest detector at one contamination. */
export function measureForest(
  ctx: MeasureContext,
  name: string,
  label: string,
  v: Verdicts,
): DetectorResult {
  const { o, stream, labelled, symbolHours } = ctx;
  const alerts: Alert[] = v.alerts.map((p) => ({
    ts_ms: p.ts_ms,
    symbol: p.symbol,
    score: p.anomaly_score,
  }));
  const scored = v.score.filter((s) => !Number.isNaN(s));
  const report = labelled
    ? evaluateDetector(stream, { flagged: v.flagged, anomaly_score: v.score }, alerts, {
      symbolHours,
      toleranceMs: o.toleranceMs,
      shadowMs: Math.max(o.toleranceMs, DEFAULT_SHADOW_MS),
    })
    : null;
  let drivers: Partial<Record<FeatureName, number>> | null = null;
  if (labelled) {
    drivers = {};
    const classes = classifyAlerts(
      stream,
      alerts,
      o.toleranceMs,
      Math.max(o.toleranceMs, DEFAULT_SHADOW_MS),
    );
    for (let j = 0; j < classes.length; j++) {
      if (classes[j] === AlertClass.True) continue;
      const top = driversOf(v.alerts[j], v.scorer)[0].feature;
      drivers[top] = (drivers[top] ?? 0) + 1;
    }
  }
  const strongest = [...v.alerts].sort((a, b) => a.anomaly_score - b.anomaly_score)
    .slice(0, TOP_ALERTS).map((p) => detail(p, v.scorer));
  const holdout = v.bundle.training.report.kind === "holdout"
    ? v.bundle.training.report.holdout
    : null;
  const r: DetectorResult = {
    detector: name,
    label,
    contamination: v.contamination,
    model: {
      id: v.bundle.id,
      training_rows: v.bundle.training.rows,
      trained_from: iso(v.bundle.training.from_ts),
      trained_to: iso(v.bundle.training.to_ts),
      offset: v.bundle.offset,
      holdout,
    },
    ...figures(ctx, scored, report, drivers, v.flagged, v.alerts.length),
    top_alerts: strongest,
  };
  if (!labelled) {
    r.alert_list = v.alerts.slice(0, MAX_LISTED_ALERTS).map((p) => detail(p, v.scorer));
    r.alert_list_truncated = v.alerts.length > MAX_LISTED_ALERTS;
  }
  return r;
}

/** One v2 detector (trained on `train`, at the main contamination for the table's sake). */
export function measureV2(
  ctx: MeasureContext,
  d: V2Detector,
  v: V2Verdicts,
  train: { rows: number; from_ms: number; to_ms: number },
): DetectorResult {
  const { o, stream, labelled, symbolHours } = ctx;
  const alerts = v.alerts;
  const report = labelled
    ? evaluateDetector(
      stream,
      { flagged: v.flagged, anomaly_score: v.score.map((x) => -x) },
      alerts,
      {
        symbolHours,
        toleranceMs: o.toleranceMs,
        shadowMs: Math.max(o.toleranceMs, DEFAULT_SHADOW_MS),
      },
    )
    : null;
  const drivers: Record<string, number> = {};
  for (const k of v.alertDrivers) drivers[k] = (drivers[k] ?? 0) + 1;
  const scored = v.score.filter((x) => !Number.isNaN(x)).map((x) => -x);
  return {
    detector: d.name,
    label: d.label,
    contamination: o.contamination,
    model: {
      id: d.name,
      training_rows: train.rows,
      trained_from: iso(train.from_ms),
      trained_to: iso(train.to_ms),
      offset: 0,
      holdout: null,
    },
    ...figures(ctx, scored, report, null, v.flagged, alerts.length),
    alert_drivers: drivers,
    incident_count: v.incidents.length,
    top_alerts: [],
  };
}

/** The summary line of one detector (see {@linkcode SummaryEntry}). */
export function summaryOf(d: DetectorResult, inc: IncidentReport): SummaryEntry {
  const rep = d.report!;
  const within = (k: AnomalyType | "ALL", ms: number) =>
    rep.detection[k].injected === 0
      ? null
      : rep.detection[k].detected_within.find((h) => h.within_ms === ms)?.rate ?? null;
  const byType: SummaryEntry["by_type"] = {};
  for (const [k, t] of Object.entries(rep.detection)) {
    if (k === "ALL" || t.injected === 0) continue;
    byType[k as AnomalyType] = {
      within_1s: within(k as AnomalyType, 1000),
      within_5s: within(k as AnomalyType, 5000),
    };
  }
  return {
    within_1s: within("ALL", 1000),
    within_5s: within("ALL", 5000),
    false_incidents_per_symbol_hour: inc.false_incidents_per_symbol_hour,
    incident_precision: inc.incident_precision,
    event_f1: rep.event_level.f1,
    by_type: byType,
  };
}
