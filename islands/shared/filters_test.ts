import assert from "node:assert/strict";
import { filterQuery, parseFilters } from "./filters.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];
const LIMITS = [500, 2000];

Deno.test("filters survive a round trip through the query string", () => {
  for (
    const f of [
      { symbol: "", anomaliesOnly: false, limit: 500 },
      { symbol: "ETH-USDT", anomaliesOnly: true, limit: 2000 },
      { symbol: "BTC-USDT", anomaliesOnly: false, limit: 2000 },
    ]
  ) {
    assert.deepEqual(parseFilters(new URLSearchParams(filterQuery(f, true)), SYMBOLS, LIMITS), f);
  }
});

Deno.test("the export query leaves the limit out and uses the API's parameter names", () => {
  const f = { symbol: "ETH-USDT", anomaliesOnly: true, limit: 2000 };
  assert.equal(filterQuery(f, false), "symbol=ETH-USDT&anomalies_only=true");
  assert.equal(filterQuery({ symbol: "", anomaliesOnly: false, limit: 500 }, false), "");
});

Deno.test("unknown values fall back instead of failing the page", () => {
  const f = parseFilters(
    new URLSearchParams("symbol=DOGE-USDT&limit=7&anomalies_only=yes"),
    SYMBOLS,
    LIMITS,
  );
  assert.deepEqual(f, { symbol: "", anomaliesOnly: false, limit: 500 });
  assert.equal(
    parseFilters(new URLSearchParams("anomalies_only=1"), SYMBOLS, LIMITS).anomaliesOnly,
    true,
  );
});
