import assert from "node:assert/strict";
import type { StatsResponse } from "./api.ts";
import { flowRates, flowSample } from "./flow.ts";

function stats(received: number, rows: number, preds: number, anomalies: number): StatsResponse {
  return {
    total_predictions: preds,
    total_anomalies: anomalies,
    anomaly_rate: preds ? anomalies / preds : 0,
    events: {
      received: { simulated: received - 3, binance: 3 },
      rejected: { binance: 2 },
      feature_rows: rows,
      warm_up_rows: 30,
      unscored_rows: 0,
    },
    by_symbol: {},
    recent: {
      window: 1000,
      count: 0,
      anomalies: 0,
      anomaly_rate: 0,
      from_ts: null,
      to_ts: null,
      score_percentiles: null,
      features: null,
    },
  };
}

const METRICS = (sse: number) =>
  `sentinel_sse_events_total{event="prediction"} ${sse}\nsentinel_sse_events_total{event="alert"} 1\n` +
  `sentinel_sse_clients 2\n` +
  `sentinel_event_to_prediction_seconds_bucket{le="0.01"} 5\n` +
  `sentinel_event_to_prediction_seconds_bucket{le="0.02"} 10\n` +
  `sentinel_event_to_prediction_seconds_bucket{le="+Inf"} 10\n`;

Deno.test("a flow sample sums the sources and reads this process's SSE and latency", () => {
  const s = flowSample(1000, stats(100, 98, 60, 2), METRICS(59));
  assert.equal(s.events, 100);
  assert.equal(s.rejected, 2);
  assert.equal(s.rows, 98);
  assert.equal(s.predictions, 60);
  assert.equal(s.sseEvents, 60);
  assert.equal(s.sseClients, 2);
  // Rank 5 of 10 sits at the top of the first bucket.
  assert.equal(s.latencyP50, 0.01);
  assert.equal(flowSample(0, stats(0, 0, 0, 0), "").latencyP50, null);
});

Deno.test("rates are deltas over the samples' server times", () => {
  const a = flowSample(10_000, stats(100, 98, 60, 2), METRICS(59));
  const b = flowSample(12_000, stats(130, 128, 90, 3), METRICS(9));
  const r = flowRates(a, b)!;
  assert.equal(r.events, 15);
  assert.equal(r.rows, 15);
  assert.equal(r.predictions, 15);
  assert.equal(r.anomalies, 0.5);
  // This process's SSE counter restarted (10 < 60): counted from zero.
  assert.equal(r.sseEvents, 5);
  assert.equal(flowRates(b, a), null);
  assert.equal(flowRates(a, a), null);
});
