import assert from "node:assert/strict";
import {
  Calibration,
  channelThreshold,
  fitCalibration,
  type ScoredEvent,
  verdict,
} from "./calibration.ts";
import { coverCalibration, MAX_COVERED, triangularCdf } from "./calibration_cover.ts";
import { Random } from "../lib/random.ts";

// The per-trade size family (model/trade_tail.ts): its line is where the budget puts it, so
// what these tests count is the cover, not a conservative tail.
const OPTS = { channels: ["size"], shares: { size: 1 }, budget: 1, tradeTails: ["size"] };
const GAP_MS = 5000;

/**
 * `hours` of 5 trades a second with ½·z·|z| scores of a Gaussian z; with `every` > 0, one
 * trade in `every` seconds on average is an injected anomaly at z = 15 (its index is returned).
 */
function market(seed: number, hours: number, every: number, startMs = 0) {
  const r = new Random(seed);
  const events: ScoredEvent[] = [];
  const injected = new Set<number>();
  const n = hours * 3600 * 5;
  for (let i = 0; i < n; i++) {
    let z = r.normal();
    if (every > 0 && r.float() < 1 / (5 * every)) {
      z = 15;
      injected.add(i);
    }
    events.push({ symbol: "BTC-USDT", ts_ms: startMs + i * 200, scores: [0.5 * z * Math.abs(z)] });
  }
  return { events, injected };
}

/**
 * False incidents per hour under `cal`: alerts closer than the gap are one incident (as
 * model/incidents.ts groups them), and an incident with no injected trade is false.
 */
function falseIncidentsPerHour(
  cal: Calibration,
  m: { events: ScoredEvent[]; injected: Set<number> },
) {
  let incidents = 0;
  let falseOnes = 0;
  let last = -Infinity;
  let hasInjected = false;
  const close = () => {
    if (incidents > 0 && !hasInjected) falseOnes++;
  };
  m.events.forEach((e, i) => {
    if (!verdict(cal, e.symbol, e.scores).alert) return;
    if (e.ts_ms - last > GAP_MS) {
      close();
      incidents++;
      hasInjected = false;
    }
    hasInjected ||= m.injected.has(i);
    last = e.ts_ms;
  });
  close();
  const hours = (m.events[m.events.length - 1].ts_ms - m.events[0].ts_ms) / 3_600_000;
  return falseOnes / hours;
}

Deno.test("calibration cover: with an incident every ~20 s, false incidents per hour come up to the budget", () => {
  const train = market(11, 2, 20);
  const test = market(12, 40, 20, 3 * 3_600_000);
  // the tail without the injected trades (what model/calibration_trim.ts does when it sees them),
  // so the line is the clean market's; the cover is measured on every trade
  const keep = (i: number) => !train.injected.has(i);
  const plain = fitCalibration(train.events, { ...OPTS, keep });
  const covered = coverCalibration(train.events, plain, { gapMs: GAP_MS });
  const c = covered.symbols["BTC-USDT"].covered.size;
  // an anomaly every 20 s covers the ~10 s around it: 1 − e^(−10/20) ≈ 0.39 of the seconds
  assert.ok(c > 0.3 && c < 0.46, `covered ${c}`);
  const before = falseIncidentsPerHour(plain, test);
  const after = falseIncidentsPerHour(covered, test);
  // uncovered, the alerts that fall near an incident were paid for and bought nothing
  assert.ok(before < 0.8, `uncovered: ${before} false incidents per hour`);
  // covered, the budget of 1 is what the analyst gets (40 h: ±0.35 is ~2 standard deviations)
  assert.ok(Math.abs(after - 1) < 0.35, `covered: ${after} false incidents per hour`);
  assert.ok(after > before);
});

Deno.test("calibration cover: a clean market is left alone", () => {
  const train = market(13, 2, 0);
  const plain = fitCalibration(train.events, OPTS);
  const covered = coverCalibration(train.events, plain, { gapMs: GAP_MS });
  const sc = covered.symbols["BTC-USDT"];
  // ~1 alerting second an hour covers ≤ 11 s of 3 600
  assert.ok(sc.covered.size < 0.01, `covered ${sc.covered.size}`);
  const ratio = channelThreshold(covered, sc, "size") /
    channelThreshold(plain, plain.symbols["BTC-USDT"], "size");
  assert.ok(ratio >= 1 && ratio < 1.01, `threshold ratio ${ratio}`);
  // the tails themselves are not touched
  assert.deepEqual(sc.tails, plain.symbols["BTC-USDT"].tails);
});

Deno.test("calibration cover: capped where alerts are everywhere; unseen symbols keep 0", () => {
  const train = market(15, 1, 20).events;
  // with a 10-minute gap every second is near an alert
  const cal = coverCalibration(train, fitCalibration(train, OPTS), { gapMs: 600_000 });
  assert.equal(cal.symbols["BTC-USDT"].covered.size, MAX_COVERED);
  assert.deepEqual(cal.fallback.covered, {});
  assert.throws(() => coverCalibration(train, cal, { gapMs: 0 }), /gapMs/);
});

Deno.test("calibration: a stored calibration from before `covered` reads as 0 and keeps its lines", () => {
  const events = market(14, 1, 0).events;
  const fitted = fitCalibration(events, OPTS);
  const old = JSON.parse(JSON.stringify(fitted));
  delete old.symbols["BTC-USDT"].covered;
  delete old.fallback.covered;
  const parsed = Calibration.parse(old);
  assert.deepEqual(parsed.symbols["BTC-USDT"].covered, {});
  const sc = parsed.symbols["BTC-USDT"];
  assert.equal(channelThreshold(parsed, sc, "size"), 1 / sc.secondsPerHour);
});

Deno.test("triangularCdf is the CDF of the difference of two uniforms (against sampling)", () => {
  const r = new Random(5);
  const d = Array.from({ length: 200_000 }, () => r.float() - r.float());
  for (const x of [-1.5, -0.8, -0.3, 0, 0.25, 0.7, 0.99, 2]) {
    const empirical = d.filter((v) => v <= x).length / d.length;
    assert.ok(
      Math.abs(triangularCdf(x) - empirical) < 0.005,
      `x ${x}: ${triangularCdf(x)} vs ${empirical}`,
    );
  }
});

Deno.test("calibration cover: another channel's alert covers its own second; a channel's own does not", () => {
  // a trade a second for an hour; channel "a" far out in 6 isolated seconds, "b" never
  const alertAt = new Set([300, 900, 1500, 2100, 2700, 3300]);
  const events = Array.from({ length: 3600 }, (_, i) => ({
    symbol: "BTC-USDT",
    ts_ms: i * 1000 + 500,
    scores: [alertAt.has(i) ? 400 : (i % 7) / 7, (i % 5) / 5],
  }));
  const o = { channels: ["a", "b"], shares: { a: 0.5, b: 0.5 }, budget: 1 };
  const cal = coverCalibration(events, fitCalibration(events, o), { gapMs: GAP_MS });
  const covered = cal.symbols["BTC-USDT"].covered;
  // around each alert: seconds 1–4 away are within 5 s for sure, 5 away half the time (trades
  // uniform within their seconds), 6 away never: 8 + 2 × ½ = 9 seconds; "b" also has the
  // alert's own second
  assert.ok(Math.abs(covered.a - (6 * 9) / 3600) < 1e-5, `a: ${covered.a}`);
  assert.ok(Math.abs(covered.b - (6 * 10) / 3600) < 1e-5, `b: ${covered.b}`);
});
