import assert from "node:assert/strict";
import { DecayedQuantiles } from "./quantiles.ts";
import { Random } from "../lib/random.ts";

/** Brute force: the weighted q-quantile of every value seen, weight 2^(-age/halfLife). */
function bruteQuantile(values: number[], halfLife: number, q: number): number {
  const n = values.length;
  const items = values.map((v, i) => ({ v, w: Math.pow(2, -(n - 1 - i) / halfLife) }));
  items.sort((a, b) => a.v - b.v);
  const total = items.reduce((s, x) => s + x.w, 0);
  let acc = 0;
  for (const it of items) {
    acc += it.w;
    if (acc >= q * total) return it.v;
  }
  return items[items.length - 1].v;
}

Deno.test("quantiles: decayed sketch matches a brute-force weighted quantile to the bin width", () => {
  const r = new Random(7);
  const binning = { lo: -10, hi: 10, width: 0.01 };
  for (const halfLife of [20, 300]) {
    const sketch = new DecayedQuantiles(binning, halfLife);
    const values: number[] = [];
    for (let i = 0; i < 3000; i++) {
      // A stream that shifts level half-way: forgetting must follow it.
      const x = (i < 1500 ? 0 : 3) + r.normal() * (i % 97 === 0 ? 5 : 1);
      values.push(x);
      sketch.add(x);
      if (i % 250 === 249) {
        for (const q of [0.1, 0.5, 0.9]) {
          const want = bruteQuantile(values, halfLife, q);
          const got = sketch.quantile(q);
          // The bin holding the brute-force quantile, or its neighbour at a bin edge.
          assert.ok(
            Math.abs(got - want) <= 2 * binning.width,
            `halfLife ${halfLife} i ${i} q ${q}: ${got} vs ${want}`,
          );
        }
      }
    }
  }
});

Deno.test("quantiles: flat input (every value equal) gives that value, not a spread", () => {
  const s = new DecayedQuantiles({ lo: 0, hi: 10, width: 0.001 }, 100);
  for (let i = 0; i < 500; i++) s.add(4.2);
  assert.ok(Math.abs(s.quantile(0.1) - 4.2) < 0.001);
  assert.ok(Math.abs(s.quantile(0.9) - 4.2) < 0.001);
  assert.ok(s.quantile(0.9) - s.quantile(0.1) < 0.001);
});

Deno.test("quantiles: survives the weight rescale of a very long stream", () => {
  const s = new DecayedQuantiles({ lo: 0, hi: 1, width: 0.01 }, 5);
  // growth 2^(1/5) per value: 1e150 is passed after ~2500 values
  for (let i = 0; i < 20_000; i++) s.add(i < 19_900 ? 0.2 : 0.8);
  assert.ok(Math.abs(s.quantile(0.5) - 0.8) < 0.011, `${s.quantile(0.5)}`);
});

Deno.test("quantiles: toJSON/fromJSON continues with the same quantiles", () => {
  const r = new Random(3);
  const binning = { lo: -5, hi: 5, width: 0.02 };
  const a = new DecayedQuantiles(binning, 200);
  for (let i = 0; i < 1000; i++) a.add(r.normal());
  const b = DecayedQuantiles.fromJSON(binning, 200, JSON.parse(JSON.stringify(a.toJSON())));
  for (let i = 0; i < 200; i++) {
    const x = r.normal() + 1;
    a.add(x);
    b.add(x);
  }
  for (const q of [0.05, 0.5, 0.95]) assert.ok(Math.abs(a.quantile(q) - b.quantile(q)) < 1e-3);
  assert.equal(b.seen, 1200);
});

Deno.test("quantiles: empty sketch answers NaN; out-of-range values clamp to the end bins", () => {
  const s = new DecayedQuantiles({ lo: 0, hi: 1, width: 0.1 }, 10);
  assert.ok(Number.isNaN(s.quantile(0.5)));
  s.add(50);
  s.add(-50);
  assert.ok(s.quantile(1) <= 1 && s.quantile(0) >= 0);
  assert.throws(() => new DecayedQuantiles({ lo: 1, hi: 0, width: 0.1 }, 10), RangeError);
});
