import assert from "node:assert/strict";
import { Random } from "../lib/random.ts";
import {
  averagePathLength,
  type ForestJSON,
  IsolationForest,
  type TreeJSON,
  treeProblem,
} from "./forest.ts";

/** Row-major standard-normal data. */
function normalData(rows: number, cols: number, seed: number): Float64Array {
  const rnd = new Random(seed);
  const X = new Float64Array(rows * cols);
  for (let i = 0; i < X.length; i++) X[i] = rnd.normal();
  return X;
}

/**
 * Independent reference: walks the JSON trees recursively as node objects
 * and applies the paper's h(x) = depth + c(leaf size), inputs read as float32.
 */
function referenceScore(json: ForestJSON, row: ArrayLike<number>): number {
  let total = 0;
  for (const t of json.trees) {
    const walk = (node: number, depth: number): number =>
      t.feature[node] === -1 ? depth + averagePathLength(t.n_samples[node]) : walk(
        Math.fround(row[t.feature[node]]) <= t.threshold[node] ? t.left[node] : t.right[node],
        depth + 1,
      );
    total += walk(0, 0);
  }
  const mean = total / json.trees.length;
  return -Math.pow(2, -mean / averagePathLength(json.params.max_samples));
}

function leafDepths(t: TreeJSON): { depth: number; n: number }[] {
  const out: { depth: number; n: number }[] = [];
  const walk = (node: number, depth: number) => {
    if (t.feature[node] === -1) out.push({ depth, n: t.n_samples[node] });
    else {
      walk(t.left[node], depth + 1);
      walk(t.right[node], depth + 1);
    }
  };
  walk(0, 0);
  return out;
}

Deno.test("averagePathLength: sklearn's _average_path_length values", () => {
  // Printed by sklearn.ensemble._iforest._average_path_length([1, 2, 3, 4, 256, 100000]).
  const expected = [
    0,
    1,
    1.207392357589623,
    1.8516559071392855,
    10.244770920119917,
    22.180282259643523,
  ];
  [1, 2, 3, 4, 256, 100000].forEach((n, i) => {
    assert.ok(Math.abs(averagePathLength(n) - expected[i]) < 1e-14, `c(${n})`);
  });
  assert.equal(averagePathLength(0), 0);
});

Deno.test("scoreSamples and scoreOne equal a recursive reference walk", () => {
  // ψ = 256 (depth 8) is scored through the compiled complete-tree layout;
  // ψ = 3000 grows trees deeper than 10, which are walked node by node.
  const rows = 3000;
  const X = normalData(rows, 5, 1);
  for (const [maxSamples, nEstimators] of [[256, 60], [3000, 8]]) {
    const forest = IsolationForest.fit(X, rows, 5, { nEstimators, maxSamples, seed: 3 });
    const json = forest.toJSON();
    const deepest = Math.max(...json.trees.flatMap((t) => leafDepths(t).map((l) => l.depth)));
    assert.ok(maxSamples === 256 ? deepest <= 8 : deepest > 10, `deepest leaf ${deepest}`);
    // 3000 rows span more than one scoring block; 3000 % 8 exercises the unrolled loop's tail.
    const batch = forest.scoreSamples(X, rows);
    for (let r = 0; r < rows; r += 7) {
      const row = X.subarray(r * 5, r * 5 + 5);
      const ref = referenceScore(json, row);
      assert.ok(
        Math.abs(batch[r] - ref) < 1e-12,
        `ψ=${maxSamples} row ${r}: ${batch[r]} vs ${ref}`,
      );
      assert.ok(
        Math.abs(forest.scoreOne(row) - ref) < 1e-12,
        `ψ=${maxSamples} row ${r} (scoreOne)`,
      );
    }
  }
});

/** A "caterpillar" tree: internal nodes at depths 0..d-1 each with a left leaf (1 sample), threshold 0. */
function caterpillar(d: number): TreeJSON {
  const t: TreeJSON = { feature: [], threshold: [], left: [], right: [], n_samples: [] };
  // Node 2k is the internal node at depth k, 2k+1 its left leaf; node 2d is the last (right) leaf.
  for (let k = 0; k < d; k++) {
    t.feature.push(0, -1), t.threshold.push(0, 0), t.left.push(2 * k + 1, -1);
    t.right.push(2 * k + 2, -1), t.n_samples.push(d + 2 - k, 1);
  }
  t.feature.push(-1), t.threshold.push(0), t.left.push(-1), t.right.push(-1), t.n_samples.push(2);
  return t;
}

Deno.test("shallow and deep forests route alike; NaN goes right, as in sklearn", () => {
  // sklearn's apply(): a NaN input follows missing_go_to_left, which is 0 (right)
  // for trees fitted without missing values. Depth 3 is compiled, depth 12 is walked.
  for (const d of [3, 12]) {
    const json: ForestJSON = {
      params: { n_estimators: 2, max_samples: d + 2, contamination: "auto", seed: 0 },
      offset: -0.5,
      trees: [caterpillar(d), caterpillar(d)],
    };
    const forest = IsolationForest.fromJSON(json, 1);
    const cPsi = averagePathLength(d + 2);
    const expected = (h: number) => -Math.pow(2, -h / cPsi);
    const cases: [number, number][] = [
      [-1, 1], // left at the root: depth-1 leaf of one sample
      [0, 1], // 0 <= 0 goes left
      [1, d + 1], // right all the way: depth d + c(2) = d + 1
      [NaN, d + 1],
    ];
    for (const [x, h] of cases) {
      assert.ok(Math.abs(forest.scoreOne([x]) - expected(h)) < 1e-15, `d=${d} x=${x} scoreOne`);
      const batch = forest.scoreSamples(new Float64Array(9).fill(x), 9);
      for (const s of batch) assert.ok(Math.abs(s - expected(h)) < 1e-15, `d=${d} x=${x} batch`);
    }
  }
});

Deno.test("fit: same seed gives identical trees, another seed different ones", () => {
  const X = normalData(1000, 5, 2);
  const a = IsolationForest.fit(X, 1000, 5, { nEstimators: 30, seed: 42 });
  const b = IsolationForest.fit(X, 1000, 5, { nEstimators: 30, seed: 42 });
  const c = IsolationForest.fit(X, 1000, 5, { nEstimators: 30, seed: 43 });
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.notDeepEqual(a.toJSON().trees, c.toJSON().trees);
  // An injected Random seeded alike is the same stream as params.seed.
  const d = IsolationForest.fit(X, 1000, 5, { nEstimators: 30, seed: 42 }, new Random(42));
  assert.deepEqual(d.toJSON(), a.toJSON());
});

Deno.test("fit: tree shape follows max_samples and the depth limit", () => {
  const X = normalData(5000, 5, 4);
  const forest = IsolationForest.fit(X, 5000, 5, { nEstimators: 40, seed: 1 });
  assert.equal(forest.maxSamples, 256);
  const json = forest.toJSON();
  assert.equal(json.params.max_samples, 256);
  let reachedLimit = false;
  for (const t of json.trees) {
    assert.equal(treeProblem(t, 5), null);
    assert.equal(t.n_samples[0], 256);
    for (let i = 0; i < t.feature.length; i++) {
      if (t.feature[i] >= 0) {
        assert.equal(t.n_samples[i], t.n_samples[t.left[i]] + t.n_samples[t.right[i]]);
        assert.ok(t.n_samples[t.left[i]] > 0 && t.n_samples[t.right[i]] > 0);
      }
    }
    for (const leaf of leafDepths(t)) {
      assert.ok(leaf.depth <= 8, "depth limit ceil(log2(256)) = 8");
      // Above the limit a leaf is a single point (continuous data has no ties).
      if (leaf.depth < 8) assert.equal(leaf.n, 1);
      if (leaf.depth === 8) reachedLimit = true;
    }
  }
  assert.ok(reachedLimit);
  // "auto" below 256 rows and an explicit cap above the row count both give ψ = rows.
  assert.equal(IsolationForest.fit(X.subarray(0, 500), 100, 5, { nEstimators: 2 }).maxSamples, 100);
  assert.equal(
    IsolationForest.fit(X.subarray(0, 500), 100, 5, { nEstimators: 2, maxSamples: 1000 })
      .maxSamples,
    100,
  );
  const small = IsolationForest.fit(X, 5000, 5, { nEstimators: 5, maxSamples: 16 }).toJSON();
  for (const t of small.trees) for (const leaf of leafDepths(t)) assert.ok(leaf.depth <= 4);
});

Deno.test("fit: sub-samples without replacement (routing the sample reproduces n_samples)", () => {
  // With ψ = rows every tree must see each row exactly once; routing all rows
  // back through a tree must then land exactly n_samples rows on every node.
  const rows = 200;
  const X = normalData(rows, 5, 5);
  const json = IsolationForest.fit(X, rows, 5, { nEstimators: 20, maxSamples: rows, seed: 9 })
    .toJSON();
  for (const t of json.trees) {
    const reached = new Array(t.feature.length).fill(0);
    for (let r = 0; r < rows; r++) {
      let node = 0;
      reached[0]++;
      while (t.feature[node] !== -1) {
        const x = Math.fround(X[r * 5 + t.feature[node]]);
        node = x <= t.threshold[node] ? t.left[node] : t.right[node];
        reached[node]++;
      }
    }
    assert.deepEqual(reached, t.n_samples);
  }
});

Deno.test("fit: split features are uniform and thresholds uniform in (min, max)", () => {
  const X = normalData(64, 5, 6);
  const json = IsolationForest.fit(X, 64, 5, { nEstimators: 2000, maxSamples: 16, seed: 2 })
    .toJSON();
  const counts = [0, 0, 0, 0, 0];
  for (const t of json.trees) counts[t.feature[0]]++;
  for (const c of counts) assert.ok(Math.abs(c / 2000 - 0.2) < 0.04, `root feature share ${c}`);

  // Two points 0 and 1: the root threshold is uniform on [0, 1).
  const two = IsolationForest.fit(new Float64Array([0, 1]), 2, 1, { nEstimators: 4000, seed: 3 })
    .toJSON();
  const th = two.trees.map((t) => t.threshold[0]);
  assert.ok(th.every((v) => v >= 0 && v < 1));
  const mean = th.reduce((a, b) => a + b, 0) / th.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean threshold ${mean}`);
  const belowQuarter = th.filter((v) => v < 0.25).length / th.length;
  assert.ok(Math.abs(belowQuarter - 0.25) < 0.03, `share below 0.25: ${belowQuarter}`);
});

Deno.test("fit: constant features are never split on; all constant → one leaf, score −0.5", () => {
  const rnd = new Random(7);
  const rows = 300;
  const X = new Float64Array(rows * 3);
  for (let r = 0; r < rows; r++) X[r * 3] = 4, X[r * 3 + 1] = rnd.normal(), X[r * 3 + 2] = -1;
  const json = IsolationForest.fit(X, rows, 3, { nEstimators: 20, seed: 1 }).toJSON();
  for (const t of json.trees) for (const f of t.feature) assert.ok(f === -1 || f === 1);

  const flat = IsolationForest.fit(new Float64Array(rows * 2).fill(3), rows, 2, {
    nEstimators: 10,
    contamination: "auto",
  });
  for (const t of flat.toJSON().trees) assert.deepEqual(t.feature, [-1]);
  // Every path is 0 + c(ψ) so E[h]/c(ψ) = 1 and the score is −2^−1.
  assert.deepEqual(Array.from(flat.scoreSamples(new Float64Array([3, 3, 100, -100]), 2)), [
    -0.5,
    -0.5,
  ]);
});

Deno.test("fit: duplicate rows make leaves above the depth limit that carry c(n)", () => {
  // Four distinct values, 64 copies each: leaves hold 64 copies at depth ≤ 2.
  const X = new Float64Array(256);
  for (let i = 0; i < 256; i++) X[i] = i % 4;
  const forest = IsolationForest.fit(X, 256, 1, { nEstimators: 10, seed: 4 });
  const json = forest.toJSON();
  for (const t of json.trees) for (const leaf of leafDepths(t)) assert.equal(leaf.n, 64);
  for (const v of [0, 1, 2, 3]) {
    assert.ok(Math.abs(forest.scoreOne([v]) - referenceScore(json, [v])) < 1e-12);
  }
});

Deno.test("a single training row: c(1) = 0, every score is −0.5 as in sklearn", () => {
  const forest = IsolationForest.fit(new Float64Array([1, 2]), 1, 2, { nEstimators: 3 });
  assert.equal(forest.maxSamples, 1);
  assert.equal(forest.scoreOne([5, 5]), -0.5);
});

Deno.test("inputs are compared as float32 against float64 thresholds (sklearn's casting)", () => {
  // Root splits feature 0 at 0.1 (a double); fround(0.1) = 0.10000000149… > 0.1, so
  // the input 0.1 goes RIGHT, as in sklearn, although 0.1 <= 0.1 in float64.
  const json: ForestJSON = {
    params: { n_estimators: 1, max_samples: 4, contamination: "auto", seed: 0 },
    offset: -0.5,
    trees: [{
      feature: [0, -1, -1],
      threshold: [0.1, 0, 0],
      left: [1, -1, -1],
      right: [2, -1, -1],
      n_samples: [4, 1, 3],
    }],
  };
  const forest = IsolationForest.fromJSON(json, 1);
  const c4 = 2 * (Math.log(3) + 0.5772156649015329) - 1.5;
  const c3 = 2 * (Math.log(2) + 0.5772156649015329) - 4 / 3;
  const leftScore = -Math.pow(2, -1 / c4);
  const rightScore = -Math.pow(2, -(1 + c3) / c4);
  assert.ok(Math.abs(forest.scoreOne([0.1]) - rightScore) < 1e-15);
  assert.ok(Math.abs(forest.scoreOne([0.0999999]) - leftScore) < 1e-15);
  assert.ok(Math.abs(forest.scoreSamples([0.1], 1)[0] - rightScore) < 1e-15);
  assert.ok(Math.abs(forest.scoreSamples(new Float32Array([0.1]), 1)[0] - rightScore) < 1e-15);
});

Deno.test("offset: the contamination quantile of training scores; predict flags that share", () => {
  const rows = 1000;
  const X = normalData(rows, 5, 8);
  const forest = IsolationForest.fit(X, rows, 5, { nEstimators: 50, contamination: 0.1, seed: 5 });
  const scores = Array.from(forest.scoreSamples(X, rows)).sort((a, b) => a - b);
  // numpy linear: index 999 * 0.1 = 99.9 → between the 100th and 101st lowest scores.
  const expected = scores[99] + (scores[100] - scores[99]) * 0.9;
  assert.ok(Math.abs(forest.offset - expected) < 1e-15);
  const flagged = forest.predict(X, rows).reduce((a, b) => a + b, 0);
  assert.equal(flagged, 100);
  const decision = forest.decisionFunction(X, rows);
  const direct = forest.scoreSamples(X, rows);
  for (let r = 0; r < rows; r++) assert.equal(decision[r], direct[r] - forest.offset);

  const auto = IsolationForest.fit(X, rows, 5, { nEstimators: 5, contamination: "auto" });
  assert.equal(auto.offset, -0.5);
});

Deno.test("an isolated point scores as an anomaly, the centre does not", () => {
  const X = normalData(2000, 2, 9);
  const forest = IsolationForest.fit(X, 2000, 2, { nEstimators: 100, seed: 1 });
  const centre = forest.scoreOne([0, 0]);
  const far = forest.scoreOne([7, -7]);
  assert.ok(far < centre);
  assert.ok(far - forest.offset < 0 && centre - forest.offset > 0);
  assert.deepEqual(Array.from(forest.predict([0, 0, 7, -7], 2)), [0, 1]);
  // Scores stay in sklearn's range [−1, 0).
  for (const s of forest.scoreSamples(X, 2000)) assert.ok(s >= -1 && s < 0);
});

Deno.test("toJSON / fromJSON round-trip scores identically", () => {
  const X = normalData(800, 5, 10);
  const forest = IsolationForest.fit(X, 800, 5, { nEstimators: 25, seed: 11 });
  const back = IsolationForest.fromJSON(JSON.parse(JSON.stringify(forest.toJSON())), 5);
  assert.deepEqual(Array.from(back.scoreSamples(X, 800)), Array.from(forest.scoreSamples(X, 800)));
  assert.equal(back.offset, forest.offset);
  assert.deepEqual(back.params, forest.params);
});

Deno.test("fromJSON rejects malformed trees", () => {
  const good: TreeJSON = {
    feature: [0, -1, -1],
    threshold: [0.5, 0, 0],
    left: [1, -1, -1],
    right: [2, -1, -1],
    n_samples: [2, 1, 1],
  };
  const forest = (tree: TreeJSON): ForestJSON => ({
    params: { n_estimators: 1, max_samples: 2, contamination: "auto", seed: 0 },
    offset: -0.5,
    trees: [tree],
  });
  IsolationForest.fromJSON(forest(good), 1);
  const bad: [Partial<TreeJSON>, RegExp][] = [
    [{ left: [0, -1, -1] }, /child 0/], // self-loop: would never terminate
    [{ right: [3, -1, -1] }, /child 3/],
    [{ feature: [2, -1, -1] }, /feature 2 out of range/],
    [{ threshold: [NaN, 0, 0] }, /threshold/],
    [{ n_samples: [2, 1] }, /n_samples has 2/],
    [{ n_samples: [2, 0, 1] }, /positive integer/],
    [{ left: [1, 5, -1] }, /leaf/],
    [{ right: [1, -1, -1] }, /same node/],
  ];
  for (const [patch, message] of bad) {
    assert.throws(() => IsolationForest.fromJSON(forest({ ...good, ...patch }), 1), message);
  }
  const twoParents: TreeJSON = {
    feature: [0, 0, -1, -1],
    threshold: [0, 0, 0, 0],
    left: [1, 2, -1, -1],
    right: [2, 3, -1, -1],
    n_samples: [2, 2, 1, 1],
  };
  assert.match(treeProblem(twoParents, 1) ?? "", /2 parents/);
  assert.throws(() => IsolationForest.fromJSON({ ...forest(good), trees: [] }, 1), /at least one/);
});

Deno.test("fit rejects bad parameters and data", () => {
  const X = normalData(10, 2, 1);
  assert.throws(() => IsolationForest.fit(X, 10, 2, { contamination: 0.6 }), /contamination/);
  assert.throws(() => IsolationForest.fit(X, 10, 2, { contamination: 0 }), /contamination/);
  assert.throws(() => IsolationForest.fit(X, 10, 2, { nEstimators: 0 }), /nEstimators/);
  assert.throws(() => IsolationForest.fit(X, 10, 2, { maxSamples: 2.5 }), /maxSamples/);
  assert.throws(() => IsolationForest.fit(X, 9, 2), /expected 9 × 2/);
  const withNaN = X.slice();
  withNaN[3] = NaN;
  assert.throws(() => IsolationForest.fit(withNaN, 10, 2), /not finite/);
  const forest = IsolationForest.fit(X, 10, 2, { nEstimators: 2 });
  assert.throws(() => forest.scoreOne([1]), RangeError);
  assert.throws(() => forest.scoreSamples([1, 2, 3], 2), RangeError);
});
