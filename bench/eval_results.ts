/**
 * The shape of the evaluation's report (`bench/eval.json`): one result per
 * detector and contamination, the stream it was measured on, and the
 * alerts it lists. Types only (and the time format they use), so the run,
 * the Markdown renderer and the tests share one definition.
 *
 * @module
 */
import type { AnomalyType, FeatureName } from "../lib/contracts.ts";
import type { HoldoutMetrics } from "../model/bundle.ts";
import type { ScoreSummary } from "../model/metrics.ts";
import type { DetectorReport, FalsePositiveAnatomy } from "../model/evaluate.ts";
import type { EpisodeDetection, IncidentReport, SummaryEntry } from "./eval_incidents.ts";
import type { EvalOptions } from "./eval_options.ts";

/** One feature's part in an alert: its value and how far the model's scaler puts it from normal. */
export interface Driver {
  feature: FeatureName;
  value: number;
  /** (value − training mean) / training std, as the forest sees it */
  z: number;
}

/** An alert as the report lists it. */
export interface AlertDetail {
  ts_ms: number;
  time: string;
  symbol: string;
  anomaly_score: number;
  price?: number;
  volume?: number;
  /** the event's label, when known */
  label: boolean | null;
  anomaly_type: AnomalyType | null;
  /** the five features, largest |z| first */
  drivers: Driver[];
}

/** One detector at one contamination. */
export interface DetectorResult {
  detector: string;
  label: string;
  contamination: number | "auto";
  model: {
    id: string;
    training_rows: number;
    /** event time of the first and last training row (the baseline's: window closes) */
    trained_from: string;
    trained_to: string;
    offset: number;
    /** the trainer's own holdout report (stratified 20% of the training period), when labelled */
    holdout: HoldoutMetrics | null;
  };
  /** decision function over the scored test rows */
  score_distribution: ScoreSummary | null;
  /** null for an unlabelled stream */
  report: DetectorReport | null;
  /** which feature drove the false alarms (largest |z|), counts; labelled streams only */
  false_alarm_drivers: Partial<Record<FeatureName, number>> | null;
  /** where the event-level false positives come from; labelled streams only */
  false_positive_anatomy: FalsePositiveAnatomy | null;
  alerts: number;
  alerts_per_hour: number | null;
  alerts_per_symbol_hour: number | null;
  top_alerts: AlertDetail[];
  /** v2 detectors: alerts per driving channel */
  alert_drivers?: Record<string, number>;
  /** v2 detectors: incidents formed */
  incident_count?: number;
  /** every alert, time order, up to 1000 (unlabelled streams only) */
  alert_list?: AlertDetail[];
  alert_list_truncated?: boolean;
}

/** The whole evaluation. */
export interface EvalResult {
  generated_by: string;
  command: string;
  options: EvalOptions;
  stream: {
    kind: "simulated" | "file";
    file: string | null;
    labelled: boolean;
    symbols: string[];
    events: number;
    train_events: number;
    test_events: number;
    train_from: string;
    test_from: string;
    test_to: string;
    test_hours: number;
    test_symbol_hours: number;
    injected: Partial<Record<AnomalyType | "ALL", number>>;
  };
  /** the main table: every detector at `options.contamination` */
  detectors: DetectorResult[];
  /** `--sweep`: every detector at every swept contamination */
  sweep: DetectorResult[] | null;
  /** incident-level figures per detector (labelled streams) */
  incidents: Record<string, IncidentReport> | null;
  /** the figures detection v2 is judged on, per detector (labelled streams) */
  summary: Record<string, SummaryEntry> | null;
  /** episode-level detection per detector and type (labelled streams) */
  episodes: Record<string, Record<string, EpisodeDetection>> | null;
  /** detectors that could not train on this stream, with why */
  skipped: Record<string, string>;
  runtime: { seconds: number; events_per_second: number; phases: Record<string, number> };
  machine: Record<string, string | number>;
}

/** Epoch milliseconds as an ISO 8601 UTC string, the report's time format. */
export const iso = (ms: number): string => new Date(ms).toISOString();
