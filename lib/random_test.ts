import assert from "node:assert/strict";
import { Random } from "./random.ts";

Deno.test("random: same seed, same sequence; different seed, different sequence", () => {
  const a = new Random(7), b = new Random(7), c = new Random(8);
  const sa = Array.from({ length: 100 }, () => a.uint32());
  const sb = Array.from({ length: 100 }, () => b.uint32());
  const sc = Array.from({ length: 100 }, () => c.uint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

Deno.test("random: float is uniform in [0, 1): moments and bucket counts", () => {
  const r = new Random(1);
  const n = 200_000;
  const buckets = new Array(10).fill(0);
  let sum = 0, sumSq = 0;
  for (let i = 0; i < n; i++) {
    const x = r.float();
    assert.ok(x >= 0 && x < 1);
    sum += x;
    sumSq += x * x;
    buckets[Math.floor(x * 10)]++;
  }
  // Uniform: mean 1/2 (sd of the mean ≈ 0.00065), variance 1/12.
  assert.ok(Math.abs(sum / n - 0.5) < 0.004);
  assert.ok(Math.abs(sumSq / n - (sum / n) ** 2 - 1 / 12) < 0.002);
  // Each bucket expects 20 000 (sd ≈ 134): 6 sd is generous yet catches a broken generator.
  for (const b of buckets) assert.ok(Math.abs(b - 20_000) < 800, `bucket ${b}`);
});

Deno.test("random: normal has mean 0 and variance 1", () => {
  const r = new Random(3);
  const n = 200_000;
  let sum = 0, sumSq = 0, beyond3 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal();
    sum += z;
    sumSq += z * z;
    if (Math.abs(z) > 3) beyond3++;
  }
  assert.ok(Math.abs(sum / n) < 0.015);
  assert.ok(Math.abs(sumSq / n - 1) < 0.02);
  // P(|Z| > 3) = 0.0027 → 540 expected.
  assert.ok(beyond3 > 400 && beyond3 < 700, `beyond3=${beyond3}`);
});

Deno.test("random: int covers [0, n) and shuffle is a permutation", () => {
  const r = new Random(5);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const k = r.int(7);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    seen.add(k);
  }
  assert.equal(seen.size, 7);
  const a = Array.from({ length: 50 }, (_, i) => i);
  const s = r.shuffle([...a]);
  assert.notDeepEqual(s, a);
  assert.deepEqual([...s].sort((x, y) => x - y), a);
});

Deno.test("random: a restored state continues the same sequence, normals included", () => {
  const a = new Random(99);
  a.normal(); // leaves a spare normal cached
  const b = Random.fromState(JSON.parse(JSON.stringify(a.state())));
  for (let i = 0; i < 100; i++) assert.equal(a.normal(), b.normal());
  for (let i = 0; i < 100; i++) assert.equal(a.uint32(), b.uint32());
  assert.throws(() => Random.fromState({ s: [0, 0, 0, 0], spare: null }), RangeError);
});
