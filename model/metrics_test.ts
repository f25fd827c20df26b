import assert from "node:assert/strict";
import { Random } from "../lib/random.ts";
import {
  averagePrecision,
  classificationReport,
  confusionMatrix,
  percentile,
  percentileOfSorted,
  rocAuc,
  scoreDistribution,
  stratifiedSplit,
} from "./metrics.ts";

const fixtureUrl = (name: string) => new URL(`../tests/fixtures/${name}`, import.meta.url);
const metricsFixture = JSON.parse(Deno.readTextFileSync(fixtureUrl("sklearn_metrics.json")));
const scoresFixture = JSON.parse(Deno.readTextFileSync(fixtureUrl("sklearn_scores.json")));
const sklearnBundle = JSON.parse(Deno.readTextFileSync(fixtureUrl("sklearn_bundle.json")));

function close(actual: number, expected: number, tol: number, what: string) {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: got ${actual}, expected ${expected} (tolerance ${tol})`,
  );
}

Deno.test("percentile: hand-computed linear interpolation", () => {
  // Sorted [1, 2, 3, 4]: index (n-1)q = 0.75 for p25 -> 1 + 0.75 * (2 - 1).
  assert.equal(percentile([4, 1, 3, 2], 25), 1.75);
  assert.equal(percentile([4, 1, 3, 2], 50), 2.5);
  assert.equal(percentile([4, 1, 3, 2], 0), 1);
  assert.equal(percentile([4, 1, 3, 2], 100), 4);
  assert.equal(percentile([7], 37), 7);
  assert.equal(percentileOfSorted(new Float64Array([10, 20]), 10), 11);
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
});

Deno.test("percentile: equals numpy.percentile on the fixture samples", () => {
  for (const c of metricsFixture.percentile) {
    c.q.forEach((q: number, i: number) => {
      // Same operations in the same order as numpy: expect the identical double.
      assert.equal(percentile(c.values, q), c.expected[i], `n=${c.values.length} q=${q}`);
    });
  }
});

Deno.test("percentile does not reorder its input", () => {
  const v = [3, 1, 2];
  percentile(v, 50);
  assert.deepEqual(v, [3, 1, 2]);
});

Deno.test("confusionMatrix: sklearn layout [[tn, fp], [fn, tp]]", () => {
  const yTrue = [false, false, false, true, true, true, true];
  const yPred = [false, true, false, true, false, true, true];
  assert.deepEqual(confusionMatrix(yTrue, yPred), [[2, 1], [1, 3]]);
  assert.throws(() => confusionMatrix([true], []), RangeError);
});

Deno.test("classificationReport: hand-computed case", () => {
  // tn=2 fp=1 fn=1 tp=3
  const r = classificationReport(
    [false, false, false, true, true, true, true],
    [false, true, false, true, false, true, true],
  );
  assert.deepEqual(r.anomaly, { precision: 3 / 4, recall: 3 / 4, f1: 6 / 8, support: 4 });
  assert.deepEqual(r.normal, { precision: 2 / 3, recall: 2 / 3, f1: 4 / 6, support: 3 });
  assert.equal(r.accuracy, 5 / 7);
  close(r.macro_avg.precision, (3 / 4 + 2 / 3) / 2, 1e-15, "macro precision");
  close(r.weighted_avg.recall, (4 * 3 / 4 + 3 * 2 / 3) / 7, 1e-15, "weighted recall");
  assert.equal(r.macro_avg.support, 7);
  assert.deepEqual(r.confusion_matrix, [[2, 1], [1, 3]]);
});

Deno.test("classificationReport: zero denominators give 0, as zero_division=0", () => {
  const r = classificationReport([false, false], [false, false]);
  assert.deepEqual(r.anomaly, { precision: 0, recall: 0, f1: 0, support: 0 });
  assert.equal(r.normal.precision, 1);
  assert.equal(r.accuracy, 1);
});

Deno.test("classificationReport: equals sklearn precision_recall_fscore_support", () => {
  for (const c of metricsFixture.classification) {
    const r = classificationReport(c.y_true, c.y_pred);
    const classes = [r.normal, r.anomaly];
    for (let k = 0; k < 2; k++) {
      close(classes[k].precision, c.precision[k], 1e-12, "precision");
      close(classes[k].recall, c.recall[k], 1e-12, "recall");
      close(classes[k].f1, c.f1[k], 1e-12, "f1");
      assert.equal(classes[k].support, c.support[k]);
    }
    assert.deepEqual(r.confusion_matrix, c.confusion_matrix);
  }
});

Deno.test("rocAuc: hand-computed cases, ties count one half", () => {
  assert.equal(rocAuc([false, false, true, true], [0.1, 0.2, 0.3, 0.4]), 1);
  assert.equal(rocAuc([false, false, true, true], [0.4, 0.3, 0.2, 0.1]), 0);
  assert.equal(rocAuc([false, true, false, true], [0.5, 0.5, 0.5, 0.5]), 0.5);
  // Positives 0.9 and 0.4, negatives 0.1 and 0.4: pairs 1 + 1 + 1 + 0.5 over 4.
  assert.equal(rocAuc([false, true, false, true], [0.1, 0.9, 0.4, 0.4]), 0.875);
  assert.ok(Number.isNaN(rocAuc([true, true], [0.1, 0.2])));
  assert.ok(Number.isNaN(rocAuc([false, false], [0.1, 0.2])));
  assert.equal(rocAuc([false, true], [-Infinity, Infinity]), 1);
});

Deno.test("rocAuc: equals the brute-force pair count on random tied data", () => {
  const rnd = new Random(11);
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + rnd.int(60);
    const y = Array.from({ length: n }, () => rnd.float() < 0.3);
    y[0] = true, y[1] = false;
    const s = Array.from({ length: n }, () => rnd.int(6)); // many ties
    let wins = 0, pairs = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (!y[i] || y[j]) continue;
        pairs++;
        wins += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
    }
    close(rocAuc(y, s), wins / pairs, 1e-12, `trial ${trial}`);
  }
});

Deno.test("averagePrecision: hand-computed cases", () => {
  // Ranking T F T F: precision at the two positives is 1 and 2/3, each recall step 1/2.
  close(averagePrecision([false, true, false, true], [0.1, 0.9, 0.4, 0.35]), 5 / 6, 1e-15, "AP");
  assert.equal(averagePrecision([true, false], [0.9, 0.1]), 1);
  // All tied: one threshold, precision = positive share.
  assert.equal(averagePrecision([true, false, false, false], [1, 1, 1, 1]), 0.25);
  assert.ok(Number.isNaN(averagePrecision([false, false], [0.1, 0.2])));
});

Deno.test("rocAuc and averagePrecision: equal sklearn on the fixture cases", () => {
  for (const c of metricsFixture.classification) {
    close(rocAuc(c.y_true, c.y_score), c.roc_auc, 1e-12, "roc_auc");
    close(averagePrecision(c.y_true, c.y_score), c.average_precision, 1e-12, "average_precision");
  }
});

Deno.test("stratifiedSplit: per-class sizes, disjoint cover, seeded", () => {
  const labels = Array.from({ length: 503 }, (_, i) => i % 10 === 0); // 51 anomalies
  const a = stratifiedSplit(labels, 0.2, new Random(5));
  const positives = (idx: number[]) => idx.filter((i) => labels[i]).length;
  assert.equal(positives(a.test), Math.round(51 * 0.2));
  assert.equal(a.test.length - positives(a.test), Math.round(452 * 0.2));
  const all = [...a.train, ...a.test].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 503 }, (_, i) => i));
  assert.deepEqual(a.train, [...a.train].sort((x, y) => x - y));
  assert.deepEqual(stratifiedSplit(labels, 0.2, new Random(5)), a);
  assert.notDeepEqual(stratifiedSplit(labels, 0.2, new Random(6)).test, a.test);
  assert.throws(() => stratifiedSplit(labels, 1.5, new Random(1)), RangeError);
});

Deno.test("scoreDistribution: matches numpy on sklearn's decision function", () => {
  // The Python fixture summarised sklearn's decision_function with np.percentile.
  const expected = sklearnBundle.training.report.train_scores;
  assert.deepEqual(scoreDistribution(scoresFixture.decision_function), expected);
});

Deno.test("scoreDistribution: hand-computed case", () => {
  const d = scoreDistribution([0.3, -0.1, 0.2, 0.1]);
  assert.equal(d.min, -0.1);
  assert.equal(d.max, 0.3);
  assert.equal(d.flagged_share, 0.25);
  close(d.p50, 0.15, 1e-15, "median");
  assert.throws(() => scoreDistribution([]), RangeError);
});
