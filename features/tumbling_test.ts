import assert from "node:assert/strict";
import type { AnomalyType, MarketEvent } from "../lib/contracts.ts";
import { TumblingWindows, type WindowRow } from "./tumbling.ts";

const BTC = "BTC-USDT", ETH = "ETH-USDT";

function ev(
  symbol: string,
  tsMs: number,
  price: number,
  volume: number,
  logReturn = 0,
  anomaly: AnomalyType | null = null,
): MarketEvent {
  return {
    timestamp: Math.floor(tsMs / 1000),
    ts_ms: tsMs,
    symbol,
    price,
    volume,
    log_return: logReturn,
    is_anomaly: anomaly !== null,
    anomaly_type: anomaly,
    source: "simulated",
  };
}

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

Deno.test("a window's row is its last event against the window's own sample statistics", () => {
  const w = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 3 });
  // Prices 100, 102, 104 (mean 102, sample std 2); volumes 1, 1, 4 (mean 2, sample std √3);
  // log returns 0, 0.02, 0.01 (mean 0.01, sample std 0.01).
  assert.equal(w.update(ev(BTC, 0, 100, 1, 0)), null);
  assert.equal(w.update(ev(BTC, 10_000, 102, 1, 0.02)), null);
  assert.equal(w.update(ev(BTC, 59_999, 104, 4, 0.01)), null);
  const row = w.update(ev(BTC, 60_000, 90, 1))!;
  assert.ok(row, "the first event of the next minute closes [0, 60 s)");
  assert.equal(row.symbol, BTC);
  assert.equal(row.ts_ms, 60_000);
  assert.equal(row.window_start_ms, 0);
  assert.equal(row.window_end_ms, 60_000);
  assert.equal(row.window_count, 3);
  assert.equal(row.warm_up, false);
  assert.equal(row.z_score_price, 1); // (104 − 102) / 2
  assert.ok(close(row.z_score_volume, 2 / Math.sqrt(3))); // (4 − 2) / √3
  assert.ok(close(row.z_score_log_return, 0)); // (0.01 − 0.01) / 0.01
  assert.ok(close(row.rolling_price_std, 2 / 102));
  assert.ok(close(row.rolling_volume_std, Math.sqrt(3) / 2));
  assert.equal(row.price, 104);
  assert.equal(row.volume, 4);
  assert.equal(row.is_anomaly, false);
  assert.equal(row.anomaly_count, 0);
});

Deno.test("symbols have independent windows; flush closes the open ones", () => {
  const w = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 1 });
  w.update(ev(BTC, 1000, 100, 1));
  w.update(ev(ETH, 1000, 50, 1));
  // BTC moving on closes BTC's window only.
  const btc = w.update(ev(BTC, 61_000, 101, 1));
  assert.equal(btc?.symbol, BTC);
  assert.equal(w.openWindowStart(BTC), 60_000);
  assert.equal(w.openWindowStart(ETH), 0);
  assert.equal(w.update(ev(ETH, 59_000, 51, 1)), null);
  const rest = w.flush();
  assert.deepEqual(rest.map((r) => [r.symbol, r.window_start_ms, r.window_count]), [
    [BTC, 60_000, 1],
    [ETH, 0, 2],
  ]);
  assert.deepEqual(w.flush(), []);
  assert.equal(w.openWindowStart(BTC), null);
});

Deno.test("a gap skips empty windows: only windows with events exist", () => {
  const w = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 1 });
  w.update(ev(BTC, 5_000, 100, 1));
  const row = w.update(ev(BTC, 305_000, 100, 1))!; // five minutes later
  assert.equal(row.window_start_ms, 0);
  assert.equal(row.ts_ms, 60_000); // closed at its own end, whatever closed it
  assert.equal(w.openWindowStart(BTC), 300_000);
});

Deno.test("labels: a window is anomalous when any of its events is; the first type is kept", () => {
  const w = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 1 });
  w.update(ev(BTC, 0, 100, 1));
  w.update(ev(BTC, 1000, 110, 1, 0.1, "PRICE_SPIKE"));
  w.update(ev(BTC, 2000, 100, 8, -0.1, "VOLUME_SPIKE"));
  w.update(ev(BTC, 3000, 100, 1));
  const row = w.update(ev(BTC, 60_000, 100, 1))!;
  assert.equal(row.is_anomaly, true);
  assert.equal(row.anomaly_type, "PRICE_SPIKE");
  assert.equal(row.anomaly_count, 2);
  assert.equal(row.source, "simulated");
});

Deno.test("warm-up below minWindowEvents; degenerate windows give 0, never NaN", () => {
  const w = new TumblingWindows({ windowSeconds: 10, minWindowEvents: 3 });
  w.update(ev(BTC, 0, 100, 0));
  w.update(ev(BTC, 1000, 100, 0));
  const row = w.update(ev(BTC, 10_000, 100, 1))!;
  assert.equal(row.window_count, 2);
  assert.equal(row.warm_up, true);
  assert.equal(row.ts_ms, 10_000);
  // Constant price and zero volume: every std is 0, the mean volume is 0.
  for (const k of ["z_score_price", "z_score_volume", "rolling_price_std", "rolling_volume_std"]) {
    assert.equal(row[k as keyof WindowRow], 0, k);
  }
  // A single event: no std at all.
  const [one] = w.flush();
  assert.equal(one.window_count, 1);
  assert.equal(one.z_score_price, 0);
  assert.equal(one.rolling_price_std, 0);
});

Deno.test("a late event is counted in its symbol's open window", () => {
  const w = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 1 });
  w.update(ev(BTC, 61_000, 100, 1));
  assert.equal(w.update(ev(BTC, 30_000, 102, 1)), null);
  const [row] = w.flush();
  assert.equal(row.window_start_ms, 60_000);
  assert.equal(row.window_count, 2);
  assert.equal(row.price, 102); // the last event processed
});

Deno.test("windows are aligned to the epoch and use ts_ms, else timestamp seconds", () => {
  const w = new TumblingWindows({ windowSeconds: 60, minWindowEvents: 1 });
  const noMs: MarketEvent = { ...ev(BTC, 0, 100, 1), ts_ms: undefined, timestamp: 1_710_000_030 };
  w.update(noMs);
  assert.equal(w.openWindowStart(BTC), 1_710_000_000_000); // 1 710 000 030 s lies in [..000, ..060)
});

Deno.test("options are checked", () => {
  assert.throws(() => new TumblingWindows({ windowSeconds: 0, minWindowEvents: 1 }), RangeError);
  assert.throws(() => new TumblingWindows({ windowSeconds: 1.5, minWindowEvents: 1 }), RangeError);
  assert.throws(() => new TumblingWindows({ windowSeconds: 60, minWindowEvents: -1 }), RangeError);
});
