/**
 * Predictions are written once (a batch page holds the rows and the verdicts
 * on them) and every reader gives back what the worker predicted, for the
 * forest (v1) and detection v2 models alike: inputs and verdicts exactly,
 * the derived features, score and severity rounded to float32 (`asStored`:
 * what the compact pages keep, docs/decisions.md).
 */
import assert from "node:assert/strict";
import { Processor } from "../pipeline/processor.ts";
import { keys, Store } from "../store/kv.ts";
import { encodePredictions, encodeRows, encodeVerdicts } from "../store/pages.ts";
import { packPage } from "../store/packed.ts";
import { Scorer } from "../model/bundle.ts";
import { predictRows } from "../model/predict.ts";
import { trainBundle } from "../model/train.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import { asStored } from "./helpers.ts";

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
  Deno.test(`storage: every reader returns the worker's predictions (${detection ? "detection v2" : "forest"})`, async () => {
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
      const rows: FeatureRow[] = [];
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
        made.push(...r.predictions.map(asStored));
        rows.push(...r.rows.map(asStored));
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

Deno.test("storage: pages written by earlier versions read alongside batch pages, in time order", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 86_400_000 });
  try {
    const sim = new Simulator({ symbols: SYMBOLS, seed: 3, anomalyProbability: 0.02 });
    const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
    const rows = [...simulatedEvents(sim, { startMs: 1e12, stepMs: 100, endMs: 1e12 + 120_000 })]
      .map((e) => engine.update(e)).filter((r) => !r.warm_up);
    const preds = predictRows(rows, Scorer.fromBundle(bundle(false))).predictions;
    assert.equal(preds.length, rows.length);
    const part = (k: number) => [k * 300, (k + 1) * 300] as const;
    // 1. an object page pair (before packing), 2. packed rows + a verdict page (the last round),
    // 3. packed rows + self-contained packed predictions, 4. a batch page (now).
    const [a0, a1] = part(0);
    await store.kv.set(keys.rows(rows[a0].ts_ms, "old.0"), encodeRows(rows.slice(a0, a1)));
    await store.kv.set(keys.pred(rows[a0].ts_ms, "old.0"), encodePredictions(preds.slice(a0, a1)));
    const [b0, b1] = part(1);
    const rk = keys.rows(rows[b0].ts_ms, "packed.0");
    await store.kv.set(rk, packPage(encodeRows(rows.slice(b0, b1))));
    const idx = Array.from({ length: b1 - b0 }, (_, i) => i);
    await store.kv.set(
      keys.pred(rows[b0].ts_ms, "packed.0"),
      packPage(encodeVerdicts(preds.slice(b0, b1), idx, [rk])),
    );
    const base = { stream: "s", partition: 0, states: [], counters: [] };
    const [c0, c1] = part(2);
    await store.commitBatch({
      ...base,
      nextOffset: c1,
      pageId: "self",
      rows: rows.slice(c0, c1),
      predictions: preds.slice(c0, c1),
    });
    const [d0, d1] = part(3);
    await store.commitBatch({
      ...base,
      nextOffset: d1,
      pageId: "batch",
      rows: rows.slice(d0, d1),
      predictions: preds.slice(d0, d1),
      predictedRows: idx,
    });
    const want = [...preds.slice(0, c1), ...preds.slice(d0, d1).map(asStored)];
    const got: Prediction[] = [];
    for await (const page of store.predictionPages()) got.push(...page);
    assert.deepEqual(got, want);
    assert.deepEqual(
      await store.recentRows(1_000_000),
      [...rows.slice(0, c1), ...rows.slice(d0, d1).map(asStored)],
    );
    assert.deepEqual(
      await store.recentRows(450),
      rows.slice(d0 - 150, d1).map((r, i) => i < 150 ? r : asStored(r)),
    );
  } finally {
    store.close();
  }
});
