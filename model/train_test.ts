import assert from "node:assert/strict";
import type { FeatureRow } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { decodeBundleChunks, encodeBundleChunks, parseBundle, Scorer } from "./bundle.ts";
import { trainBundle } from "./train.ts";

const SYMBOLS = ["SOL-USDT", "BTC-USDT", "ETH-USDT"];
const T0 = 1_710_000_000_000;

/**
 * Simulated rows: normal ones with z-scores ~N(0, 1), anomalies with a large
 * push on one or two features, and warm-up rows at the extremes of time with
 * absurd values (they must be ignored).
 */
function rows(nNormal: number, nAnomalies: number, nWarmUp: number, seed: number): FeatureRow[] {
  const rnd = new Random(seed);
  const out: FeatureRow[] = [];
  const base = (i: number, anomaly: boolean): FeatureRow => ({
    symbol: SYMBOLS[i % SYMBOLS.length],
    ts_ms: T0 + 1000 + i * 250,
    z_score_price: rnd.normal(),
    z_score_log_return: rnd.normal(),
    z_score_volume: rnd.normal(),
    rolling_price_std: 0.0015 + 0.0003 * rnd.normal(),
    rolling_volume_std: 0.45 + 0.1 * rnd.normal(),
    window_count: 60,
    warm_up: false,
    price: 100,
    volume: 1,
    is_anomaly: anomaly,
    anomaly_type: anomaly ? "PRICE_SPIKE" : null,
  });
  const n = nNormal + nAnomalies;
  const anomalyAt = new Set(
    rnd.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, nAnomalies),
  );
  for (let i = 0; i < n; i++) {
    const row = base(i, anomalyAt.has(i));
    if (row.is_anomaly) {
      row.z_score_price += (rnd.float() < 0.5 ? -1 : 1) * (6 + 4 * rnd.float());
      row.z_score_volume += 6 + 4 * rnd.float();
    }
    out.push(row);
  }
  for (let i = 0; i < nWarmUp; i++) {
    out.push({
      ...base(i, false),
      symbol: "WARM-UP",
      ts_ms: i % 2 === 0 ? T0 - 1_000_000 : T0 + 10_000_000,
      z_score_price: 1e6,
      window_count: 1,
      warm_up: true,
    });
  }
  return out;
}

const OPTS = { id: "m-test", createdAt: "2024-03-09T16:00:00.000Z", nEstimators: 100, seed: 1 };

Deno.test("labelled rows: stratified 20% holdout and a classification report", () => {
  const data = rows(1500, 30, 40, 1);
  const bundle = trainBundle(data, OPTS);
  parseBundle(bundle);
  const report = bundle.training.report;
  assert.equal(report.kind, "holdout");
  if (report.kind !== "holdout") return;
  // Stratified: round(1500 × 0.2) normal and round(30 × 0.2) anomalous rows held out.
  assert.equal(report.test_rows, 300 + 6);
  assert.equal(report.train_rows, 1530 - 306);
  assert.equal(report.test_fraction, 0.2);
  const h = report.holdout;
  assert.equal(h.anomaly.support, 6);
  assert.equal(h.normal.support, 300);
  const [[tn, fp], [fn, tp]] = h.confusion_matrix;
  assert.equal(tn + fp + fn + tp, 306);
  assert.equal(tp + fn, 6);
  assert.equal(h.accuracy, (tn + tp) / 306);
  assert.equal(h.anomaly.recall, tp / 6);
  // The planted anomalies are far out: they rank above nearly every normal row.
  assert.ok(h.roc_auc !== null && h.roc_auc > 0.95, `roc_auc ${h.roc_auc}`);
  assert.ok(h.average_precision !== null && h.average_precision > 0.5);
  // Warm-up rows are dropped: they set neither the count, the symbols nor the time range.
  assert.equal(bundle.training.rows, 1530);
  assert.deepEqual(bundle.training.symbols, ["BTC-USDT", "ETH-USDT", "SOL-USDT"]);
  assert.equal(bundle.training.from_ts, T0 + 1000);
  assert.equal(bundle.training.to_ts, T0 + 1000 + 1529 * 250);
  assert.deepEqual(bundle.params, {
    n_estimators: 100,
    max_samples: 256,
    contamination: 0.01,
    seed: 1,
  });
  assert.equal(bundle.id, "m-test");
  assert.equal(bundle.created_at, "2024-03-09T16:00:00.000Z");
});

Deno.test("unlabelled rows: fit on all rows, record the score distribution", () => {
  const data = rows(1001, 0, 10, 2);
  const bundle = trainBundle(data, OPTS);
  const report = bundle.training.report;
  assert.equal(report.kind, "unlabelled");
  assert.equal(report.train_rows, 1001);
  const d = report.train_scores;
  // offset = p1 of training score_samples, so p1 of decision_function is 0 and
  // (1000 × 0.01 = index 10 exactly) 10 of the 1001 rows lie strictly below it.
  assert.ok(Math.abs(d.p1) < 1e-15, `p1 ${d.p1}`);
  assert.equal(d.flagged_share, 10 / 1001);
  const ordered = [d.min, d.p1, d.p5, d.p25, d.p50, d.p75, d.p95, d.p99, d.max];
  for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i - 1] <= ordered[i]);
  // The distribution describes the rows the model was trained on: re-score them.
  const scorer = Scorer.fromBundle(bundle);
  const decisions = data.filter((r) => !r.warm_up).map((r) =>
    scorer.scoreFeatures(r).anomaly_score
  );
  assert.equal(Math.min(...decisions), d.min);
  assert.equal(Math.max(...decisions), d.max);
});

Deno.test("labelled: false trains without a holdout even when labels exist", () => {
  const bundle = trainBundle(rows(300, 10, 0, 3), { ...OPTS, labelled: false });
  assert.equal(bundle.training.report.kind, "unlabelled");
  assert.equal(bundle.training.report.train_rows, 310);
  const forced = trainBundle(rows(300, 0, 0, 3), { ...OPTS, labelled: true });
  assert.equal(forced.training.report.kind, "holdout");
  if (forced.training.report.kind === "holdout") {
    assert.equal(forced.training.report.holdout.roc_auc, null, "one class only: AUC undefined");
    assert.equal(forced.training.report.holdout.average_precision, null);
  }
});

Deno.test("same rows and seed give the same bundle; another seed another forest", () => {
  const data = rows(400, 8, 5, 4);
  const a = trainBundle(data, { ...OPTS, nEstimators: 30 });
  const b = trainBundle(data, { ...OPTS, nEstimators: 30 });
  const c = trainBundle(data, { ...OPTS, nEstimators: 30, seed: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.trees, c.trees);
});

Deno.test("too few usable rows is a clear error", () => {
  const data = rows(1, 0, 50, 5);
  assert.throws(() => trainBundle(data, OPTS), /at least 2 non-warm-up rows.*got 1.*50 warm-up/);
  assert.throws(() => trainBundle([], OPTS), /at least 2/);
  // Two labelled rows cannot give both a training set and a holdout.
  assert.throws(() => trainBundle(rows(2, 1, 0, 6), OPTS), /holdout/);
});

Deno.test("parameters flow into the bundle, which survives KV chunking", () => {
  const bundle = trainBundle(rows(500, 0, 0, 7), {
    ...OPTS,
    nEstimators: 40,
    maxSamples: 64,
    contamination: "auto",
    seed: 9,
  });
  assert.deepEqual(bundle.params, {
    n_estimators: 40,
    max_samples: 64,
    contamination: "auto",
    seed: 9,
  });
  assert.equal(bundle.offset, -0.5);
  assert.equal(bundle.trees.length, 40);
  assert.deepEqual(decodeBundleChunks(encodeBundleChunks(bundle, 10_000)), bundle);
  assert.throws(
    () => trainBundle(rows(10, 0, 0, 7), { ...OPTS, id: "bad id" }),
    /invalid bundle.*id/,
  );
});
