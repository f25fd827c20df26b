import assert from "node:assert/strict";
import { FEATURE_NAMES, type FeatureVector } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import {
  Bundle,
  bundleToModel,
  decodeBundleChunks,
  encodeBundleChunks,
  modelToBundle,
  parseBundle,
  Scorer,
  type TrainingInfo,
} from "./bundle.ts";
import { IsolationForest } from "./forest.ts";
import { StandardScaler } from "./scaler.ts";

const fixtureUrl = (name: string) => new URL(`../tests/fixtures/${name}`, import.meta.url);
const sklearnJson = () => JSON.parse(Deno.readTextFileSync(fixtureUrl("sklearn_bundle.json")));

const TRAINING: TrainingInfo = {
  rows: 600,
  symbols: ["BTC-USDT", "ETH-USDT"],
  from_ts: 1_710_000_000_000,
  to_ts: 1_710_000_600_000,
  report: {
    kind: "unlabelled",
    train_rows: 600,
    train_scores: {
      min: -0.1,
      p1: 0,
      p5: 0.02,
      p25: 0.1,
      p50: 0.15,
      p75: 0.2,
      p95: 0.22,
      p99: 0.23,
      max: 0.25,
      flagged_share: 0.01,
    },
  },
};

/** Raw feature rows shaped like the live features (price std ~0.001, volume std ~0.5). */
function rawRows(rows: number, seed: number): Float64Array {
  const rnd = new Random(seed);
  const X = new Float64Array(rows * 5);
  for (let r = 0; r < rows; r++) {
    X[r * 5] = rnd.normal();
    X[r * 5 + 1] = rnd.normal();
    X[r * 5 + 2] = rnd.normal() * 2;
    X[r * 5 + 3] = 0.001 + 0.0002 * rnd.normal();
    X[r * 5 + 4] = 0.5 + 0.1 * rnd.normal();
  }
  return X;
}

function fittedBundle(nEstimators = 20): { bundle: Bundle; X: Float64Array } {
  const X = rawRows(600, 1);
  const scaler = StandardScaler.fit(X, 600, 5);
  const forest = IsolationForest.fit(scaler.transform(X, 600), 600, 5, { nEstimators, seed: 3 });
  const bundle = modelToBundle({ scaler, forest }, {
    id: "m-1710000600000",
    createdAt: "2024-03-09T16:10:00.000Z",
    training: TRAINING,
  });
  return { bundle, X };
}

function vector(X: Float64Array, r: number): FeatureVector {
  return {
    z_score_price: X[r * 5],
    z_score_log_return: X[r * 5 + 1],
    z_score_volume: X[r * 5 + 2],
    rolling_price_std: X[r * 5 + 3],
    rolling_volume_std: X[r * 5 + 4],
  };
}

Deno.test("the exported scikit-learn bundle is a valid Bundle", () => {
  const b = parseBundle(sklearnJson());
  assert.equal(b.trees.length, 25);
  assert.deepEqual(b.feature_names, [...FEATURE_NAMES]);
  const { scaler, forest } = bundleToModel(b);
  assert.equal(scaler.cols, 5);
  assert.equal(forest.nEstimators, 25);
  assert.equal(forest.maxSamples, 256);
  assert.equal(forest.offset, b.offset);
});

Deno.test("modelToBundle → JSON → parseBundle → bundleToModel scores identically", () => {
  const { bundle, X } = fittedBundle();
  const direct = bundleToModel(bundle);
  const back = bundleToModel(parseBundle(JSON.parse(JSON.stringify(bundle))));
  const a = direct.forest.decisionFunction(direct.scaler.transform(X, 600), 600);
  const b = back.forest.decisionFunction(back.scaler.transform(X, 600), 600);
  assert.deepEqual(Array.from(b), Array.from(a));
  assert.equal(bundle.params.max_samples, 256);
  assert.equal(bundle.params.contamination, 0.01);
  assert.deepEqual(bundle.training, TRAINING);
});

Deno.test("Bundle rejects inconsistent documents, naming the path", () => {
  // Mutations of the raw fixture JSON, hence untyped.
  // deno-lint-ignore no-explicit-any
  const cases: [string, (b: Record<string, any>) => void, RegExp][] = [
    ["feature order", (b) => b.feature_names.reverse(), /feature_names/],
    ["tree count", (b) => b.trees.pop(), /n_estimators/],
    ["child index", (b) => b.trees[0].left[0] = 10_000, /trees\.0.*child 10000/],
    ["cycle", (b) => b.trees[1].right[0] = 0, /trees\.1.*child 0/],
    ["feature range", (b) => b.trees[0].feature[0] = 5, /out of range/],
    ["length", (b) => b.trees[2].threshold.pop(), /threshold has/],
    ["root size", (b) => b.trees[0].n_samples[0] = 255, /max_samples/],
    ["scale", (b) => b.scaler.scale[2] = 0, /scaler\.scale\.2/],
    ["scaler length", (b) => b.scaler.mean.push(1), /scaler\.mean/],
    ["id", (b) => b.id = "has space", /id/],
    ["created_at", (b) => b.created_at = "yesterday", /created_at/],
    ["contamination", (b) => b.params.contamination = 0.7, /contamination/],
    ["time range", (b) => b.training.from_ts = b.training.to_ts + 1, /from_ts/],
    ["report", (b) => b.training.report.kind = "other", /report/],
    ["symbol", (b) => b.training.symbols = ["btc"], /symbols/],
  ];
  for (const [what, mutate, message] of cases) {
    const b = sklearnJson();
    mutate(b);
    assert.equal(Bundle.safeParse(b).success, false, what);
    assert.throws(() => parseBundle(b), message, what);
  }
});

Deno.test("encodeBundleChunks / decodeBundleChunks round-trip within the size limit", () => {
  const { bundle } = fittedBundle(200);
  const chunks = encodeBundleChunks(bundle);
  assert.ok(chunks.length > 1, "a 200-tree bundle needs several KV values");
  const encoder = new TextEncoder();
  for (const c of chunks) assert.ok(encoder.encode(c).length <= 60_000);
  assert.equal(chunks.join(""), JSON.stringify(bundle));
  assert.deepEqual(decodeBundleChunks(chunks), bundle);

  const small = encodeBundleChunks(bundle, 4096);
  for (const c of small) assert.ok(c.length <= 4096);
  assert.deepEqual(decodeBundleChunks(small), bundle);
});

Deno.test("decodeBundleChunks fails loudly on missing, reordered or no chunks", () => {
  const chunks = encodeBundleChunks(fittedBundle().bundle, 2000);
  assert.throws(() => decodeBundleChunks(chunks.slice(0, -1)), /invalid bundle/);
  const swapped = [...chunks];
  [swapped[1], swapped[2]] = [swapped[2], swapped[1]];
  assert.throws(() => decodeBundleChunks(swapped), /invalid bundle/);
  assert.throws(() => decodeBundleChunks([]), /no chunks/);
  assert.throws(() => encodeBundleChunks(fittedBundle().bundle, 0), RangeError);
});

Deno.test("encodeBundleChunks escapes non-ASCII so a character never straddles a cut", () => {
  // Valid bundles are ASCII by schema; the escape keeps chunk sizes in bytes honest anyway.
  const odd = { ...fittedBundle().bundle, id: "modèle-😀" } as Bundle;
  const chunks = encodeBundleChunks(odd, 7);
  for (const c of chunks) {
    assert.ok(!/[\u0080-\uffff]/.test(c));
    assert.ok(c.length <= 7);
  }
  assert.equal(JSON.parse(chunks.join("")).id, "modèle-😀");
});

Deno.test("Scorer applies the scaler, then the forest; severity = −score_samples", () => {
  const { bundle, X } = fittedBundle();
  const scorer = Scorer.fromBundle(bundle);
  assert.equal(scorer.id, "m-1710000600000");
  const { scaler, forest } = bundleToModel(bundle);
  const scores = forest.scoreSamples(scaler.transform(X, 600), 600);
  const vectors = Array.from({ length: 600 }, (_, r) => vector(X, r));
  const many = scorer.scoreMany(vectors);
  for (let r = 0; r < 600; r++) {
    const one = scorer.scoreFeatures(vectors[r]);
    assert.equal(one.anomaly_score, scores[r] - bundle.offset);
    assert.equal(one.severity, -scores[r]);
    assert.ok(one.severity > 0 && one.severity <= 1);
    assert.equal(one.is_anomaly, one.anomaly_score < 0);
    assert.deepEqual(many[r], one);
  }
  // The contamination quantile was taken on these very rows: about 1% flagged.
  const flagged = many.filter((s) => s.is_anomaly).length;
  assert.ok(flagged >= 5 && flagged <= 7, `flagged ${flagged}`);
  const extreme = scorer.scoreFeatures({
    z_score_price: 9,
    z_score_log_return: -9,
    z_score_volume: 12,
    rolling_price_std: 0.01,
    rolling_volume_std: 3,
  });
  assert.equal(extreme.is_anomaly, true);
});
