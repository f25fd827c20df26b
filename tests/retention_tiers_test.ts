/**
 * Retention tiers: raw rows and predictions past RETENTION_RAW are swept
 * (what users read of raw history ends there), while the per-second bars and
 * the incidents stay for RETENTION: an incident older than the raw horizon
 * still answers with its context as bars, and the bars equal an independent
 * aggregation of the events.
 */
import assert from "node:assert/strict";
import { Processor } from "../pipeline/processor.ts";
import { Store } from "../store/kv.ts";
import { Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import type { MarketEvent, Prediction } from "../lib/contracts.ts";
import { createApp } from "../routes/app.ts";
import { testConfig, testWebContext } from "./helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];
const T0 = 1_710_000_000_000;
const RAW_MS = 5 * 60_000;

Deno.test("retention tiers: after RETENTION_RAW the raw pages are gone, bars and incidents answer", async () => {
  const store = new Store(await Deno.openKv(":memory:"), {
    retentionMs: 86_400_000,
    rawRetentionMs: RAW_MS,
  });
  try {
    const sim = new Simulator({ symbols: SYMBOLS, seed: 5, anomalyProbability: 0.01 });
    const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
    const train = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 900_000 })]
      .map((e) => engine.update(e));
    const scorer = Scorer.fromBundle(
      trainBundle(train, { id: "m", createdAt: "2026-01-01T00:00:00Z", nEstimators: 20 }),
    );
    const p = new Processor({ store, windowSeconds: 60, minWindowEvents: 10, model: () => scorer });
    const events: MarketEvent[] = [
      ...simulatedEvents(new Simulator({ symbols: SYMBOLS, seed: 6, anomalyProbability: 0.01 }), {
        startMs: T0,
        stepMs: 250,
        endMs: T0 + 20 * 60_000,
      }),
    ];
    const made: Prediction[] = [];
    for (let i = 0; i < events.length; i += 317) {
      const part = events.slice(i, i + 317);
      const r = await p.process({
        stream: "s",
        partition: 0,
        firstOffset: i,
        nextOffset: i + part.length,
        events: part.map((event) => ({ event, receivedAt: 0 })),
      });
      made.push(...r.predictions);
    }
    const newest = events[events.length - 1].ts_ms!;
    const swept = await store.sweepRaw();
    assert.ok(swept > 0, "old pages deleted");

    // Raw tier: nothing older than the horizon (a page may start up to its batch's span before it).
    const kept: Prediction[] = [];
    for await (const page of store.predictionPages()) kept.push(...page);
    const oldest = Math.min(...kept.map((x) => x.ts_ms));
    assert.ok(oldest >= newest - RAW_MS - 317 * 250, `oldest kept ${newest - oldest} ms old`);
    assert.ok(kept.length < made.length / 2, `${kept.length} of ${made.length} kept`);
    assert.deepEqual(kept.map((x) => x.ts_ms), made.slice(-kept.length).map((x) => x.ts_ms));
    const rows = await store.recentRows(1_000_000);
    assert.ok(Math.min(...rows.map((r) => r.ts_ms)) >= newest - RAW_MS - 317 * 250);

    // Long tier: every second of the 20 minutes, equal to the events aggregated here.
    for (const symbol of SYMBOLS) {
      const bars = await store.bars(symbol, T0, newest, 100_000);
      const mine = events.filter((e) => e.symbol === symbol);
      const seconds = new Map<number, MarketEvent[]>();
      for (const e of mine) {
        const t = Math.floor(e.ts_ms! / 1000) * 1000;
        seconds.set(t, [...(seconds.get(t) ?? []), e]);
      }
      assert.equal(bars.length, seconds.size);
      for (const b of bars) {
        const es = seconds.get(b.t)!;
        assert.equal(b.open, es[0].price);
        assert.equal(b.close, es[es.length - 1].price);
        assert.equal(b.high, Math.max(...es.map((e) => e.price)));
        assert.equal(b.low, Math.min(...es.map((e) => e.price)));
        assert.equal(b.trades, es.length);
        const flagged = made.filter((x) =>
          x.symbol === symbol && x.is_anomaly && Math.floor(x.ts_ms / 1000) * 1000 === b.t
        );
        assert.equal(b.anomalies, flagged.length);
      }
    }

    // An incident older than the raw horizon: its trades are gone, its bars are not.
    const { incidents } = await store.incidents({ limit: 500 });
    const old = incidents.find((i) => i.end_ms + 60_000 < newest - RAW_MS - 317 * 250);
    assert.ok(old, `an incident before the raw horizon (${incidents.length} incidents)`);
    const app = createApp(testWebContext(store, testConfig({})));
    const res = await app.request(`/incidents/${encodeURIComponent(old.id)}`, {
      headers: { Accept: "application/json" },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body.trades, []);
    assert.ok(body.bars.length > 0);
    assert.ok(
      body.bars.some((b: { anomalies: number }) => b.anomalies > 0),
      "the alerts are in the bars",
    );
    assert.ok(
      body.bars.every((b: { t: number }) =>
        b.t >= old.start_ms - 61_000 && b.t <= old.end_ms + 60_000
      ),
    );

    // The history endpoint answers the whole 20 minutes from the bars, per minute.
    const hist = await app.request(`/api/v1/bars?symbol=ETH-USDT&from=${T0}&to=${newest}&bar=1m`);
    assert.equal(hist.status, 200);
    const h = await hist.json();
    const perMinute = new Map<number, number>();
    for (const e of events.filter((e) => e.symbol === "ETH-USDT")) {
      const t = Math.floor(e.ts_ms! / 60_000) * 60_000;
      perMinute.set(t, (perMinute.get(t) ?? 0) + 1);
    }
    assert.deepEqual(
      h.bars.map((b: { t: number; trades: number }) => [b.t, b.trades]),
      [...perMinute.entries()],
    );
    const bad = await app.request(`/api/v1/bars?symbol=ETH-USDT&bar=5m`);
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /bar must be 1s or 1m/);
  } finally {
    store.close();
  }
});
