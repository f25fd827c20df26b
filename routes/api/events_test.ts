import assert from "node:assert/strict";
import type { Prediction } from "../../lib/contracts.ts";
import { sseFrames } from "./events.ts";

const p: Prediction = {
  symbol: "ETH-USDT",
  ts_ms: 1,
  z_score_price: 0,
  z_score_log_return: 0,
  z_score_volume: 0,
  rolling_price_std: 0,
  rolling_volume_std: 0,
  anomaly_score: 0.2,
  severity: 0.3,
  is_anomaly: false,
  model_id: "m",
  label: null,
};

Deno.test("sseFrames: one prediction event; an anomaly adds an alert with the same id and data", () => {
  const data = JSON.stringify(p);
  assert.equal(sseFrames("1~a.0~0", p), `event: prediction\nid: 1~a.0~0\ndata: ${data}\n\n`);
  const a = { ...p, is_anomaly: true, anomaly_score: -0.1 };
  const d = JSON.stringify(a);
  assert.equal(
    sseFrames("1~a.0~1", a),
    `event: prediction\nid: 1~a.0~1\ndata: ${d}\n\nevent: alert\nid: 1~a.0~1\ndata: ${d}\n\n`,
  );
  // One data line: JSON.stringify never emits a raw newline, even for strings holding one.
  assert.equal(sseFrames("x", { ...p, source: "a\nb" }).split("\n").length, 5);
});

Deno.test("sseFrames: a manual test (POST /predict) is a prediction event, never an alert", () => {
  const manual = { ...p, is_anomaly: true, anomaly_score: -0.4, source: "api" };
  const d = JSON.stringify(manual);
  assert.equal(sseFrames("1~api.0~0", manual), `event: prediction\nid: 1~api.0~0\ndata: ${d}\n\n`);
  // Any other source's anomaly still alerts.
  assert.match(sseFrames("1~b.0~0", { ...manual, source: "binance" }), /event: alert/);
});
