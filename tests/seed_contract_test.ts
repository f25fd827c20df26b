/**
 * The seed's HTTP contract (../shared/seed-contract.md) against a running
 * Sentinel: every seed path's answer validated with JSON Schemas written by
 * hand from that document (tests/seed_contract/schemas.json, not generated
 * from Sentinel's code), on a server with every role and a trained model,
 * and on a server with no model and no prediction yet. Units the schemas
 * cannot say are checked from their definitions (percent = 100 ×
 * anomalies / predictions, two decimals; newest last).
 */
// deno-lint-ignore-file no-explicit-any -- response bodies are loose JSON checked by the schemas
import assert from "node:assert/strict";
import { Ajv, type ValidateFunction } from "ajv";
import { FEATURE_NAMES } from "../lib/contracts.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { Sentinel } from "../sentinel.ts";
import { startWebServer } from "../routes/app.ts";
import { Store } from "../store/kv.ts";
import { tempKvPath, testConfig, testWebContext, waitFor } from "./helpers.ts";

const SCHEMAS = JSON.parse(
  await Deno.readTextFile(new URL("./seed_contract/schemas.json", import.meta.url)),
) as Record<string, object>;
const ajv = new Ajv({ allErrors: true, strict: false });
const validators: Record<string, ValidateFunction> = {};
for (const [name, schema] of Object.entries(SCHEMAS)) {
  if (name.startsWith("$")) continue;
  validators[name] = ajv.compile(schema);
}

function assertContract(name: string, body: unknown): void {
  const v = validators[name];
  assert.ok(v, `no schema ${name}`);
  assert.ok(v(body), `${name} breaks the seed contract: ${JSON.stringify(v.errors, null, 1)}`);
}

async function get(base: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path);
  return { status: res.status, body: await res.json() };
}

const twoDecimals = (x: number) => Math.abs(x * 100 - Math.round(x * 100)) < 1e-6;

Deno.test("seed contract: every seed path on a running Sentinel with a model", async () => {
  const kv = await tempKvPath();
  const sentinel = await Sentinel.start(
    testConfig({
      KV_PATH: kv.path,
      EVENT_FREQUENCY_SECONDS: "0.05",
      BACKFILL_SECONDS: "60",
      MIN_TRAINING_ROWS: "2000",
      N_ESTIMATORS: "50",
      ANOMALY_PROBABILITY: "0.03",
    }),
    ["source", "worker", "trainer", "web"],
    {
      port: 0,
      hostname: "127.0.0.1",
      logger: () => memoryLogger(),
      reportEveryMs: 0,
      trainerPollMs: 100,
      modelPollMs: 100,
    },
  );
  const base = `http://127.0.0.1:${sentinel.port}`;
  try {
    await waitFor("a model", async () => (await get(base, "/health")).body.model_loaded, 60_000);
    await waitFor("200 predictions", async () => {
      return (await get(base, "/stats")).body.total_predictions >= 200;
    }, 60_000);

    const health = await get(base, "/health");
    assert.equal(health.status, 200);
    assertContract("health", health.body);
    assert.equal(health.body.status, "ok");

    // POST /predict: the seed's request, 200 with the seed's fields; 422 on each input rule.
    const ok = await fetch(`${base}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        symbol: "BTC-USDT",
        z_score_price: 4.5,
        z_score_log_return: 3.8,
        z_score_volume: 1.5,
        rolling_price_std: 0.008,
        rolling_volume_std: 25,
      }),
    });
    assert.equal(ok.status, 200);
    assertContract("predict", await ok.json());
    for (
      const bad of [
        { rolling_price_std: -0.1 },
        { z_score_price: "NaN" },
        { z_score_volume: null },
        { rolling_volume_std: -1 },
      ]
    ) {
      const r = await fetch(`${base}/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          symbol: "BTC-USDT",
          z_score_price: 1,
          z_score_log_return: 1,
          z_score_volume: 1,
          rolling_price_std: 0.01,
          rolling_volume_std: 0.5,
          ...bad,
        }),
      });
      assert.equal(r.status, 422, JSON.stringify(bad));
      await r.body?.cancel();
    }

    // /latest-predictions: an array, newest last, default limit 100, limit and symbol honoured.
    const latest = await get(base, "/latest-predictions");
    assert.equal(latest.status, 200);
    assertContract("latest-predictions", latest.body);
    assert.equal(latest.body.length, 100);
    for (let i = 1; i < latest.body.length; i++) {
      assert.ok(latest.body[i - 1].ts_ms <= latest.body[i].ts_ms, "newest last");
    }
    const eth = await get(base, "/latest-predictions?limit=7&symbol=ETH-USDT");
    assertContract("latest-predictions", eth.body);
    assert.equal(eth.body.length, 7);
    assert.ok(eth.body.every((p: any) => p.symbol === "ETH-USDT"));
    for (const q of ["limit=0", "limit=501", "limit=x"]) {
      assert.equal((await get(base, `/latest-predictions?${q}`)).status, 422, q);
    }

    // /stats: rates in percent (2 decimals), per_symbol with count/anomalies/rate/avg_score.
    // Manual tests (the /predict calls above) are not counted: wait for the stream's own anomalies.
    await waitFor("a flagged anomaly of the stream", async () => {
      return (await get(base, "/stats")).body.total_anomalies > 0;
    }, 60_000);
    const stats = await get(base, "/stats");
    assert.equal(stats.status, 200);
    assertContract("stats", stats.body);
    const s = stats.body;
    assert.ok(twoDecimals(s.anomaly_rate));
    // The counters move between reads, so compare with a tolerance of a few predictions.
    assert.ok(
      Math.abs(s.anomaly_rate - 100 * s.total_anomalies / s.total_predictions) < 0.01,
      `anomaly_rate ${s.anomaly_rate} is not a percentage of ${s.total_anomalies}/${s.total_predictions}`,
    );
    assert.ok(s.total_anomalies > 0, "3 % injected anomalies: some are flagged");
    assert.deepEqual(Object.keys(s.per_symbol).sort(), ["BNB-USDT", "BTC-USDT", "ETH-USDT"]);
    for (const [sym, v] of Object.entries<any>(s.per_symbol)) {
      assert.ok(twoDecimals(v.anomaly_rate), sym);
      const expected = v.count ? 100 * v.anomalies / v.count : 0;
      assert.ok(Math.abs(v.anomaly_rate - expected) <= 0.005 + 1e-9, `${sym} rate in percent`);
    }
    assert.ok(s.score_percentiles.p25 <= s.score_percentiles.p50);
    assert.ok(s.score_percentiles.p95 <= s.score_percentiles.p99);
    assert.deepEqual(Object.keys(s.feature_stats).sort(), [...FEATURE_NAMES].sort());

    // /system-status: the API's own entry is named exactly "API" and is online.
    const status = await get(base, "/system-status");
    assert.equal(status.status, 200);
    assertContract("system-status", status.body);
    const api = status.body.services.find((x: any) => x.name === "API");
    assert.equal(api.status, "online");
    assert.ok(api.response_time_ms >= 0);

    // /model-info: loaded, the seed's field names, five scaler means and stds in feature order.
    const info = await get(base, "/model-info");
    assert.equal(info.status, 200);
    assertContract("model-info", info.body);
    assert.equal(info.body.loaded, true);
    assert.deepEqual(info.body.feature_names, [...FEATURE_NAMES]);
    assert.equal(info.body.n_estimators, 50);
    assert.ok(info.body.scaler_stds.every((x: number) => x > 0));
    assert.ok(info.body.model_file_size_kb > 0);
    assert.ok(!Number.isNaN(Date.parse(info.body.model_file_modified)));
  } finally {
    await sentinel.stop();
    await kv.cleanup();
  }
});

Deno.test("seed contract: before any model or prediction, the seed's zeros and loaded: false", async () => {
  const kv = await tempKvPath();
  const store = await Store.open(kv.path, { retentionMs: 3_600_000 });
  const ac = new AbortController();
  const server = await startWebServer(testWebContext(store, testConfig({ KV_PATH: kv.path })), {
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    app: { logger: memoryLogger() },
  });
  const base = `http://127.0.0.1:${server.port}`;
  try {
    const health = await get(base, "/health");
    assertContract("health", health.body);
    assert.equal(health.body.status, "waiting_for_model");

    const latest = await get(base, "/latest-predictions");
    assertContract("latest-predictions", latest.body);
    assert.deepEqual(latest.body, []);

    const stats = await get(base, "/stats");
    assertContract("stats", stats.body);
    assert.equal(stats.body.total_predictions, 0);
    assert.equal(stats.body.anomaly_rate, 0);
    assert.equal(stats.body.avg_score, 0);
    assert.deepEqual(stats.body.per_symbol, {});

    const status = await get(base, "/system-status");
    assertContract("system-status", status.body);

    const info = await get(base, "/model-info");
    assert.equal(info.status, 200);
    assertContract("model-info", info.body);
    assert.equal(info.body.loaded, false);

    const predict = await fetch(`${base}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        z_score_price: 1,
        z_score_log_return: 1,
        z_score_volume: 1,
        rolling_price_std: 0.01,
        rolling_volume_std: 0.5,
      }),
    });
    assert.equal(predict.status, 503);
    await predict.body?.cancel();
  } finally {
    ac.abort();
    await server.finished;
    store.close();
    await kv.cleanup();
  }
});
