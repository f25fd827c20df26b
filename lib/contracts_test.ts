import assert from "node:assert/strict";
import { eventTimeMs, FeatureRow, parseMarketEvent } from "./contracts.ts";

const seedEvent = {
  timestamp: 1710000000,
  symbol: "BTC-USDT",
  price: 43150.5,
  volume: 12.53421,
  log_return: 0.003521,
  is_anomaly: false,
  anomaly_type: null,
};

Deno.test("contracts: the seed's event format parses unchanged, and re-serializes byte for byte", () => {
  const r = parseMarketEvent(seedEvent);
  assert.ok(r.ok);
  assert.equal(JSON.stringify(r.value), JSON.stringify(seedEvent));
  const withExtras = { ...seedEvent, ts_ms: 1710000000123, trade_id: 3391823, source: "binance" };
  const r2 = parseMarketEvent(withExtras);
  assert.ok(r2.ok);
  assert.deepEqual(r2.value, withExtras);
});

Deno.test("contracts: invalid events are rejected with a reason naming the field", () => {
  const cases: [Record<string, unknown> | unknown, RegExp][] = [
    [{ ...seedEvent, price: 0 }, /price: price must be positive/],
    [{ ...seedEvent, price: -3 }, /price/],
    [{ ...seedEvent, price: Infinity }, /price: price must be a finite number/],
    [{ ...seedEvent, price: "43150.5" }, /price/],
    [{ ...seedEvent, volume: -1 }, /volume: volume must not be negative/],
    [{ ...seedEvent, volume: NaN }, /volume: volume must be a finite number/],
    [{ ...seedEvent, log_return: undefined }, /log_return: log_return is required/],
    [{ ...seedEvent, symbol: "btcusdt" }, /symbol: symbol must be BASE-QUOTE/],
    [{ ...seedEvent, anomaly_type: "RUG_PULL" }, /anomaly_type/],
    [{ ...seedEvent, timestamp: 1.5 }, /timestamp/],
    [{ symbol: "BTC-USDT" }, /timestamp/],
    [[1, 2, 3], /\(root\)/],
    ["hello", /\(root\)/],
    [null, /\(root\)/],
  ];
  for (const [input, reason] of cases) {
    const r = parseMarketEvent(input);
    assert.equal(r.ok, false, JSON.stringify(input));
    if (!r.ok) assert.match(r.reason, reason);
  }
});

Deno.test("contracts: labels default to unlabelled, unknown keys are stripped", () => {
  const r = parseMarketEvent({
    timestamp: 1,
    symbol: "ETH-USDT",
    price: 1,
    volume: 0,
    log_return: 0,
    venue: "x",
  });
  assert.ok(r.ok);
  assert.equal(r.value.is_anomaly, false);
  assert.equal(r.value.anomaly_type, null);
  assert.equal("venue" in r.value, false);
});

Deno.test("contracts: event time prefers ts_ms, falls back to seconds", () => {
  assert.equal(eventTimeMs({ timestamp: 1710000000, ts_ms: 1710000000123 }), 1710000000123);
  assert.equal(eventTimeMs({ timestamp: 1710000000 }), 1710000000000);
});

Deno.test("contracts: FeatureRow rejects NaN features", () => {
  const row = {
    symbol: "BTC-USDT",
    ts_ms: 1,
    z_score_price: NaN,
    z_score_log_return: 0,
    z_score_volume: 0,
    rolling_price_std: 0,
    rolling_volume_std: 0,
    window_count: 0,
    warm_up: true,
    price: 1,
    volume: 1,
    is_anomaly: false,
    anomaly_type: null,
  };
  assert.equal(FeatureRow.safeParse(row).success, false);
  assert.equal(FeatureRow.safeParse({ ...row, z_score_price: 0 }).success, true);
});
