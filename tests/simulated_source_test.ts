/**
 * The live simulated source on a non-seed profile (SIM_PROFILE=realistic):
 * it follows the profile's own arrivals in real time, and its checkpoint (the
 * state saved with each committed batch) continues the same market after a
 * restart, or resumes at the present after downtime.
 */
import assert from "node:assert/strict";
import type { MarketEvent } from "../lib/contracts.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { memoryLogger } from "../pipeline/log.ts";
import type { SimulationState } from "../ingest/simulate.ts";
import { simulateEvents } from "../ingest/simulate.ts";
import { fastClock, testConfig } from "./helpers.ts";

const SYMBOLS = "BTC-USDT,ETH-USDT";

async function take(source: SimulatedSource, n: number, clock: { t: number }) {
  const ac = new AbortController();
  const out: MarketEvent[] = [];
  for await (const { event, receivedAt } of source.events(ac.signal)) {
    assert.equal(receivedAt, clock.t);
    out.push(event);
    if (out.length === n) break;
  }
  ac.abort();
  return out;
}

Deno.test("simulated source, realistic profile: live events follow the profile; a checkpoint continues the same market", async () => {
  const config = testConfig({
    SIM_PROFILE: "realistic",
    SYMBOLS,
    SEED: "5",
    ANOMALY_PROBABILITY: "0.1",
  });
  const clock = fastClock(1_710_000_000_000);
  const lines: string[] = [];
  const first = new SimulatedSource(config, null, false, memoryLogger(lines), clock);
  const a = await take(first, 4000, clock);
  assert.ok(lines.some((l) => /simulator live: BTC-USDT, ETH-USDT, profile realistic/.test(l)));
  // no fixed tick: gaps vary, and several trades share milliseconds
  const gaps = new Set(a.slice(1).map((e, i) => e.ts_ms! - a[i].ts_ms!));
  assert.ok(gaps.has(0) && gaps.size > 50, `${gaps.size} distinct gaps`);
  const saved = JSON.parse(JSON.stringify(first.checkpoint()[1])) as SimulationState;

  const clock2 = fastClock(clock.t);
  const second = new SimulatedSource(config, saved, false, memoryLogger(), clock2);
  const b = await take(second, 4000, clock2);
  const whole = [
    ...simulateEvents({
      profile: "realistic",
      seed: 5,
      symbols: SYMBOLS.split(","),
      startMs: 1_710_000_000_000,
      endMs: b.at(-1)!.ts_ms! + 1,
      anomalyProbability: 0.1,
    }),
  ];
  assert.deepEqual([...a, ...b], whole.slice(0, 8000));
  assert.equal(second.status().detail, "seed 5, profile realistic");
});

Deno.test("simulated source, realistic profile: after downtime it resumes at the present, trade ids and prices carried on", async () => {
  const config = testConfig({ SIM_PROFILE: "realistic", SYMBOLS, SEED: "6" });
  const clock = fastClock(1_710_000_000_000);
  const first = new SimulatedSource(config, null, false, memoryLogger(), clock);
  const a = await take(first, 500, clock);
  const saved = first.checkpoint()[1] as SimulationState;
  const later = clock.t + 6 * 3_600_000;
  const clock2 = fastClock(later);
  const b = await take(
    new SimulatedSource(config, saved, false, memoryLogger(), clock2),
    500,
    clock2,
  );
  assert.ok(b[0].ts_ms! >= later, "replayed the downtime");
  for (const sym of SYMBOLS.split(",")) {
    const lastA = a.findLast((e) => e.symbol === sym)!;
    const firstB = b.find((e) => e.symbol === sym)!;
    assert.equal(firstB.trade_id, lastA.trade_id! + 1);
    assert.ok(Math.abs(Math.log(firstB.price / lastA.price)) < 0.01, `${sym} price jumped`);
  }
});

Deno.test("simulated source: a saved market of another profile is not used, and the log says so", async () => {
  const seedConfig = testConfig({ SIM_PROFILE: "seed", SYMBOLS });
  const clock = fastClock();
  const seedSource = new SimulatedSource(seedConfig, null, false, memoryLogger(), clock);
  await take(seedSource, 10, clock);
  const lines: string[] = [];
  const config = testConfig({ SIM_PROFILE: "busy", SYMBOLS });
  const clock2 = fastClock();
  const busy = new SimulatedSource(
    config,
    seedSource.checkpoint()[1] as SimulationState,
    true,
    memoryLogger(lines),
    clock2,
  );
  assert.ok(
    lines.some((l) =>
      /WARN simulator: the saved market is profile seed; starting a fresh busy market/.test(l)
    ),
  );
  const ev = await take(busy, 10, clock2);
  assert.equal(ev[0].trade_id, 1);
});
