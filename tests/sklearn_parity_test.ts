/**
 * The proof that Sentinel's forest is scikit-learn's IsolationForest
 * (DESIGN.md section 6). Fixtures come from tests/fixtures/sklearn_forest.py
 * (versions in tests/fixtures/requirements.txt):
 *
 * 1. a 25-tree sklearn forest exported to our Bundle JSON scores every row
 *    exactly as sklearn did (score_samples, decision_function, predict), also
 *    for probe rows sitting exactly on split thresholds, where sklearn's
 *    float32 cast of the input decides the branch;
 * 2. our own 200-tree forest, fitted on the same stratified train split,
 *    reaches sklearn's ROC-AUC on the test split (within 0.02).
 */
import assert from "node:assert/strict";
import { FEATURE_NAMES, type FeatureVector } from "../lib/contracts.ts";
import { decodeBundleChunks, encodeBundleChunks, parseBundle, Scorer } from "../model/bundle.ts";
import { averagePathLength, type ForestJSON, IsolationForest } from "../model/forest.ts";
import { rocAuc } from "../model/metrics.ts";
import { StandardScaler } from "../model/scaler.ts";

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const readJson = (name: string) => JSON.parse(Deno.readTextFileSync(fixture(name)));

const bundle = parseBundle(readJson("sklearn_bundle.json"));
const expected = readJson("sklearn_scores.json");
const auc = readJson("sklearn_auc.json");
const { X, labels, rows } = readCsv();
const TOLERANCE = 1e-9;

function readCsv(): { X: Float64Array; labels: boolean[]; rows: number } {
  const lines = Deno.readTextFileSync(fixture("iforest_data.csv")).trim().split("\n");
  assert.deepEqual(lines[0].split(","), [...FEATURE_NAMES, "is_anomaly"]);
  const body = lines.slice(1);
  const X = new Float64Array(body.length * 5);
  const labels: boolean[] = [];
  body.forEach((line, r) => {
    const cells = line.split(",");
    for (let c = 0; c < 5; c++) X[r * 5 + c] = Number(cells[c]);
    labels.push(cells[5] === "1");
  });
  return { X, labels, rows: body.length };
}

function vector(r: number): FeatureVector {
  return {
    z_score_price: X[r * 5],
    z_score_log_return: X[r * 5 + 1],
    z_score_volume: X[r * 5 + 2],
    rolling_price_std: X[r * 5 + 3],
    rolling_volume_std: X[r * 5 + 4],
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("sklearn bundle: every row's score_samples and decision_function match (1e-9)", () => {
  const scorer = Scorer.fromBundle(bundle);
  assert.equal(rows, expected.score_samples.length);
  const scaled = scorer.scaler.transform(X, rows);
  const batch = scorer.forest.scoreSamples(scaled, rows);
  const decision = scorer.forest.decisionFunction(scaled, rows);
  const diffScore = maxAbsDiff(batch, expected.score_samples);
  const diffDecision = maxAbsDiff(decision, expected.decision_function);
  assert.ok(diffScore <= TOLERANCE, `score_samples max |diff| ${diffScore}`);
  assert.ok(diffDecision <= TOLERANCE, `decision_function max |diff| ${diffDecision}`);

  // The single-row path (scaler.transformRow + scoreOne) and the batch of vectors agree too.
  const many = scorer.scoreMany(Array.from({ length: rows }, (_, r) => vector(r)));
  for (let r = 0; r < rows; r++) {
    const one = scorer.scoreFeatures(vector(r));
    assert.ok(Math.abs(one.anomaly_score - expected.decision_function[r]) <= TOLERANCE, `row ${r}`);
    assert.ok(Math.abs(one.severity + expected.score_samples[r]) <= TOLERANCE, `row ${r}`);
    assert.ok(Math.abs(many[r].anomaly_score - expected.decision_function[r]) <= TOLERANCE);
    // sklearn's predict: −1 = outlier.
    assert.equal(one.is_anomaly, expected.predict[r] === -1, `row ${r} predict`);
  }
});

Deno.test("sklearn bundle: the offset is sklearn's offset_ and survives KV chunking", () => {
  const decoded = decodeBundleChunks(encodeBundleChunks(bundle, 10_000));
  const scorer = Scorer.fromBundle(decoded);
  assert.equal(scorer.forest.offset, bundle.offset);
  // offset_ = np.percentile(training score_samples, 1): recompute it from sklearn's own scores.
  const sorted = [...expected.score_samples].sort((a: number, b: number) => a - b);
  const virtualIndex = (sorted.length - 1) * 0.01;
  const lo = Math.floor(virtualIndex), g = virtualIndex - lo;
  const p1 = sorted[lo] + (sorted[lo + 1] - sorted[lo]) * g;
  assert.ok(Math.abs(p1 - bundle.offset) < 1e-15);
});

Deno.test("sklearn bundle: rows on a split threshold follow sklearn's float32 cast", () => {
  const forest = Scorer.fromBundle(bundle).forest;
  const probes: number[][] = expected.probes.X;
  const flat = new Float64Array(probes.flat());
  const batch = forest.scoreSamples(flat, probes.length);
  const d = maxAbsDiff(batch, expected.probes.score_samples);
  assert.ok(d <= TOLERANCE, `probe score_samples max |diff| ${d}`);
  probes.forEach((row, i) => {
    assert.ok(Math.abs(forest.scoreOne(row) - expected.probes.score_samples[i]) <= TOLERANCE);
  });

  // The probes do discriminate: a float64 walk (x <= threshold without the cast)
  // scores many of them differently from sklearn.
  const json: ForestJSON = forest.toJSON();
  const cPsi = averagePathLength(json.params.max_samples);
  const float64Score = (row: number[]) => {
    let sum = 0;
    for (const t of json.trees) {
      let node = 0, depth = 0;
      while (t.feature[node] !== -1) {
        node = row[t.feature[node]] <= t.threshold[node] ? t.left[node] : t.right[node];
        depth++;
      }
      sum += depth + averagePathLength(t.n_samples[node]);
    }
    return -Math.pow(2, -sum / json.trees.length / cPsi);
  };
  const differing =
    probes.filter((row, i) => Math.abs(float64Score(row) - expected.probes.score_samples[i]) > 1e-6)
      .length;
  assert.ok(differing > probes.length / 5, `${differing} of ${probes.length} probes`);
  console.log(
    `${differing} of ${probes.length} threshold probes would score differently in float64`,
  );
});

Deno.test("our 200-tree forest reaches sklearn's ROC-AUC on the same split (within 0.02)", () => {
  const train: number[] = auc.train_idx, test: number[] = auc.test_idx;
  const pick = (idx: number[]) => {
    const out = new Float64Array(idx.length * 5);
    idx.forEach((r, i) => out.set(X.subarray(r * 5, r * 5 + 5), i * 5));
    return out;
  };
  const scaler = StandardScaler.fit(pick(train), train.length, 5);
  const trainX = scaler.transform(pick(train), train.length);
  const testX = scaler.transform(pick(test), test.length);
  const yTest = test.map((r) => labels[r]);
  // One forest's AUC moves by ~0.01 with its seed, so both sides average over
  // as many seeds as sklearn used random_states (20).
  const ours: number[] = [];
  for (let seed = 0; seed < auc.random_states.length; seed++) {
    const forest = IsolationForest.fit(trainX, train.length, 5, {
      nEstimators: auc.n_estimators,
      contamination: auc.contamination,
      seed,
    });
    const decision = forest.decisionFunction(testX, test.length);
    ours.push(rocAuc(yTest, decision.map((d) => -d)));
  }
  const mean = ours.reduce((a, b) => a + b, 0) / ours.length;
  const gap = Math.abs(mean - auc.roc_auc_mean);
  assert.ok(
    gap <= 0.02,
    `ours ${mean.toFixed(4)} vs sklearn ` +
      `${auc.roc_auc_mean.toFixed(4)}: gap ${gap.toFixed(4)}`,
  );
  console.log(
    `ROC-AUC on the test split: ours ${mean.toFixed(4)}, sklearn ${auc.roc_auc_mean.toFixed(4)}`,
  );
});
