/**
 * Detection v2 end to end in the embedded pipeline: the trainer calibrates,
 * the worker judges every trade, alerts become incidents committed to KV with
 * their batch, published to the hub (SSE, the terminal), and served by
 * `GET /incidents` and `GET /incidents/{id}`.
 */
import assert from "node:assert/strict";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { Store } from "../store/kv.ts";
import { createApp } from "../routes/app.ts";
import type { IncidentChange } from "../model/incidents.ts";
import { fastClock, tempKvPath, testConfig, testWebContext, waitFor } from "./helpers.ts";

Deno.test("incidents: the embedded pipeline groups alerts into incidents in KV, on the hub and the API", async () => {
  const { path, cleanup } = await tempKvPath();
  const config = testConfig({
    KV_PATH: path,
    EVENT_FREQUENCY_SECONDS: "0.2",
    MIN_TRAINING_ROWS: "3000",
    ALERT_BUDGET: "1",
    INCIDENT_GAP_SECONDS: "5",
  });
  const clock = fastClock();
  const lines: string[] = [];
  const logger = () => memoryLogger(lines);
  const setup = await Store.open(path, { retentionMs: 86_400_000 });
  const source = await SimulatedSource.open(config, setup, logger(), clock);
  setup.close();
  const s = await Sentinel.start(config, ["source", "worker", "trainer"], {
    clock,
    logger,
    source,
    trainerPollMs: 50,
    modelPollMs: 100,
    reportEveryMs: 0,
    trainInWorker: false,
  });
  const published: IncidentChange[] = [];
  s.hub.subscribe((b) => published.push(...(b.incidents ?? [])));
  try {
    await waitFor("a calibrated model and 40 closed incidents", () => {
      return s.models.current?.detection &&
        published.filter((c) => c.kind === "closed").length >= 40;
    }, 90_000);
  } finally {
    await s.stop();
  }
  const store = await Store.open(path, { retentionMs: 86_400_000 });
  try {
    assert.equal(s.models.current!.detection!.model, "robust");
    // Every closed incident published is in KV, closed, with the same content.
    const closed = published.filter((c) => c.kind === "closed").map((c) => c.incident);
    for (const inc of closed.slice(0, 20)) {
      const stored = await store.incident(inc.id);
      assert.deepEqual(stored, inc);
    }
    // Incidents are about trades: one incident per market event, not one per alert.
    const alerts = closed.reduce((a, i) => a + i.alerts, 0);
    assert.ok(alerts >= closed.length);
    for (const i of closed) {
      assert.ok(i.start_ms <= i.peak_ms && i.peak_ms <= i.end_ms, i.id);
      assert.ok(i.peak_severity >= 0.5 && i.peak_severity <= 1, `${i.id} ${i.peak_severity}`);
      assert.ok(i.min_price <= i.peak_price && i.peak_price <= i.max_price);
    }
    // On the seed stream (single-trade spikes and crashes, ×1.05–1.15 / ×0.85–0.95),
    // most incidents are labelled anomalies typed as spikes or crashes.
    const types = new Set(closed.map((i) => i.type));
    assert.ok(types.has("spike") && types.has("crash"), [...types].join(","));
    // The terminal has one line per incident opened and closed, none per alert.
    assert.ok(lines.some((l) => /incident .* closed: /.test(l)));

    // The API.
    const app = createApp(testWebContext(store, config));
    const all = await (await app.request("/incidents?limit=500")).json();
    assert.ok(all.count >= 40);
    const starts = all.incidents.map((i: { start_ms: number }) => i.start_ms);
    assert.deepEqual(starts, [...starts].sort((a: number, b: number) => b - a), "newest first");
    const btc = await (await app.request("/incidents?symbol=BTC-USDT&limit=500")).json();
    assert.ok(
      btc.count > 0 && btc.incidents.every((i: { symbol: string }) => i.symbol === "BTC-USDT"),
    );
    const crashes = await (await app.request("/incidents?type=crash&limit=500")).json();
    assert.ok(crashes.incidents.every((i: { type: string }) => i.type === "crash"));
    // Paging: two pages of 5 are the first 10, no overlap.
    const p1 = await (await app.request("/incidents?limit=5")).json();
    const p2 =
      await (await app.request(`/incidents?limit=5&cursor=${encodeURIComponent(p1.next_cursor)}`))
        .json();
    assert.deepEqual(
      [...p1.incidents, ...p2.incidents].map((i: { id: string }) => i.id),
      all.incidents.slice(0, 10).map((i: { id: string }) => i.id),
    );
    // Time range.
    const mid = starts[Math.floor(starts.length / 2)];
    const older = await (await app.request(`/incidents?to=${mid}&limit=500`)).json();
    assert.ok(older.incidents.every((i: { start_ms: number }) => i.start_ms <= mid));
    // One incident with its trades before and after.
    const one = closed[5];
    const res = await app.request(`/incidents/${encodeURIComponent(one.id)}`);
    assert.equal(res.status, 200);
    const detail = await res.json();
    assert.equal(detail.incident.id, one.id);
    assert.ok(detail.trades.length > 10);
    assert.ok(detail.trades.some((t: { ts_ms: number }) => t.ts_ms < one.start_ms));
    assert.ok(detail.trades.some((t: { ts_ms: number }) => t.ts_ms > one.end_ms));
    assert.ok(detail.trades.every((t: { symbol: string }) => t.symbol === one.symbol));
    assert.ok(
      detail.trades.some((t: { is_anomaly: boolean; driver?: string }) => t.is_anomaly && t.driver),
    );
    // Empty selections answer an empty page, not an error (a cursor or `to` before `from`).
    for (
      const q of [
        "from=2024-01-01T00:00:00Z&to=2023-01-01T00:00:00Z",
        `from=${starts[0]}&cursor=0~0`,
      ]
    ) {
      const res = await app.request(`/incidents?${q}`);
      assert.equal(res.status, 200, q);
      assert.equal((await res.json()).count, 0, q);
    }
    // Errors.
    assert.equal((await app.request("/incidents?to=")).status, 422);
    assert.equal((await app.request("/incidents?from=yesterday")).status, 422);
    assert.equal((await app.request(`/incidents/${"0".repeat(300)}`)).status, 422);
    assert.equal((await app.request("/incidents/BTC-USDT:1")).status, 404);
    const bad = await app.request("/incidents?type=meltdown");
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /type/);
  } finally {
    store.close();
    await cleanup();
  }
});
