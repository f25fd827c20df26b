import assert from "node:assert/strict";
import { HalfSpaceTrees, squash } from "./hst.ts";
import { SymbolScorer } from "./detector.ts";
import { Random } from "../lib/random.ts";

Deno.test("hst: points far from the learned mass score higher than points inside it", () => {
  const r = new Random(4);
  const h = new HalfSpaceTrees({ dims: 3, windowSize: 200, seed: 2 });
  const normal = () => [0.5 + 0.03 * r.normal(), 0.5 + 0.03 * r.normal(), 0.5 + 0.03 * r.normal()];
  for (let i = 0; i < 2000; i++) h.learn(normal());
  let inside = 0, outside = 0;
  for (let i = 0; i < 200; i++) {
    inside += h.score(normal());
    outside += h.score([0.95, 0.1 + 0.001 * i, 0.9]);
  }
  assert.ok(outside / 200 > inside / 200 + 0.2, `${outside / 200} vs ${inside / 200}`);
});

Deno.test("hst: unknown (0.5) before its first complete window; adapts when the data moves", () => {
  const h = new HalfSpaceTrees({ dims: 1, windowSize: 100, seed: 1 });
  assert.equal(h.score([0.5]), 0.5);
  for (let i = 0; i < 300; i++) h.learn([0.2 + (i % 10) / 1000]);
  const before = h.score([0.8]);
  for (let i = 0; i < 300; i++) h.learn([0.8 + (i % 10) / 1000]);
  assert.ok(h.score([0.8]) < before, "the new regime became normal");
});

Deno.test("hst: state round-trips to the same scores; squash maps every z into (0, 1)", () => {
  const h = new HalfSpaceTrees({ dims: 2, windowSize: 50, seed: 3 });
  for (let i = 0; i < 500; i++) h.learn([(i % 7) / 7, (i % 5) / 5]);
  const copy = HalfSpaceTrees.fromJSON(
    { dims: 2, windowSize: 50, seed: 3 },
    JSON.parse(JSON.stringify(h.toJSON())),
  );
  for (const x of [[0.1, 0.2], [0.9, 0.9], [0.5, 0.4]]) assert.equal(copy.score(x), h.score(x));
  for (const z of [-1e9, -5, 0, 5, 1e9]) assert.ok(squash(z) >= 0 && squash(z) <= 1);
  assert.equal(squash(0), 0.5);
});

Deno.test("detector: SymbolScorer scores the model's channels; HST learns as it scores", () => {
  const f = { price_z: 0.1, price_z_long: 0, volume_z: -0.2, flow_z: 0.3, robust_ready: true };
  assert.equal(new SymbolScorer("robust").scores(f).length, 4);
  assert.equal(new SymbolScorer("hst").scores(f).length, 1);
  const combo = new SymbolScorer("combo");
  for (let i = 0; i < 600; i++) combo.scores(f);
  const s = combo.scores(f);
  assert.equal(s.length, 5);
  assert.ok(Number.isFinite(s[4]));
  assert.ok(new SymbolScorer("combo").scores({ ...f, robust_ready: false }).every(Number.isNaN));
});
