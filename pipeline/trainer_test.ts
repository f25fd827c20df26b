import assert from "node:assert/strict";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import type { FeatureRow } from "../lib/contracts.ts";
import { Store } from "../store/kv.ts";
import { memoryLogger } from "./log.ts";
import { Trainer, type TrainerOptions } from "./trainer.ts";
import { waitFor } from "../tests/helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];

function simulatedRows(seconds: number, seed = 1, volatilityScale = 1): FeatureRow[] {
  const models = volatilityScale === 1 ? undefined : Object.fromEntries(
    SYMBOLS.map((
      s,
    ) => [s, { price: 100, volatility: 0.002 * volatilityScale, volume: 10, volumeSigma: 0.5 }]),
  );
  const sim = new Simulator({ symbols: SYMBOLS, seed, anomalyProbability: 0.01, models });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  return [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: seconds * 1000 })]
    .map((e) => engine.update(e));
}

async function storeWith(rows: FeatureRow[]): Promise<Store> {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  await addRows(store, rows, 0);
  return store;
}

async function addRows(store: Store, rows: FeatureRow[], offset: number) {
  for (let i = 0; i < rows.length; i += 1000) {
    const part = rows.slice(i, i + 1000);
    await store.commitBatch({
      stream: "t",
      partition: 0,
      nextOffset: offset + i + part.length,
      pageId: `t.0.${offset + i}`,
      states: [],
      rows: part,
      predictions: [],
      counters: [[["rows"], part.length], [["warmup"], part.filter((r) => r.warm_up).length]],
    });
  }
}

const base: TrainerOptions = {
  minTrainingRows: 1000,
  maxWaitSeconds: 60,
  retrainIntervalSeconds: null,
  nEstimators: 30,
  contamination: 0.01,
  seed: 1,
  useWorker: false,
  pollMs: 10,
  driftCheckMs: 0,
};

Deno.test("trainer: waits for MIN_TRAINING_ROWS, then trains, stores and activates a bundle", async () => {
  const store = await storeWith(simulatedRows(60)); // ~600 rows: not enough
  const lines: string[] = [];
  const t = new Trainer(store, memoryLogger(lines), base);
  try {
    t.start();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await store.activeModel(), null);
    assert.equal(t.status().state, "waiting");
    assert.match(t.status().detail, /waiting for 1000 feature rows, have \d+/);
    await addRows(store, simulatedRows(300, 2), 10_000);
    const id = await waitFor("a model", async () => (await store.activeModel())?.active.id);
    const bundle = await store.loadBundle(id);
    assert.equal(bundle.params.n_estimators, 30);
    assert.equal(bundle.training.report.kind, "holdout", "simulated rows are labelled");
    assert.ok(bundle.training.rows >= 1000);
    assert.deepEqual(bundle.training.symbols, SYMBOLS.toSorted());
    assert.ok(
      lines.some((l) => /trained in \d+ ms and activated: .*ROC-AUC/.test(l)),
      lines.join("\n"),
    );
  } finally {
    await t.stop();
    store.close();
  }
});

Deno.test("trainer: after MAX_WAIT_SECONDS without enough rows it says why it cannot train", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  let now = 0;
  const lines: string[] = [];
  const t = new Trainer(store, memoryLogger(lines), { ...base, maxWaitSeconds: 5 }, () => now);
  try {
    t.start();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(t.status().state, "waiting");
    now = 6_000;
    await waitFor("the explanation", () => t.status().state === "failed");
    assert.match(t.status().detail, /cannot train: no feature rows have arrived/);
    assert.ok(lines.some((l) => l.startsWith("WARN cannot train yet")));
  } finally {
    await t.stop();
    store.close();
  }
});

Deno.test("trainer: a thin pair whose rows are all warm-up gets a detection v2 model, not a forest-only one", async () => {
  // one trade every 30 s: the seed's 60 s window never holds MIN_WINDOW_EVENTS (10) trades
  const sim = new Simulator({ symbols: ["THIN-USDT"], seed: 3, anomalyProbability: 0 });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 30_000, endMs: 1200 * 30_000 })]
    .map((e) => engine.update(e));
  assert.ok(rows.every((r) => r.warm_up), "every row is a warm-up row");
  const store = await storeWith(rows);
  const v2 = new Trainer(store, memoryLogger([]), {
    ...base,
    detection: { model: "robust", budget: 1 },
  });
  const forestOnly = new Trainer(store, memoryLogger([]), { ...base, detection: null });
  try {
    assert.equal(await v2.usableRows(), 1200);
    assert.equal(await forestOnly.usableRows(), 0);
    v2.start();
    const id = await waitFor("a model", async () => (await store.activeModel())?.active.id);
    const bundle = await store.loadBundle(id);
    assert.ok(bundle.detection, "detection v2 calibrated");
    assert.deepEqual(Object.keys(bundle.detection!.calibration.symbols), ["THIN-USDT"]);
  } finally {
    await v2.stop();
    store.close();
  }
});

Deno.test("trainer: a requested retrain makes a new bundle; the old one stays listable", async () => {
  const store = await storeWith(simulatedRows(400));
  let now = 1_000;
  const t = new Trainer(store, memoryLogger(), base, () => now);
  try {
    t.start();
    const first = await waitFor("first model", async () => (await store.activeModel())?.active.id);
    now = 2_000;
    await Trainer.requestRetrain(store, "test", now);
    const second = await waitFor("second model", async () => {
      const id = (await store.activeModel())?.active.id;
      return id !== first ? id : null;
    });
    assert.deepEqual((await store.listModels()).map((m) => m.id).sort(), [first, second].sort());
    assert.equal(t.status().runs, 2);
  } finally {
    await t.stop();
    store.close();
  }
});

Deno.test("trainer: a drifted feature distribution triggers a retrain, a stable one does not", async () => {
  const store = await storeWith(simulatedRows(600));
  let now = 1_000_000;
  const lines: string[] = [];
  const t = new Trainer(store, memoryLogger(lines), {
    ...base,
    driftCheckMs: 1,
    minDriftRetrainGapMs: 0,
  }, () => now);
  try {
    t.start();
    const first = await waitFor("first model", async () => (await store.activeModel())?.active.id);
    now += 10;
    await waitFor("a drift check", () => t.status().drift !== null);
    assert.match(t.status().drift!, /^no drift/);
    assert.equal((await store.activeModel())?.active.id, first);
    // The market turns four times as volatile: relative price stds move far away.
    await addRows(store, simulatedRows(600, 9, 4), 100_000);
    now += 10;
    const second = await waitFor("a drift retrain", async () => {
      now += 10;
      const id = (await store.activeModel())?.active.id;
      return id !== first ? id : null;
    });
    assert.ok(second);
    assert.ok(
      lines.some((l) => /feature drift in .*rolling_price_std.*: retraining/.test(l)),
      lines.join("\n"),
    );
  } finally {
    await t.stop();
    store.close();
  }
});

Deno.test("trainer: fitting in a Web Worker gives the same bundle as on the main thread", async () => {
  const rows = simulatedRows(300);
  const a = await storeWith(rows);
  const b = await storeWith(rows);
  const ta = new Trainer(a, memoryLogger(), { ...base, useWorker: true }, () => 5);
  const tb = new Trainer(b, memoryLogger(), base, () => 5);
  try {
    const [x, y] = await Promise.all([ta.trainNow("test"), tb.trainNow("test")]);
    assert.deepEqual(x, y);
  } finally {
    await ta.stop();
    await tb.stop();
    a.close();
    b.close();
  }
});
