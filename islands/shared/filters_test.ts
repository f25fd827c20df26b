import assert from "node:assert/strict";
import { filterQuery, minuteInput, minuteText, parseFilters } from "./filters.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];
const LIMITS = [500, 2000];

Deno.test("filters survive a round trip through the query string", () => {
  for (
    const f of [
      { symbol: "", anomaliesOnly: false, limit: 500, since: "" },
      { symbol: "ETH-USDT", anomaliesOnly: true, limit: 2000, since: "1h" },
      { symbol: "BTC-USDT", anomaliesOnly: false, limit: 2000, since: "24h" },
    ]
  ) {
    assert.deepEqual(parseFilters(new URLSearchParams(filterQuery(f, true)), SYMBOLS, LIMITS), f);
  }
});

Deno.test("the export query leaves the limit out and uses the API's parameter names", () => {
  const f = { symbol: "ETH-USDT", anomaliesOnly: true, limit: 2000, since: "1h" };
  assert.equal(filterQuery(f, false), "symbol=ETH-USDT&anomalies_only=true&since=1h");
  assert.equal(filterQuery({ symbol: "", anomaliesOnly: false, limit: 500, since: "" }, false), "");
});

Deno.test("unknown values fall back instead of failing the page", () => {
  const f = parseFilters(
    new URLSearchParams("symbol=DOGE-USDT&limit=7&anomalies_only=yes&since=3w"),
    SYMBOLS,
    LIMITS,
  );
  assert.deepEqual(f, { symbol: "", anomaliesOnly: false, limit: 500, since: "" });
  assert.equal(
    parseFilters(new URLSearchParams("anomalies_only=1"), SYMBOLS, LIMITS).anomaliesOnly,
    true,
  );
});

Deno.test("a custom time range travels as UTC from/to and comes back as custom", () => {
  const f = {
    symbol: "BTC-USDT",
    anomaliesOnly: false,
    limit: 500,
    since: "custom",
    from: "2026-12-04T18:00",
    to: "2026-12-04T19:30",
  };
  const q = filterQuery(f, false);
  assert.equal(q, "symbol=BTC-USDT&from=2026-12-04T18%3A00Z&to=2026-12-04T19%3A30Z");
  assert.deepEqual(parseFilters(new URLSearchParams(q), SYMBOLS, LIMITS), f);
  // An open end, and garbage ignored.
  const open = parseFilters(new URLSearchParams("from=2026-12-04T18:00Z&to=soon"), SYMBOLS, LIMITS);
  assert.equal(open.since, "custom");
  assert.equal(open.from, "2026-12-04T18:00");
  assert.equal(open.to, "");
});

Deno.test("a custom range's fields take 24-hour UTC minutes and refuse anything else", () => {
  assert.equal(minuteInput("2026-12-04 18:05"), "2026-12-04T18:05");
  assert.equal(minuteInput(" 2026-12-04T23:59 "), "2026-12-04T23:59");
  assert.equal(minuteInput(""), "");
  for (
    const bad of ["2026-12-04 6:05 PM", "2026-12-04 24:00", "2026-02-30 10:00", "04/12/2026 18:05"]
  ) {
    assert.equal(minuteInput(bad), null, bad);
  }
  assert.equal(minuteText("2000-01-01T13:00"), "2000-01-01 13:00");
  assert.equal(minuteText(undefined), "");
});
