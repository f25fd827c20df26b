import assert from "node:assert/strict";
import { ANOMALY_TYPES, type FeatureRow, type Prediction } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { decodeRows, decodeVerdicts, encodeRows, encodeVerdicts } from "./pages.ts";
import { isBatchBytes, packBatch, unpackBatch } from "./compact.ts";
import { packPage } from "./packed.ts";
import { asStored } from "../tests/helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

/** Rows like the simulator's: 8-decimal prices and volumes, a trade id and a window count per symbol. */
function marketRows(n: number, r: Random, robust = true): FeatureRow[] {
  const price = [43000, 2300, 320];
  const trade = [5e9, 7e8, 1e6];
  const wc = [100, 200, 300];
  return Array.from({ length: n }, (_, i) => {
    const s = i % 3;
    price[s] *= 1 + r.normal() * 0.001;
    const type = r.float() < 0.1 ? ANOMALY_TYPES[r.int(ANOMALY_TYPES.length)] : null;
    const row: FeatureRow = {
      symbol: SYMBOLS[s],
      ts_ms: 1_710_000_000_000 + Math.floor(i / 3) * 10,
      z_score_price: r.normal() * 3,
      z_score_log_return: r.normal() * 100,
      z_score_volume: r.normal(),
      rolling_price_std: r.float() * 1e-3,
      rolling_volume_std: r.float(),
      window_count: wc[s] += r.int(3) - 1,
      warm_up: r.float() < 0.1,
      price: Math.round(price[s] * 1e8) / 1e8,
      volume: Math.round(r.float() * 40 * 1e8) / 1e8,
      is_anomaly: type !== null,
      anomaly_type: type,
      trade_id: trade[s] += 1 + r.int(3),
      source: "simulated",
    };
    if (robust) {
      Object.assign(row, {
        price_z: r.normal(),
        price_z_long: r.normal(),
        volume_z: r.normal(),
        flow_z: r.normal(),
        robust_ready: r.float() < 0.9,
      });
    }
    return row;
  });
}

function predictionsOf(rows: FeatureRow[], r: Random, every: number): [Prediction[], number[]] {
  const preds: Prediction[] = [];
  const idx: number[] = [];
  rows.forEach((row, i) => {
    if (i % every !== 0) return;
    const severity = r.float();
    const p: Prediction = {
      symbol: row.symbol,
      ts_ms: row.ts_ms,
      z_score_price: row.z_score_price,
      z_score_log_return: row.z_score_log_return,
      z_score_volume: row.z_score_volume,
      rolling_price_std: row.rolling_price_std,
      rolling_volume_std: row.rolling_volume_std,
      price: row.price,
      volume: row.volume,
      anomaly_score: 0.5 - severity,
      severity,
      is_anomaly: severity >= 0.5,
      anomaly_type: row.anomaly_type,
      model_id: "model-2026-12-04",
      label: row.is_anomaly,
      trade_id: row.trade_id,
      source: row.source,
    };
    if (row.robust_ready !== undefined) {
      Object.assign(p, {
        price_z: row.price_z,
        price_z_long: row.price_z_long,
        volume_z: row.volume_z,
        flow_z: row.flow_z,
        robust_ready: row.robust_ready,
        driver: ["price", "volume", "flow"][i % 3],
      });
    }
    preds.push(p);
    idx.push(i);
  });
  return [preds, idx];
}

Deno.test("batch pages: inputs come back exactly, derived columns as float32, through a KV value", async () => {
  for (const [robust, every] of [[true, 1], [true, 3], [false, 2]] as const) {
    const r = new Random(robust ? every : 99);
    const rows = marketRows(400, r, robust);
    const [preds, idx] = predictionsOf(rows, r, every);
    const bytes = packBatch(encodeRows(rows), encodeVerdicts(preds, idx, []));
    const kv = await Deno.openKv(":memory:");
    await kv.set(["p"], bytes);
    const stored = (await kv.get<Uint8Array>(["p"])).value!;
    kv.close();
    assert.ok(isBatchBytes(stored));
    const back = unpackBatch(stored);
    assert.deepEqual(decodeRows(back.rows), rows.map(asStored));
    assert.deepEqual(decodeVerdicts(back.verdicts!, [back.rows]), preds.map(asStored));
    // Inputs bit for bit, not merely close.
    const got = decodeRows(back.rows);
    for (let i = 0; i < rows.length; i++) {
      assert.ok(Object.is(got[i].price, rows[i].price) && Object.is(got[i].volume, rows[i].volume));
    }
  }
});

Deno.test("batch pages: a batch with no predictions keeps its rows", () => {
  const rows = marketRows(50, new Random(4));
  const back = unpackBatch(packBatch(encodeRows(rows), null));
  assert.equal(back.verdicts, null);
  assert.deepEqual(decodeRows(back.rows), rows.map(asStored));
});

Deno.test("batch pages: values that are no short decimal fall back to float64, exactly", () => {
  const rows = marketRows(30, new Random(5), false);
  rows[0].price = Math.PI * 1e4; // irrational: no decimal of ≤ 12 digits gives it back
  rows[1].volume = -0; // a varint has no −0
  rows[2].volume = 1e300;
  rows[3].ts_ms = 1_710_000_000_000.5; // a fraction of a millisecond: one decimal
  delete rows[4].trade_id; // some trade ids absent (NaN in the column)
  for (const r of rows.slice(10)) delete r.trade_id;
  const got = decodeRows(unpackBatch(packBatch(encodeRows(rows), null)).rows);
  assert.deepEqual(got, rows.map(asStored));
  assert.ok(Object.is(got[1].volume, -0));
  assert.equal(got[0].price, Math.PI * 1e4);
  assert.equal(got[3].ts_ms, 1_710_000_000_000.5);
  // A page where no row has a trade id.
  const none = rows.slice(10);
  assert.deepEqual(
    decodeRows(unpackBatch(packBatch(encodeRows(none), null)).rows),
    none.map(asStored),
  );
});

Deno.test("batch pages: a market page costs at most 64 bytes an event (the issue's target) and under half the packed form", () => {
  const r = new Random(6);
  const rows = marketRows(400, r);
  const [preds, idx] = predictionsOf(rows, r, 1);
  const bytes = packBatch(encodeRows(rows), encodeVerdicts(preds, idx, []));
  const packed = packPage(encodeRows(rows)).length +
    packPage(encodeVerdicts(preds, idx, [["rows", 1, "x"]])).length;
  assert.ok(bytes.length / 400 <= 64, `${bytes.length / 400} bytes an event`);
  assert.ok(bytes.length * 2 < packed, `${bytes.length} vs ${packed}`);
});

Deno.test("batch pages: damaged bytes are refused with a reason, not misread", () => {
  const rows = marketRows(20, new Random(7));
  const bytes = packBatch(encodeRows(rows), null);
  assert.throws(() => unpackBatch(bytes.subarray(0, bytes.length - 3)), /truncated/);
  assert.throws(() => unpackBatch(Uint8Array.of(...bytes, 0)), /trailing bytes/);
  const future = bytes.slice();
  future[1] = 9;
  assert.throws(() => unpackBatch(future), /format 9 is not known/);
  assert.throws(() => unpackBatch(Uint8Array.of(0x53, 1)), /not a batch page/);
});

Deno.test("batch pages: regular steps (consecutive trade ids, a fixed tick) cost runs, not a byte a row", () => {
  const regular = marketRows(300, new Random(8));
  let id = 1e9;
  for (const r of regular) r.trade_id = id++; // one trade stream: ids consecutive across rows
  const gaps = new Random(9);
  let at = 1e9;
  const irregular = regular.map((r) => ({ ...r, trade_id: at += 1 + gaps.int(20) }));
  const size = (rows: FeatureRow[]) => packBatch(encodeRows(rows), null).length;
  assert.ok(size(regular) + 250 < size(irregular), `${size(regular)} vs ${size(irregular)}`);
  assert.deepEqual(
    decodeRows(unpackBatch(packBatch(encodeRows(regular), null)).rows),
    regular.map(asStored),
  );
});
