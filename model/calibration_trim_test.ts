import assert from "node:assert/strict";
import { fitCalibration, type ScoredEvent, tailScore } from "./calibration.ts";
import { fitTrimmedCalibration } from "./calibration_trim.ts";
import { Random } from "../lib/random.ts";

const OPTS = { channels: ["price"], shares: { price: 1 }, budget: 1 };

/**
 * Two hours of 5 trades a second, z²/2 scores of a Gaussian z, and `share` of the time in
 * episodes: 20 s in which every trade is shifted by 6–12 σ.
 */
function market(seed: number, share: number): ScoredEvent[] {
  const r = new Random(seed);
  const out: ScoredEvent[] = [];
  let shift = 0;
  let until = -1;
  for (let i = 0; i < 36_000; i++) {
    const ts = i * 200;
    if (ts > until && r.float() < (share / 20) * 0.2) {
      until = ts + 20_000;
      shift = 6 + 6 * r.float();
    }
    const z = r.normal() + (ts <= until ? shift : 0);
    out.push({ symbol: "BTC-USDT", ts_ms: ts, scores: [0.5 * z * z] });
  }
  return out;
}

/** The z at a calibration's alert line. */
const line = (c: ReturnType<typeof fitCalibration>) => {
  const sc = c.symbols["BTC-USDT"];
  return Math.sqrt(2 * tailScore(sc.tails.price, c.budget / sc.secondsPerHour));
};

Deno.test("calibration trim: episodes in the training window no longer push the line out", () => {
  for (const seed of [2, 3, 5]) {
    const clean = line(fitCalibration(market(seed, 0), OPTS));
    const dirty = market(seed, 0.02); // 2 % of the time in episodes
    const plain = line(fitCalibration(dirty, OPTS));
    const trimmed = line(fitTrimmedCalibration(dirty, OPTS));
    // untrimmed, the episodes fatten the tail: the line moves out
    assert.ok(plain > clean + 0.5, `seed ${seed}: clean ${clean}, contaminated ${plain}`);
    // trimmed, it comes back to within 0.3 σ of the clean market's
    assert.ok(Math.abs(trimmed - clean) < 0.3, `seed ${seed}: clean ${clean}, trimmed ${trimmed}`);
  }
});

Deno.test("calibration trim: a clean window is left as it is; rates count every trade", () => {
  const events = market(2, 0);
  const plain = fitCalibration(events, OPTS);
  const trimmed = fitTrimmedCalibration(events, OPTS);
  assert.ok(Math.abs(line(plain) - line(trimmed)) < 0.15, `${line(plain)} vs ${line(trimmed)}`);
  // trimming a contaminated window changes the tails, never how busy the market is
  const dirty = market(3, 0.02);
  const a = fitCalibration(dirty, OPTS).symbols["BTC-USDT"];
  const b = fitTrimmedCalibration(dirty, OPTS).symbols["BTC-USDT"];
  assert.equal(b.secondsPerHour, a.secondsPerHour);
  assert.equal(b.pooled, a.pooled);
});

Deno.test("calibration keep: left-out trades count toward seconds, not toward the tails", () => {
  const events: ScoredEvent[] = [];
  for (let i = 0; i < 4000; i++) {
    events.push({ symbol: "ETH-USDT", ts_ms: i * 1000, scores: [i % 2 === 0 ? 1 : 50] });
  }
  const all = fitCalibration(events, { ...OPTS, minSeconds: 100 }).symbols["ETH-USDT"];
  const kept = fitCalibration(events, {
    ...OPTS,
    minSeconds: 100,
    keep: (i) => i % 2 === 0, // the 50s are left out
  }).symbols["ETH-USDT"];
  assert.equal(kept.secondsPerHour, all.secondsPerHour);
  assert.equal(kept.tails.price.seconds, 2000); // the tails saw half the seconds
  assert.equal(all.tails.price.seconds, 4000);
  assert.ok(kept.tails.price.u <= 1 && all.tails.price.u === 50);
});

Deno.test("calibration trim: a clean thin pair is not trimmed (its budget is a second in a hundred)", () => {
  // a trade every 30 s for 9 hours: the volume-like channel alerts on ~1 % of seconds by design
  const r = new Random(4);
  const events: ScoredEvent[] = Array.from({ length: 1080 }, (_, i) => {
    const z = r.normal();
    return { symbol: "BNB-USDT", ts_ms: i * 30_000, scores: [0.5 * z * Math.abs(z)] };
  });
  const o = { ...OPTS, minSeconds: 100 };
  assert.deepEqual(fitTrimmedCalibration(events, o), fitCalibration(events, o));
});

Deno.test("calibration trim: only the over-alerting channel is trimmed; the other keeps its tail", () => {
  // channel 0 carries episodes (as in market()); channel 1 is a slow random walk's distance from
  // zero, a clean but strongly autocorrelated score like the long-horizon price channel's
  const dirty = market(5, 0.02);
  const r = new Random(6);
  let w = 0;
  const events = dirty.map((e) => {
    w = 0.999 * w + 0.045 * r.normal();
    return { ...e, scores: [e.scores[0], 0.5 * w * w] };
  });
  const o = { channels: ["price", "drift"], shares: { price: 0.5, drift: 0.5 }, budget: 1 };
  const plain = fitCalibration(events, o).symbols["BTC-USDT"].tails;
  const trimmed = fitTrimmedCalibration(events, o).symbols["BTC-USDT"].tails;
  assert.ok(trimmed.price.u < plain.price.u, "the contaminated channel's body comes in");
  assert.deepEqual(trimmed.drift, plain.drift);
});
