import assert from "node:assert/strict";
import {
  candles,
  countByType,
  incidentApiQuery,
  incidentPageQuery,
  incidentSeconds,
  mainDriver,
  parseIncidentFilters,
  peakMove,
} from "./incidents.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];

Deno.test("incident filters survive a round trip through the page URL", () => {
  for (
    const f of [
      { symbol: null, type: null, status: null, range: "all" },
      { symbol: "ETH-USDT", type: "crash", status: "closed" as const, range: "1h" },
      { symbol: null, type: "volume_burst", status: "open" as const, range: "15m" },
    ]
  ) {
    assert.deepEqual(
      parseIncidentFilters(new URLSearchParams(incidentPageQuery(f)), SYMBOLS),
      f,
    );
  }
});

Deno.test("unknown filter values fall back to everything", () => {
  const f = parseIncidentFilters(
    new URLSearchParams("symbol=DOGE-USDT&type=meltdown&status=maybe&range=3d"),
    SYMBOLS,
  );
  assert.deepEqual(f, { symbol: null, type: null, status: null, range: "all" });
});

Deno.test("the API query turns the range into a start time and can leave the type out", () => {
  const f = { symbol: "BTC-USDT", type: "spike", status: null, range: "6h" };
  const now = 100_000_000;
  const q = new URLSearchParams(incidentApiQuery(f, now, 200));
  assert.equal(q.get("from"), String(now - 6 * 3_600_000));
  assert.equal(q.get("type"), "spike");
  assert.equal(q.get("limit"), "200");
  assert.equal(q.has("status"), false);
  assert.equal(new URLSearchParams(incidentApiQuery(f, now, 200, false)).has("type"), false);
  // "all" sends no lower bound; a range longer than the epoch does not go negative.
  assert.equal(
    new URLSearchParams(incidentApiQuery({ ...f, range: "all" }, now, 5)).has("from"),
    false,
  );
  assert.equal(
    new URLSearchParams(incidentApiQuery({ ...f, range: "24h" }, 5, 5)).get("from"),
    "0",
  );
});

Deno.test("counts per type list every type, zero included", () => {
  const c = countByType([{ type: "crash" }, { type: "crash" }, { type: "spike" }]);
  assert.deepEqual(c, {
    spike: 1,
    crash: 2,
    level_shift: 0,
    volume_burst: 0,
    volatility_regime: 0,
  });
});

Deno.test("what an incident was: move, duration, main driver", () => {
  assert.ok(Math.abs(peakMove({ ref_price: 200, peak_price: 230 })! - 0.15) < 1e-12);
  assert.equal(peakMove({ ref_price: 0, peak_price: 5 }), null);
  assert.equal(incidentSeconds({ start_ms: 1000, end_ms: 6000, status: "closed" }, 99_000), 5);
  // An open incident lasts until now.
  assert.equal(incidentSeconds({ start_ms: 1000, end_ms: 6000, status: "open" }, 11_000), 10);
  assert.equal(mainDriver({ volume_z: 2, price_z: 5, flow_z: 1 }), "price_z");
  assert.equal(mainDriver({}), null);
});

Deno.test("candles bucket trades by UTC-aligned time: open, high, low, close, volume", () => {
  const trades = [
    { ts_ms: 2500, price: 10, volume: 1 },
    { ts_ms: 1000, price: 4, volume: 2 }, // out of order on purpose
    { ts_ms: 1999, price: 9, volume: 0.5 },
    { ts_ms: 1500, price: 2 },
    { ts_ms: 2600 }, // no price: not a trade the chart can show
  ];
  assert.deepEqual(candles(trades, 1000), [
    { t: 1000, open: 4, high: 9, low: 2, close: 9, volume: 2.5, trades: 3 },
    { t: 2000, open: 10, high: 10, low: 10, close: 10, volume: 1, trades: 1 },
  ]);
  assert.equal(candles(trades, 60_000).length, 1);
  assert.deepEqual(candles([], 1000), []);
});
