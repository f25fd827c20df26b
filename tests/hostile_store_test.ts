/**
 * No stored value can break a page (issue 11, audit item 1): predictions
 * written before the edge checks existed, with a time no `Date` can hold
 * (ts_ms 9e15) and a formula as `source`, sit in KV; every read path still
 * answers 200 with every row, the CSV's time cell is empty and its text cells
 * cannot run as formulas.
 */
import assert from "node:assert/strict";
import type { Prediction } from "../lib/contracts.ts";
import { parseCsv } from "../islands/shared/csv.ts";
import { withDashboardApp } from "./app_helpers.ts";

const pred = (ts_ms: number, source: string, i: number): Prediction => ({
  symbol: "BTC-USDT",
  ts_ms,
  z_score_price: 1,
  z_score_log_return: -0.5,
  z_score_volume: 0.2,
  rolling_price_std: 0.001,
  rolling_volume_std: 0.5,
  price: 43000,
  volume: 1,
  anomaly_score: -0.02,
  severity: 0.55,
  is_anomaly: i === 0,
  anomaly_type: null,
  model_id: "m-1",
  label: null,
  trade_id: 100 + i,
  source,
});

Deno.test("hostile stored predictions: export, analytics, stats and history still answer", async () => {
  await withDashboardApp(async ({ app, store, logs: errors }) => {
    const bad = [
      pred(9e15, "binance", 0),
      pred(1_710_000_000_000, '=HYPERLINK("http://evil.example","x")', 1),
      pred(1_710_000_000_100, "@SUM(A1)", 2),
    ];
    await store.commitBatch({
      stream: "test",
      partition: 0,
      nextOffset: 3,
      pageId: "test.0.0",
      states: [],
      rows: [],
      predictions: bad,
      counters: [[["pred", "BTC-USDT"], 3], [["anomaly", "BTC-USDT"], 1]],
    });
    const csv = await app.request("/export.csv");
    assert.equal(csv.status, 200);
    const rows = parseCsv(await csv.text());
    assert.equal(rows.length, 4, "the header and every row");
    const col = (name: string) => rows[0].indexOf(name);
    const future = rows.find((r) => r[col("ts_ms")] === "9000000000000000")!;
    assert.equal(future[col("time")], "", "no Date holds 9e15: an empty cell");
    const sources = rows.slice(1).map((r) => r[col("source")]).sort();
    assert.deepEqual(sources, ['\'=HYPERLINK("http://evil.example","x")', "'@SUM(A1)", "binance"]);
    // Negative numbers stay numbers.
    assert.ok(rows.slice(1).every((r) => r[col("anomaly_score")] === "-0.02"));

    for (
      const p of [
        "/analytics",
        "/stats",
        "/api/v1/stats",
        "/latest-predictions",
        "/api/v1/latest-predictions",
        "/",
        "/live",
      ]
    ) {
      const res = await app.request(p);
      assert.equal(res.status, 200, `${p}: ${res.status}`);
      await res.body?.cancel();
    }
    assert.deepEqual(errors.filter((e) => /failed/.test(e)), []);
  });
});
