import assert from "node:assert/strict";
import type { Prediction } from "../../lib/contracts.ts";
import { CSV_COLUMNS, csvLine } from "../../routes/api/predictions.ts";
import { parseCsv, parseExport } from "./csv.ts";

Deno.test("parseCsv follows RFC 4180: quotes, doubled quotes, CRLF, embedded line breaks", () => {
  assert.deepEqual(parseCsv('a,b,c\r\n1,"x,y","say ""hi"""\r\n"two\nlines",,\r\n'), [
    ["a", "b", "c"],
    ["1", "x,y", 'say "hi"'],
    ["two\nlines", "", ""],
  ]);
  assert.deepEqual(parseCsv("a,b\n1,2"), [["a", "b"], ["1", "2"]]);
  assert.deepEqual(parseCsv(""), []);
});

const base: Prediction = {
  symbol: "BTC-USDT",
  ts_ms: 1_710_000_000_123,
  z_score_price: 4.25,
  z_score_log_return: -3.5,
  z_score_volume: 0.125,
  rolling_price_std: 0.0123,
  rolling_volume_std: 0.61,
  price: 43150.5,
  volume: 1.25,
  anomaly_score: -0.0312,
  severity: 0.6417,
  is_anomaly: true,
  anomaly_type: "PRICE_SPIKE",
  model_id: "m-1710000000000",
  label: true,
  trade_id: 42,
  source: "simulated",
};

Deno.test("parseExport reads back what /export.csv writes (the server's own csvLine)", () => {
  const preds: Prediction[] = [
    base,
    {
      ...base,
      symbol: "ETH-USDT",
      is_anomaly: false,
      anomaly_type: null,
      label: null,
      price: undefined,
      volume: undefined,
      source: "api",
      model_id: 'odd,"id"',
    },
  ];
  const text = CSV_COLUMNS.join(",") + "\r\n" + preds.map(csvLine).join("");
  const rows = parseExport(text);
  assert.equal(rows.length, 2);
  assert.deepEqual(rows[0], {
    ts_ms: base.ts_ms,
    symbol: "BTC-USDT",
    price: 43150.5,
    volume: 1.25,
    z_score_price: 4.25,
    z_score_log_return: -3.5,
    z_score_volume: 0.125,
    rolling_price_std: 0.0123,
    rolling_volume_std: 0.61,
    anomaly_score: -0.0312,
    severity: 0.6417,
    is_anomaly: true,
    anomaly_type: "PRICE_SPIKE",
    label: true,
    model_id: "m-1710000000000",
    source: "simulated",
  });
  assert.equal(rows[1].price, null);
  assert.equal(rows[1].label, null);
  assert.equal(rows[1].is_anomaly, false);
  assert.equal(rows[1].anomaly_type, null);
  assert.equal(rows[1].model_id, 'odd,"id"');
});

Deno.test("parseExport finds columns by name, so their order may change", () => {
  const rows = parseExport("is_anomaly,symbol,ts_ms\nfalse,BNB-USDT,7\n");
  assert.equal(rows[0].symbol, "BNB-USDT");
  assert.equal(rows[0].ts_ms, 7);
  assert.equal(rows[0].is_anomaly, false);
  assert.deepEqual(parseExport(""), []);
});
