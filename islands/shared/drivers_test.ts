import assert from "node:assert/strict";
import { drivers, type ScalerView } from "./drivers.ts";

const p = {
  z_score_price: 8,
  z_score_log_return: -1,
  z_score_volume: 0.5,
  rolling_price_std: 0.02,
  rolling_volume_std: 0.6,
};

Deno.test("with a scaler, every feature is standardized and ranked by |z|", () => {
  const scaler: ScalerView = {
    mean: {
      z_score_price: 0,
      z_score_log_return: 0,
      z_score_volume: 0,
      rolling_price_std: 0.01,
      rolling_volume_std: 0.6,
    },
    scale: {
      z_score_price: 2,
      z_score_log_return: 0.5,
      z_score_volume: 1,
      rolling_price_std: 0.001,
      rolling_volume_std: 0.2,
    },
  };
  // By hand: price 8/2 = 4, return −1/0.5 = −2, volume 0.5, price std 0.01/0.001 = 10, volume std 0.
  const d = drivers(p, scaler);
  assert.deepEqual(d.map((x) => x.feature), [
    "rolling_price_std",
    "z_score_price",
    "z_score_log_return",
    "z_score_volume",
    "rolling_volume_std",
  ]);
  assert.ok(Math.abs(d[0].z - 10) < 1e-9);
  assert.equal(d[1].z, 4);
  assert.equal(d[2].z, -2);
  assert.equal(d[2].value, -1);
});

Deno.test("without a scaler only the z-score features rank, by their own value", () => {
  const d = drivers(p, null);
  assert.deepEqual(d.map((x) => [x.feature, x.z]), [
    ["z_score_price", 8],
    ["z_score_log_return", -1],
    ["z_score_volume", 0.5],
  ]);
});
