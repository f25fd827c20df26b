import assert from "node:assert/strict";
import { StandardScaler } from "./scaler.ts";

const fixtureUrl = (name: string) => new URL(`../tests/fixtures/${name}`, import.meta.url);

function readCsvFeatures(): { X: Float64Array; rows: number } {
  const lines = Deno.readTextFileSync(fixtureUrl("iforest_data.csv")).trim().split("\n").slice(1);
  const X = new Float64Array(lines.length * 5);
  lines.forEach((line, r) =>
    line.split(",").slice(0, 5).forEach((v, c) => X[r * 5 + c] = Number(v))
  );
  return { X, rows: lines.length };
}

Deno.test("fit: population (ddof 0) standard deviation, hand-computed", () => {
  // The textbook sample 2,4,4,4,5,5,7,9 has mean 5 and population std exactly 2.
  const s = StandardScaler.fit(new Float64Array([2, 4, 4, 4, 5, 5, 7, 9]), 8, 1);
  assert.deepEqual(Array.from(s.mean), [5]);
  assert.deepEqual(Array.from(s.scale), [2]);
  assert.deepEqual(Array.from(s.transform(new Float64Array([9, 1]), 2)), [2, -2]);
});

Deno.test("fit: a constant column gets scale 1 and maps to 0", () => {
  const X = new Float64Array([1, 10, 3, 10]);
  const s = StandardScaler.fit(X, 2, 2);
  assert.deepEqual(Array.from(s.mean), [2, 10]);
  assert.deepEqual(Array.from(s.scale), [1, 1]);
  assert.deepEqual(Array.from(s.transform(X, 2)), [-1, 0, 1, 0]);
  // 0.1 is not exact in binary; a naive mean could leave a ~1e-17 "spread".
  const tenths = StandardScaler.fit(new Float64Array(7).fill(0.1), 7, 1);
  assert.equal(tenths.scale[0], 1);
});

Deno.test("fit: accurate for a large mean with a tiny spread (BTC-like)", () => {
  // numpy: np.std([1e9, 1e9+1, 1e9+2, 1e9+3]) == 1.118033988749895 (sqrt(1.25)).
  const s = StandardScaler.fit(new Float64Array([1e9, 1e9 + 1, 1e9 + 2, 1e9 + 3]), 4, 1);
  assert.equal(s.mean[0], 1e9 + 1.5);
  assert.equal(s.scale[0], 1.118033988749895);
});

Deno.test("fit: equals sklearn's StandardScaler on the fixture data", () => {
  const { X, rows } = readCsvFeatures();
  const s = StandardScaler.fit(X, rows, 5);
  const expected = JSON.parse(Deno.readTextFileSync(fixtureUrl("sklearn_metrics.json"))).scaler;
  for (let c = 0; c < 5; c++) {
    // numpy sums pairwise, we sum left to right: equal to a few ulps, not bit for bit.
    const tolMean = 1e-12 * Math.max(1, Math.abs(expected.mean[c]));
    assert.ok(Math.abs(s.mean[c] - expected.mean[c]) <= tolMean, `mean ${c}`);
    assert.ok(Math.abs(s.scale[c] / expected.scale[c] - 1) <= 1e-12, `scale ${c}`);
  }
});

Deno.test("transformRow equals the matching row of transform, into the given buffer", () => {
  const { X, rows } = readCsvFeatures();
  const s = StandardScaler.fit(X, rows, 5);
  const all = s.transform(X, rows);
  const out = new Float64Array(5);
  for (const r of [0, 17, rows - 1]) {
    const returned = s.transformRow(X.subarray(r * 5, r * 5 + 5), out);
    assert.equal(returned, out);
    assert.deepEqual(Array.from(out), Array.from(all.subarray(r * 5, r * 5 + 5)));
  }
  assert.throws(() => s.transformRow([1, 2], out), RangeError);
});

Deno.test("transformed training data has mean 0 and population std 1", () => {
  const { X, rows } = readCsvFeatures();
  const Z = StandardScaler.fit(X, rows, 5).transform(X, rows);
  for (let c = 0; c < 5; c++) {
    let sum = 0, ss = 0;
    for (let r = 0; r < rows; r++) sum += Z[r * 5 + c];
    const m = sum / rows;
    for (let r = 0; r < rows; r++) ss += (Z[r * 5 + c] - m) ** 2;
    assert.ok(Math.abs(m) < 1e-12, `column ${c} mean ${m}`);
    assert.ok(Math.abs(Math.sqrt(ss / rows) - 1) < 1e-12, `column ${c} std`);
  }
});

Deno.test("toJSON / fromJSON round-trip", () => {
  const s = new StandardScaler([1.5, -2], [0.25, 3]);
  const json = JSON.parse(JSON.stringify(s.toJSON()));
  assert.deepEqual(json, { mean: [1.5, -2], scale: [0.25, 3] });
  const back = StandardScaler.fromJSON(json);
  assert.deepEqual(Array.from(back.transform(new Float64Array([2, 1]), 1)), [2, 1]);
});

Deno.test("rejects bad shapes, non-finite data and non-positive scales", () => {
  assert.throws(() => StandardScaler.fit(new Float64Array(5), 2, 3), RangeError);
  assert.throws(() => StandardScaler.fit(new Float64Array(0), 0, 3), RangeError);
  assert.throws(() => StandardScaler.fit(new Float64Array([1, NaN]), 2, 1), /not finite/);
  assert.throws(() => new StandardScaler([0], [0]), RangeError);
  assert.throws(() => new StandardScaler([0, 1], [1]), RangeError);
  assert.throws(() => new StandardScaler([Infinity], [1]), RangeError);
  const s = new StandardScaler([0], [1]);
  assert.throws(() => s.transform(new Float64Array(3), 2), RangeError);
});
