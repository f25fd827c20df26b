import assert from "node:assert/strict";
import { fitCalibration, fitTail, tailProbability, tailScore, verdict } from "./calibration.ts";
import { Random } from "../lib/random.ts";

Deno.test("calibration: the fitted tail extrapolates light (exponential) and heavy (Pareto) tails", () => {
  const r = new Random(1);
  const expo = Array.from({ length: 20_000 }, () => -Math.log(1 - r.float())); // P(X > s) = e^−s
  const t = fitTail(expo);
  for (const s of [3, 6, 10]) {
    const p = tailProbability(t, s);
    // within a factor 3, and never optimistic by more than 1.5 (a false-alarm budget must hold)
    assert.ok(
      p / Math.exp(-s) < 3 && p / Math.exp(-s) > 1 / 1.5,
      `exp s=${s}: p=${p} vs ${Math.exp(-s)}`,
    );
  }
  // Pareto with P(X > s) = (1 + s/3)^−3: an exponential fit would be off by orders of magnitude.
  const pareto = Array.from({ length: 20_000 }, () => 3 * (Math.pow(1 - r.float(), -1 / 3) - 1));
  const h = fitTail(pareto);
  assert.ok(h.xi > 0.15, `shape ${h.xi}`);
  for (const s of [10, 30, 60]) {
    const want = Math.pow(1 + s / 3, -3);
    const p = tailProbability(h, s);
    assert.ok(p / want < 4 && p / want > 1 / 4, `pareto s=${s}: p=${p} vs ${want}`);
  }
  // tailScore inverts tailProbability
  for (const tail of [t, h]) {
    for (const p of [0.5, 0.05, 1e-4, 1e-7]) {
      assert.ok(Math.abs(tailProbability(tail, tailScore(tail, p)) / p - 1) < 0.05, `p=${p}`);
    }
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

Deno.test("calibration: a trade-tail channel holds the budget per second on heavy sizes, and sees ×8 trades", () => {
  // ln sizes: Gaussian + exponential (lognormal × Pareto sizes), one symbol trading 20×/s and
  // one 1×/s; a third symbol's training holds ×8 trades (+4.16 σ) on 0.33 % of its trades.
  const r = new Random(4);
  const heavy = () => 0.8 * r.normal() - Math.log(1 - r.float()) / 1.7;
  const score = (z: number) => 0.5 * z * Math.abs(z); // detector.ts's volume score
  const events = [];
  let n = 0;
  for (let sec = 0; sec < 3600; sec++) {
    for (let k = 0; k < 20; k++) {
      events.push({ symbol: "BUSY-USDT", ts_ms: sec * 1000 + k * 50, scores: [score(heavy())] });
    }
    events.push({ symbol: "THIN-USDT", ts_ms: sec * 1000, scores: [score(heavy())] });
    for (let k = 0; k < 5; k++) {
      const z = r.normal() + (n++ % 300 === 0 ? 4.16 : 0);
      events.push({ symbol: "SEED-USDT", ts_ms: sec * 1000 + k * 200, scores: [score(z)] });
    }
  }
  const o = { channels: ["volume_z"], shares: { volume_z: 1 }, budget: 1 };
  const cal = fitCalibration(events, { ...o, tradeTails: ["volume_z"] });
  const empirical = fitCalibration(events, o);
  assert.ok(cal.symbols["BUSY-USDT"].tails.volume_z.trade !== undefined);
  const alertSecondsPerHour = (
    c: typeof cal,
    symbol: string,
    perSec: number,
    draw: () => number,
  ) => {
    let alertSeconds = 0;
    for (let sec = 0; sec < 36_000; sec++) {
      let hit = false;
      for (let k = 0; k < perSec; k++) if (verdict(c, symbol, [score(draw())]).alert) hit = true;
      if (hit) alertSeconds++;
    }
    return alertSeconds / 10;
  };
  const busy = alertSecondsPerHour(cal, "BUSY-USDT", 20, heavy);
  const thin = alertSecondsPerHour(cal, "THIN-USDT", 1, heavy);
  assert.ok(busy >= 0.3 && busy <= 2, `busy ${busy}/h`);
  assert.ok(thin >= 0.3 && thin <= 2, `thin ${thin}/h`);
  // a ×8 trade on the contaminated symbol: the trade tail catches most, the empirical tail
  // (which took the training's ×8 trades for its own heavy tail) almost none
  const caught = (c: typeof cal) => {
    let hits = 0;
    for (let i = 0; i < 2000; i++) {
      if (verdict(c, "SEED-USDT", [score(r.normal() + 4.16)]).alert) hits++;
    }
    return hits / 2000;
  };
  assert.ok(caught(cal) > 0.4, `trade tail ${caught(cal)}`);
  assert.ok(caught(empirical) < 0.1, `empirical ${caught(empirical)}`);
  // and clean trades of that symbol stay within the budget (the anomalies left the fitted
  // tail a little heavier than the clean one: conservative, not optimistic)
  const seed = alertSecondsPerHour(cal, "SEED-USDT", 5, () => r.normal());
  assert.ok(seed <= 2, `seed ${seed}/h`);
});
