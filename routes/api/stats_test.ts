import assert from "node:assert/strict";
import { counterTotals, describe, quantile } from "./stats.ts";

const near = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

Deno.test("quantile matches numpy.percentile (linear) on reference values", () => {
  // Values printed by numpy 1.x: np.percentile(x, q).
  near(quantile([1, 2, 3, 4], 0.5), 2.5);
  near(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9.1);
  near(quantile([10, 20], 0.01), 10.1);
  const x = [-0.3, 0.2, 0.05, 0.11, -0.01].sort((a, b) => a - b);
  const want = [-0.2884, -0.242, -0.01, 0.05, 0.11, 0.182, 0.1964];
  [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99].forEach((q, i) => near(quantile(x, q), want[i]));
  assert.equal(quantile([7], 0.99), 7);
  assert.throws(() => quantile([], 0.5), RangeError);
});

Deno.test("describe: mean and sample std as numpy (ddof=1), min, max", () => {
  const d = describe([0.5, 1.5, 2.25, -4.0, 3.0]);
  near(d.mean, 0.65);
  near(d.std, 2.7590759322642793);
  assert.equal(d.min, -4);
  assert.equal(d.max, 3);
  assert.deepEqual(describe([5]), { mean: 5, std: 0, min: 5, max: 5 });
  // Welford stays exact where Σx² − (Σx)²/n would cancel: tiny spread on a large offset.
  const big = describe([1e9 + 1, 1e9 + 2, 1e9 + 3]);
  near(big.std, 1, 1e-6);
});

Deno.test("counterTotals: sums per symbol, rates, events by source", () => {
  const t = counterTotals({
    "pred/BTC-USDT": 90,
    "anomaly/BTC-USDT": 9,
    "pred/ETH-USDT": 10,
    "events/simulated": 120,
    "rejected/binance": 3,
    "rows": 120,
    "warmup": 20,
    "unscored": 0,
  });
  assert.equal(t.total_predictions, 100);
  assert.equal(t.total_anomalies, 9);
  assert.equal(t.anomaly_rate, 0.09);
  assert.deepEqual(t.by_symbol, {
    "BTC-USDT": { predictions: 90, anomalies: 9, anomaly_rate: 0.1 },
    "ETH-USDT": { predictions: 10, anomalies: 0, anomaly_rate: 0 },
  });
  assert.deepEqual(t.events, {
    received: { simulated: 120 },
    rejected: { binance: 3 },
    feature_rows: 120,
    warm_up_rows: 20,
    unscored_rows: 0,
  });
});
