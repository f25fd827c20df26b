import assert from "node:assert/strict";
import type { Prediction } from "../../lib/contracts.ts";
import { CSV_COLUMNS, csvCell, csvLine, csvStream } from "./predictions.ts";

const p: Prediction = {
  symbol: "BTC-USDT",
  ts_ms: 1710000000123,
  price: 43150.5,
  z_score_price: -1.25,
  z_score_log_return: 0.5,
  z_score_volume: 3,
  rolling_price_std: 0.0012,
  rolling_volume_std: 0.55,
  anomaly_score: -0.0375,
  severity: 0.61,
  is_anomaly: true,
  anomaly_type: "VOLUME_SPIKE",
  model_id: "m-1",
  label: true,
  source: 'say "hi", then\nleave',
};

Deno.test("csvLine: the columns in order, empty for absent values, RFC 4180 quoting", () => {
  assert.equal(CSV_COLUMNS.length, 18);
  assert.equal(
    csvLine(p),
    "1710000000123,2024-03-09T16:00:00.123Z,BTC-USDT,43150.5,,-1.25,0.5,3,0.0012,0.55,-0.0375," +
      '0.61,true,VOLUME_SPIKE,true,m-1,"say ""hi"", then\nleave",\r\n',
  );
});

Deno.test("csvStream: header, newest first within pages, filter and limit across pages", async () => {
  const mk = (i: number): Prediction => ({ ...p, ts_ms: i, is_anomaly: i % 2 === 0, source: "s" });
  async function* pages() {
    yield [mk(7), mk(8), mk(9)];
    yield [mk(4), mk(5), mk(6)];
    yield [mk(1), mk(2), mk(3)];
  }
  const text = await new Response(
    csvStream(pages(), { limit: 3, anomaliesOnly: true, newestFirst: true }),
  ).text();
  const lines = text.split("\r\n");
  assert.equal(lines[0], CSV_COLUMNS.join(","));
  assert.deepEqual(lines.slice(1, -1).map((l) => Number(l.split(",")[0])), [8, 6, 4]);
});

Deno.test("csvCell: text that a spreadsheet would run is neutralised (OWASP CSV injection)", () => {
  for (
    const [input, out] of [
      ['=HYPERLINK("http://evil.example","x")', `"'=HYPERLINK(""http://evil.example"",""x"")"`],
      ["+1+2", "'+1+2"],
      ["-2+3", "'-2+3"],
      ["@SUM(A1)", "'@SUM(A1)"],
      ["\tx", "'\tx"],
      ["binance", "binance"],
    ] as const
  ) {
    assert.equal(csvCell(input), out, input);
  }
  // Numbers are not text: a negative score stays a number.
  assert.equal(csvCell(-0.25), "-0.25");
  assert.equal(csvCell(null), "");
});
