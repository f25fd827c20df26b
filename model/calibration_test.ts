import assert from "node:assert/strict";
import { fitCalibration, fitTail, tailProbability, tailScore, verdict } from "./calibration.ts";
import { Random } from "../lib/random.ts";

Deno.test("calibration: the body-anchored tail of exponential data extrapolates its true tail", () => {
  const r = new Random(1);
  const xs = Array.from({ length: 20_000 }, () => -Math.log(1 - r.float())); // Exp(1)
  const t = fitTail(xs);
  for (const s of [3, 6, 10]) {
    const p = tailProbability(t, s);
    assert.ok(Math.abs(Math.log(p) - -s) < 0.35, `s=${s}: p=${p} vs ${Math.exp(-s)}`);
  }
  // tailScore inverts tailProbability
  for (const p of [0.5, 0.05, 1e-4, 1e-7]) {
    assert.ok(Math.abs(tailProbability(t, tailScore(t, p)) / p - 1) < 0.05, `p=${p}`);
  }
});

Deno.test("calibration: anomalies in the top 5 % of training seconds cannot drag the threshold to them", () => {
  const r = new Random(2);
  const clean = Array.from({ length: 20_000 }, () => -Math.log(1 - r.float()));
  const dirty = clean.map((x, i) => (i % 20 === 0 ? 300 + x : x));
  const a = tailScore(fitTail(clean), 1e-5);
  const b = tailScore(fitTail(dirty), 1e-5);
  // The contamination shifts the body's quantiles a little (≤ 2×), but the
  // threshold stays far below the anomalies (≥ 300), where a tail fitted on
  // the top points would put it.
  assert.ok(b >= a && b < 2 * a, `${a} vs ${b}`);
  assert.ok(b < 100);
});

Deno.test("calibration: the threshold is per second of market time, not per trade", () => {
  // Two symbols with the same per-trade score distribution: one trades 20×/s, one 1×/s.
  const r = new Random(3);
  const events = [];
  for (let sec = 0; sec < 7200; sec++) {
    for (let k = 0; k < 20; k++) {
      events.push({
        symbol: "BUSY-USDT",
        ts_ms: sec * 1000 + k * 50,
        scores: [-Math.log(1 - r.float())],
      });
    }
    events.push({ symbol: "THIN-USDT", ts_ms: sec * 1000, scores: [-Math.log(1 - r.float())] });
  }
  const cal = fitCalibration(events, { channels: ["x"], shares: { x: 1 }, budget: 1 });
  // Both alert in about one second per hour of fresh data with the same distribution.
  const count = (symbol: string, perSec: number) => {
    let alertSeconds = 0;
    for (let sec = 0; sec < 36_000; sec++) {
      let hit = false;
      for (let k = 0; k < perSec; k++) {
        if (verdict(cal, symbol, [-Math.log(1 - r.float())]).alert) hit = true;
      }
      if (hit) alertSeconds++;
    }
    return alertSeconds / 10;
  };
  const busy = count("BUSY-USDT", 20);
  const thin = count("THIN-USDT", 1);
  assert.ok(busy >= 0.3 && busy <= 3, `busy ${busy}/h`);
  assert.ok(thin >= 0.3 && thin <= 3, `thin ${thin}/h`);
});

Deno.test("calibration: a symbol with too few seconds borrows the pooled tails; unseen symbols the fallback", () => {
  const events = [];
  for (let i = 0; i < 5000; i++) {
    events.push({ symbol: "A-USDT", ts_ms: i * 1000, scores: [(i % 100) / 10] });
  }
  for (let i = 0; i < 50; i++) events.push({ symbol: "B-USDT", ts_ms: i * 60_000, scores: [1] });
  const cal = fitCalibration(events, { channels: ["x"], shares: { x: 1 }, budget: 1 });
  assert.equal(cal.symbols["A-USDT"].pooled, false);
  assert.equal(cal.symbols["B-USDT"].pooled, true);
  const v = verdict(cal, "NEW-USDT", [1000]);
  assert.equal(v.alert, true);
  assert.ok(v.severity > 0.5 && v.severity <= 1);
  assert.equal(verdict(cal, "A-USDT", [0]).alert, false);
});
