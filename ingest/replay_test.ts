import assert from "node:assert/strict";
import type { MarketEvent } from "../lib/contracts.ts";
import type { Clock } from "../lib/clock.ts";
import {
  detectFormat,
  formatReplayProgress,
  MAX_LINE_CHARS,
  normalizeTimestampMs,
  parseTradeCsvLine,
  type ReplayItem,
  type ReplayOptions,
  type ReplayProgress,
  ReplaySource,
  resolveReplaySymbol,
} from "./replay.ts";

// Expected values below are copied from the fixture text (tests/fixtures/replay/), not from output.
const FIXTURES = new URL("../tests/fixtures/replay/", import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

/** Time moves only when the replay sleeps (or the test says so); sleeps are recorded. */
class FakeClock implements Clock {
  sleeps: number[] = [];
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    return Promise.resolve();
  }
}

function recordingLogger() {
  const info: string[] = [];
  const warn: string[] = [];
  return {
    info,
    warn,
    logger: { info: (m: string) => info.push(m), warn: (m: string) => warn.push(m) },
  };
}

async function replay(path: string, options: Partial<ReplayOptions> = {}) {
  const logs = recordingLogger();
  const source = new ReplaySource({
    path,
    symbols: SYMBOLS,
    speed: "max",
    clock: new FakeClock(),
    logger: logs.logger,
    ...options,
  });
  const items: ReplayItem[] = [];
  for await (const item of source.events()) items.push(item);
  return { items, events: items.map((i) => i.event), source, logs };
}

/** A CSV trade as the fixtures spell it; `prev` is the previous good price of the file. */
function csvEvent(
  symbol: string,
  id: number,
  price: number,
  volume: number,
  tsMs: number,
  prev: number | null,
): MarketEvent {
  return {
    timestamp: Math.floor(tsMs / 1000),
    symbol,
    price,
    volume,
    log_return: prev === null ? 0 : Math.log(price / prev),
    is_anomaly: false,
    anomaly_type: null,
    ts_ms: tsMs,
    trade_id: id,
    source: "replay",
  };
}

async function withTempFile<T>(
  name: string,
  content: string,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "replay_test_" });
  try {
    const path = `${dir}/${name}`;
    await Deno.writeTextFile(path, content);
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------- pure helpers

Deno.test("normalizeTimestampMs: ms below 1e14, µs at and above, floored", () => {
  assert.equal(normalizeTimestampMs(1709251200012), 1709251200012); // 2024-03-01, ms
  assert.equal(normalizeTimestampMs(1735776000000123), 1735776000000); // 2025-01-02, µs
  assert.equal(normalizeTimestampMs(1735776000999999), 1735776000999); // floor, not round
  assert.equal(normalizeTimestampMs(99_999_999_999_999), 99_999_999_999_999);
  assert.equal(normalizeTimestampMs(1e14), 1e11);
  // Why 1e14 is a safe boundary: as ms it is the year 5138, as µs it is 1973.
  assert.equal(new Date(1e14).getUTCFullYear(), 5138);
  assert.equal(new Date(1e14 / 1000).toISOString().slice(0, 10), "1973-03-03");
  // Exact integer division where a float t/1000 has no room left to be exact.
  assert.equal(normalizeTimestampMs(8_999_999_999_999_999), 8_999_999_999_999);
});

Deno.test("parseTradeCsvLine: trades and aggTrades layouts", () => {
  assert.deepEqual(
    parseTradeCsvLine(
      "3436000001,61130.98000000,0.00100000,61.13098000,1709251200012,True,True",
      "trades",
    ),
    {
      ok: true,
      value: { id: 3436000001, price: 61130.98, quantity: 0.001, timeMs: 1709251200012 },
    },
  );
  assert.deepEqual(
    parseTradeCsvLine(
      "3300000001,94591.78000000,0.00053000,4300000001,4300000001,1735776000012345,false,true",
      "aggTrades",
    ),
    {
      ok: true,
      value: { id: 3300000001, price: 94591.78, quantity: 0.00053, timeMs: 1735776000012 },
    },
  );
});

Deno.test("parseTradeCsvLine: each malformation has its reason", () => {
  const reason = (line: string, format: "trades" | "aggTrades" = "trades") => {
    const r = parseTradeCsvLine(line, format);
    return r.ok ? "ok" : r.reason;
  };
  assert.equal(reason("1,2.5,1,2.5,1709251200012,True"), "field_count");
  assert.equal(reason("1,2.5,1,2.5,1709251200012,True,True", "aggTrades"), "field_count");
  assert.equal(reason("x1,2.5,1,2.5,1709251200012,True,True"), "invalid_id");
  assert.equal(reason("-1,2.5,1,2.5,1709251200012,True,True"), "invalid_id");
  assert.equal(reason("1,abc,1,2.5,1709251200012,True,True"), "invalid_price");
  assert.equal(reason("1,0,1,0,1709251200012,True,True"), "invalid_price");
  assert.equal(reason("1,-2.5,1,2.5,1709251200012,True,True"), "invalid_price");
  assert.equal(reason("1,,1,2.5,1709251200012,True,True"), "invalid_price");
  assert.equal(reason(`1,${"9".repeat(400)},1,2.5,1709251200012,True,True`), "invalid_price");
  assert.equal(reason("1,2.5,-0.5,2.5,1709251200012,True,True"), "invalid_quantity");
  assert.equal(reason("1,2.5,lots,2.5,1709251200012,True,True"), "invalid_quantity");
  assert.equal(reason("1,2.5,1,2.5,yesterday,True,True"), "invalid_time");
  assert.equal(reason("1,2.5,1,2.5,1709251200012.5,True,True"), "invalid_time");
  // A zero quantity is odd but not invalid (DESIGN.md section 4: negative volume is).
  assert.equal(reason("1,2.5,0,0,1709251200012,True,True"), "ok");
  const r = parseTradeCsvLine("1,abc,1,2.5,1709251200012,True,True", "trades");
  assert.ok(!r.ok && r.detail.includes('"abc"'));
});

Deno.test("detectFormat: name, header, content and column count", () => {
  const trade7 = "1,2.5,1,2.5,1709251200012,True,True";
  const agg8 = "1,2.5,1,1,1,1735776000000000,true,true";
  assert.equal(detectFormat("events.jsonl", "garbage"), "jsonl");
  assert.equal(detectFormat("x.ndjson.zip", trade7), "jsonl");
  assert.equal(detectFormat("recording.txt", '  {"symbol":"BTC-USDT"}'), "jsonl");
  assert.equal(detectFormat("BTCUSDT-trades-2024-03-01.csv", agg8), "trades"); // the name wins over a data line
  assert.equal(detectFormat("data/BTCUSDT-aggTrades-2025-01-02.csv", trade7), "aggTrades");
  assert.equal(detectFormat("BTCUSDT-aggTrades-2025-01-02.zip", agg8), "aggTrades");
  assert.equal(detectFormat("dump.csv", trade7), "trades");
  assert.equal(detectFormat("dump.csv", agg8), "aggTrades");
  assert.equal(
    detectFormat("dump.csv", "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match"),
    "trades",
  );
  assert.equal(
    detectFormat("dump.csv", "agg_id,price,qty,first_id,last_id,time,is_buyer_maker,is_best_match"),
    "aggTrades",
  );
  assert.throws(
    () =>
      detectFormat(
        "BTCUSDT-trades-2024-03-01.csv",
        "agg_id,price,qty,first_id,last_id,time,is_buyer_maker,is_best_match",
      ),
    /name says trades but the header says aggTrades/,
  );
  // Binance futures aggTrades: 7 columns with a header; not the spot layout.
  assert.throws(
    () =>
      detectFormat(
        "BTCUSDT-aggTrades-2025-01-02.csv",
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker",
      ),
    /header has 7 columns, Binance spot aggTrades files have 8/,
  );
  assert.throws(() => detectFormat("dump.csv", "1,2,3"), /cannot tell the format.*3 comma/);
});

Deno.test("resolveReplaySymbol: option, file name through SYMBOLS, else REPLAY_SYMBOL error", () => {
  assert.equal(resolveReplaySymbol("BTCUSDT-trades-2024-03-01.csv", SYMBOLS), "BTC-USDT");
  assert.equal(resolveReplaySymbol("/x/y/ETHBTC-aggTrades-2025-01-02.zip", ["ETH-BTC"]), "ETH-BTC");
  assert.equal(resolveReplaySymbol("btcfdusd-trades-2024-03.csv", ["BTC-FDUSD"]), "BTC-FDUSD");
  assert.equal(resolveReplaySymbol("dump.csv", SYMBOLS, "SOL-USDT"), "SOL-USDT");
  assert.equal(
    resolveReplaySymbol("BTCUSDT-trades-2024-03-01.csv", SYMBOLS, "ETH-USDT"),
    "ETH-USDT",
  );
  assert.throws(() => resolveReplaySymbol("dump.csv", SYMBOLS), /dump\.csv.*REPLAY_SYMBOL/);
  assert.throws(
    () => resolveReplaySymbol("SOLUSDT-trades-2024-03-01.csv", SYMBOLS),
    /SOLUSDT.*none of SYMBOLS \(BTC-USDT, ETH-USDT, BNB-USDT\).*REPLAY_SYMBOL/,
  );
  assert.throws(() => resolveReplaySymbol("dump.csv", SYMBOLS, "solusdt"), /BASE-QUOTE/);
});

Deno.test("formatReplayProgress: one terminal line", () => {
  const p: ReplayProgress = {
    records: 1_200_000,
    skipped: 0,
    events: 1_199_990,
    rejected: 10,
    bytesRead: 45,
    totalBytes: 100,
    fraction: 0.45,
    rate: 310_000,
    etaSeconds: 12,
    done: false,
  };
  assert.equal(formatReplayProgress(p), "replay: 1.2M records, 310k/s, 45%, ETA 12s, 10 rejected");
  assert.equal(
    formatReplayProgress({ ...p, rejected: 0, etaSeconds: 185, records: 999 }),
    "replay: 999 records, 310k/s, 45%, ETA 3m05s",
  );
  assert.equal(
    formatReplayProgress({ ...p, rejected: 0, done: true, fraction: 1, etaSeconds: 0 }),
    "replay: done, 1.2M records, 310k/s, 100%",
  );
});

// ---------------------------------------------------------------- formats

Deno.test("JSONL: events as recorded, defaults filled, bad lines counted with line numbers", async () => {
  const { items, source, logs } = await replay(fixture("events.jsonl"));
  assert.deepEqual(items, [
    {
      offset: 0,
      event: {
        timestamp: 1710000000,
        symbol: "BTC-USDT",
        price: 43150.5,
        volume: 1.25,
        log_return: 0,
        is_anomaly: false,
        anomaly_type: null,
        ts_ms: 1710000000123,
        trade_id: 1,
        source: "simulated",
      },
    },
    {
      offset: 1,
      event: {
        timestamp: 1710000000,
        symbol: "ETH-USDT",
        price: 2300.25,
        volume: 10,
        log_return: 0,
        is_anomaly: false,
        anomaly_type: null,
        ts_ms: 1710000000456,
        trade_id: 1,
        source: "simulated",
      },
    },
    {
      offset: 3,
      event: {
        timestamp: 1710000001,
        symbol: "BTC-USDT",
        price: 47465.55,
        volume: 12,
        log_return: 0.0953101798,
        is_anomaly: true,
        anomaly_type: "PRICE_SPIKE",
        ts_ms: 1710000001000,
        trade_id: 2,
        source: "simulated",
      },
    },
    {
      offset: 5,
      event: {
        timestamp: 1710000002,
        symbol: "ETH-USDT",
        price: 2301,
        volume: 3.5,
        log_return: 0.0003259983,
        is_anomaly: false,
        anomaly_type: null,
        source: "replay",
      },
    },
  ]);
  const stats = source.stats();
  assert.equal(stats.format, "jsonl");
  assert.deepEqual(stats.rejected, { invalid_event: 1, invalid_json: 1 });
  assert.equal(stats.firstRejected.invalid_event?.line, 4);
  assert.match(stats.firstRejected.invalid_event!.detail, /price must be positive/);
  assert.equal(stats.firstRejected.invalid_json?.line, 6);
  assert.equal(logs.warn.length, 2);
  assert.match(logs.warn[0], /line 4: skipping invalid_event/);
  assert.match(logs.warn[1], /line 6: skipping invalid_json/);
  const p = source.progress();
  assert.deepEqual([p.records, p.events, p.rejected, p.skipped, p.done], [6, 4, 2, 0, true]);
});

Deno.test("trades CSV with header, ms era: symbol from the file name", async () => {
  const { events, source } = await replay(fixture("BTCUSDT-trades-2024-03-01.csv"));
  assert.deepEqual(events, [
    csvEvent("BTC-USDT", 3436000001, 61130.98, 0.001, 1709251200012, null),
    csvEvent("BTC-USDT", 3436000002, 61131.0, 0.05, 1709251200512, 61130.98),
    csvEvent("BTC-USDT", 3436000003, 61125.5, 0.2, 1709251201700, 61131.0),
  ]);
  // 2024-03-01T00:00:00Z is 1709251200 (date -u -d @1709251200).
  assert.deepEqual(events.map((e) => e.timestamp), [1709251200, 1709251200, 1709251201]);
  assert.deepEqual(source.stats(), {
    format: "trades",
    symbol: "BTC-USDT",
    rejected: {},
    firstRejected: {},
  });
  assert.equal(source.progress().records, 3); // the header is not a record
});

Deno.test("trades CSV without header, µs era, CRLF line ends", async () => {
  const { events, source } = await replay(fixture("ETHUSDT-trades-2025-01-02.csv"));
  assert.deepEqual(events, [
    csvEvent("ETH-USDT", 1700000001, 3350.12, 0.5, 1735776000000, null),
    csvEvent("ETH-USDT", 1700000002, 3350.5, 1.25, 1735776000999, 3350.12),
    csvEvent("ETH-USDT", 1700000003, 3349.9, 0.0001, 1735776002000, 3350.5),
  ]);
  assert.deepEqual(events.map((e) => e.timestamp), [1735776000, 1735776000, 1735776002]);
  assert.equal(source.stats().format, "trades");
  assert.deepEqual(source.stats().rejected, {});
});

const AGG_EVENTS = [
  csvEvent("BTC-USDT", 3300000001, 94591.78, 0.00053, 1735776000012, null),
  csvEvent("BTC-USDT", 3300000002, 94591.79, 0.1, 1735776000500, 94591.78),
  csvEvent("BTC-USDT", 3300000003, 94590.0, 1.5, 1735776003250, 94591.79),
];

Deno.test("aggTrades CSV, µs era: agg_id is the trade id", async () => {
  const { events, source } = await replay(fixture("BTCUSDT-aggTrades-2025-01-02.csv"));
  assert.deepEqual(events, AGG_EVENTS);
  assert.equal(source.stats().format, "aggTrades");
});

Deno.test("a name that says nothing: header decides the kind, REPLAY_SYMBOL the symbol", async () => {
  const { events, source, logs } = await replay(fixture("recorded.csv"), { symbol: "ETH-BTC" });
  assert.deepEqual(events, [
    csvEvent("ETH-BTC", 900, 0.05123, 2, 1735776000000, null),
    csvEvent("ETH-BTC", 901, 0.05124, 0.5, 1735776001000, 0.05123),
  ]);
  assert.deepEqual([source.stats().format, source.stats().symbol], ["aggTrades", "ETH-BTC"]);
  assert.deepEqual(logs.warn, []);
  await assert.rejects(replay(fixture("recorded.csv")), /recorded\.csv.*REPLAY_SYMBOL/);
});

Deno.test("REPLAY_SYMBOL overrides the file name, with a warning", async () => {
  const { events, logs } = await replay(fixture("BTCUSDT-trades-2024-03-01.csv"), {
    symbol: "BTC-FDUSD",
  });
  assert.deepEqual(events.map((e) => e.symbol), ["BTC-FDUSD", "BTC-FDUSD", "BTC-FDUSD"]);
  assert.equal(logs.warn.length, 1);
  assert.match(logs.warn[0], /looks like BTCUSDT, replaying it as BTC-FDUSD/);
});

Deno.test("a file name whose symbol is not configured names REPLAY_SYMBOL", async () => {
  await assert.rejects(
    replay(fixture("BTCUSDT-trades-2024-03-01.csv"), { symbols: ["ETH-USDT"] }),
    /BTCUSDT, which is none of SYMBOLS \(ETH-USDT\).*REPLAY_SYMBOL/,
  );
});

Deno.test("malformed lines are counted per reason with line numbers and skipped", async () => {
  const { items, source, logs } = await replay(fixture("BTCUSDT-trades-2024-03-02.csv"));
  assert.deepEqual(items, [
    { offset: 0, event: csvEvent("BTC-USDT", 100, 61000, 0.01, 1709337600000, null) },
    { offset: 1, event: csvEvent("BTC-USDT", 101, 61010, 0.02, 1709337600100, 61000) },
    { offset: 5, event: csvEvent("BTC-USDT", 105, 61040, 0.05, 1709337600500, 61010) },
    { offset: 7, event: csvEvent("BTC-USDT", 107, 61060, 0.07, 1709337600700, 61040) },
    // the last line has no newline at the end
    { offset: 9, event: csvEvent("BTC-USDT", 109, 61080, 0.02, 1709337600900, 61060) },
  ]);
  const stats = source.stats();
  assert.deepEqual(stats.rejected, {
    field_count: 2,
    invalid_price: 1,
    invalid_quantity: 1,
    invalid_time: 1,
  });
  assert.deepEqual(
    Object.fromEntries(Object.entries(stats.firstRejected).map(([k, v]) => [k, v.line])),
    { field_count: 4, invalid_price: 6, invalid_quantity: 7, invalid_time: 11 },
  );
  assert.match(stats.firstRejected.field_count!.detail, /expected 7 fields .* got 6/);
  assert.match(stats.firstRejected.invalid_quantity!.detail, /-0\.50000000 is negative/);
  // Logged once per reason (line 9 is a second field_count: counted, not logged).
  assert.equal(logs.warn.length, 4);
  assert.deepEqual(
    logs.warn.map((w) => /line (\d+): skipping (\w+)/.exec(w)!.slice(1).join(" ")),
    ["4 field_count", "6 invalid_price", "7 invalid_quantity", "11 invalid_time"],
  );
  const p = source.progress();
  assert.deepEqual([p.records, p.events, p.rejected], [10, 5, 5]);
  assert.equal(p.records, p.events + p.rejected);
});

Deno.test("an overlong line is rejected without buffering it, and the replay goes on", async () => {
  const good = (id: number) => `${id},100.5,1,100.5,1709251200000,True,True`;
  const long = "9".repeat(MAX_LINE_CHARS + 10);
  // One overlong line in the middle (it spans several read chunks), one at the very end.
  const content = `${good(1)}\n${long}\n${good(2)}\n\n${good(3)}\n${long}${long}`;
  await withTempFile("SOLUSDT-trades-2024-03-01.csv", content, async (path) => {
    const { items, source } = await replay(path, { symbols: ["SOL-USDT"] });
    assert.deepEqual(items.map((i) => [i.offset, i.event.trade_id]), [[0, 1], [2, 2], [3, 3]]);
    assert.deepEqual(source.stats().rejected, { line_too_long: 2 });
    assert.equal(source.stats().firstRejected.line_too_long?.line, 2);
    assert.equal(source.progress().records, 5);
  });
  // A line just over the limit that arrives whole inside one chunk is caught as well.
  const short = `${good(1)}\n${"9".repeat(MAX_LINE_CHARS + 1)}\n${good(2)}\n`;
  await withTempFile("SOLUSDT-trades-2024-03-02.csv", short, async (path) => {
    const { source } = await replay(path, { symbols: ["SOL-USDT"] });
    assert.deepEqual(source.stats().rejected, { line_too_long: 1 });
  });
});

// ---------------------------------------------------------------- zip

for (
  const [name, what] of [
    ["zip-deflate.zip", "deflate, sizes in the local header"],
    ["zip-descriptor.zip", "deflate, written to a pipe: sizes only after the data (bit 3)"],
    ["zip-zip64.zip", "Zip64 end record and extra field (zip -fz)"],
    ["BTCUSDT-aggTrades-2025-01-02.zip", "stored; the entry is data.csv, the archive names it"],
  ] as const
) {
  Deno.test(`zip (${what}) replays as its CSV does`, async () => {
    const { events, source } = await replay(fixture(name));
    assert.deepEqual(events, AGG_EVENTS);
    const p = source.progress();
    assert.equal(p.done, true);
    assert.equal(p.bytesRead, p.totalBytes);
    assert.ok(p.totalBytes < (await Deno.stat(fixture(name))).size); // the entry, not the archive
  });
}

Deno.test("a file named .zip that is not one fails with a clear error", async () => {
  await withTempFile("BTCUSDT-trades-2024-03-01.zip", "id,price\n1,2\n", async (path) => {
    await assert.rejects(replay(path), /BTCUSDT-trades-2024-03-01\.zip: not a zip archive/);
  });
});

Deno.test("a zip whose compressed data is damaged fails with the file's name", async () => {
  const bytes = await Deno.readFile(fixture("zip-deflate.zip"));
  // The entry's data starts after the 30-byte local header, its name and extra field.
  const view = new DataView(bytes.buffer);
  const start = 30 + view.getUint16(26, true) + view.getUint16(28, true);
  bytes.fill(0xff, start, start + 8);
  const dir = await Deno.makeTempDir({ prefix: "replay_test_" });
  try {
    await Deno.writeFile(`${dir}/damaged.zip`, bytes);
    await assert.rejects(replay(`${dir}/damaged.zip`), /replay: cannot read .*\.csv/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------- pace

Deno.test("speed 10: the sleeps are the gaps between trade times divided by 10", async () => {
  const clock = new FakeClock();
  const { events } = await replay(fixture("BTCUSDT-trades-2024-03-01.csv"), { speed: 10, clock });
  assert.equal(events.length, 3);
  // trade times 1709251200012, …512, …1700 (fixture): gaps 500 ms and 1188 ms
  assert.equal(clock.sleeps.length, 2);
  assert.ok(Math.abs(clock.sleeps[0] - 500 / 10) < 1e-9, `${clock.sleeps}`);
  assert.ok(Math.abs(clock.sleeps[1] - 1188 / 10) < 1e-9, `${clock.sleeps}`);
});

Deno.test("speed is anchored on the first event: a late consumer is not slept, it catches up", async () => {
  const clock = new FakeClock();
  const source = new ReplaySource({
    path: fixture("BTCUSDT-trades-2024-03-01.csv"),
    symbols: SYMBOLS,
    speed: 1,
    clock,
    logger: recordingLogger().logger,
  });
  const times: number[] = [];
  for await (const { event } of source.events()) {
    times.push(clock.now());
    if (event.trade_id === 3436000001) clock.t += 1_000; // the consumer stalls 1 s after the first
  }
  const start = times[0];
  // due: +500 (already past, no sleep), +1688 (sleep 688 from +1000)
  assert.deepEqual(clock.sleeps, [688]);
  assert.deepEqual(times.map((t) => t - start), [0, 1000, 1688]);
});

Deno.test('speed "max" never sleeps', async () => {
  const clock = new FakeClock();
  await replay(fixture("BTCUSDT-trades-2024-03-02.csv"), { speed: "max", clock });
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("invalid speeds and offsets are refused at construction", () => {
  const base = { path: "x.csv", symbols: SYMBOLS };
  for (const speed of [0, -1, Number.NaN, Infinity]) {
    assert.throws(() => new ReplaySource({ ...base, speed }), RangeError);
  }
  for (const startAt of [-1, 1.5]) {
    assert.throws(() => new ReplaySource({ ...base, speed: "max", startAt }), RangeError);
  }
  assert.throws(() => new ReplaySource({ ...base, speed: "max", symbol: "btcusdt" }), TypeError);
});

// ---------------------------------------------------------------- resume

Deno.test("startAt resumes at the right record, log returns continuous", async () => {
  const { items, source } = await replay(fixture("BTCUSDT-trades-2024-03-02.csv"), { startAt: 6 });
  // records 0-5 skipped (events 100, 101, 105 among them); 107 still returns against 105
  assert.deepEqual(items, [
    { offset: 7, event: csvEvent("BTC-USDT", 107, 61060, 0.07, 1709337600700, 61040) },
    { offset: 9, event: csvEvent("BTC-USDT", 109, 61080, 0.02, 1709337600900, 61060) },
  ]);
  const p = source.progress();
  assert.deepEqual([p.records, p.skipped, p.events, p.rejected], [10, 6, 2, 2]);
  assert.equal(p.records, p.skipped + p.events + p.rejected);
  // rejections before startAt were the previous run's: not counted again
  assert.deepEqual(source.stats().rejected, { field_count: 1, invalid_time: 1 });
});

Deno.test("startAt = offset + 1 continues right after any event (CSV and JSONL)", async () => {
  for (const name of ["BTCUSDT-trades-2024-03-02.csv", "events.jsonl"]) {
    const full = (await replay(fixture(name))).items;
    for (let k = 0; k < full.length; k++) {
      const rest = (await replay(fixture(name), { startAt: full[k].offset + 1 })).items;
      assert.deepEqual(rest, full.slice(k + 1), `${name} after offset ${full[k].offset}`);
    }
  }
});

Deno.test("startAt past the end yields nothing and counts every record as skipped", async () => {
  const { items, source } = await replay(fixture("events.jsonl"), { startAt: 1000 });
  assert.deepEqual(items, []);
  const p = source.progress();
  assert.deepEqual([p.records, p.skipped, p.events, p.rejected, p.done], [6, 6, 0, 0, true]);
});

// ---------------------------------------------------------------- progress

Deno.test("progress: reports at most every N ms of the clock, numbers add up, bytes reach the size", async () => {
  const clock = new FakeClock();
  const reports: { at: number; p: ReplayProgress }[] = [];
  const path = fixture("BTCUSDT-trades-2024-03-02.csv");
  const { source } = await replay(path, {
    speed: 1,
    clock,
    progressEveryMs: 250,
    onProgress: (p) => reports.push({ at: clock.now(), p }),
  });
  const size = (await Deno.stat(path)).size;
  assert.ok(reports.length >= 3, `${reports.length} reports`);
  const last = reports[reports.length - 1].p;
  assert.equal(last.done, true);
  for (let i = 1; i < reports.length - 1; i++) {
    assert.ok(reports[i].at - reports[i - 1].at >= 250, "reports closer than progressEveryMs");
  }
  for (const { p } of reports) {
    assert.equal(p.records, p.skipped + p.events + p.rejected);
    assert.equal(p.totalBytes, size);
    assert.ok(p.records >= 0 && p.records <= 10);
  }
  assert.deepEqual([last.records, last.events, last.rejected], [10, 5, 5]);
  assert.deepEqual([last.bytesRead, last.fraction, last.etaSeconds], [size, 1, 0]);
  // Trade times span 900 ms at speed 1 and the window is 5 s: 10 records over 0.9 s.
  assert.ok(Math.abs(source.progress().rate - 10 / 0.9) < 1e-9, `${source.progress().rate}`);
});

Deno.test("progress before the first record: nothing read, rate 0, no ETA", () => {
  const source = new ReplaySource({
    path: fixture("events.jsonl"),
    symbols: SYMBOLS,
    speed: "max",
    clock: new FakeClock(),
  });
  const p = source.progress();
  assert.deepEqual(
    [p.records, p.bytesRead, p.rate, p.etaSeconds, p.fraction, p.done],
    [0, 0, 0, null, null, false],
  );
});

// ---------------------------------------------------------------- lifecycle

Deno.test("stopping early closes the file (plain and zip)", async () => {
  for (const name of ["BTCUSDT-trades-2024-03-02.csv", "zip-deflate.zip"]) {
    const source = new ReplaySource({
      path: fixture(name),
      symbols: SYMBOLS,
      speed: "max",
      logger: recordingLogger().logger,
    });
    const seen: number[] = [];
    for await (const { offset } of source.events()) {
      seen.push(offset);
      break;
    }
    assert.deepEqual(seen, [0]);
    assert.equal(source.progress().done, false);
  }
  // The test's resource sanitizer fails it if a file were left open.
});

Deno.test("an abort signal ends the replay, also in the middle of a sleep", async () => {
  const controller = new AbortController();
  const source = new ReplaySource({
    path: fixture("BTCUSDT-trades-2024-03-01.csv"),
    symbols: SYMBOLS,
    speed: 1,
    clock: {
      now: () => 0,
      // a sleep that only an abort ends, as the real clock's does
      sleep: (_ms, signal) =>
        new Promise((resolve) => signal?.addEventListener("abort", () => resolve())),
    },
    logger: recordingLogger().logger,
  });
  const seen: number[] = [];
  for await (const { event } of source.events(controller.signal)) {
    seen.push(event.trade_id!);
    setTimeout(() => controller.abort(), 0);
  }
  assert.deepEqual(seen, [3436000001]);
  assert.equal(source.progress().done, false);
});

Deno.test("events() may be called once; a missing file rejects", async () => {
  const source = new ReplaySource({
    path: fixture("events.jsonl"),
    symbols: SYMBOLS,
    speed: "max",
  });
  await source.events().return();
  assert.throws(() => source.events(), /called once/);
  await assert.rejects(replay(fixture("no-such-file.csv")), Deno.errors.NotFound);
});

Deno.test("an empty file yields nothing", async () => {
  await withTempFile("BTCUSDT-trades-2024-03-01.csv", "\n\n", async (path) => {
    const { items, source } = await replay(path);
    assert.deepEqual(items, []);
    const p = source.progress();
    assert.deepEqual([p.records, p.done, p.fraction], [0, true, 1]);
  });
});

Deno.test("clock skew: a lone far-ahead line is refused, a genuine gap kept, the future refused", async () => {
  const T = 1_710_000_000_000;
  const line = (id: number, ts: number) =>
    JSON.stringify({
      timestamp: Math.floor(ts / 1000),
      ts_ms: ts,
      symbol: "BTC-USDT",
      price: 100,
      volume: 1,
      log_return: 0,
      trade_id: id,
    });
  const lines = [
    line(1, T),
    line(2, T + 1000),
    line(3, 8_000_000_000_000), // year 2223: a lone outlier inside the file's stream
    line(4, T + 2000),
    line(5, T + 2000 + 3_600_000), // an hour of silence, then trading goes on
    line(6, T + 2000 + 3_601_000),
  ];
  await withTempFile("s.jsonl", lines.join("\n") + "\n", async (path) => {
    // The wall clock is a day after the file: nothing is ahead of it but line 3.
    const { events, source } = await replay(path, {
      maxClockSkewMs: 300_000,
      wallClock: () => T + 86_400_000,
    });
    assert.deepEqual(events.map((e) => e.trade_id), [1, 2, 4, 5, 6]);
    assert.deepEqual(source.stats().rejected, { clock_skew: 1 });
    assert.match(source.stats().firstRejected.clock_skew!.detail, /^ts_ms: 8000000000000 is/);
  });
  // Judged against the file's own stream too: a far-ahead line that is still in the past.
  const inPast = [line(1, T), line(2, T + 86_400_000), line(3, T + 1000)];
  await withTempFile("p.jsonl", inPast.join("\n") + "\n", async (path) => {
    const { events, source } = await replay(path, {
      maxClockSkewMs: 300_000,
      wallClock: () => T + 10 * 86_400_000,
    });
    assert.deepEqual(events.map((e) => e.trade_id), [1, 3]);
    assert.deepEqual(source.stats().rejected, { clock_skew: 1 });
    assert.match(source.stats().firstRejected.clock_skew!.detail, /jumps 86400000 ms ahead/);
  });
});
