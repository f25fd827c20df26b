import assert from "node:assert/strict";
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import { unpackMinute } from "../store/bars.ts";
import { BatchBars } from "./batch_bars.ts";

const row = (ts_ms: number, price: number) =>
  ({ symbol: "BTC-USDT", ts_ms, price, volume: 2 }) as unknown as FeatureRow;
const alert = (severity: number) => ({ is_anomaly: severity >= 0.5, severity }) as Prediction;

Deno.test("batch bars: a batch across a minute returns both minutes; the checkpoint is the open one", () => {
  const bars = new BatchBars();
  // 59.5 s and 59.9 s (minute 0), 60.2 s (minute 60 000); the last one scored as an alert
  const rows = [row(59_500, 10), row(59_900, 12), row(60_200, 11)];
  const packed = bars.add(rows, [alert(0.9)], [2]);
  assert.deepEqual(packed.map(([s, m]) => [s, m]), [["BTC-USDT", 0], ["BTC-USDT", 60_000]]);
  const first = unpackMinute("BTC-USDT", 0, packed[0][2]).bars;
  assert.deepEqual(first.map((b) => [b.t, b.open, b.high, b.close, b.trades, b.volume]), [
    [59_000, 10, 12, 12, 2, 4],
  ]);
  const cp = bars.checkpoint("BTC-USDT", packed)!;
  assert.equal(cp.minute, 60_000);
  assert.equal(cp.bytes, packed[1][2], "the open minute is not packed a second time");
  const open = unpackMinute("BTC-USDT", 60_000, cp.bytes).bars;
  assert.deepEqual(open.map((b) => [b.t, b.anomalies, b.max_severity > 0.89]), [[60_000, 1, true]]);
  assert.equal(bars.checkpoint("ETH-USDT", packed), undefined);
});

Deno.test("batch bars: restored from a checkpoint, the open minute goes on where it stopped", () => {
  const a = new BatchBars();
  const p1 = a.add([row(1_000, 5)], [], []);
  const cp = a.checkpoint("BTC-USDT", p1)!;
  const b = new BatchBars();
  b.restore("BTC-USDT", cp.minute, cp.bytes);
  const [[, , bytes]] = b.add([row(1_500, 7)], [], []);
  const [bar] = unpackMinute("BTC-USDT", 0, bytes).bars;
  assert.deepEqual([bar.open, bar.high, bar.close, bar.trades], [5, 7, 7, 2]);
  // a checkpoint without this batch's packed minutes packs the open minute itself
  assert.deepEqual(b.checkpoint("BTC-USDT", [])!.bytes, bytes);
});
