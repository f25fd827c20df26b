import assert from "node:assert/strict";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { Store } from "../store/kv.ts";
import { retrainDue, retrainIfDue } from "./cron_trainer.ts";
import { memoryLogger } from "./log.ts";
import { Trainer } from "./trainer.ts";

const base = {
  activatedAtMs: 1_000_000,
  request: null,
  usableRows: 5000,
  minTrainingRows: 1000,
  intervalSeconds: 3600,
  now: 1_000_000 + 60_000,
};

Deno.test("cron trainer: what makes a fit due", () => {
  assert.equal(retrainDue(base), null, "a fresh model, no request: nothing");
  assert.equal(retrainDue({ ...base, activatedAtMs: null, usableRows: 999 }), null);
  assert.equal(retrainDue({ ...base, activatedAtMs: null }), "first model");
  assert.equal(
    retrainDue({ ...base, request: { at: base.activatedAtMs + 1, reason: "api" } }),
    "requested: api",
  );
  assert.equal(
    retrainDue({ ...base, request: { at: base.activatedAtMs - 1, reason: "api" } }),
    null,
    "a request the active model already answered",
  );
  assert.equal(retrainDue({ ...base, now: base.activatedAtMs + 3_600_000 }), "scheduled");
  assert.equal(retrainDue({ ...base, intervalSeconds: null, now: 1e15 }), null);
});

Deno.test("cron trainer: a tick fits inline and activates; the next tick finds nothing due", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  try {
    const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 4, anomalyProbability: 0.01 });
    const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
    const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 100, endMs: 200_000 })]
      .map((e) => engine.update(e));
    await store.commitBatch({
      stream: "t",
      partition: 0,
      nextOffset: rows.length,
      pageId: "t.0.0",
      states: [],
      rows,
      predictions: [],
      counters: [[["rows"], rows.length], [["warmup"], rows.filter((r) => r.warm_up).length]],
    });
    const config = {
      minTrainingRows: 1000,
      maxWaitSeconds: 60,
      retrainIntervalSeconds: 3600,
      nEstimators: 20,
      contamination: 0.01 as const,
      seed: 1,
    };
    let t = 1_710_000_000_000;
    const now = () => t;
    const first = await retrainIfDue(store, config, memoryLogger(), now);
    assert.ok(first, "the first model is due");
    assert.equal((await store.activeModel())?.active.id, first);
    t += 60_000;
    assert.equal(await retrainIfDue(store, config, memoryLogger(), now), null);
    await Trainer.requestRetrain(store, "api", t);
    t += 1;
    const second = await retrainIfDue(store, config, memoryLogger(), now);
    assert.ok(second && second !== first, "a request is answered on the next tick");
    assert.equal((await store.activeModel())?.active.id, second);
  } finally {
    store.close();
  }
});
