/**
 * The embedded pipeline end to end, in process, on a real Deno KV file:
 * simulated source → features → scoring → KV, with the trainer training and
 * activating models on its own.
 */
import assert from "node:assert/strict";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { Store } from "../store/kv.ts";
import { trainBundle } from "../model/train.ts";
import { rocAuc } from "../model/metrics.ts";
import { allPredictions, fastClock, tempKvPath, testConfig, waitFor } from "./helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

async function startFast(
  path: string,
  env: Record<string, string> = {},
  lines: string[] = [],
): Promise<Sentinel> {
  const config = testConfig({
    KV_PATH: path,
    EVENT_FREQUENCY_SECONDS: "0.1",
    MIN_TRAINING_ROWS: "3000",
    ...env,
  });
  const clock = fastClock();
  const logger = () => memoryLogger(lines);
  const store = await Store.open(path, { retentionMs: 86_400_000 });
  const source = await SimulatedSource.open(config, store, logger(), clock);
  store.close();
  return await Sentinel.start(config, ["source", "worker", "trainer"], {
    clock,
    logger,
    source,
    trainerPollMs: 50,
    modelPollMs: 100,
    reportEveryMs: 0,
    trainInWorker: false,
  });
}

Deno.test("embedded: a model trains itself, all symbols are scored, injected anomalies are caught", async () => {
  const { path, cleanup } = await tempKvPath();
  const s = await startFast(path);
  try {
    // Bounded: the trainer needs 3 000 usable rows; well before 60 000 events a
    // model must be live and have scored a good share of labelled anomalies.
    await waitFor("a model and 30 000 predictions", async () => {
      const c = await s.store.counters();
      assert.ok((c["rows"] ?? 0) < 60_000, `no model after ${c["rows"]} events`);
      const preds = s.metrics.predictions.total();
      return s.models.current !== null && preds > 30_000;
    }, 60_000);
  } finally {
    await s.stop();
  }
  const store = await Store.open(path, { retentionMs: 86_400_000 });
  try {
    const preds = await allPredictions(store);
    const counters = await store.counters();
    // Every scored row was persisted: KV's counters and pages agree.
    const perSymbol = SYMBOLS.map((sym) => counters[`pred/${sym}`] ?? 0);
    assert.equal(preds.length, perSymbol.reduce((a, b) => a + b, 0));
    for (const sym of SYMBOLS) {
      assert.ok(preds.some((p) => p.symbol === sym), `no predictions for ${sym}`);
    }
    const labelled = preds.filter((p) => p.label === true);
    const quiet = preds.filter((p) => p.label === false);
    const caught = labelled.filter((p) => p.is_anomaly).length / labelled.length;
    const falseAlarms = quiet.filter((p) => p.is_anomaly).length / quiet.length;
    assert.ok(labelled.length > 150, `only ${labelled.length} labelled anomalies scored`);
    // Default settings (1 % injected, contamination 0.01). The ranking must
    // separate injected anomalies from quiet events (ROC-AUC), and a flag must
    // be far likelier on an anomaly than on a quiet event. Exact recall moves
    // with the moment the first model trains (docs/evaluation.md has figures).
    const auc = rocAuc(preds.map((p) => p.label === true), preds.map((p) => -p.anomaly_score));
    assert.ok(auc > 0.9, `ROC-AUC ${auc}`);
    assert.ok(caught > 0.35, `recall ${caught}`);
    assert.ok(falseAlarms < 0.01, `false-alarm rate ${falseAlarms}`);
    assert.ok(caught / falseAlarms > 30, `lift ${caught / falseAlarms}`);
    // rows = warm-up + unscored (before the model) + predictions: no event lost.
    const rows = counters["rows"];
    assert.equal(
      rows,
      (counters["warmup"] ?? 0) + (counters["unscored"] ?? 0) + preds.length,
    );
    assert.equal(await store.loadOffset("simulated", 0), rows);
  } finally {
    store.close();
    await cleanup();
  }
});

Deno.test("embedded: activating a new bundle while events flow swaps the model, no event lost", async () => {
  const { path, cleanup } = await tempKvPath();
  const s = await startFast(path);
  try {
    const first = await waitFor("first model", () => s.models.current?.id, 60_000);
    await waitFor("predictions by the first model", () => s.metrics.predictions.total() > 2000);
    const rows = await s.store.recentRows(20_000);
    const bundle = trainBundle(rows, {
      id: "swapped-in",
      createdAt: new Date().toISOString(),
      nEstimators: 50,
      seed: 7,
    });
    await s.store.saveBundle(bundle);
    await s.store.activate(bundle.id, new Date().toISOString());
    const before = s.metrics.predictions.total();
    await waitFor(
      "predictions by the new model",
      () => s.models.current?.id === "swapped-in" && s.metrics.predictions.total() > before + 3000,
    );
    await s.stop();
    const store = await Store.open(path, { retentionMs: 86_400_000 });
    try {
      const preds = await allPredictions(store);
      const ids = new Set(preds.map((p) => p.model_id));
      assert.deepEqual([...ids].sort(), [first, "swapped-in"].sort());
      // Per symbol, trade ids are consecutive across the swap: nothing skipped, nothing twice.
      for (const sym of SYMBOLS) {
        const tids = preds.filter((p) => p.symbol === sym).map((p) => p.trade_id!)
          .sort((a, b) => a - b);
        for (let i = 1; i < tids.length; i++) assert.equal(tids[i], tids[i - 1] + 1);
        // …and once the first model was live, the first model never scores again after the swap.
        const bySym = preds.filter((p) => p.symbol === sym).sort((a, b) =>
          a.trade_id! - b.trade_id!
        );
        const firstNew = bySym.findIndex((p) => p.model_id === "swapped-in");
        assert.ok(firstNew > 0);
        assert.ok(bySym.slice(firstNew).every((p) => p.model_id === "swapped-in"));
      }
    } finally {
      store.close();
    }
  } finally {
    await s.stop();
    await cleanup();
  }
});

Deno.test("embedded: a restart on the same KV continues the model, the windows and the market", async () => {
  const { path, cleanup } = await tempKvPath();
  const lines: string[] = [];
  const s1 = await startFast(path, {}, lines);
  let modelId: string;
  try {
    modelId = await waitFor("first model", () => s1.models.current?.id, 60_000);
    await waitFor("some predictions", () => s1.metrics.predictions.total() > 1000);
  } finally {
    await s1.stop();
  }
  const store = await Store.open(path, { retentionMs: 86_400_000 });
  const offset1 = (await store.loadOffset("simulated", 0))!;
  const last1 = (await allPredictions(store)).at(-1)!;
  store.close();

  const s2 = await startFast(path, {}, lines);
  try {
    assert.equal(s2.models.current?.id, modelId, "the stored model is live at once");
    await waitFor("predictions after the restart", () => s2.metrics.predictions.total() > 300);
    // With a model already active, nothing is warming up again: every row is scored.
    assert.equal(s2.metrics.warmup.total(), 0);
    assert.equal(s2.metrics.unscored.total(), 0);
  } finally {
    await s2.stop();
  }
  const store2 = await Store.open(path, { retentionMs: 86_400_000 });
  try {
    assert.ok((await store2.loadOffset("simulated", 0))! > offset1);
    const after = (await allPredictions(store2)).filter((p) =>
      p.trade_id! > last1.trade_id! &&
      p.symbol === last1.symbol
    );
    // The simulator continued its saved market: trade ids go on from the last one.
    assert.ok(after.length > 0);
    assert.ok(Math.min(...after.map((p) => p.trade_id!)) <= last1.trade_id! + 2);
    assert.ok(lines.some((l) => l.includes("continuing the saved market")));
    assert.ok(
      !lines.slice(lines.findLastIndex((l) => l.includes("simulated from offset 0")) + 1)
        .some((l) => l.includes("backfill")),
    );
  } finally {
    store2.close();
    await cleanup();
  }
});
