/**
 * Predictions are written once (verdict pages pointing into the batch's row
 * pages) and every reader gives back exactly what the worker predicted, for
 * the forest (v1) and detection v2 models alike.
 */
import assert from "node:assert/strict";
import { Processor } from "../pipeline/processor.ts";
import { Store } from "../store/kv.ts";
import { Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import type { Prediction } from "../lib/contracts.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

function bundle(detection: boolean) {
  const sim = new Simulator({ symbols: SYMBOLS, seed: 9, anomalyProbability: 0.02 });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 900_000 })]
    .map((e) => engine.update(e));
  return trainBundle(rows, {
    id: detection ? "v2" : "v1",
    createdAt: "2026-01-01T00:00:00Z",
    nEstimators: 20,
    ...(detection ? { detection: { model: "robust" as const, budget: 0.01 } } : {}),
  });
}

for (const detection of [false, true]) {
  Deno.test(`storage: every reader returns the worker's predictions exactly (${detection ? "detection v2" : "forest"})`, async () => {
    const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 86_400_000 });
    try {
      const scorer = Scorer.fromBundle(bundle(detection));
      const p = new Processor({
        store,
        windowSeconds: 60,
        minWindowEvents: 10,
        model: () => scorer,
      });
      const sim = new Simulator({ symbols: SYMBOLS, seed: 11, anomalyProbability: 0.02 });
      const events = [
        ...simulatedEvents(sim, { startMs: 1e12, stepMs: 50, endMs: 1e12 + 400_000 }),
      ];
      const made: Prediction[] = [];
      const rows = [];
      // uneven batches so prediction pages straddle row pages
      for (let i = 0, k = 0; i < events.length; k++) {
        const size = [1000, 333, 999, 57][k % 4];
        const part = events.slice(i, i + size);
        const r = await p.process({
          stream: "s",
          partition: 0,
          firstOffset: i,
          nextOffset: i + part.length,
          events: part.map((event) => ({ event, receivedAt: 0 })),
        });
        made.push(...r.predictions);
        rows.push(...r.rows);
        i += part.length;
      }
      assert.ok(made.length > 10_000, `${made.length} predictions`);
      assert.ok(made.some((x) => x.is_anomaly), "some alerts");
      const all: Prediction[] = [];
      for await (const page of store.predictionPages()) all.push(...page);
      const byTimeSymbol = (a: Prediction, b: Prediction) =>
        a.ts_ms - b.ts_ms || a.symbol.localeCompare(b.symbol);
      assert.deepEqual(all, made);
      const after: Prediction[] = [];
      for await (const x of store.predictionsAfter(null)) after.push(x.prediction);
      assert.deepEqual(after, made);
      const eth = made.filter((x) => x.symbol === "ETH-USDT");
      const ethAfter: Prediction[] = [];
      for await (const x of store.predictionsAfter(null, { symbol: "ETH-USDT" })) {
        ethAfter.push(x.prediction);
      }
      assert.deepEqual(ethAfter, eth);
      assert.deepEqual(
        await store.latestPredictions({ limit: 700, symbol: "ETH-USDT" }),
        eth.slice(-700).reverse(),
      );
      // one event per symbol per tick: equal times are ordered by symbol to compare
      const latest = await store.latestPredictions({ limit: 51 });
      assert.deepEqual(
        latest.map((x) => x.ts_ms),
        made.map((x) => x.ts_ms).sort().slice(-51).reverse(),
      );
      assert.deepEqual(latest.sort(byTimeSymbol), made.slice().sort(byTimeSymbol).slice(-51));
      const from = made[5000].ts_ms, to = made[9000].ts_ms;
      assert.deepEqual(
        await store.symbolPredictionsBetween("BTC-USDT", from, to, 100_000),
        made.filter((x) => x.symbol === "BTC-USDT" && x.ts_ms >= from && x.ts_ms <= to),
      );
      assert.deepEqual(await store.recentRows(1_000_000), rows);
      // Written once: no per-symbol copies.
      for await (const _ of store.kv.list({ prefix: ["pred_sym"] })) assert.fail("a pred_sym page");
    } finally {
      store.close();
    }
  });
}
