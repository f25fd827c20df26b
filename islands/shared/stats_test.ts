import assert from "node:assert/strict";
import { correlationMatrix, gapSegments, mean, pearson, ratePerSecond } from "./stats.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

Deno.test("pearson matches a hand calculation", () => {
  // x = 1..5, y = 2,4,5,4,5: mean x 3, mean y 4; Σdxdy = 6, Σdx² = 10, Σdy² = 6 → 6/√60.
  close(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]), 6 / Math.sqrt(60));
  close(pearson([1, 2, 3], [3, 2, 1]), -1);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])), "a constant series has no correlation");
  assert.ok(Number.isNaN(pearson([1], [1])));
});

Deno.test("pearson does not lose digits on large offsets (BTC prices)", () => {
  const xs = [43000.01, 43000.02, 43000.03, 43000.04];
  close(pearson(xs, [1, 2, 3, 4]), 1, 1e-9);
});

Deno.test("correlationMatrix is symmetric with a unit diagonal", () => {
  const rows = [{ a: 1, b: 2, c: 5 }, { a: 2, b: 1, c: 3 }, { a: 3, b: 4, c: 1 }, {
    a: 4,
    b: 3,
    c: 0,
  }];
  const m = correlationMatrix(rows, ["a", "b", "c"]);
  assert.equal(m.length, 9);
  const r = (x: string, y: string) => m.find((c) => c.x === x && c.y === y)!.r;
  for (const k of ["a", "b", "c"]) assert.equal(r(k, k), 1);
  for (const [x, y] of [["a", "b"], ["a", "c"], ["b", "c"]]) close(r(x, y), r(y, x));
  close(r("a", "b"), pearson([1, 2, 3, 4], [2, 1, 4, 3]));
});

Deno.test("mean and ratePerSecond", () => {
  assert.equal(mean([2, 4, 9]), 5);
  assert.ok(Number.isNaN(mean([])));
  assert.equal(ratePerSecond([0, 250, 500, 750, 1000]), 4);
  assert.equal(ratePerSecond([5]), null);
  assert.equal(ratePerSecond([5, 5]), null);
});

Deno.test("gapSegments breaks each symbol's series at gaps, independently", () => {
  const pts = [
    { symbol: "A", ts_ms: 0 },
    { symbol: "B", ts_ms: 50 },
    { symbol: "A", ts_ms: 1000 },
    { symbol: "B", ts_ms: 5000 },
    { symbol: "A", ts_ms: 2000 },
    { symbol: "A", ts_ms: 2001 + 1000 },
  ];
  assert.deepEqual(gapSegments(pts, 1000), ["A#0", "B#0", "A#0", "B#1", "A#0", "A#1"]);
  assert.deepEqual(gapSegments([], 1000), []);
});
