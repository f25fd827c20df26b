import assert from "node:assert/strict";
import type { Prediction } from "../lib/contracts.ts";
import { Store } from "../store/kv.ts";
import { Hub, type PredictionBatch } from "./hub.ts";
import { memoryLogger } from "./log.ts";
import { KvTail } from "./tail.ts";

function pred(symbol: string, ts: number): Prediction {
  return {
    symbol,
    ts_ms: ts,
    z_score_price: 0,
    z_score_log_return: 0,
    z_score_volume: 0,
    rolling_price_std: 0,
    rolling_volume_std: 0,
    anomaly_score: 0.1,
    severity: 0.4,
    is_anomaly: false,
    anomaly_type: null,
    model_id: "m",
    label: null,
    trade_id: ts,
  };
}

async function commit(store: Store, pageId: string, preds: Prediction[]) {
  await store.commitBatch({
    stream: "t",
    partition: 0,
    nextOffset: 0,
    pageId,
    states: [],
    rows: [],
    predictions: preds,
    counters: [],
  });
}

Deno.test("tail: publishes each page committed after it started exactly once, late keys included", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  const hub = new Hub();
  const got: PredictionBatch[] = [];
  hub.subscribe((b) => got.push(b));
  try {
    await commit(store, "old", [pred("BTC-USDT", 10_000)]);
    const tail = new KvTail(store, hub, memoryLogger(), { pollMs: 60_000, lookbackMs: 5_000 });
    const ac = new AbortController();
    await tail.start(ac.signal); // reads what is there without publishing it
    ac.abort(); // stop the loop; the test polls by hand
    assert.equal(got.length, 0, "history is not re-published");

    await commit(store, "a", [pred("BTC-USDT", 20_000), pred("ETH-USDT", 20_001)]);
    assert.equal(await tail.poll(), 1);
    // Another partition commits a page whose key sorts before the newest one.
    await commit(store, "b", [pred("BNB-USDT", 17_000)]);
    await commit(store, "c", [pred("BTC-USDT", 21_000)]);
    assert.equal(await tail.poll(), 2);
    assert.equal(await tail.poll(), 0, "nothing twice");
    assert.deepEqual(got.map((b) => b.predictions.map((p) => p.ts_ms)), [
      [20_000, 20_001],
      [17_000],
      [21_000],
    ]);
    // The ids are the stored cursors: SSE resumption and de-duplication agree with them.
    const stored = [];
    for await (const x of store.predictionsAfter(null)) stored.push(x.id);
    assert.deepEqual(
      got.flatMap((b) => b.ids).sort(),
      stored.filter((id) => !id.includes("old")).sort(),
    );
  } finally {
    store.close();
  }
});

Deno.test("tail: a deep poll publishes a taken-over partition's backlog, minutes behind the newest page, once", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  const hub = new Hub();
  const got: PredictionBatch[] = [];
  hub.subscribe((b) => got.push(b));
  try {
    const tail = new KvTail(store, hub, memoryLogger(), {
      pollMs: 60_000,
      lookbackMs: 10_000,
      deepLookbackMs: 300_000,
    });
    const ac = new AbortController();
    await tail.start(ac.signal);
    ac.abort();
    await commit(store, "p0.100", [pred("BTC-USDT", 100_000)]);
    await commit(store, "p1.200", [pred("ETH-USDT", 200_000)]);
    assert.equal(await tail.poll(), 2);
    // the survivor re-processes the dead worker's partition from 120 s of event time on
    await commit(store, "p0.120", [pred("BTC-USDT", 120_000)]);
    assert.equal(await tail.poll(), 0, "80 s behind: outside the short look-back");
    assert.equal(await tail.poll(true, true), 1, "the deep poll finds it");
    assert.equal(await tail.poll(true, true), 0, "and publishes it once");
    assert.equal(await tail.poll(), 0);
    assert.deepEqual(got.map((b) => b.predictions.map((p) => p.ts_ms)), [
      [100_000],
      [200_000],
      [120_000],
    ]);
  } finally {
    store.close();
  }
});

Deno.test("tail: publishes each incident change committed by another process once (opened, grown, closed)", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  const hub = new Hub();
  const got: PredictionBatch[] = [];
  hub.subscribe((b) => got.push(b));
  const inc = {
    id: "BTC-USDT:20000",
    symbol: "BTC-USDT",
    status: "open" as "open" | "closed",
    type: "spike" as const,
    start_ms: 20_000,
    end_ms: 20_000,
    peak_ms: 20_000,
    peak_severity: 0.7,
    drivers: { price_z: 1 },
    alerts: 1,
    trades: 1,
    ref_price: 100,
    peak_price: 110,
    last_price: 110,
    min_price: 110,
    max_price: 110,
    model_id: "m",
  };
  const write = (i: typeof inc) =>
    store.commitBatch({
      stream: "t",
      partition: 0,
      nextOffset: 0,
      pageId: `p${i.alerts}${i.status}`,
      states: [],
      rows: [],
      predictions: [pred("BTC-USDT", i.end_ms)],
      counters: [],
      incidents: [i],
    });
  try {
    await commit(store, "old", [pred("BTC-USDT", 10_000)]);
    const tail = new KvTail(store, hub, memoryLogger(), { pollMs: 60_000 });
    const ac = new AbortController();
    await tail.start(ac.signal);
    ac.abort();
    await write(inc);
    await tail.poll();
    await tail.poll();
    await write({ ...inc, alerts: 2, end_ms: 21_000, peak_severity: 0.9 });
    await tail.poll();
    await write({ ...inc, alerts: 2, end_ms: 21_000, peak_severity: 0.9, status: "closed" });
    await tail.poll();
    await tail.poll();
    const changes = got.flatMap((b) => b.incidents ?? []);
    assert.deepEqual(changes.map((c) => [c.kind, c.incident.alerts]), [
      ["opened", 1],
      ["updated", 2],
      ["closed", 2],
    ]);
  } finally {
    store.kv.close();
  }
});

Deno.test("tail: a page that grows after it was read publishes only its new predictions", async () => {
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  const hub = new Hub();
  const got: PredictionBatch[] = [];
  hub.subscribe((b) => got.push(b));
  try {
    const tail = new KvTail(store, hub, memoryLogger(), { pollMs: 60_000 });
    const ac = new AbortController();
    await tail.start(ac.signal);
    ac.abort();
    const grow = [pred("BTC-USDT", 30_000), pred("ETH-USDT", 30_001), pred("BTC-USDT", 30_002)];
    // An open page: the same key rewritten with more predictions by each small batch.
    await commit(store, "open", grow.slice(0, 1));
    assert.equal(await tail.poll(), 1);
    await commit(store, "open", grow);
    assert.equal(await tail.poll(), 1);
    assert.equal(await tail.poll(), 0, "nothing twice");
    assert.deepEqual(got.map((b) => b.predictions.map((p) => p.ts_ms)), [[30_000], [
      30_001,
      30_002,
    ]]);
    const stored = [];
    for await (const x of store.predictionsAfter(null)) stored.push(x.id);
    assert.deepEqual(got.flatMap((b) => b.ids), stored);
  } finally {
    store.close();
  }
});
