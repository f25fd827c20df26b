import assert from "node:assert/strict";
import { MarketEvent } from "../lib/contracts.ts";
import type { Clock } from "./simulator.ts";
import { liveEvents, simulatedEvents, Simulator, SYMBOL_MODELS } from "./simulator.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const T0 = 1_710_000_000_000;

function run(seed: number, p: number, ticks: number, symbols = SYMBOLS) {
  const sim = new Simulator({ symbols, seed, anomalyProbability: p });
  return [...simulatedEvents(sim, { startMs: T0, stepMs: 200, endMs: T0 + ticks * 200 })];
}

Deno.test("simulator: same seed gives the same stream byte for byte; another seed does not", () => {
  const a = JSON.stringify(run(42, 0.05, 2000));
  const b = JSON.stringify(run(42, 0.05, 2000));
  const c = JSON.stringify(run(43, 0.05, 2000));
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("simulator: every event is a valid MarketEvent with consistent fields", () => {
  const events = run(1, 0.05, 3000);
  assert.equal(events.length, 9000);
  const lastPrice = new Map<string, number>();
  const lastId = new Map<string, number>();
  for (const e of events) {
    MarketEvent.parse(e);
    assert.equal(e.timestamp, Math.floor(e.ts_ms! / 1000));
    assert.equal(e.source, "simulated");
    assert.equal(e.is_anomaly, e.anomaly_type !== null);
    const prev = lastPrice.get(e.symbol);
    // The log return is of the reported prices (prices are rounded to 1e-8 after it is taken).
    const expected = prev === undefined ? 0 : Math.log(e.price / prev);
    assert.ok(Math.abs(e.log_return - expected) < 1e-9, `${e.log_return} vs ${expected}`);
    lastPrice.set(e.symbol, e.price);
    assert.equal(e.trade_id, (lastId.get(e.symbol) ?? 0) + 1);
    lastId.set(e.symbol, e.trade_id!);
  }
});

Deno.test("simulator: quiet market matches the GBM and lognormal parameters", () => {
  const events = run(2, 0, 20_000);
  for (const s of SYMBOLS) {
    const xs = events.filter((e) => e.symbol === s).slice(1);
    const lr = xs.map((e) => e.log_return);
    const mean = lr.reduce((a, b) => a + b, 0) / lr.length;
    const sd = Math.sqrt(lr.reduce((a, b) => a + (b - mean) ** 2, 0) / (lr.length - 1));
    const vol = SYMBOL_MODELS[s].volatility;
    // 20 000 draws: the sample sd is within 2% of σ with overwhelming probability.
    assert.ok(Math.abs(sd / vol - 1) < 0.03, `${s}: sd ${sd} vs ${vol}`);
    const lnVol = xs.map((e) => Math.log(e.volume));
    const medianVol = Math.exp(lnVol.reduce((a, b) => a + b, 0) / lnVol.length);
    assert.ok(Math.abs(medianVol / SYMBOL_MODELS[s].volume - 1) < 0.03, `${s}: volume`);
    assert.ok(xs.every((e) => !e.is_anomaly));
  }
});

Deno.test("simulator: anomalies happen at the configured rate with the seed's magnitudes", () => {
  const p = 0.02;
  const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 9, anomalyProbability: p });
  const n = 50_000;
  const counts: Record<string, number> = { PRICE_SPIKE: 0, FLASH_CRASH: 0, VOLUME_SPIKE: 0 };
  let prev = sim.tick(T0)[0];
  let anomalies = 0;
  for (let i = 1; i < n; i++) {
    const e = sim.tick(T0 + i * 100)[0];
    if (e.anomaly_type) {
      anomalies++;
      counts[e.anomaly_type]++;
      // A transient distortion of the path: the price jump against the previous
      // (quiet) event is the factor times one ordinary GBM step (|step| < 1%).
      const ratio = e.price / prev.price;
      if (e.anomaly_type === "PRICE_SPIKE") assert.ok(ratio > 1.04 && ratio < 1.16, `${ratio}`);
      if (e.anomaly_type === "FLASH_CRASH") assert.ok(ratio > 0.84 && ratio < 0.96, `${ratio}`);
      if (e.anomaly_type === "VOLUME_SPIKE") assert.ok(Math.abs(ratio - 1) < 0.01);
    }
    prev = e.anomaly_type ? prev : e;
  }
  // Binomial(50 000, 0.02): mean 1000, sd ≈ 31; ±5 sd.
  assert.ok(Math.abs(anomalies - n * p) < 160, `anomalies=${anomalies}`);
  for (const k of Object.keys(counts)) assert.ok(counts[k] > 250, `${k}=${counts[k]}`);
});

Deno.test("simulator: volume spikes are 8× the ordinary volume in distribution", () => {
  const sim = new Simulator({ symbols: ["ETH-USDT"], seed: 11, anomalyProbability: 0.05 });
  const spike: number[] = [], quiet: number[] = [];
  for (let i = 0; i < 40_000; i++) {
    const e = sim.tick(T0 + i * 100)[0];
    if (e.anomaly_type === "VOLUME_SPIKE") spike.push(Math.log(e.volume));
    else if (!e.is_anomaly) quiet.push(Math.log(e.volume));
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  // ln 8 ≈ 2.079; ~670 spikes with σ 0.5 give a standard error ≈ 0.02.
  assert.ok(Math.abs(mean(spike) - mean(quiet) - Math.log(8)) < 0.1);
});

Deno.test("simulator: the anomaly after a spike snaps back (the path is not moved)", () => {
  const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 5, anomalyProbability: 0.05 });
  let checked = 0;
  let before = sim.tick(T0)[0];
  let current = sim.tick(T0 + 100)[0];
  for (let i = 2; i < 20_000 && checked < 50; i++) {
    const after = sim.tick(T0 + i * 100)[0];
    if (current.anomaly_type === "PRICE_SPIKE" && !before.is_anomaly && !after.is_anomaly) {
      assert.ok(Math.abs(Math.log(after.price / before.price)) < 0.01);
      checked++;
    }
    before = current;
    current = after;
  }
  assert.ok(checked >= 20);
});

Deno.test("simulator: live events follow an injected clock on a fixed grid", async () => {
  let now = T0;
  const slept: number[] = [];
  const clock: Clock = {
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
  const sim = new Simulator({ symbols: ["BTC-USDT", "ETH-USDT"], seed: 1, anomalyProbability: 0 });
  const ac = new AbortController();
  const got: number[] = [];
  for await (const e of liveEvents(sim, { frequencySeconds: 0.5, clock, signal: ac.signal })) {
    got.push(e.ts_ms!);
    now += 30; // the consumer takes 30 ms per event
    if (got.length === 8) ac.abort();
  }
  assert.deepEqual(got, [T0, T0, T0 + 500, T0 + 500, T0 + 1000, T0 + 1000, T0 + 1500, T0 + 1500]);
  // It sleeps only what is left of each 500 ms step after the consumer's 60 ms.
  assert.deepEqual(slept, [440, 440, 440]);
});

Deno.test("simulator: a restored simulator continues the very same stream", () => {
  const opts = { symbols: SYMBOLS, seed: 4, anomalyProbability: 0.05 };
  const whole = new Simulator(opts);
  const all = [...simulatedEvents(whole, { startMs: T0, stepMs: 100, endMs: T0 + 200_000 })];
  const first = new Simulator(opts);
  const a = [...simulatedEvents(first, { startMs: T0, stepMs: 100, endMs: T0 + 100_000 })];
  const saved = JSON.parse(JSON.stringify(first.toJSON()));
  const second = Simulator.fromJSON(opts, saved);
  const b = [
    ...simulatedEvents(second, { startMs: T0 + 100_000, stepMs: 100, endMs: T0 + 200_000 }),
  ];
  assert.equal(JSON.stringify([...a, ...b]), JSON.stringify(all));
  // A symbol added after the save starts from its model price.
  const more = Simulator.fromJSON({ ...opts, symbols: [...SYMBOLS, "SOL-USDT"] }, saved);
  const sol = more.tick(T0 + 200_000).find((e) => e.symbol === "SOL-USDT")!;
  assert.equal(sol.trade_id, 1);
});
