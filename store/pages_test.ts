import assert from "node:assert/strict";
import { serialize } from "node:v8";
import { ANOMALY_TYPES, type FeatureRow, type Prediction } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import {
  decodePredictions,
  decodeRows,
  decodeVerdicts,
  encodePredictions,
  encodeRows,
  encodeVerdicts,
  MAX_PAGE_RECORDS,
  type Page,
  type VerdictPage,
} from "./pages.ts";
import { packPage, unpackPage } from "./packed.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT", "SOL-USDT"];

function randomRows(n: number, r: Random): FeatureRow[] {
  return Array.from({ length: n }, (_, i) => {
    const type = r.float() < 0.3 ? ANOMALY_TYPES[r.int(ANOMALY_TYPES.length)] : null;
    const row: FeatureRow = {
      symbol: SYMBOLS[r.int(4)],
      ts_ms: 1_710_000_000_000 + i * 37,
      z_score_price: r.normal() * 3,
      z_score_log_return: r.normal() * 100,
      z_score_volume: r.normal(),
      rolling_price_std: r.float() * 1e-3,
      rolling_volume_std: r.float(),
      window_count: r.int(5000),
      warm_up: r.float() < 0.2,
      price: 43000 + r.normal(),
      volume: r.float() * 10,
      is_anomaly: type !== null,
      anomaly_type: type,
    };
    if (r.float() < 0.8) row.trade_id = 1_000_000_000 + i;
    if (r.float() < 0.8) row.source = r.float() < 0.5 ? "simulated" : "binance";
    return row;
  });
}

Deno.test("pages: feature rows survive encode → V8 serialization → decode exactly", async () => {
  const rows = randomRows(MAX_PAGE_RECORDS, new Random(1));
  const page = encodeRows(rows);
  // Through a real KV value, the way the worker stores pages.
  const kv = await Deno.openKv(":memory:");
  await kv.set(["p"], page);
  const back = (await kv.get<typeof page>(["p"])).value!;
  kv.close();
  assert.deepEqual(decodeRows(back), rows);
});

Deno.test("pages: predictions survive the round trip, labels null/true/false included", () => {
  const r = new Random(2);
  const preds: Prediction[] = randomRows(300, r).map((row, i) => {
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
      anomaly_score: r.normal() * 0.1,
      severity: r.float(),
      is_anomaly: r.float() < 0.5,
      anomaly_type: row.anomaly_type,
      model_id: i % 2 ? "m-1" : "m-2",
      label: [null, true, false][i % 3] as boolean | null,
    };
    if (row.trade_id !== undefined) p.trade_id = row.trade_id;
    if (row.source !== undefined) p.source = row.source;
    return p;
  });
  assert.deepEqual(decodePredictions(encodePredictions(preds)), preds);
});

Deno.test("pages: a full page stays under Deno KV's 64 KiB value limit and is compact", () => {
  const page = encodeRows(randomRows(MAX_PAGE_RECORDS, new Random(3)));
  const bytes = serialize(page).length;
  assert.ok(bytes < 65_536, `${bytes} bytes`);
  // An array of objects of the same rows costs ~290 B a row; columns must beat it by 2×.
  const objects = serialize(randomRows(MAX_PAGE_RECORDS, new Random(3))).length;
  assert.ok(bytes * 2 < objects, `${bytes} vs ${objects}`);
});

Deno.test("pages: a page refuses more records than it may hold, and the wrong decoder", () => {
  assert.throws(() => encodeRows(randomRows(MAX_PAGE_RECORDS + 1, new Random(4))), RangeError);
  assert.throws(() => decodePredictions(encodeRows(randomRows(3, new Random(5)))), TypeError);
});

Deno.test("pages: every anomaly type round-trips, and a page written before the v2 types still decodes", () => {
  const rows = randomRows(ANOMALY_TYPES.length, new Random(6)).map((row, i) => ({
    ...row,
    is_anomaly: true,
    anomaly_type: ANOMALY_TYPES[i],
  }));
  assert.deepEqual(decodeRows(encodeRows(rows)).map((r) => r.anomaly_type), [...ANOMALY_TYPES]);
  // The earlier layout had the type code in bits 2–3 only (codes 1–3 = the seed's three types).
  const page = encodeRows(rows.slice(0, 3));
  page.flags = Uint8Array.from([2 | (1 << 2), 1 | 2 | (2 << 2), 2 | (3 << 2)]);
  const back = decodeRows(page);
  assert.deepEqual(back.map((r) => r.anomaly_type), ["PRICE_SPIKE", "VOLUME_SPIKE", "FLASH_CRASH"]);
  assert.deepEqual(back.map((r) => r.warm_up), [false, true, false]);
});

Deno.test("pages: detection v2's robust features and the verdict's driver survive the round trip", async () => {
  const r = new Random(9);
  const rows = randomRows(200, r).map((row) => ({
    ...row,
    price_z: r.normal() * 10,
    price_z_long: r.normal(),
    volume_z: r.normal() * 2,
    flow_z: r.normal(),
    robust_ready: r.float() < 0.7,
  }));
  const kv = await Deno.openKv(":memory:");
  await kv.set(["r"], encodeRows(rows));
  const back = decodeRows((await kv.get<ReturnType<typeof encodeRows>>(["r"])).value!);
  assert.deepEqual(back, rows);
  const preds: Prediction[] = rows.map((row, i) => ({
    symbol: row.symbol,
    ts_ms: row.ts_ms,
    z_score_price: row.z_score_price,
    z_score_log_return: row.z_score_log_return,
    z_score_volume: row.z_score_volume,
    rolling_price_std: row.rolling_price_std,
    rolling_volume_std: row.rolling_volume_std,
    price_z: row.price_z,
    price_z_long: row.price_z_long,
    volume_z: row.volume_z,
    flow_z: row.flow_z,
    robust_ready: row.robust_ready,
    anomaly_score: -0.1,
    severity: 0.7,
    is_anomaly: i % 3 === 0,
    anomaly_type: null,
    model_id: "m",
    label: null,
    ...(i % 3 === 0 ? { driver: i % 2 ? "volume_z" : "price_z" } : {}),
  }));
  await kv.set(["p"], encodePredictions(preds));
  const pback = decodePredictions(
    (await kv.get<ReturnType<typeof encodePredictions>>(["p"])).value!,
  );
  kv.close();
  assert.deepEqual(pback, preds);
});

Deno.test("pages: packed pages (one Uint8Array through a real KV value) decode to the same records", async () => {
  const r = new Random(21);
  const kv = await Deno.openKv(":memory:");
  try {
    for (const n of [0, 1, 3, 257, MAX_PAGE_RECORDS]) {
      // a page's robust columns are all-or-nothing (as the engine makes them): alternate by size
      const robust = n % 2 === 1;
      const rows = randomRows(n, r).map((row, i) =>
        robust
          ? {
            ...row,
            price_z: r.normal(),
            price_z_long: r.normal(),
            volume_z: 1,
            flow_z: -2,
            robust_ready: i % 4 === 0,
          }
          : row
      );
      const page = encodeRows(rows);
      await kv.set(["r", n], packPage(page));
      const stored = (await kv.get<Uint8Array>(["r", n])).value!;
      assert.ok(stored instanceof Uint8Array);
      assert.deepEqual(decodeRows(unpackPage(stored) as Page), rows);
      // what packing saves: V8's per-column overhead
      if (n === 3) {
        assert.ok(
          stored.length + 80 < serialize(page).length,
          `${stored.length} vs ${serialize(page).length}`,
        );
      }
      const scored = rows.filter((_, i) => i % 3 !== 0);
      const idx = rows.map((_, i) => i).filter((i) => i % 3 !== 0);
      const preds: Prediction[] = scored.map((row, j) => ({
        symbol: row.symbol,
        ts_ms: row.ts_ms,
        z_score_price: row.z_score_price,
        z_score_log_return: row.z_score_log_return,
        z_score_volume: row.z_score_volume,
        rolling_price_std: row.rolling_price_std,
        rolling_volume_std: row.rolling_volume_std,
        price: row.price,
        volume: row.volume,
        ...(row.robust_ready === undefined ? {} : {
          price_z: row.price_z,
          price_z_long: row.price_z_long,
          volume_z: row.volume_z,
          flow_z: row.flow_z,
          robust_ready: row.robust_ready,
        }),
        anomaly_score: r.normal(),
        severity: r.float(),
        is_anomaly: j % 5 === 0,
        anomaly_type: row.anomaly_type,
        model_id: j % 2 ? "m1" : "m2",
        label: j % 7 === 0 ? null : row.is_anomaly,
        trade_id: row.trade_id,
        source: row.source,
        ...(j % 2 ? { driver: "price_z" } : {}),
      }));
      for (const p of preds) {
        if (p.trade_id === undefined) delete p.trade_id;
        if (p.source === undefined) delete p.source;
      }
      const self = unpackPage(packPage(encodePredictions(preds))) as Page;
      assert.deepEqual(decodePredictions(self), preds);
      const key = ["rows", 1, `b.${n}`];
      const v = encodeVerdicts(preds, idx, [key]);
      await kv.set(["v", n], packPage(v));
      const vb = unpackPage((await kv.get<Uint8Array>(["v", n])).value!) as VerdictPage;
      assert.deepEqual(vb.rk, [key]);
      assert.deepEqual(decodeVerdicts(vb, [unpackPage(stored) as Page]), preds);
    }
  } finally {
    kv.close();
  }
});

Deno.test("pages: times and trade ids pack as steps when exact, as float64 otherwise", () => {
  const r = new Random(22);
  const base = randomRows(50, r).map((row, i) => ({ ...row, trade_id: 7_000_000_000 + i * 3 }));
  const cases = [
    base, // integer times and ids: steps
    base.map((row, i) => ({ ...row, ts_ms: row.ts_ms + (i === 7 ? 0.25 : 0) })), // a fractional time
    base.map((row, i) => ({ ...row, trade_id: i === 9 ? row.trade_id + 2 ** 40 : row.trade_id })), // a far id
    base.map((row, i) => ({ ...row, ts_ms: i === 0 ? -0 : row.ts_ms })), // a negative zero
  ];
  const sizes = cases.map((rows) => {
    const packed = packPage(encodeRows(rows));
    const back = decodeRows(unpackPage(packed) as Page);
    assert.deepEqual(back, rows);
    assert.ok(Object.is(back[0].ts_ms, rows[0].ts_ms));
    return packed.length;
  });
  // steps save 4 bytes a record in each column that has them
  assert.ok(sizes[0] + 50 * 4 - 16 <= sizes[1], `${sizes}`);
  assert.ok(sizes[0] < sizes[1] && sizes[0] < sizes[2] && sizes[0] < sizes[3], `${sizes}`);
});
