/**
 * Isolation Forest speed (DESIGN.md section 6 targets, one core, 200 trees,
 * 5 features, max_samples 256): scoring ≥ 300 000 rows/s in batches of 1024,
 * ≤ 10 µs per single row, fit on 100k rows (offset included) ≤ 2 s.
 *
 *     deno bench -P bench/forest_bench.ts
 *
 * rows/s for the batch = 1024 / (time per iteration).
 *
 * @module
 */
import { Random } from "../lib/random.ts";
import { IsolationForest } from "../model/forest.ts";

const COLS = 5;
const TRAIN_ROWS = 100_000;
const BATCH = 1024;

// Data is generated outside the measured functions: standard normals with a
// few far points, roughly what scaled features look like.
function data(rows: number, seed: number): Float64Array {
  const rnd = new Random(seed);
  const X = new Float64Array(rows * COLS);
  for (let i = 0; i < X.length; i++) X[i] = rnd.normal() * (rnd.float() < 0.01 ? 6 : 1);
  return X;
}

const train = data(TRAIN_ROWS, 1);
const batch = data(BATCH, 2);
const singles = data(4096, 3);
const forest = IsolationForest.fit(train, TRAIN_ROWS, COLS, {
  nEstimators: 200,
  contamination: 0.01,
  seed: 42,
});

let sink = 0;
let next = 0;

Deno.bench({
  name: "scoreOne (1 row, 200 trees)",
  group: "score",
  fn() {
    const r = next;
    next = (next + 1) & 4095;
    sink += forest.scoreOne(singles.subarray(r * COLS, r * COLS + COLS));
  },
});

Deno.bench({
  name: "scoreSamples batch of 1024 rows (200 trees)",
  group: "score",
  baseline: true,
  fn() {
    sink += forest.scoreSamples(batch, BATCH)[0];
  },
});

Deno.bench({
  name: "fit 100k rows, 200 trees, contamination 0.01 (offset included)",
  group: "fit",
  n: 10,
  warmup: 2,
  fn() {
    const f = IsolationForest.fit(train, TRAIN_ROWS, COLS, {
      nEstimators: 200,
      contamination: 0.01,
      seed: 7,
    });
    sink += f.offset;
  },
});

addEventListener("unload", () => {
  if (Number.isNaN(sink)) console.log(sink);
});
