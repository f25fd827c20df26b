/**
 * Property tests (fast-check) on everything that parses outside input:
 * the event schema, Binance frames, the replay CSV parser, the feature
 * engine behind them, and the read paths behind the processor. Properties:
 * parsers never throw; whatever they accept is well-formed; any accepted
 * sequence of events yields finite features; no accepted event can make
 * `/export.csv`, `/analytics` or `/stats` fail. Seeds are printed on failure
 * by fast-check (`seed`, `path`) so a counterexample can be replayed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { FEATURE_NAMES, type MarketEvent, parseMarketEvent } from "../lib/contracts.ts";
import { FeatureEngine } from "../features/features.ts";
import { Admission } from "../ingest/admission.ts";
import { parseBinanceFrame } from "../ingest/binance.ts";
import { parseTradeCsvLine } from "../ingest/replay.ts";
import { Scorer } from "../model/bundle.ts";
import { Processor } from "../pipeline/processor.ts";
import { parseCsv } from "../islands/shared/csv.ts";
import { withDashboardApp } from "./app_helpers.ts";
import { simulatedBundle } from "./helpers.ts";

const NOW = Date.now();
const RUNS = Number(Deno.env.get("FUZZ_RUNS") ?? 300);
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

/** Numbers a hostile producer might send: extremes, subnormals, negative zero, NaN, infinities. */
const wildNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e-320, 5e-324, 1e308, -1e308, 2 ** 53, 9e15, NaN, Infinity, -Infinity),
);

/** Raw event-shaped objects: mostly plausible field types, anything else now and then. */
const rawEvent = fc.record({
  timestamp: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), wildNumber, fc.string()),
  symbol: fc.oneof(fc.constantFrom(...SYMBOLS, "XRP-USDT", "btc-usdt", ""), fc.string()),
  price: fc.oneof(fc.double({ min: 1e-12, max: 1e12, noNaN: true }), wildNumber),
  volume: fc.oneof(fc.double({ min: 0, max: 1e9, noNaN: true }), wildNumber),
  log_return: fc.oneof(fc.double({ min: -5, max: 5, noNaN: true }), wildNumber),
  is_anomaly: fc.oneof(fc.boolean(), fc.anything()),
  anomaly_type: fc.oneof(fc.constant(null), fc.constantFrom("PRICE_SPIKE", "X"), fc.anything()),
  ts_ms: fc.oneof(fc.integer({ min: 0, max: 2 ** 50 }), wildNumber),
  trade_id: fc.oneof(fc.nat(), wildNumber),
  source: fc.oneof(fc.constantFrom("binance", "feed-1", "=1+1", "@x", "A"), fc.string()),
}, { requiredKeys: [] });

Deno.test("fuzz: parseMarketEvent never throws and accepts only well-formed events", () => {
  fc.assert(
    fc.property(fc.oneof(rawEvent, fc.anything()), (raw) => {
      const r = parseMarketEvent(raw);
      if (!r.ok) {
        assert.equal(typeof r.reason, "string");
        return;
      }
      const e = r.value;
      assert.ok(Number.isFinite(e.price) && e.price > 0);
      assert.ok(Number.isFinite(e.volume) && e.volume >= 0);
      assert.ok(Number.isFinite(e.log_return));
      const t = e.ts_ms ?? e.timestamp * 1000;
      assert.ok(!Number.isNaN(new Date(t).getTime()), "every accepted time fits a Date");
      if (e.source !== undefined) assert.match(e.source, /^[a-z][a-z0-9_.-]{0,31}$/);
    }),
    { numRuns: RUNS * 3 },
  );
});

Deno.test("fuzz: Binance frames never throw; accepted trades have a finite positive price", () => {
  const payload = fc.record({
    e: fc.constantFrom("trade", "aggTrade", "serverShutdown", "depth", 5),
    E: wildNumber,
    s: fc.oneof(fc.constantFrom("BTCUSDT", "btcusdt"), fc.string()),
    t: wildNumber,
    a: wildNumber,
    f: wildNumber,
    l: wildNumber,
    p: fc.oneof(fc.constantFrom("43150.50", "0", "-1", "1e5", "NaN", ""), fc.string()),
    q: fc.oneof(fc.constantFrom("0.012", "0", "-0.1"), fc.string()),
    T: wildNumber,
    m: fc.anything(),
  }, { requiredKeys: [] });
  const frame = fc.oneof(
    fc.string(),
    fc.json(),
    payload.map((d) => JSON.stringify(d)),
    fc.tuple(fc.string(), payload).map(([stream, data]) => JSON.stringify({ stream, data })),
  );
  fc.assert(
    fc.property(frame, (text) => {
      const f = parseBinanceFrame(text);
      if (f.kind === "trade") {
        assert.ok(Number.isFinite(f.trade.price) && f.trade.price > 0);
        assert.ok(Number.isFinite(f.trade.quantity) && f.trade.quantity >= 0);
        assert.ok(Number.isSafeInteger(f.trade.tradeTime) && f.trade.tradeTime >= 0);
      }
    }),
    { numRuns: RUNS * 3 },
  );
});

Deno.test("fuzz: the replay CSV parser never throws; accepted lines are usable trades", () => {
  const field = fc.oneof(
    fc.constantFrom(
      "7",
      "61130.98",
      "0.001",
      "1709251200012",
      "1735689600000000",
      "True",
      "",
      "-1",
    ),
    fc.string({ maxLength: 12 }),
    wildNumber.map(String),
  );
  fc.assert(
    fc.property(
      fc.array(field, { minLength: 5, maxLength: 9 }),
      fc.constantFrom("trades" as const, "aggTrades" as const),
      (fields, format) => {
        const r = parseTradeCsvLine(fields.join(","), format);
        if (!r.ok) return;
        assert.ok(Number.isSafeInteger(r.value.id) && r.value.id >= 0);
        assert.ok(Number.isFinite(r.value.price) && r.value.price > 0);
        assert.ok(Number.isFinite(r.value.quantity) && r.value.quantity >= 0);
        assert.ok(!Number.isNaN(new Date(r.value.timeMs).getTime()));
      },
    ),
    { numRuns: RUNS * 3 },
  );
});

/** Sequences of events the edge accepts (schema, then configured symbols and the clock). */
const admission = new Admission({
  symbols: SYMBOLS,
  unconfiguredSymbols: "reject",
  maxClockSkewMs: 300_000,
  direction: "ahead",
});
const acceptedEvents = fc.array(
  fc.oneof(
    // plausible markets, with times going forward, backward and repeating
    fc.record({
      symbol: fc.constantFrom(...SYMBOLS),
      price: fc.double({ min: 1e-8, max: 1e9, noNaN: true }),
      volume: fc.double({ min: 0, max: 1e8, noNaN: true }),
      log_return: fc.double({ min: -3, max: 3, noNaN: true }),
      dt: fc.integer({ min: -120_000, max: 5_000 }),
    }),
    // the extremes the schema lets through
    fc.record({
      symbol: fc.constantFrom(...SYMBOLS),
      price: fc.constantFrom(Number.MIN_VALUE, 1e-300, 1e300, Number.MAX_VALUE),
      volume: fc.constantFrom(0, Number.MIN_VALUE, 1e300, Number.MAX_VALUE),
      log_return: fc.constantFrom(0, -700, 700, 1e300, -Number.MAX_VALUE),
      dt: fc.constantFrom(0, -3_600_000, 1),
    }),
  ),
  { minLength: 1, maxLength: 120 },
).map((specs) => {
  const out: MarketEvent[] = [];
  let t = NOW - 3_600_000;
  for (const [i, s] of specs.entries()) {
    t = Math.max(0, t + s.dt);
    const r = parseMarketEvent({
      timestamp: Math.floor(t / 1000),
      ts_ms: t,
      symbol: s.symbol,
      price: s.price,
      volume: s.volume,
      log_return: s.log_return,
      trade_id: i,
      source: "fuzz",
    });
    if (r.ok && admission.check(r.value, NOW) === null) out.push(r.value);
  }
  return out;
});

Deno.test("fuzz: any accepted event sequence yields finite features", () => {
  fc.assert(
    fc.property(acceptedEvents, fc.constantFrom(null, 3), (events, winsorize) => {
      const engine = new FeatureEngine({
        windowSeconds: 60,
        minWindowEvents: 2,
        winsorizeSigma: winsorize,
      });
      for (const e of events) {
        const row = engine.update(e);
        for (const name of FEATURE_NAMES) {
          assert.ok(
            Number.isFinite(row[name]),
            `${name} = ${row[name]} after ${JSON.stringify(e)}`,
          );
        }
      }
    }),
    { numRuns: RUNS },
  );
});

Deno.test({
  name: "fuzz: no accepted event can make export, analytics or stats fail",
  sanitizeResources: false,
  async fn() {
    const scorer = Scorer.fromBundle(
      simulatedBundle({ id: "fuzz-model", seed: 4, seconds: 300, nEstimators: 20 }),
    );
    await withDashboardApp(async ({ app, store, logs: errors }) => {
      let batch = 0;
      let stored = 0;
      await fc.assert(
        fc.asyncProperty(acceptedEvents, async (events) => {
          // A fresh processor per run: each run is one producer's stream, written to one store.
          const processor = new Processor({
            store,
            windowSeconds: 60,
            minWindowEvents: 2,
            model: () => scorer,
          });
          const { predictions } = await processor.process({
            stream: `fuzz-${batch}`,
            partition: 0,
            firstOffset: 0,
            nextOffset: events.length,
            events: events.map((event) => ({ event, receivedAt: NOW })),
          });
          batch++;
          stored += predictions.length;
          for (const p of predictions) assert.ok(Number.isFinite(p.anomaly_score));
          const csv = await app.request("/export.csv?limit=1000000");
          assert.equal(csv.status, 200);
          const rows = parseCsv(await csv.text());
          assert.equal(rows.length - 1, stored, "every stored prediction is a CSV row");
          for (
            const p of ["/analytics", "/stats", "/api/v1/stats", "/latest-predictions?limit=500"]
          ) {
            const res = await app.request(p);
            assert.equal(res.status, 200, `${p} answered ${res.status}`);
            await res.body?.cancel();
          }
        }),
        { numRuns: Math.max(10, Math.round(RUNS / 10)) },
      );
      assert.deepEqual(errors.filter((e) => /failed/.test(e)), []);
    });
  },
});
