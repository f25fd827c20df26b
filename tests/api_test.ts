/**
 * The HTTP API over real HTTP: a server from `startWebServer` on port 0 over
 * a temporary KV, every endpoint's shapes, filters, limits and statuses, the
 * error contract, the auth paths, the generated OpenAPI document, and the
 * seed README's curl payload against a model trained on the default
 * simulated stream.
 */
// deno-lint-ignore-file no-explicit-any -- response bodies are read as loose JSON; the assertions check their shape
import assert from "node:assert/strict";
import { parseCsv } from "../islands/shared/csv.ts";
import SwaggerParser from "@apidevtools/swagger-parser";
import { FEATURE_NAMES, type FeatureRow, type Prediction } from "../lib/contracts.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import type { Bundle } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { Hub } from "../pipeline/hub.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { ModelHolder } from "../pipeline/models.ts";
import type { ProcessorStats } from "../pipeline/processor.ts";
import type { SourceStatus } from "../pipeline/sources.ts";
import { Trainer } from "../pipeline/trainer.ts";
import { keys, Store } from "../store/kv.ts";
import type { KafkaView, WebContext } from "../routes/context.ts";
import { createApp, startWebServer } from "../routes/app.ts";
import { tempKvPath, testConfig, testWebContext, waitFor } from "./helpers.ts";

const API_KEY = "test-api-key-0123456789";
const T0 = 1_710_000_000_000;

// ---- a model trained on the default simulated stream (shared by the tests) ----

interface Trained {
  rows: FeatureRow[];
  bundle: Bundle;
}
let trained: Trained | null = null;

/**
 * DESIGN defaults: BTC/ETH/BNB, seed 42, ANOMALY_PROBABILITY 0.01, one tick
 * per 0.2 s, WINDOW 60 s, MIN_WINDOW_EVENTS 10, 200 trees, contamination
 * 0.01, on the 600 s the simulator backfills at start (9000 events).
 */
function defaultModel(id = "m-default"): Trained {
  if (trained && trained.bundle.id === id) return trained;
  const config = testConfig({});
  const sim = new Simulator({
    symbols: config.symbols,
    seed: config.seed,
    anomalyProbability: config.anomalyProbability,
  });
  const engine = new FeatureEngine({
    windowSeconds: config.windowSeconds,
    minWindowEvents: config.minWindowEvents,
  });
  const rows: FeatureRow[] = [];
  for (
    const e of simulatedEvents(sim, {
      startMs: T0,
      stepMs: config.eventFrequencySeconds * 1000,
      endMs: T0 + 600_000,
    })
  ) rows.push(engine.update(e));
  const bundle = trainBundle(rows, {
    id,
    createdAt: new Date(T0 + 600_000).toISOString(),
    nEstimators: 200,
    contamination: config.contamination,
    seed: config.seed,
  });
  const t = { rows, bundle };
  if (id === "m-default") trained = t;
  return t;
}

// ---- a running server over a temporary KV ----

interface Harness {
  base: string;
  ctx: WebContext;
  store: Store;
  hub: Hub;
  logs: string[];
  /** activates the default model */
  activate(): Promise<Bundle>;
}

async function withServer(
  opts: {
    apiKey?: string;
    ctx?: Partial<WebContext>;
  },
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const { path, cleanup } = await tempKvPath();
  const env: Record<string, string> = { KV_PATH: path };
  if (opts.apiKey) env.SENTINEL_API_KEY = opts.apiKey;
  const config = testConfig(env);
  const store = await Store.open(path, { retentionMs: 3_600_000 });
  const logs: string[] = [];
  const hub = new Hub();
  const ctx = testWebContext(store, config, {
    hub,
    models: new ModelHolder(store, memoryLogger(logs)),
    ...opts.ctx,
  });
  const ac = new AbortController();
  const server = await startWebServer(ctx, {
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    app: { logger: memoryLogger(logs) },
  });
  const h: Harness = {
    base: `http://127.0.0.1:${server.port}`,
    ctx,
    store,
    hub,
    logs,
    async activate() {
      const { bundle } = defaultModel();
      await store.saveBundle(bundle);
      await store.activate(bundle.id, new Date().toISOString());
      await ctx.models.refresh();
      return bundle;
    },
  };
  try {
    await fn(h);
  } finally {
    ac.abort();
    await server.finished;
    store.close();
    await cleanup();
  }
}

async function getJson(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: any; res: Response }> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* not JSON: the assertion on body will say so */ }
  return { status: res.status, body, res };
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  getJson(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

/** An error body: JSON `{error, detail}` with no trace of a stack. */
function assertErrorBody(body: unknown, status: number) {
  assert.equal(typeof body, "object", `status ${status}: body is not JSON: ${body}`);
  const b = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(b).sort(), ["detail", "error"]);
  assert.equal(typeof b.error, "string");
  const text = JSON.stringify(b);
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|file:\/\/|\.ts:\d+/, "looks like a stack trace");
}

function fieldsOf(body: any): string[] {
  assert.ok(Array.isArray(body.detail), `detail is not a field list: ${JSON.stringify(body)}`);
  return body.detail.map((d: { field: string }) => d.field).sort();
}

const SEED_PAYLOAD = {
  z_score_price: 4.5,
  z_score_log_return: 3.8,
  z_score_volume: 1.5,
  rolling_price_std: 0.008,
  rolling_volume_std: 25,
};

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function prediction(over: Partial<Prediction> & { ts_ms: number }): Prediction {
  return {
    symbol: "BTC-USDT",
    z_score_price: 0,
    z_score_log_return: 0,
    z_score_volume: 0,
    rolling_price_std: 0.01,
    rolling_volume_std: 0.5,
    anomaly_score: 0.1,
    severity: 0.4,
    is_anomaly: false,
    model_id: "m-x",
    label: null,
    ...over,
  };
}

/** Sends one raw HTTP/1.1 request line (methods fetch() refuses) and returns the whole answer. */
async function rawHttp(base: string, requestLine: string): Promise<string> {
  const url = new URL(base);
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  try {
    await conn.write(
      new TextEncoder().encode(`${requestLine}\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`),
    );
    let text = "";
    const buf = new Uint8Array(8192);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

// ---- tests ----

Deno.test("before a model: /health waits, /predict and /api/v1/model-info answer 503 with a reason, /model-info says loaded: false", async () => {
  await withServer({}, async ({ base }) => {
    const h = await getJson(`${base}/health`);
    assert.equal(h.status, 200);
    assert.equal(h.body.status, "waiting_for_model");
    assert.equal(h.body.model_loaded, false);
    assert.equal(h.body.model_id, undefined);
    assert.equal(typeof h.body.uptime_s, "number");

    const p = await post(`${base}/predict`, SEED_PAYLOAD);
    assert.equal(p.status, 503);
    assertErrorBody(p.body, 503);
    assert.match(p.body.detail, /no model is active yet/);

    const m = await getJson(`${base}/api/v1/model-info`);
    assert.equal(m.status, 503);
    assertErrorBody(m.body, 503);
    // The seed's path answers 200 with `loaded: false` and nulls, as the seed does.
    const seed = await getJson(`${base}/model-info`);
    assert.equal(seed.status, 200);
    assert.equal(seed.body.loaded, false);
    assert.equal(seed.body.scaler_means, null);
  });
});

Deno.test("/predict: the seed README's payload is an anomaly, a quiet vector is not; both join the history", async () => {
  await withServer({}, async ({ base, activate, store }) => {
    const bundle = await activate();
    const h = await getJson(`${base}/health`);
    assert.deepEqual({ ...h.body, uptime_s: 0 }, {
      status: "ok",
      model_loaded: true,
      model_id: bundle.id,
      uptime_s: 0,
    });

    const seed = await post(`${base}/predict`, SEED_PAYLOAD);
    assert.equal(seed.status, 200);
    assert.equal(seed.body.is_anomaly, true);
    assert.ok(seed.body.anomaly_score < 0, `score ${seed.body.anomaly_score}`);
    assert.equal(seed.body.model_id, bundle.id);
    assert.equal(seed.body.symbol, "API-MANUAL");
    assert.deepEqual(seed.body.features, SEED_PAYLOAD);
    assert.ok(seed.body.severity > 0 && seed.body.severity <= 1);
    assert.equal(new Date(seed.body.timestamp).getTime(), seed.body.ts_ms);

    // The quiet vector: each feature's median over the stream the model was trained on.
    const usable = defaultModel().rows.filter((r) => !r.warm_up);
    const quiet = Object.fromEntries(
      FEATURE_NAMES.map((n) => [n, median(usable.map((r) => r[n]))]),
    );
    const q = await post(`${base}/predict`, { symbol: "ETH-USDT", ...quiet });
    assert.equal(q.status, 200);
    assert.equal(q.body.is_anomaly, false);
    assert.ok(q.body.anomaly_score > 0);
    assert.equal(q.body.symbol, "ETH-USDT");
    // decision_function = score_samples − offset and severity = −score_samples
    assert.ok(Math.abs(q.body.anomaly_score + q.body.severity - -bundle.offset) < 1e-12);

    const latest = await getJson(`${base}/api/v1/latest-predictions?limit=10`);
    assert.equal(latest.body.count, 2);
    const [newest, older] = latest.body.predictions;
    assert.equal(newest.symbol, "ETH-USDT");
    assert.equal(older.symbol, "API-MANUAL");
    for (const p of latest.body.predictions) assert.equal(p.source, "api");
    assert.equal(older.is_anomaly, true);
    // Manual tests have their own counters: the stream's totals, rates and recent statistics
    // (both /stats shapes) leave them out, and /events sends no alert for them.
    assert.equal(await store.counter("api_pred", "API-MANUAL"), 1);
    assert.equal(await store.counter("api_anomaly", "API-MANUAL"), 1);
    assert.equal(await store.counter("api_pred", "ETH-USDT"), 1);
    assert.equal(await store.counter("api_anomaly", "ETH-USDT"), 0);
    assert.equal(await store.counter("pred", "API-MANUAL"), 0);
    assert.equal(await store.counter("anomaly", "API-MANUAL"), 0);
    const v1 = await getJson(`${base}/api/v1/stats`);
    assert.equal(v1.body.total_predictions, 0);
    assert.equal(v1.body.total_anomalies, 0);
    assert.deepEqual(v1.body.by_symbol, {});
    assert.equal(v1.body.recent.count, 0);
    const seedStats = await getJson(`${base}/stats`);
    assert.equal(seedStats.body.total_predictions, 0);
    assert.equal(seedStats.body.anomaly_rate, 0);
    assert.deepEqual(seedStats.body.per_symbol, {});
    // Still in the history, with their source, and streamed as predictions.
    const apiOnly = latest.body.predictions.filter((p: { source?: string }) => p.source === "api");
    assert.equal(apiOnly.length, 2);
  });
});

Deno.test("/predict: concurrent requests are all stored once, each with its own id", async () => {
  await withServer({}, async ({ base, activate, store }) => {
    await activate();
    const n = 60;
    const answers = await Promise.all(
      Array.from(
        { length: n },
        (_, i) =>
          post(`${base}/predict`, { ...SEED_PAYLOAD, z_score_price: i / 10, symbol: "BNB-USDT" }),
      ),
    );
    assert.ok(answers.every((a) => a.status === 200));
    const ids = new Set(answers.map((a) => a.body.id));
    assert.equal(ids.size, n);
    const stored: Prediction[] = [];
    for await (const page of store.predictionPages()) stored.push(...page);
    assert.equal(stored.length, n);
    assert.deepEqual(
      stored.map((p) => p.z_score_price).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i / 10),
    );
    assert.equal(await store.counter("api_pred", "BNB-USDT"), n);
  });
});

Deno.test("/predict: 400, 413, 415 and 422 as JSON naming the fields, never a stack trace", async () => {
  await withServer({}, async ({ base, activate }) => {
    await activate();
    const url = `${base}/predict`;

    const missing = await post(url, { z_score_price: 1 });
    assert.equal(missing.status, 422);
    assertErrorBody(missing.body, 422);
    assert.deepEqual(fieldsOf(missing.body), [
      "rolling_price_std",
      "rolling_volume_std",
      "z_score_log_return",
      "z_score_volume",
    ]);

    const extra = await post(url, { ...SEED_PAYLOAD, z_score_prce: 1, note: "x" });
    assert.equal(extra.status, 422);
    assert.deepEqual(fieldsOf(extra.body), ["note", "z_score_prce"]);
    assert.ok(extra.body.detail.every((d: { message: string }) => d.message === "unknown field"));

    // JSON has no NaN; the string "NaN", and 1e400 (which parses as Infinity), must be refused.
    const nan = await post(
      url,
      `{"z_score_price":"NaN","z_score_log_return":1e400,"z_score_volume":-1e400,` +
        `"rolling_price_std":"0.1","rolling_volume_std":null}`,
    );
    assert.equal(nan.status, 422);
    assert.deepEqual(fieldsOf(nan.body), [
      "rolling_price_std",
      "rolling_volume_std",
      "z_score_log_return",
      "z_score_price",
      "z_score_volume",
    ]);
    for (const d of nan.body.detail) assert.match(d.message, /finite number/);

    const range = await post(url, {
      ...SEED_PAYLOAD,
      rolling_price_std: -0.1,
      z_score_volume: 2e6,
    });
    assert.equal(range.status, 422);
    assert.deepEqual(fieldsOf(range.body), ["rolling_price_std", "z_score_volume"]);

    const sym = await post(url, { ...SEED_PAYLOAD, symbol: "btc" });
    assert.equal(sym.status, 422);
    assert.deepEqual(fieldsOf(sym.body), ["symbol"]);

    const array = await post(url, [1, 2, 3]);
    assert.equal(array.status, 422);
    assert.deepEqual(fieldsOf(array.body), ["(body)"]);

    const malformed = await post(url, '{"z_score_price": 4.5,');
    assert.equal(malformed.status, 400);
    assertErrorBody(malformed.body, 400);

    const text = await post(url, JSON.stringify(SEED_PAYLOAD), { "content-type": "text/plain" });
    assert.equal(text.status, 415);
    assertErrorBody(text.body, 415);

    const noType = await getJson(url, { method: "POST", body: JSON.stringify(SEED_PAYLOAD) });
    // fetch labels a string body text/plain itself: still not JSON
    assert.equal(noType.status, 415);

    const big = JSON.stringify({ ...SEED_PAYLOAD, pad: "x".repeat(70_000) });
    const tooBig = await post(url, big);
    assert.equal(tooBig.status, 413);
    assertErrorBody(tooBig.body, 413);

    // Without Content-Length (chunked): the bytes actually read are counted.
    const bytes = new TextEncoder().encode(big);
    const chunked = await getJson(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < bytes.length; i += 8192) c.enqueue(bytes.slice(i, i + 8192));
          c.close();
        },
      }),
    });
    assert.equal(chunked.status, 413);
    assertErrorBody(chunked.body, 413);

    // A small chunked body is read and validated normally.
    const okBytes = new TextEncoder().encode(JSON.stringify(SEED_PAYLOAD));
    const smallChunked = await getJson(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(okBytes.slice(0, 10));
          c.enqueue(okBytes.slice(10));
          c.close();
        },
      }),
    });
    assert.equal(smallChunked.status, 200);
    assert.equal(smallChunked.body.is_anomaly, true);
  });
});

Deno.test("unknown routes are 404 JSON, wrong methods 405 with Allow; unexpected errors a generic 500", async () => {
  await withServer({}, async ({ base, ctx, logs }) => {
    const nf = await getJson(`${base}/no/such/route`);
    assert.equal(nf.status, 404);
    assertErrorBody(nf.body, 404);
    assert.match(nf.res.headers.get("content-type") ?? "", /application\/json/);

    const wrong = await getJson(`${base}/predict`);
    assert.equal(wrong.status, 405);
    assertErrorBody(wrong.body, 405);
    assert.equal(wrong.res.headers.get("allow"), "POST");

    // TRACE (and TRACK, CONNECT) cannot go through fetch(), so over a raw socket: 405, not 500.
    for (const method of ["TRACE", "TRACK"]) {
      const raw = await rawHttp(base, `${method} /health HTTP/1.1`);
      assert.match(raw, /^HTTP\/1\.1 405 /, raw);
      assert.match(raw, /\r\nallow: GET\r\n/i, raw);
      assert.match(raw, /"error":"method not allowed"/);
    }
    assert.ok(!logs.some((l) => /Method is forbidden/.test(l)), logs.join("\n"));

    // Break the store under the running server: the client sees a generic 500, the log the cause.
    const real = ctx.store.counters.bind(ctx.store);
    ctx.store.counters = () => Promise.reject(new Error("disk on fire"));
    try {
      const boom = await getJson(`${base}/api/v1/stats`);
      assert.equal(boom.status, 500);
      assertErrorBody(boom.body, 500);
      assert.doesNotMatch(JSON.stringify(boom.body), /disk on fire/);
      assert.ok(logs.some((l) => l.includes("disk on fire")), "the cause is logged");
    } finally {
      ctx.store.counters = real;
    }
  });
});

Deno.test("/latest-predictions: newest first, limit, symbol filter, 422 on bad parameters", async () => {
  await withServer({}, async ({ base, store }) => {
    // Two batches whose times interleave: the answer is sorted by time, not by page.
    const a = Array.from(
      { length: 30 },
      (_, i) => prediction({ ts_ms: T0 + i * 2, symbol: i % 3 === 0 ? "ETH-USDT" : "BTC-USDT" }),
    );
    const b = Array.from(
      { length: 30 },
      (_, i) => prediction({ ts_ms: T0 + i * 2 + 1, symbol: "BNB-USDT" }),
    );
    await store.appendPredictions(a, "t.a");
    await store.appendPredictions(b, "t.b");

    const d = await getJson(`${base}/api/v1/latest-predictions`);
    assert.equal(d.status, 200);
    assert.equal(d.body.count, 50); // the default limit
    const ts = d.body.predictions.map((p: Prediction) => p.ts_ms);
    assert.deepEqual(ts, Array.from({ length: 50 }, (_, i) => T0 + 59 - i));

    const five = await getJson(`${base}/api/v1/latest-predictions?limit=5&symbol=ETH-USDT`);
    assert.equal(five.body.count, 5);
    assert.ok(five.body.predictions.every((p: Prediction) => p.symbol === "ETH-USDT"));
    assert.deepEqual(
      five.body.predictions.map((p: Prediction) => p.ts_ms),
      [27, 24, 21, 18, 15].map((i) => T0 + i * 2),
    );

    const all = await getJson(`${base}/api/v1/latest-predictions?limit=500`);
    assert.equal(all.body.count, 60);

    const none = await getJson(`${base}/api/v1/latest-predictions?symbol=XRP-USDT`);
    assert.deepEqual(none.body, { count: 0, predictions: [] });

    for (
      const q of ["limit=0", "limit=501", "limit=abc", "limit=2.5", "symbol=btc-usdt", "symbol=BTC"]
    ) {
      const r = await getJson(`${base}/api/v1/latest-predictions?${q}`);
      assert.equal(r.status, 422, q);
      assertErrorBody(r.body, 422);
      assert.deepEqual(fieldsOf(r.body), [q.split("=")[0]], q);
    }
  });
});

Deno.test("/stats: totals from counters, per-symbol rates, percentiles and feature stats of the newest predictions", async () => {
  await withServer({}, async ({ base, store }) => {
    const empty = await getJson(`${base}/api/v1/stats`);
    assert.equal(empty.status, 200);
    assert.equal(empty.body.total_predictions, 0);
    assert.equal(empty.body.anomaly_rate, 0);
    assert.equal(empty.body.recent.count, 0);
    assert.equal(empty.body.recent.score_percentiles, null);

    // 11 predictions with scores 0.0, 0.1, ..., 1.0 shuffled over two symbols.
    const scores = [0.5, 0.2, 1.0, 0.0, 0.7, 0.3, 0.9, 0.1, 0.6, 0.4, 0.8];
    const preds = scores.map((s, i) =>
      prediction({
        ts_ms: T0 + i,
        symbol: i < 4 ? "ETH-USDT" : "BTC-USDT",
        anomaly_score: s - 0.15,
        is_anomaly: s < 0.15,
        z_score_price: i, // 0..10: mean 5, sample std sqrt(11)
      })
    );
    // As the worker commits them: pages and per-symbol counters in one batch.
    const per = (kind: string, sym: string, f: (p: Prediction) => boolean) =>
      [[kind, sym], preds.filter((p) => p.symbol === sym && f(p)).length] as [string[], number];
    await store.commitBatch({
      stream: "embedded",
      partition: 1,
      nextOffset: 11,
      pageId: "t.stats",
      states: [],
      rows: [],
      predictions: preds,
      counters: ["ETH-USDT", "BTC-USDT"].flatMap((sym) => [
        per("pred", sym, () => true),
        per("anomaly", sym, (p) => p.is_anomaly),
      ]),
    });
    // A manual test (POST /predict) is in the history but not in the statistics.
    await store.appendPredictions(
      [prediction({
        ts_ms: T0 + 20,
        symbol: "BTC-USDT",
        anomaly_score: -9,
        is_anomaly: true,
        source: "api",
      })],
      "t.manual",
    );
    // Counters kept by the worker count too.
    await store.commitBatch({
      stream: "embedded",
      partition: 0,
      nextOffset: 1,
      pageId: "x",
      states: [],
      rows: [],
      predictions: [],
      counters: [[["events", "simulated"], 40], [["rejected", "simulated"], 2], [["rows"], 40], [
        ["warmup"],
        5,
      ]],
    });

    const s = (await getJson(`${base}/api/v1/stats`)).body;
    assert.equal(s.total_predictions, 11);
    assert.equal(s.total_anomalies, 2); // scores 0.0 and 0.1
    assert.equal(s.anomaly_rate, 2 / 11);
    assert.deepEqual(s.by_symbol["ETH-USDT"], { predictions: 4, anomalies: 1, anomaly_rate: 0.25 });
    assert.deepEqual(s.by_symbol["BTC-USDT"], {
      predictions: 7,
      anomalies: 1,
      anomaly_rate: 1 / 7,
    });
    assert.deepEqual(s.events, {
      received: { simulated: 40 },
      rejected: { simulated: 2 },
      feature_rows: 40,
      warm_up_rows: 5,
      unscored_rows: 0,
    });
    const r = s.recent;
    assert.equal(r.window, 1000);
    assert.equal(r.count, 11);
    assert.equal(r.from_ts, T0);
    assert.equal(r.to_ts, T0 + 10);
    // Sorted scores are k/10 − 0.15 (k = 0..10); quantile q sits at rank 10q: k = 10q.
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    near(r.score_percentiles.min, -0.15);
    near(r.score_percentiles.p50, 0.35);
    near(r.score_percentiles.p25, 0.1);
    near(r.score_percentiles.p5, 0.05 - 0.15);
    near(r.score_percentiles.p99, 0.99 - 0.15);
    near(r.score_percentiles.max, 0.85);
    near(r.features.z_score_price.mean, 5);
    near(r.features.z_score_price.std, Math.sqrt(11)); // Σ(i−5)² = 110, /10
    assert.equal(r.features.z_score_price.min, 0);
    assert.equal(r.features.z_score_price.max, 10);
    assert.equal(r.features.rolling_volume_std.std, 0);
  });
});

Deno.test("/model-info: the active bundle's parameters, scaler by feature, report and size", async () => {
  await withServer({}, async ({ base, activate, store }) => {
    const bundle = await activate();
    const { status, body } = await getJson(`${base}/api/v1/model-info`);
    assert.equal(status, 200);
    assert.equal(body.model_id, bundle.id);
    assert.equal(body.created_at, bundle.created_at);
    assert.equal(body.loaded_in_process, true);
    assert.deepEqual(body.params, bundle.params);
    assert.equal(body.params.n_estimators, 200);
    assert.equal(body.offset, bundle.offset);
    assert.deepEqual(Object.keys(body.scaler.mean), [...FEATURE_NAMES]);
    FEATURE_NAMES.forEach((n, i) => {
      assert.equal(body.scaler.mean[n], bundle.scaler.mean[i]);
      assert.equal(body.scaler.scale[n], bundle.scaler.scale[i]);
    });
    assert.deepEqual(body.training, bundle.training);
    assert.equal(body.training.report.kind, "holdout");
    const [entry] = await store.listModels();
    assert.deepEqual(body.size, { bytes: entry.bytes, chunks: entry.chunks });
    assert.ok(body.size.bytes > 100_000, "200 trees are hundreds of KB");
    assert.equal(body.trees, undefined);
    const active = await store.activeModel();
    assert.equal(body.activated_at, active!.active.activated_at);
  });
});

Deno.test("admin routes: 403 without a configured key, for every one of them", async () => {
  await withServer({}, async ({ base }) => {
    for (
      const [method, path] of [["GET", "/models"], ["POST", "/models/m-1/activate"], [
        "POST",
        "/model/retrain",
      ]]
    ) {
      const r = await getJson(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      assert.equal(r.status, 403, path);
      assertErrorBody(r.body, 403);
      assert.equal(
        r.body.detail,
        "set SENTINEL_API_KEY (16+ characters) to enable model administration",
      );
    }
  });
});

Deno.test("admin routes: 401 with WWW-Authenticate on a missing or wrong token; list, activate and retrain with the right one", async () => {
  await withServer({ apiKey: API_KEY }, async ({ base, activate, store, ctx }) => {
    const first = await activate();
    const auth = { authorization: `Bearer ${API_KEY}` };
    for (
      const headers of [
        {} as Record<string, string>,
        { authorization: `Bearer ${API_KEY}x` },
        { authorization: `Bearer ${API_KEY.slice(0, -1)}` },
        { authorization: `Basic ${btoa(`user:${API_KEY}`)}` },
        { authorization: API_KEY },
      ]
    ) {
      const r = await getJson(`${base}/models`, { headers });
      assert.equal(r.status, 401, JSON.stringify(headers));
      assertErrorBody(r.body, 401);
      assert.match(r.res.headers.get("www-authenticate") ?? "", /^Bearer/);
    }

    // A second bundle, stored but not active.
    const second = defaultModel("m-second").bundle;
    await store.saveBundle(second);

    const list = await getJson(`${base}/models`, { headers: auth });
    assert.equal(list.status, 200);
    assert.equal(list.body.active_id, first.id);
    assert.deepEqual(
      list.body.models.map((m: { id: string; active: boolean }) => [m.id, m.active]).sort(),
      [[first.id, true], [second.id, false]],
    );

    const unknown = await getJson(`${base}/models/m-nope/activate`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(unknown.status, 404);
    assertErrorBody(unknown.body, 404);

    const badId = await getJson(`${base}/models/${encodeURIComponent("../x")}/activate`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(badId.status, 422);

    const act = await getJson(`${base}/models/${second.id}/activate`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(act.status, 200);
    assert.equal(act.body.id, second.id);
    assert.equal(act.body.active, true);
    assert.equal((await store.activeModel())!.active.id, second.id);
    assert.equal(ctx.models.current!.id, second.id, "the scorer swapped at once");

    // A stored bundle with a missing chunk is refused and not activated.
    await store.kv.delete(keys.modelChunk(first.id, 0));
    const broken = await getJson(`${base}/models/${first.id}/activate`, {
      method: "POST",
      headers: auth,
    });
    assert.equal(broken.status, 409);
    assert.equal((await store.activeModel())!.active.id, second.id);

    // No trainer in this process: the request is left in KV.
    const before = Date.now();
    const rt = await getJson(`${base}/model/retrain`, { method: "POST", headers: auth });
    assert.equal(rt.status, 202);
    assert.equal(rt.body.status, "requested");
    const req = (await store.kv.get<{ reason: string; at: number }>(keys.control("retrain"))).value;
    assert.equal(req?.reason, "api");
    assert.ok(req!.at >= before);
  });
});

Deno.test("POST /model/retrain with a trainer in the process starts a fit that activates a new model", async () => {
  const { rows } = defaultModel();
  let trainer: Trainer | null = null;
  await withServer({ apiKey: API_KEY }, async (h) => {
    trainer = new Trainer(h.store, memoryLogger(), {
      minTrainingRows: 1000,
      maxWaitSeconds: 60,
      retrainIntervalSeconds: null,
      nEstimators: 50,
      contamination: 0.01,
      seed: 42,
      useWorker: false,
    });
    h.ctx.trainer = trainer;
    // In batches of 1 000, as the worker commits them (one atomic is at most 800 KB).
    for (let i = 0; i < rows.length; i += 1000) {
      await h.store.commitBatch({
        stream: "embedded",
        partition: 0,
        nextOffset: Math.min(rows.length, i + 1000),
        pageId: `rows.${i}`,
        states: [],
        rows: rows.slice(i, i + 1000),
        predictions: [],
        counters: [],
      });
    }
    const r = await getJson(`${h.base}/model/retrain`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    assert.equal(r.status, 202);
    assert.equal(r.body.status, "started");
    const active = await waitFor("the retrained model", () => h.store.activeModel());
    assert.match(active.active.id, /^m-\d+$/);
    assert.equal(trainer.status().runs, 1);
    const st = await getJson(`${h.base}/api/v1/system-status`);
    const t = st.body.services.find((s: { name: string }) => s.name === "trainer");
    assert.equal(t.status, "online");
    assert.match(t.detail, /idle/);
  });
});

Deno.test("/system-status: every local service with status, latency and detail", async () => {
  let now = Date.now();
  const worker: ProcessorStats = {
    batches: 10,
    events: 1000,
    predictions: 900,
    lastCommitAt: now - 2000,
    lastEventTs: now - 2000,
    lastLatencyMs: 4,
  };
  const source: SourceStatus = {
    name: "simulated",
    state: "live",
    events: 1000,
    lastEventAt: now - 2000,
    detail: "seed 42",
  };
  let kafkaUp = true;
  const kafka: KafkaView = {
    brokers: ["127.0.0.1:1"],
    topic: "crypto-market",
    probe: () =>
      kafkaUp
        ? Promise.resolve({ latencyMs: 3, brokers: 1, partitions: 3 })
        : Promise.reject(new Error("connect ECONNREFUSED")),
  };
  await withServer({
    ctx: {
      worker: { stats: () => worker },
      source: { status: () => source },
      kafka,
      now: () => now,
    },
  }, async ({ base, activate }) => {
    const byName = async () => {
      const r = await getJson(`${base}/api/v1/system-status`);
      assert.equal(r.status, 200);
      return {
        top: r.body,
        s: Object.fromEntries(r.body.services.map((x: any) => [x.name, x])) as Record<string, any>,
      };
    };
    let { top, s } = await byName();
    assert.deepEqual(Object.keys(s).sort(), [
      "api",
      "feature-worker",
      "kafka",
      "kv",
      "scorer",
      "source",
      "trainer",
    ]);
    for (const x of top.services) {
      assert.deepEqual(Object.keys(x).sort(), ["detail", "latency_ms", "name", "status"]);
    }
    assert.equal(s.api.status, "online");
    assert.equal(s.kv.status, "online");
    assert.equal(typeof s.kv.latency_ms, "number");
    assert.equal(s.scorer.status, "degraded");
    assert.match(s.scorer.detail, /waiting for model/);
    assert.equal(s["feature-worker"].status, "online");
    assert.equal(s["feature-worker"].latency_ms, 4);
    assert.equal(s.kafka.status, "online");
    assert.equal(s.kafka.latency_ms, 3);
    assert.equal(s.source.status, "online");
    assert.equal(s.trainer.status, "offline"); // no trainer here and no heartbeat
    assert.equal(top.status, "degraded");

    await activate();
    // The worker stalls while the source is live; Kafka goes away.
    now += 15_000;
    kafkaUp = false;
    ({ top, s } = await byName());
    assert.equal(s.scorer.status, "online");
    assert.equal(s["feature-worker"].status, "degraded");
    assert.match(s["feature-worker"].detail, /17\.0 s ago/);
    assert.equal(s.kafka.status, "offline");
    assert.match(s.kafka.detail, /ECONNREFUSED/);

    // A Binance source that is reconnecting.
    source.name = "binance";
    source.state = "reconnecting";
    source.binance = {
      state: "reconnecting",
      url: "ws://127.0.0.1:1/stream",
      connectedSince: null,
      lastMessageAt: now - 30_000,
      messages: 10,
      trades: 9,
      reconnects: 3,
      gaps: 7,
      duplicates: 0,
      resyncs: 2,
      overflow: 0,
      malformed: { invalid_json: 4, clock_skew: 1 },
      lastError: "closed 1006",
      symbols: {},
    };
    ({ s } = await byName());
    assert.equal(s.binance.status, "degraded");
    assert.match(s.binance.detail, /3 reconnects, 7 missing trades/);
    // Rejected frames and resyncs are shown, on /system-status and in /metrics.
    assert.match(s.binance.detail, /2 resyncs, rejected frames: invalid_json 4, clock_skew 1/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^sentinel_binance_frames_rejected_total\{reason="invalid_json"\} 4$/m);
    assert.match(metrics, /^sentinel_binance_frames_rejected_total\{reason="clock_skew"\} 1$/m);
    assert.match(metrics, /^sentinel_binance_resyncs_total 2$/m);
    assert.match(metrics, /^sentinel_binance_missing_trades_total 7$/m);
    assert.equal(s.source.status, "degraded");
  });
});

Deno.test("/system-status: roles of other processes are seen through their KV heartbeats", async () => {
  await withServer({}, async ({ base, store }) => {
    await store.heartbeat("worker", "w-1", { at: Date.now(), lastCommitAt: Date.now() }, 20_000);
    await store.heartbeat("trainer", "t-1", { at: Date.now() }, 20_000);
    const r = await getJson(`${base}/api/v1/system-status`);
    const s = Object.fromEntries(r.body.services.map((x: any) => [x.name, x])) as Record<
      string,
      any
    >;
    assert.equal(s["feature-worker"].status, "online");
    assert.match(s["feature-worker"].detail, /w-1/);
    assert.equal(s.trainer.status, "online");
    assert.equal(s.source.status, "offline");
    assert.equal(s.kafka, undefined, "Kafka is only checked when configured");
    assert.equal(s.binance, undefined);
  });
});

Deno.test("/export.csv: a header, then rows newest first with the filters, as an attachment", async () => {
  await withServer({}, async ({ base, store }) => {
    // Three pages (the page size is 400): the export must cross pages.
    const preds = Array.from({ length: 1000 }, (_, i) =>
      prediction({
        ts_ms: T0 + i,
        symbol: i % 2 ? "ETH-USDT" : "BTC-USDT",
        is_anomaly: i % 10 === 0,
        anomaly_score: i % 10 === 0 ? -0.01 : 0.2,
        price: 100 + i,
        volume: i === 7 ? undefined : 1.5,
        trade_id: i,
        source: i === 3 ? 'odd,"source"' : "simulated",
      }));
    await store.appendPredictions(preds, "t.csv");

    const res = await fetch(`${base}/export.csv`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(res.headers.get("content-disposition") ?? "", /^attachment; filename=".+\.csv"$/);
    const lines = (await res.text()).split("\r\n");
    assert.equal(lines.pop(), "");
    const header = lines.shift()!.split(",");
    assert.equal(header[0], "ts_ms");
    assert.ok(FEATURE_NAMES.every((n) => header.includes(n)));
    assert.equal(lines.length, 1000);
    const col = (name: string) => header.indexOf(name);
    const tsOrder = lines.map((l) => Number(l.split(",")[col("ts_ms")]));
    assert.deepEqual(tsOrder, Array.from({ length: 1000 }, (_, i) => T0 + 999 - i));
    const row7 = lines[999 - 7].split(",");
    assert.equal(row7[col("volume")], "", "an absent value is an empty cell");
    assert.equal(row7[col("price")], "107");
    assert.equal(row7[col("label")], "");
    assert.ok(lines[999 - 3].endsWith(`,"odd,""source""",3`), "RFC 4180 quoting");

    const filtered = await (await fetch(
      `${base}/export.csv?symbol=BTC-USDT&anomalies_only=true&limit=30`,
    )).text();
    const rows = filtered.trim().split("\r\n").slice(1).map((l) => l.split(","));
    assert.equal(rows.length, 30);
    assert.ok(
      rows.every((r) => r[col("symbol")] === "BTC-USDT" && r[col("is_anomaly")] === "true"),
    );
    assert.equal(Number(rows[0][col("ts_ms")]), T0 + 990);

    const bad = await getJson(`${base}/export.csv?anomalies_only=maybe&limit=0`);
    assert.equal(bad.status, 422);
    assert.deepEqual(fieldsOf(bad.body), ["anomalies_only", "limit"]);
  });
});

Deno.test("/metrics: Prometheus text with HTTP counts by route and status and scrape-time gauges", async () => {
  await withServer({}, async ({ base }) => {
    await (await fetch(`${base}/health`)).text();
    await (await fetch(`${base}/health`)).text();
    await (await fetch(`${base}/latest-predictions?limit=0`)).text();
    await (await fetch(`${base}/nowhere/${crypto.randomUUID()}`)).text();
    await (await fetch(`${base}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(70_000),
    })).text();
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(series + " "));
      assert.ok(line, `no series ${series}`);
      return Number(line.split(" ")[1]);
    };
    assert.equal(
      value('sentinel_http_requests_total{method="GET",route="/health",status="200"}'),
      2,
    );
    assert.equal(
      value('sentinel_http_requests_total{method="GET",route="/latest-predictions",status="422"}'),
      1,
    );
    assert.equal(
      value('sentinel_http_requests_total{method="GET",route="unmatched",status="404"}'),
      1,
    );
    assert.equal(value('sentinel_http_request_seconds_count{method="GET",route="/health"}'), 2);
    assert.equal(value("sentinel_model_loaded"), 0);
    assert.equal(value("sentinel_kv_up"), 1);
    assert.ok(value("sentinel_kv_read_seconds") >= 0);
    assert.equal(value("sentinel_sse_clients"), 0);
    // Every line is a comment or `name{labels} value`.
    for (const line of text.trim().split("\n")) {
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [-+\d.eEInfNa]+)$/, line);
    }
  });
});

Deno.test("/openapi.json is a valid OpenAPI 3.0 document listing every route with its schemas; /docs serves Swagger UI", async () => {
  await withServer({}, async ({ base }) => {
    const doc = (await getJson(`${base}/openapi.json`)).body;
    assert.match(doc.openapi, /^3\.0\.\d$/);
    // swagger-parser validates against the official OpenAPI 3.0 JSON schema and resolves every $ref.
    await SwaggerParser.validate(structuredClone(doc));
    const expected: Record<string, string[]> = {
      "/predict": ["post"],
      "/health": ["get"],
      "/latest-predictions": ["get"],
      "/stats": ["get"],
      "/system-status": ["get"],
      "/model-info": ["get"],
      "/api/v1/latest-predictions": ["get"],
      "/api/v1/bars": ["get"],
      "/api/v1/stats": ["get"],
      "/api/v1/system-status": ["get"],
      "/api/v1/model-info": ["get"],
      "/api/v1/webhooks": ["get"],
      "/events": ["get"],
      "/export.csv": ["get"],
      "/incidents": ["get"],
      "/incidents/{id}": ["get"],
      "/metrics": ["get"],
      "/models": ["get"],
      "/models/{id}/activate": ["post"],
      "/model/retrain": ["post"],
      "/incidents/{id}/review": ["get", "post"],
      "/mutes": ["get", "post"],
      "/mutes/{symbol}": ["delete"],
      "/openapi.json": ["get"],
      "/docs": ["get"],
    };
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(doc.paths).map(([p, ops]) => [p, Object.keys(ops as object)]),
      ),
      expected,
    );
    const predict = doc.paths["/predict"].post;
    assert.deepEqual(
      predict.requestBody.content["application/json"].schema,
      { $ref: "#/components/schemas/PredictRequest" },
    );
    const req = doc.components.schemas.PredictRequest;
    assert.equal(req.additionalProperties, false);
    assert.deepEqual(req.required.sort(), [...FEATURE_NAMES].sort());
    assert.deepEqual(Object.keys(predict.responses).sort(), [
      "200",
      "400",
      "413",
      "415",
      "422",
      "503",
    ]);
    for (const [path, ops] of Object.entries(doc.paths) as [string, Record<string, any>][]) {
      for (const [method, op] of Object.entries(ops)) {
        const ok = op.responses["200"] ?? op.responses["202"];
        assert.ok(ok?.content, `${method} ${path} documents its success body`);
      }
    }
    assert.deepEqual(doc.paths["/models"].get.security, [{ apiKey: [] }]);
    assert.equal(doc.components.securitySchemes.apiKey.scheme, "bearer");
    assert.ok(
      doc.paths["/events"].get.parameters.some((p: any) =>
        p.in === "header" && p.name === "last-event-id"
      ),
    );

    const ui = await fetch(`${base}/docs`);
    assert.equal(ui.status, 200);
    const html = await ui.text();
    assert.match(html, /SwaggerUIBundle/);
    assert.match(html, /\/openapi\.json/);
    // /docs has a CSP: scripts from this server and its own start-up script by hash only.
    const csp = ui.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]{44}'/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.match(csp, /default-src 'self'/);
    // Nothing the server answers may be sniffed into something else.
    for (const path of ["/docs", "/health", "/stats", "/openapi.json", "/export.csv", "/nowhere"]) {
      const res = await fetch(`${base}${path}`);
      await res.body?.cancel();
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    }
  });
});

Deno.test("createApp: `mount` adds pages on the same app without shadowing the API", async () => {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 60_000 });
  try {
    const ctx = testWebContext(store, testConfig({ KV_PATH: path }));
    const app = createApp(ctx, {
      logger: memoryLogger(),
      mount: (a) => {
        a.get("/", (c) => c.html("<h1>Sentinel</h1>"));
        a.get("/health", (c) => c.text("shadowed"));
      },
    });
    const page = await app.request("/");
    assert.equal(await page.text(), "<h1>Sentinel</h1>");
    const health = await app.request("/health");
    assert.equal((await health.json()).status, "waiting_for_model");
  } finally {
    store.close();
    await cleanup();
  }
});

Deno.test("/export.csv: time ranges (since, from, to) read KV by time; source keeps manual tests apart", async () => {
  await withServer({}, async ({ base, store }) => {
    const now = Date.now();
    // Stream predictions 3 h, 2 h, 30 min and 5 min ago; a manual test 1 min ago.
    const ages = [180, 120, 30, 5];
    const stream = ages.map((m, i) =>
      prediction({ ts_ms: now - m * 60_000, symbol: "BTC-USDT", z_score_price: i })
    );
    for (const [i, p] of stream.entries()) {
      await store.commitBatch({
        stream: "embedded",
        partition: 0,
        nextOffset: i + 1,
        pageId: `e.${i}`,
        states: [],
        rows: [],
        predictions: [p],
        counters: [],
      });
    }
    await store.appendPredictions(
      [prediction({ ts_ms: now - 60_000, symbol: "BTC-USDT", z_score_price: 9, source: "api" })],
      "api.t",
    );
    const zs = async (q: string) => {
      const res = await fetch(`${base}/export.csv?${q}`);
      assert.equal(res.status, 200, q);
      const rows = parseCsv(await res.text());
      const col = rows[0].indexOf("z_score_price");
      return rows.slice(1).map((r) => Number(r[col]));
    };
    assert.deepEqual(await zs(""), [9, 3, 2, 1, 0]);
    assert.deepEqual(await zs("since=1h"), [9, 3, 2]);
    assert.deepEqual(await zs("since=15m&source=stream"), [3]);
    assert.deepEqual(await zs("source=api"), [9]);
    const from = new Date(now - 150 * 60_000).toISOString();
    assert.deepEqual(await zs(`from=${from}&to=${now - 10 * 60_000}`), [2, 1]);
    for (const q of ["since=1w", "since=abc", "from=yesterday", "source=manual"]) {
      const r = await getJson(`${base}/export.csv?${q}`);
      assert.equal(r.status, 422, q);
      assert.deepEqual(fieldsOf(r.body), [q.split("=")[0]], q);
    }
  });
});

Deno.test("/docs/assets: Swagger UI's stylesheet and bundle come from the swagger-ui-dist package", async () => {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 60_000 });
  try {
    const app = createApp(testWebContext(store, testConfig({ KV_PATH: path })), {
      logger: memoryLogger(),
    });
    const files = [
      ["swagger-ui.css", "text/css", ".swagger-ui"],
      ["swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"],
    ];
    for (const [file, type, marker] of files) {
      const res = await app.request(`/docs/assets/swagger-ui-dist/${file}`);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get("content-type") ?? "", new RegExp(type), file);
      const body = await res.text();
      assert.ok(body.length > 100_000 && body.includes(marker), `${file}: the package's file`);
    }
    const missing = await app.request("/docs/assets/swagger-ui-dist/index.html");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    store.close();
    await cleanup();
  }
});
