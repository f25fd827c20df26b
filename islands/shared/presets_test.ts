/**
 * The Manual Test presets against real models: trained like the trainer
 * does on the default simulated stream (several seeds) and on the browser
 * suite's faster stream (several training-set sizes, since the trainer fits
 * on whatever rows exist when it starts), each preset must get its verdict.
 */
import assert from "node:assert/strict";
import { DEFAULT_STREAM, streamRows, trainedScorer } from "../../scripts/manual_presets.ts";
import { SLIDERS } from "./presets.ts";
import { FEATURE_NAMES } from "./features.ts";
import { PRESETS } from "./presets.ts";

Deno.test("every preset gets its expected verdict from models of the default stream", () => {
  for (const seed of [42, 7]) {
    const scorer = trainedScorer(streamRows({ ...DEFAULT_STREAM, seed }), 200, seed);
    for (const p of PRESETS) {
      const v = scorer.scoreFeatures(p.features);
      assert.equal(v.is_anomaly ? "anomaly" : "normal", p.expected, `${p.label}, seed ${seed}`);
    }
  }
});

Deno.test("every preset gets its expected verdict from models of the browser suite's stream", () => {
  const rows = streamRows({ stepSeconds: 0.05, anomalyProbability: 0.03, seed: 42, seconds: 130 });
  for (const n of [7000, 7500]) {
    const scorer = trainedScorer(rows.slice(0, n), 100, 42);
    for (const p of PRESETS) {
      const v = scorer.scoreFeatures(p.features);
      assert.equal(v.is_anomaly ? "anomaly" : "normal", p.expected, `${p.label}, ${n} rows`);
    }
  }
});

Deno.test("every preset value fits its slider", () => {
  for (const p of PRESETS) {
    for (const f of FEATURE_NAMES) {
      const s = SLIDERS[f];
      assert.ok(p.features[f] >= s.min && p.features[f] <= s.max, `${p.label} ${f}`);
    }
  }
});
