/**
 * DATA_SOURCE=replay through the embedded pipeline: a recorded file is
 * replayed to its end, every record is accounted for, and a restart resumes
 * after the last committed record instead of replaying the file again.
 */
import assert from "node:assert/strict";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { Store } from "../store/kv.ts";
import { activateIn, allPredictions, simulatedBundle, tempKvPath, testConfig } from "./helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

function withModel(path: string) {
  return activateIn(
    path,
    simulatedBundle({ id: "replay-model", seed: 3, seconds: 900, nEstimators: 50 }),
  );
}

Deno.test("replay: a JSONL recording is processed to its end, each event exactly once, and not again after a restart", async () => {
  const { path, cleanup } = await tempKvPath();
  const file = path.replace(/kv\.sqlite$/, "recorded.jsonl");
  const sim = new Simulator({ symbols: SYMBOLS, seed: 8, anomalyProbability: 0.02 });
  const events = [
    ...simulatedEvents(sim, { startMs: 1_710_000_000_000, stepMs: 100, endMs: 1_710_000_200_000 }),
  ];
  // One broken line in the middle: counted, skipped, never stops the replay.
  const lines = events.map((e) => JSON.stringify(e));
  lines.splice(1000, 0, '{"symbol": "BTC-USDT", "price": -1}');
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  await withModel(path);
  const config = testConfig({ KV_PATH: path, DATA_SOURCE: "replay", REPLAY_FILE: file });
  try {
    const log: string[] = [];
    const s = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(log),
      reportEveryMs: 0,
    });
    await s.done;
    await s.stop();
    const store = await Store.open(path, { retentionMs: 86_400_000 });
    const preds = await allPredictions(store);
    const counters = await store.counters();
    assert.equal(counters["rows"], events.length);
    assert.equal(counters["events/simulated"], events.length, "recorded sources are kept");
    assert.equal(preds.length + (counters["warmup"] ?? 0), events.length);
    assert.equal(await store.loadOffset("replay:recorded.jsonl", 0), lines.length);
    // Labels recorded in the file survive the trip: the model catches the spikes.
    const spikes = preds.filter((p) =>
      p.anomaly_type === "PRICE_SPIKE" || p.anomaly_type === "FLASH_CRASH"
    );
    assert.ok(spikes.length > 20);
    assert.ok(spikes.filter((p) => p.is_anomaly).length / spikes.length > 0.6);
    store.close();

    const again = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(log),
      reportEveryMs: 0,
    });
    await again.done;
    await again.stop();
    const store2 = await Store.open(path, { retentionMs: 86_400_000 });
    assert.equal((await store2.counters())["rows"], events.length, "nothing processed twice");
    store2.close();
    assert.ok(log.some((l) => l.includes(`resuming after record ${lines.length}`)));
    assert.ok(log.some((l) => /invalid_event/.test(l) && /line 1001/.test(l)), log.join("\n"));
  } finally {
    await cleanup();
  }
});

Deno.test("replay: a Binance trades CSV flows through the pipeline as unlabelled events", async () => {
  const { path, cleanup } = await tempKvPath();
  const file = new URL("./fixtures/replay/BTCUSDT-trades-2024-03-01.csv", import.meta.url).pathname;
  await withModel(path);
  const config = testConfig({
    KV_PATH: path,
    DATA_SOURCE: "replay",
    REPLAY_FILE: file,
    MIN_WINDOW_EVENTS: "2",
  });
  try {
    const s = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(),
      reportEveryMs: 0,
    });
    await s.done;
    await s.stop();
    const store = await Store.open(path, { retentionMs: 86_400_000 });
    const c = await store.counters();
    const dataLines = (await Deno.readTextFile(file)).trim().split("\n").slice(1);
    assert.equal(c["events/replay"], dataLines.length);
    const preds = await allPredictions(store);
    assert.ok(
      preds.every((p) => p.label === null && p.source === "replay" && p.symbol === "BTC-USDT"),
    );
    // Trade ids are the file's first column.
    assert.deepEqual(
      preds.map((p) => p.trade_id).sort(),
      dataLines.map((l) => Number(l.split(",")[0])).slice(dataLines.length - preds.length).sort(),
    );
    store.close();
  } finally {
    await cleanup();
  }
});

Deno.test("replay at max speed: the first TRAIN_SECONDS train the model, every later event is scored by it", async () => {
  const { path, cleanup } = await tempKvPath();
  const file = path.replace(/kv\.sqlite$/, "prefix.jsonl");
  const start = 1_710_000_000_000;
  const sim = new Simulator({ symbols: SYMBOLS, seed: 12, anomalyProbability: 0.01 });
  // 20 simulated minutes: a 10-minute prefix, then 10 minutes to score.
  const events = [
    ...simulatedEvents(sim, { startMs: start, stepMs: 200, endMs: start + 1_200_000 }),
  ];
  await Deno.writeTextFile(file, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  const config = testConfig({
    KV_PATH: path,
    DATA_SOURCE: "replay",
    REPLAY_FILE: file,
    TRAIN_SECONDS: "600",
    // The trainer's own schedule must not matter: it would wait for far more rows.
    MIN_TRAINING_ROWS: "1000000",
    MAX_WAIT_SECONDS: "3600",
  });
  try {
    const log: string[] = [];
    const s = await Sentinel.start(config, ["source", "worker", "trainer"], {
      logger: () => memoryLogger(log),
      reportEveryMs: 0,
      trainerPollMs: 50,
      modelPollMs: 50,
      trainInWorker: false,
    });
    await s.done;
    const model = s.models.current!;
    await s.stop();
    const store = await Store.open(path, { retentionMs: 86_400_000 });
    const preds = await allPredictions(store);
    const bundle = await store.loadBundle(model.id);
    store.close();
    const prefixEnd = start + 600_000;
    // Trained on the prefix only, never on an event it scores.
    assert.ok(bundle.training.to_ts < prefixEnd, `${bundle.training.to_ts}`);
    assert.ok(bundle.training.to_ts >= prefixEnd - 1000);
    assert.ok(bundle.detection, "the bundle carries detection v2's calibration");
    // Every event after the prefix is scored: none unscored, none warm-up (the
    // robust features have long been ready), each exactly once.
    const after = events.filter((e) => e.ts_ms! >= prefixEnd);
    const scoredAfter = preds.filter((p) => p.ts_ms >= prefixEnd);
    assert.equal(scoredAfter.length, after.length);
    assert.ok(scoredAfter.every((p) => p.model_id === model.id));
    assert.ok(log.some((l) => /training on them before scoring the rest/.test(l)), log.join("\n"));
  } finally {
    await cleanup();
  }
});
