import assert from "node:assert/strict";
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import { parseBundle } from "../model/bundle.ts";
import { keys, parseCursor, PartitionLostError, predictionCursors, Store } from "./kv.ts";

function row(symbol: string, ts: number, warm = false): FeatureRow {
  return {
    symbol,
    ts_ms: ts,
    z_score_price: 0,
    z_score_log_return: 0,
    z_score_volume: 0,
    rolling_price_std: 0,
    rolling_volume_std: 0,
    window_count: 10,
    warm_up: warm,
    price: 1,
    volume: 1,
    is_anomaly: false,
    anomaly_type: null,
    trade_id: ts,
  };
}

function pred(r: FeatureRow): Prediction {
  return {
    symbol: r.symbol,
    ts_ms: r.ts_ms,
    z_score_price: 0,
    z_score_log_return: 0,
    z_score_volume: 0,
    rolling_price_std: 0,
    rolling_volume_std: 0,
    price: 1,
    volume: 1,
    anomaly_score: 0.1,
    severity: 0.4,
    is_anomaly: false,
    anomaly_type: null,
    model_id: "m",
    label: null,
    trade_id: r.trade_id,
  };
}

async function memStore() {
  return new Store(await Deno.openKv(":memory:"), { retentionMs: 60_000 });
}

Deno.test("kv: a batch commit writes state, offset, pages and counters together", async () => {
  const s = await memStore();
  try {
    const rows = Array.from(
      { length: 900 },
      (_, i) => row(i % 2 ? "BTC-USDT" : "ETH-USDT", 1000 + i),
    );
    await s.commitBatch({
      stream: "t",
      partition: 2,
      nextOffset: 900,
      pageId: "t.2.0",
      states: [["BTC-USDT", { a: 1 }], ["ETH-USDT", { b: 2 }]],
      rows,
      predictions: rows.slice(100).map(pred),
      counters: [[["rows"], 900], [["pred", "BTC-USDT"], 400], [["never"], 0]],
    });
    assert.equal(await s.loadOffset("t", 2), 900);
    assert.equal(await s.loadOffset("t", 1), null);
    assert.deepEqual(
      await s.loadStates(["BTC-USDT", "ETH-USDT", "BNB-USDT"]),
      new Map<string, unknown>([["BTC-USDT", { a: 1 }], ["ETH-USDT", { b: 2 }]]),
    );
    const c = await s.counters();
    assert.deepEqual(c, { "rows": 900, "pred/BTC-USDT": 400 });
    // 900 rows → pages of at most 400; all come back in order.
    assert.deepEqual(await s.recentRows(10_000), rows);
    assert.deepEqual(await s.recentRows(5), rows.slice(-5));
    const latest = await s.latestPredictions({ limit: 10 });
    assert.deepEqual(latest.map((p) => p.ts_ms), Array.from({ length: 10 }, (_, i) => 1899 - i));
    const btc = await s.latestPredictions({ limit: 3, symbol: "BTC-USDT" });
    assert.deepEqual(btc.map((p) => p.ts_ms), [1899, 1897, 1895]);
    assert.equal((await s.latestPredictions({ limit: 5000 })).length, 800);
  } finally {
    s.close();
  }
});

Deno.test("kv: a bundle is stored in chunks, listed, activated atomically and read back", async () => {
  const s = await memStore();
  try {
    const json = JSON.parse(
      await Deno.readTextFile(new URL("../tests/fixtures/sklearn_bundle.json", import.meta.url)),
    );
    const bundle = parseBundle(json);
    assert.equal(await s.activeModel(), null);
    const entry = await s.saveBundle(bundle);
    assert.ok(entry.chunks >= 2, "the fixture is larger than one chunk");
    assert.equal(await s.activeModel(), null, "saving does not activate");
    const active = await s.activate(bundle.id, "2026-01-01T00:00:00.000Z");
    assert.equal((await s.activeModel())?.active.id, bundle.id);
    assert.deepEqual(await s.loadBundle(active.id, active.chunks), bundle);
    assert.deepEqual((await s.listModels()).map((m) => m.id), [bundle.id]);
    await assert.rejects(() => s.activate("nope", "x"), /no bundle with id nope/);
    await s.kv.delete(keys.modelChunk(bundle.id, 1));
    await assert.rejects(() => s.loadBundle(bundle.id), /missing chunk 1/);
  } finally {
    s.close();
  }
});

Deno.test("kv: SSE cursors resume right after the last prediction seen, per symbol too", async () => {
  const s = await memStore();
  try {
    const rows = Array.from(
      { length: 1000 },
      (_, i) => row(i % 3 ? "BTC-USDT" : "ETH-USDT", 5000 + i),
    );
    const preds = rows.map(pred);
    const base = { stream: "t", partition: 0, states: [], counters: [] };
    await s.commitBatch({
      ...base,
      nextOffset: 600,
      pageId: "t.0.0",
      rows: [],
      predictions: preds.slice(0, 600),
    });
    await s.commitBatch({
      ...base,
      nextOffset: 1000,
      pageId: "t.0.600",
      rows: [],
      predictions: preds.slice(600),
    });
    const ids = [
      ...predictionCursors("t.0.0", preds.slice(0, 600)),
      ...predictionCursors("t.0.600", preds.slice(600)),
    ];
    const all = [];
    for await (const x of s.predictionsAfter(null)) all.push(x);
    assert.deepEqual(all.map((x) => x.id), ids, "the cursors the hub computes are the stored ones");
    assert.deepEqual(all.map((x) => x.prediction.ts_ms), preds.map((p) => p.ts_ms));
    // Resume from the middle of a page and from a page's last record.
    for (const k of [0, 399, 400, 599, 750]) {
      const rest = [];
      for await (const x of s.predictionsAfter(ids[k])) rest.push(x.prediction.ts_ms);
      assert.deepEqual(rest, preds.slice(k + 1).map((p) => p.ts_ms), `after #${k}`);
    }
    const eth = [];
    for await (const x of s.predictionsAfter(null, { symbol: "ETH-USDT" })) eth.push(x);
    assert.equal(eth.length, preds.filter((p) => p.symbol === "ETH-USDT").length);
    const after = [];
    for await (const x of s.predictionsAfter(eth[10].id, { symbol: "ETH-USDT" })) after.push(x);
    assert.equal(after.length, eth.length - 11);
    assert.equal(parseCursor("garbage"), null);
  } finally {
    s.close();
  }
});

Deno.test("kv: predictions from the API join the history, with counters of their own", async () => {
  const s = await memStore();
  try {
    const p = { ...pred(row("BTC-USDT", 42)), source: "api", is_anomaly: true };
    await s.appendPredictions([p], "api.1");
    assert.deepEqual(await s.latestPredictions({ limit: 5 }), [p]);
    assert.deepEqual(await s.latestPredictions({ limit: 5, symbol: "BTC-USDT" }), [p]);
    // Their own counters: manual tests stay out of the stream's totals and rates.
    assert.deepEqual(await s.counters(), { "api_pred/BTC-USDT": 1, "api_anomaly/BTC-USDT": 1 });
  } finally {
    s.close();
  }
});

Deno.test("kv: a writer that lost its partition cannot overwrite the new owner's commit", async () => {
  const s = await memStore();
  try {
    const base = {
      stream: "topic",
      partition: 1,
      states: [],
      rows: [],
      predictions: [],
      counters: [],
    };
    const a = await s.loadOffsetEntry("topic", 1);
    assert.deepEqual(a, { offset: null, versionstamp: null });
    const v1 = await s.commitBatch({
      ...base,
      nextOffset: 10,
      pageId: "a",
      expectOffsetVersion: a.versionstamp,
    });
    // B takes the partition over after A's first commit and commits.
    const b = await s.loadOffsetEntry("topic", 1);
    assert.equal(b.offset, 10);
    await s.commitBatch({
      ...base,
      nextOffset: 20,
      pageId: "b",
      expectOffsetVersion: b.versionstamp,
    });
    // A, still believing it owns the partition, tries to commit from its last version.
    await assert.rejects(
      () => s.commitBatch({ ...base, nextOffset: 15, pageId: "a2", expectOffsetVersion: v1 }),
      PartitionLostError,
    );
    assert.equal(await s.loadOffset("topic", 1), 20);
  } finally {
    s.close();
  }
});
