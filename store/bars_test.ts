import assert from "node:assert/strict";
import { addTrade, type MinuteBars, packMinute, rollUp, unpackMinute } from "./bars.ts";

const trade = (ts_ms: number, price: number, volume = 1, alert = false, severity = 0.1) => ({
  ts_ms,
  price,
  volume,
  alert,
  severity,
});

Deno.test("bars: trades become per-second OHLC bars, a new minute starts a new value", () => {
  let m: MinuteBars | null = addTrade(undefined, "X", trade(60_100, 10));
  for (const t of [trade(60_400, 12, 2), trade(60_900, 9, 1, true, 0.8), trade(62_000, 11)]) {
    m = addTrade(m!, "X", t);
  }
  // A trade earlier in the same minute (out of order) still lands in its second.
  m = addTrade(m!, "X", trade(61_500, 7, 3));
  assert.deepEqual(m!.bars, [
    {
      t: 60_000,
      open: 10,
      high: 12,
      low: 9,
      close: 9,
      volume: 4,
      trades: 3,
      anomalies: 1,
      max_severity: 0.8,
    },
    {
      t: 61_000,
      open: 7,
      high: 7,
      low: 7,
      close: 7,
      volume: 3,
      trades: 1,
      anomalies: 0,
      max_severity: 0.1,
    },
    {
      t: 62_000,
      open: 11,
      high: 11,
      low: 11,
      close: 11,
      volume: 1,
      trades: 1,
      anomalies: 0,
      max_severity: 0.1,
    },
  ]);
  const next = addTrade(m!, "X", trade(120_000, 13));
  assert.notEqual(next, m);
  assert.equal(next!.minute, 120_000);
  // A trade of a minute already closed is left out (null), the open one unchanged.
  assert.equal(addTrade(next!, "X", trade(119_999, 1)), null);
  assert.equal(next!.bars.length, 1);
});

Deno.test("bars: one-minute roll-up keeps the first open, the last close, extremes and sums", () => {
  const bars = [
    {
      t: 0,
      open: 5,
      high: 6,
      low: 4,
      close: 5,
      volume: 1,
      trades: 2,
      anomalies: 0,
      max_severity: 0.2,
    },
    {
      t: 59_000,
      open: 5,
      high: 9,
      low: 5,
      close: 8,
      volume: 2,
      trades: 1,
      anomalies: 1,
      max_severity: 0.7,
    },
    {
      t: 60_000,
      open: 8,
      high: 8,
      low: 3,
      close: 3,
      volume: 4,
      trades: 5,
      anomalies: 0,
      max_severity: 0.1,
    },
  ];
  assert.deepEqual(rollUp(bars, 60), [
    {
      t: 0,
      open: 5,
      high: 9,
      low: 4,
      close: 8,
      volume: 3,
      trades: 3,
      anomalies: 1,
      max_severity: 0.7,
    },
    {
      t: 60_000,
      open: 8,
      high: 8,
      low: 3,
      close: 3,
      volume: 4,
      trades: 5,
      anomalies: 0,
      max_severity: 0.1,
    },
  ]);
});

Deno.test("bars: a packed minute gives prices and volumes back exactly, severity as float32", () => {
  let m: MinuteBars | null = undefined as unknown as MinuteBars;
  let price = 43_000.12345678;
  for (let i = 0; i < 600; i++) {
    price = Math.round(price * (1 + Math.sin(i) * 1e-3) * 1e8) / 1e8;
    m = addTrade(
      m ?? undefined,
      "BTC-USDT",
      trade(1_710_000_000_000 + i * 97, price, 0.1 + i / 3, i % 50 === 0, Math.abs(Math.cos(i))),
    )!;
  }
  const back = unpackMinute(m!.symbol, m!.minute, packMinute(m!));
  const f32 = (x: number) => Math.fround(x);
  assert.deepEqual(back, {
    ...m!,
    bars: m!.bars.map((b) => ({ ...b, max_severity: f32(b.max_severity) })),
  });
  assert.throws(() => unpackMinute("X", 0, Uint8Array.of(1, 2)), /not a minute of bars/);
});
