import assert from "node:assert/strict";
import type { FeatureRow } from "../lib/contracts.ts";
import { parseBundle, Scorer } from "./bundle.ts";
import { labelOf, predictRows } from "./predict.ts";
import { trainBundle } from "./train.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";

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

Deno.test("detection v2 predictions: the same fields in the same order with or without trade id and source", () => {
  // A small detection v2 model on a simulated stream (robust channels, budget 1 an hour).
  const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 3, anomalyProbability: 0.02 });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 900_000 })]
    .map((e) => engine.update(e));
  const v2 = Scorer.fromBundle(trainBundle(rows, {
    id: "v2",
    createdAt: "2026-01-01T00:00:00Z",
    nEstimators: 10,
    detection: { model: "robust", budget: 1 },
  }));
  const ready = rows.filter((r) => r.robust_ready).slice(-3);
  assert.equal(ready.length, 3);
  assert.ok(ready[0].trade_id !== undefined && ready[0].source === "simulated");
  const { trade_id: _t, ...noTrade } = ready[1];
  const { source: _s, ...noSource } = ready[2];
  const { predictions: [a, b, c] } = predictRows([ready[0], noTrade, noSource], v2);
  // The documented order: the seed's fields, the trade's, then detection v2's.
  const seed = [
    "symbol",
    "ts_ms",
    "z_score_price",
    "z_score_log_return",
    "z_score_volume",
    "rolling_price_std",
    "rolling_volume_std",
    "price",
    "volume",
    "anomaly_score",
    "severity",
    "is_anomaly",
    "anomaly_type",
    "model_id",
    "label",
  ];
  const v2Fields = ["price_z", "price_z_long", "volume_z", "flow_z", "robust_ready", "driver"];
  assert.deepEqual(Object.keys(a), [...seed, "trade_id", "source", ...v2Fields]);
  assert.deepEqual(Object.keys(b), [...seed, "source", ...v2Fields]);
  assert.deepEqual(Object.keys(c), [...seed, "trade_id", ...v2Fields]);
  for (const [p, r] of [[a, ready[0]], [b, noTrade], [c, noSource]] as const) {
    assert.equal(p.price_z, r.price_z);
    assert.equal(p.flow_z, r.flow_z);
    assert.equal(p.anomaly_score, 0.5 - p.severity!);
    assert.equal(p.is_anomaly, p.severity! >= 0.5);
    assert.equal(p.model_id, "v2");
    assert.equal(p.label, labelOf(r));
  }
  assert.equal(a.trade_id, ready[0].trade_id);
  assert.equal(a.source, "simulated");
});
