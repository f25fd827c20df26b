import assert from "node:assert/strict";
import { histogramQuantile, parseMetrics, sumMetric } from "./prometheus.ts";

const TEXT = `# HELP sentinel_predictions_total Predictions
# TYPE sentinel_predictions_total counter
sentinel_predictions_total{symbol="BTC-USDT"} 10
sentinel_predictions_total{symbol="ETH-USDT"} 32
sentinel_sse_clients 2
weird{label="a \\"quoted\\" value"} 1.5e3
h_bucket{le="0.01"} 0
h_bucket{le="0.025"} 40
h_bucket{le="0.05"} 90
h_bucket{le="+Inf"} 100
h_sum 3.2
h_count 100
not a metric line
`;

Deno.test("parseMetrics reads names, labels (with escapes) and values; skips the rest", () => {
  const s = parseMetrics(TEXT);
  assert.equal(s.length, 10);
  assert.deepEqual(s[0], {
    name: "sentinel_predictions_total",
    labels: { symbol: "BTC-USDT" },
    value: 10,
  });
  assert.equal(s.find((x) => x.name === "weird")?.labels.label, 'a "quoted" value');
  assert.equal(s.find((x) => x.name === "weird")?.value, 1500);
  assert.equal(s.find((x) => x.labels.le === "+Inf")?.value, 100);
});

Deno.test("sumMetric adds every label set, or the matching ones", () => {
  const s = parseMetrics(TEXT);
  assert.equal(sumMetric(s, "sentinel_predictions_total"), 42);
  assert.equal(sumMetric(s, "sentinel_predictions_total", { symbol: "ETH-USDT" }), 32);
  assert.equal(sumMetric(s, "absent"), 0);
});

Deno.test("histogramQuantile interpolates inside the bucket like Prometheus", () => {
  const s = parseMetrics(TEXT);
  // Rank 50 of 100 falls in (0.025, 0.05] holding ranks 41..90: 0.025 + 0.025 × (50 − 40) / 50.
  assert.ok(Math.abs(histogramQuantile(s, "h", 0.5)! - 0.03) < 1e-12);
  // Rank 20 in (0.01, 0.025] holding 1..40: 0.01 + 0.015 × 20 / 40.
  assert.ok(Math.abs(histogramQuantile(s, "h", 0.2)! - 0.0175) < 1e-12);
  // Rank 99 is in +Inf: the largest finite bound.
  assert.equal(histogramQuantile(s, "h", 0.99), 0.05);
  assert.equal(histogramQuantile(s, "absent", 0.5), null);
  assert.equal(
    histogramQuantile(parseMetrics('e_bucket{le="1"} 0\ne_bucket{le="+Inf"} 0\n'), "e", 0.5),
    null,
  );
});
