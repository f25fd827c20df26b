import assert from "node:assert/strict";
import { SlidingQuantiles } from "./quantiles.ts";
import { Random } from "../lib/random.ts";

/** Brute force: the q-quantile of the last `size` values (the smallest v with ≥ q of them ≤ v). */
function bruteQuantile(values: number[], size: number, q: number): number {
  const w = values.slice(-size).sort((a, b) => a - b);
  const k = Math.max(0, Math.ceil(q * w.length) - 1);
  return w[k];
}

Deno.test("quantiles: sliding sketch matches a brute-force window quantile to the bin width", () => {
  const r = new Random(7);
  const binning = { lo: -10, hi: 10, width: 0.01 };
  for (const size of [20, 300]) {
    const sketch = new SlidingQuantiles(binning, size);
    const values: number[] = [];
    for (let i = 0; i < 3000; i++) {
      // A stream that shifts level half-way: the window must follow it.
      const x = (i < 1500 ? 0 : 3) + r.normal() * (i % 97 === 0 ? 5 : 1);
      values.push(x);
      sketch.add(x);
      if (i % 250 === 249) {
        for (const q of [0.1, 0.5, 0.9]) {
          const want = bruteQuantile(values, size, q);
          const got = sketch.quantile(q);
          assert.ok(
            Math.abs(got - want) <= 2 * binning.width,
            `size ${size} i ${i} q ${q}: ${got} vs ${want}`,
          );
        }
      }
    }
  }
});

Deno.test("quantiles: flat input (every value equal) gives that value, not a spread", () => {
  const s = new SlidingQuantiles({ lo: 0, hi: 10, width: 0.001 }, 100);
  for (let i = 0; i < 500; i++) s.add(4.2);
  assert.ok(Math.abs(s.quantile(0.1) - 4.2) < 0.001);
  assert.ok(Math.abs(s.quantile(0.9) - 4.2) < 0.001);
  assert.ok(s.quantile(0.9) - s.quantile(0.1) < 0.001);
});

Deno.test("quantiles: the window forgets what left it", () => {
  const s = new SlidingQuantiles({ lo: 0, hi: 1, width: 0.01 }, 50);
  for (let i = 0; i < 20_000; i++) s.add(i < 19_950 ? 0.2 : 0.8);
  assert.ok(Math.abs(s.quantile(0.5) - 0.8) < 0.011, `${s.quantile(0.5)}`);
  assert.equal(s.length, 50);
  assert.equal(s.seen, 20_000);
});

Deno.test("quantiles: toJSON/fromJSON continues bit for bit", () => {
  const r = new Random(3);
  const binning = { lo: -5, hi: 5, width: 0.02 };
  const a = new SlidingQuantiles(binning, 200);
  for (let i = 0; i < 1000; i++) a.add(r.normal());
  const b = SlidingQuantiles.fromJSON(binning, 200, JSON.parse(JSON.stringify(a.toJSON())));
  for (let i = 0; i < 300; i++) {
    const x = r.normal() + 1;
    a.add(x);
    b.add(x);
    for (const q of [0.05, 0.5, 0.95]) assert.equal(a.quantile(q), b.quantile(q));
  }
  assert.equal(b.seen, 1300);
  assert.deepEqual(b.toJSON(), a.toJSON());
});

Deno.test("quantiles: empty sketch answers NaN; out-of-range values clamp; bad state is skipped", () => {
  const s = new SlidingQuantiles({ lo: 0, hi: 1, width: 0.1 }, 10);
  assert.ok(Number.isNaN(s.quantile(0.5)));
  s.add(50);
  s.add(-50);
  assert.ok(s.quantile(1) <= 1 && s.quantile(0) >= 0);
  assert.throws(() => new SlidingQuantiles({ lo: 1, hi: 0, width: 0.1 }, 10), RangeError);
  const bad = SlidingQuantiles.fromJSON({ lo: 0, hi: 1, width: 0.1 }, 10, { ring: "%%%", seen: 3 });
  assert.equal(bad.length, 0);
});

Deno.test("quantiles: the binary state (a Uint16Array ring) continues bit for bit, wrapped or not", () => {
  const r = new Random(5);
  const binning = { lo: -5, hi: 5, width: 0.02 };
  for (const added of [50, 200, 1037]) {
    const a = new SlidingQuantiles(binning, 200);
    for (let i = 0; i < added; i++) a.add(r.normal());
    const bin = a.toBinary();
    assert.ok(bin.ring instanceof Uint16Array);
    assert.equal(bin.ring.length, Math.min(added, 200));
    // Same bins, oldest first, as the JSON form's base64.
    const b = SlidingQuantiles.fromJSON(binning, 200, structuredClone(bin));
    assert.deepEqual(b.toJSON(), a.toJSON());
    for (let i = 0; i < 300; i++) {
      const x = r.normal() - 1;
      a.add(x);
      b.add(x);
      for (const q of [0.05, 0.5, 0.95]) assert.equal(a.quantile(q), b.quantile(q));
    }
  }
});
