import assert from "node:assert/strict";
import type { FeatureRow } from "../lib/contracts.ts";
import { parseBundle, Scorer } from "./bundle.ts";
import { labelOf, predictRows } from "./predict.ts";

const scorer = Scorer.fromBundle(
  parseBundle(JSON.parse(Deno.readTextFileSync("tests/fixtures/sklearn_bundle.json"))),
);

function row(i: number, over: Partial<FeatureRow> = {}): FeatureRow {
  return {
    symbol: "BTC-USDT",
    ts_ms: 1_710_000_000_000 + i * 200,
    z_score_price: i % 11 === 0 ? 25 : ((i % 7) - 3) * 0.3,
    z_score_log_return: ((i % 5) - 2) * 0.5,
    z_score_volume: i % 11 === 0 ? 9 : (i % 3) - 1,
    rolling_price_std: 0.001 + i * 1e-5,
    rolling_volume_std: 0.4 + (i % 4) * 0.05,
    window_count: 290,
    warm_up: false,
    price: 43_000 + i,
    volume: 1.5,
    is_anomaly: i % 11 === 0,
    anomaly_type: i % 11 === 0 ? "VOLUME_SPIKE" : null,
    source: "simulated",
    ...over,
  };
}

Deno.test("labelOf: simulated events carry their truth, others are only known when flagged", () => {
  assert.equal(labelOf({ source: "simulated", is_anomaly: true }), true);
  assert.equal(labelOf({ source: "simulated", is_anomaly: false }), false);
  assert.equal(labelOf({ source: "binance", is_anomaly: true }), true);
  assert.equal(labelOf({ source: "binance", is_anomaly: false }), null);
  assert.equal(labelOf({ source: undefined, is_anomaly: false }), null);
});

Deno.test("predictRows skips warm-up rows and scores the rest one by one as scoreFeatures would", () => {
  const rows = Array.from({ length: 40 }, (_, i) => row(i, { warm_up: i % 4 === 1 }));
  const { predictions, scored, warmup } = predictRows(rows, scorer);
  assert.equal(warmup, 10);
  assert.deepEqual(scored, rows.flatMap((r, i) => (r.warm_up ? [] : [i])));
  assert.equal(predictions.length, 30);
  for (let j = 0; j < predictions.length; j++) {
    const r = rows[scored[j]], p = predictions[j];
    // The single-row path is an independent route through scaler and forest.
    const one = scorer.scoreFeatures(r);
    assert.ok(Math.abs(p.anomaly_score - one.anomaly_score) < 1e-12);
    assert.ok(Math.abs(p.severity - one.severity) < 1e-12);
    assert.equal(p.is_anomaly, p.anomaly_score < 0);
    assert.equal(p.model_id, scorer.id);
    assert.equal(p.label, r.is_anomaly);
    assert.equal(p.anomaly_type, r.anomaly_type);
    assert.deepEqual(
      [p.symbol, p.ts_ms, p.price, p.volume, p.z_score_volume, p.rolling_price_std, p.source],
      [r.symbol, r.ts_ms, r.price, r.volume, r.z_score_volume, r.rolling_price_std, r.source],
    );
  }
  // The stream was built so that some rows score anomalous and some do not.
  assert.ok(predictions.some((p) => p.is_anomaly) && predictions.some((p) => !p.is_anomaly));
});

Deno.test("predictRows keeps trade_id and source only when the row has them; labels follow labelOf", () => {
  const { predictions } = predictRows([
    row(0, { trade_id: 7, source: "binance", is_anomaly: false }),
    row(1, { source: undefined }),
  ], scorer);
  assert.equal(predictions[0].trade_id, 7);
  assert.equal(predictions[0].source, "binance");
  assert.equal(predictions[0].label, null);
  assert.equal("trade_id" in predictions[1], false);
  assert.equal("source" in predictions[1], false);
});

Deno.test("predictRows without a model scores nothing and counts warm-up", () => {
  const rows = [row(0), row(1, { warm_up: true }), row(2)];
  assert.deepEqual(predictRows(rows, null), { predictions: [], scored: [], warmup: 1 });
  assert.deepEqual(predictRows([], scorer), { predictions: [], scored: [], warmup: 0 });
});
