/**
 * The pipeline's counters at one instant, and the rates between two
 * instants: what the System Status page writes on the arrows of its flow
 * diagram. Counts come from `/stats` (KV counters: every process's work)
 * and `/metrics` (this web process: SSE, latency).
 *
 * @module
 */
import { histogramQuantile, parseMetrics, sumMetric } from "./prometheus.ts";
import type { StatsResponse } from "./api.ts";

/** The counters of one sample. */
export interface FlowSample {
  /** server time of the sample, ms */
  at: number;
  events: number;
  rejected: number;
  rows: number;
  warmUp: number;
  predictions: number;
  anomalies: number;
  /** SSE events this process wrote */
  sseEvents: number;
  sseClients: number;
  /** event-to-prediction latency quantiles of this process, seconds (null: none yet) */
  latencyP50: number | null;
  latencyP99: number | null;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * One sample from `/stats` and the `/metrics` text, stamped `at`.
 *
 * @example
 * ```ts ignore
 * const s = flowSample(Date.parse(status.checked_at), stats, metricsText);
 * ```
 */
export function flowSample(at: number, stats: StatsResponse, metricsText: string): FlowSample {
  const m = parseMetrics(metricsText);
  return {
    at,
    events: sum(stats.events.received),
    rejected: sum(stats.events.rejected),
    rows: stats.events.feature_rows,
    warmUp: stats.events.warm_up_rows,
    predictions: stats.total_predictions,
    anomalies: stats.total_anomalies,
    sseEvents: sumMetric(m, "sentinel_sse_events_total"),
    sseClients: sumMetric(m, "sentinel_sse_clients"),
    latencyP50: histogramQuantile(m, "sentinel_event_to_prediction_seconds", 0.5),
    latencyP99: histogramQuantile(m, "sentinel_event_to_prediction_seconds", 0.99),
  };
}

/** Per-second rates between two samples. */
export interface FlowRates {
  events: number;
  rows: number;
  predictions: number;
  anomalies: number;
  sseEvents: number;
}

/**
 * Rates from `prev` to `next`; null when the samples are not ordered in time.
 * A counter that went down (a restart of a process-local counter) counts
 * from zero.
 *
 * @example
 * ```ts ignore
 * flowRates(prev, next)?.events; // events per second
 * ```
 */
export function flowRates(prev: FlowSample, next: FlowSample): FlowRates | null {
  const dt = (next.at - prev.at) / 1000;
  if (!(dt > 0)) return null;
  const d = (k: keyof FlowRates) => {
    const delta = next[k] - prev[k];
    return (delta >= 0 ? delta : next[k]) / dt;
  };
  return {
    events: d("events"),
    rows: d("rows"),
    predictions: d("predictions"),
    anomalies: d("anomalies"),
    sseEvents: d("sseEvents"),
  };
}
