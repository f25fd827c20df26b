import assert from "node:assert/strict";
import type { FeatureRow } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { detectDrift } from "./drift.ts";

function rows(n: number, r: Random, shift = [0, 0, 0, 0, 0], widen = 1): FeatureRow[] {
  return Array.from({ length: n }, (_, i) => ({
    symbol: "BTC-USDT",
    ts_ms: i,
    z_score_price: shift[0] + widen * r.normal(),
    z_score_log_return: shift[1] + r.normal(),
    z_score_volume: shift[2] + r.normal(),
    rolling_price_std: shift[3] + 0.01 + 0.002 * r.normal(),
    rolling_volume_std: shift[4] + 0.5 + 0.1 * r.normal(),
    window_count: 100,
    warm_up: false,
    price: 1,
    volume: 1,
    is_anomaly: false,
    anomaly_type: null,
  }));
}

// The distribution the rows above are drawn from, as a StandardScaler would see it.
const scaler = { mean: [0, 0, 0, 0.01, 0.5], scale: [1, 1, 1, 0.002, 0.1] };

Deno.test("drift: rows from the training distribution do not drift", () => {
  const r = detectDrift(rows(5000, new Random(1)), scaler);
  assert.equal(r.drifted, false, r.summary);
  // With 5 000 rows the sample mean is within ~0.05 sd of the truth.
  for (const f of r.features) assert.ok(f.mean_shift < 0.1 && Math.abs(f.scale_ratio - 1) < 0.1);
});

Deno.test("drift: a shifted mean or a widened spread is caught and named", () => {
  // rolling_price_std moves from 0.01 to 0.012: one training std (0.002).
  const shifted = detectDrift(rows(5000, new Random(2), [0, 0, 0, 0.002, 0]), scaler);
  assert.equal(shifted.drifted, true);
  assert.deepEqual(shifted.features.filter((f) => f.drifted).map((f) => f.name), [
    "rolling_price_std",
  ]);
  assert.match(shifted.summary, /rolling_price_std \(shift 1\.0/);
  const wide = detectDrift(rows(5000, new Random(3), undefined, 3), scaler);
  assert.deepEqual(wide.features.filter((f) => f.drifted).map((f) => f.name), ["z_score_price"]);
});

Deno.test("drift: warm-up rows are ignored and too few rows give no verdict", () => {
  const few = rows(400, new Random(4), [5, 5, 5, 5, 5]);
  assert.equal(detectDrift(few, scaler).drifted, false);
  const warm = rows(5000, new Random(5), [5, 0, 0, 0, 0]).map((x) => ({ ...x, warm_up: true }));
  assert.equal(detectDrift(warm, scaler).rows, 0);
});
