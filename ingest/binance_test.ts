import assert from "node:assert/strict";
import { Random } from "../lib/random.ts";
import { MarketEvent } from "../lib/contracts.ts";
import {
  type BinanceOptions,
  BinanceSource,
  binanceSymbolMap,
  nextBackoffMs,
  parseBinanceFrame,
  streamUrl,
  toBinanceSymbol,
  type WebSocketLike,
} from "./binance.ts";

// The payload examples of Binance's "WebSocket Streams" page, verbatim (comments removed).
const DOC_TRADE =
  '{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":true,"M":true}';
const DOC_AGG_TRADE =
  '{"e":"aggTrade","E":1672515782136,"s":"BNBBTC","a":12345,"p":"0.001","q":"100","f":100,"l":105,"T":1672515782136,"m":true,"M":true}';

// ------------------------------------------------------------ symbols and URL

Deno.test("toBinanceSymbol drops the dash", () => {
  assert.equal(toBinanceSymbol("BTC-USDT"), "BTCUSDT");
  assert.equal(toBinanceSymbol("1000SATS-USDT"), "1000SATSUSDT");
  assert.throws(() => toBinanceSymbol("btc-usdt"), TypeError);
  assert.throws(() => toBinanceSymbol("BTCUSDT"), TypeError);
});

Deno.test("binanceSymbolMap maps back through the configured list, not by guessing the quote", () => {
  const map = binanceSymbolMap(["BTC-USDT", "ETH-BTC", "BTC-FDUSD", "BTC-USDT"]);
  assert.deepEqual([...map], [
    ["BTCUSDT", "BTC-USDT"],
    ["ETHBTC", "ETH-BTC"],
    ["BTCFDUSD", "BTC-FDUSD"],
  ]);
  // Both are "ABCDEF" on Binance: there is no way back, so refuse the configuration.
  assert.throws(() => binanceSymbolMap(["AB-CDEF", "ABCD-EF"]), /both ABCDEF/);
});

Deno.test("streamUrl builds Binance's combined-stream URL", () => {
  // The URL as Binance's documentation spells it (DESIGN.md section 12).
  assert.equal(
    streamUrl("wss://stream.binance.com:9443", ["BTC-USDT", "ETH-USDT"]),
    "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade",
  );
  assert.equal(
    streamUrl("wss://data-stream.binance.vision/", ["BNB-BTC"], "aggTrade"),
    "wss://data-stream.binance.vision/stream?streams=bnbbtc@aggTrade",
  );
  assert.throws(() => streamUrl("https://stream.binance.com", ["BTC-USDT"]), /ws:\/\/ or wss:/);
  assert.throws(() => streamUrl("wss://stream.binance.com", []), /at least one symbol/);
  const many = Array.from({ length: 1025 }, (_, i) => `S${i}-USDT`);
  assert.throws(() => streamUrl("wss://stream.binance.com", many), RangeError);
});

// ------------------------------------------------------------ frames

Deno.test("parseBinanceFrame reads Binance's documented trade payload, raw and wrapped", () => {
  const expected = {
    type: "trade",
    symbol: "BNBBTC",
    id: 12345,
    price: 0.001,
    quantity: 100,
    tradeTime: 1672515782136,
    eventTime: 1672515782136,
    buyerIsMaker: true,
  };
  assert.deepEqual(parseBinanceFrame(DOC_TRADE), { kind: "trade", stream: null, trade: expected });
  assert.deepEqual(
    parseBinanceFrame(`{"stream":"bnbbtc@trade","data":${DOC_TRADE}}`),
    { kind: "trade", stream: "bnbbtc@trade", trade: expected },
  );
});

Deno.test("parseBinanceFrame reads Binance's documented aggTrade payload", () => {
  const f = parseBinanceFrame(`{"stream":"bnbbtc@aggTrade","data":${DOC_AGG_TRADE}}`);
  assert.deepEqual(f, {
    kind: "trade",
    stream: "bnbbtc@aggTrade",
    trade: {
      type: "aggTrade",
      symbol: "BNBBTC",
      id: 12345,
      price: 0.001,
      quantity: 100,
      tradeTime: 1672515782136,
      eventTime: 1672515782136,
      buyerIsMaker: true,
      firstTradeId: 100,
      lastTradeId: 105,
    },
  });
});

Deno.test("parseBinanceFrame keeps every digit of a decimal string", () => {
  const f = parseBinanceFrame(DOC_TRADE.replace('"0.001"', '"43150.50000000"'));
  assert.equal(f.kind === "trade" && f.trade.price, 43150.5);
});

Deno.test("parseBinanceFrame recognises serverShutdown", () => {
  assert.deepEqual(parseBinanceFrame('{"e":"serverShutdown","E":1727000000000}'), {
    kind: "shutdown",
    eventTime: 1727000000000,
  });
  assert.equal(parseBinanceFrame('{"stream":"x","data":{"e":"serverShutdown"}}').kind, "shutdown");
});

Deno.test("parseBinanceFrame names the reason of every bad frame and never throws", () => {
  const trade = JSON.parse(DOC_TRADE);
  const with_ = (patch: Record<string, unknown>) => JSON.stringify({ ...trade, ...patch });
  const cases: [string, string][] = [
    ["not json", "invalid_json"],
    ["", "invalid_json"],
    ["[1,2]", "unknown_shape"],
    ["null", "unknown_shape"],
    ['{"result":null,"id":1}', "unknown_shape"], // a SUBSCRIBE reply
    ['{"stream":"bnbbtc@trade","data":"x"}', "unknown_shape"],
    ['{"e":"kline","E":1,"s":"BNBBTC"}', "unknown_event"],
    [with_({ p: "0" }), "invalid_trade"],
    [with_({ p: "-1.5" }), "invalid_trade"],
    [with_({ p: "abc" }), "invalid_trade"],
    [with_({ p: 0.001 }), "invalid_trade"], // Binance never sends numbers: someone else does
    [with_({ q: "-0.1" }), "invalid_trade"],
    [with_({ t: -1 }), "invalid_trade"],
    [with_({ t: 1.5 }), "invalid_trade"],
    [with_({ T: undefined }), "invalid_trade"],
    [with_({ s: "bnb-btc" }), "invalid_trade"],
    [DOC_AGG_TRADE.replace('"l":105', '"l":99'), "invalid_aggTrade"],
    [`{"stream":"ethbtc@trade","data":${DOC_TRADE}}`, "stream_mismatch"],
    [`{"stream":"bnbbtc@aggTrade","data":${DOC_TRADE}}`, "stream_mismatch"],
  ];
  for (const [text, reason] of cases) {
    const f = parseBinanceFrame(text);
    assert.equal(f.kind, "malformed", text);
    assert.equal(f.kind === "malformed" && f.reason, reason, text);
  }
  const negative = parseBinanceFrame(with_({ q: "-0.1" }));
  assert.match(
    negative.kind === "malformed" ? negative.detail : "",
    /quantity must not be negative/,
  );
});

// ------------------------------------------------------------ backoff math

Deno.test("nextBackoffMs: full jitter under a doubling, capped ceiling (hand values)", () => {
  const opts = { initialMs: 500, maxMs: 30_000 };
  assert.equal(nextBackoffMs(0, opts, () => 0.5), 250);
  assert.equal(nextBackoffMs(3, opts, () => 0.5), 2000); // 0.5 · 500 · 2³
  assert.equal(nextBackoffMs(6, opts, () => 0.5), 15_000); // 500 · 2⁶ = 32 000 → capped at 30 000
  assert.equal(nextBackoffMs(2000, opts, () => 0.5), 15_000); // 2^2000 overflows to Infinity: still capped
  assert.equal(nextBackoffMs(5, opts, () => 0), 0);
});

Deno.test("nextBackoffMs stays in [0, min(cap, initial·2^n)) for any draw", () => {
  const rng = new Random(7);
  for (let i = 0; i < 2000; i++) {
    const attempt = rng.int(41);
    const opts = { initialMs: 1 + rng.int(1000), maxMs: 1000 + rng.int(59_000) };
    const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** attempt);
    const d = nextBackoffMs(attempt, opts, () => rng.float());
    assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `${d} for ${attempt} ${ceiling}`);
  }
});

// ------------------------------------------------------------ the source, on fake sockets and timers

class FakeSocket extends EventTarget implements WebSocketLike {
  readyState = 0;
  closeCalls: (number | undefined)[] = [];
  constructor(readonly url: string) {
    super();
  }
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }
  message(data: string | Uint8Array) {
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
  /** the connection fails: error then close, as the WebSocket spec orders them */
  fail(message = "connection refused") {
    this.readyState = 3;
    this.dispatchEvent(new ErrorEvent("error", { message }));
    this.dispatchEvent(new CloseEvent("close", { code: 1006 }));
  }
  serverClose(code = 1000) {
    this.readyState = 3;
    this.dispatchEvent(new CloseEvent("close", { code }));
  }
  close(code?: number) {
    this.closeCalls.push(code);
    this.readyState = 3;
    this.dispatchEvent(new CloseEvent("close", { code: code ?? 1005 }));
  }
}

interface FakeTimer {
  id: number;
  fn: () => void;
  ms: number;
  due: number;
  active: boolean;
}

function harness(options: Partial<BinanceOptions> = {}) {
  let clock = 1_700_000_000_000;
  let nextId = 1;
  const timers: FakeTimer[] = [];
  const sockets: FakeSocket[] = [];
  const warnings: string[] = [];
  const source = new BinanceSource({
    symbols: ["BTC-USDT", "ETH-USDT"],
    baseUrl: "wss://binance.invalid",
    backoffInitialMs: 100,
    backoffMaxMs: 1000,
    stableAfterMs: 1000,
    idleTimeoutMs: 0,
    // Trade times here are fixed (2024) while the clock is 2023; the skew check has its own test.
    maxClockSkewMs: Infinity,
    now: () => clock,
    random: () => 0.5,
    timers: {
      setTimeout(fn, ms) {
        const t = { id: nextId++, fn, ms, due: clock + ms, active: true };
        timers.push(t);
        return t.id;
      },
      clearTimeout(id) {
        const t = timers.find((t) => t.id === id);
        if (t) t.active = false;
      },
    },
    logger: { info() {}, warn: (m) => warnings.push(m) },
    connect(url) {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    ...options,
  });
  const active = () => timers.filter((t) => t.active);
  return {
    source,
    sockets,
    warnings,
    active,
    /** moves the clock, firing due timers in order */
    advance(ms: number) {
      const target = clock + ms;
      for (;;) {
        const due = active().filter((t) => t.due <= target).sort((a, b) => a.due - b.due)[0];
        if (!due) break;
        clock = due.due;
        due.active = false;
        due.fn();
      }
      clock = target;
    },
    get last() {
      return sockets[sockets.length - 1];
    },
  };
}

async function drain(reader: ReadableStreamDefaultReader<MarketEvent>): Promise<MarketEvent[]> {
  const out: MarketEvent[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) out.push(r.value);
  return out;
}

const trade = (symbol: string, id: number, price: string, qty = "1", time = 1_710_000_000_123) =>
  JSON.stringify({
    stream: `${symbol.toLowerCase()}@trade`,
    data: {
      e: "trade",
      E: time + 1,
      s: symbol,
      t: id,
      p: price,
      q: qty,
      T: time,
      m: false,
      M: true,
    },
  });

Deno.test("reconnect delays double under the cap, then reset after a stable connection", async () => {
  const h = harness();
  h.source.events();
  assert.equal(h.sockets.length, 1);
  assert.equal(h.last.url, "wss://binance.invalid/stream?streams=btcusdt@trade/ethusdt@trade");
  assert.equal(h.source.status().state, "connecting");

  // random() = 0.5, so each delay is half its ceiling min(1000, 100·2^n).
  const delays: number[] = [];
  for (let n = 0; n < 6; n++) {
    h.last.fail();
    const [timer] = h.active();
    delays.push(timer.ms);
    assert.equal(h.source.status().state, "reconnecting");
    h.advance(timer.ms - 1);
    assert.equal(h.sockets.length, n + 1, "not before the delay");
    h.advance(1);
    assert.equal(h.sockets.length, n + 2);
  }
  assert.deepEqual(delays, [50, 100, 200, 400, 500, 500]);
  assert.equal(h.source.status().reconnects, 6);
  assert.match(h.source.status().lastError ?? "", /connection refused/);

  // A connection that got data but lived < stableAfterMs does not reset the backoff...
  h.last.open();
  assert.equal(h.source.status().state, "connected");
  h.last.message(trade("BTCUSDT", 1, "100"));
  h.advance(999);
  h.last.serverClose(1006);
  assert.equal(h.active()[0].ms, 500);
  h.advance(500);
  // ...one that lived long enough does: Binance's 24-hour close comes back fast.
  h.last.open();
  h.last.message(trade("BTCUSDT", 2, "100"));
  h.advance(1000);
  h.last.serverClose(1000);
  assert.equal(h.active()[0].ms, 50);
  assert.match(h.source.status().lastError ?? "", /code 1000/);
  await h.source.close();
});

Deno.test("an open connection that never says anything does not reset the backoff", async () => {
  const h = harness();
  h.source.events();
  h.last.fail();
  h.advance(50);
  h.last.open();
  h.advance(5000);
  h.last.serverClose();
  assert.equal(h.active()[0].ms, 100);
  await h.source.close();
});

Deno.test("idle timeout: silence reconnects, traffic keeps the connection", async () => {
  const h = harness({ idleTimeoutMs: 1000 });
  h.source.events();
  h.last.open();
  h.advance(600);
  h.last.message(trade("BTCUSDT", 1, "100"));
  h.advance(400); // the first check: 400 ms quiet, re-armed for the remaining 600
  assert.equal(h.sockets.length, 1);
  assert.equal(h.source.status().state, "connected");
  h.advance(599);
  assert.deepEqual(h.sockets[0].closeCalls, []);
  h.advance(1);
  assert.deepEqual(h.sockets[0].closeCalls, [1000], "the silent socket is closed by us");
  assert.equal(h.source.status().lastError, "no message for 1000 ms");
  assert.equal(h.source.status().state, "reconnecting");
  h.advance(50);
  assert.equal(h.sockets.length, 2);
  // A handshake that hangs is abandoned on the same clock.
  h.advance(1000);
  assert.equal(h.source.status().lastError, "handshake not finished after 1000 ms");
  await h.source.close();
});

Deno.test("serverShutdown closes the connection and reconnects", async () => {
  const h = harness();
  h.source.events();
  h.last.open();
  h.last.message('{"e":"serverShutdown","E":1700000000000}');
  assert.deepEqual(h.sockets[0].closeCalls, [1000]);
  assert.equal(h.source.status().lastError, "serverShutdown received");
  h.advance(50);
  assert.equal(h.sockets.length, 2);
  assert.equal(h.source.status().reconnects, 1);
  await h.source.close();
});

Deno.test("trades become MarketEvents with per-symbol log returns", async () => {
  const h = harness();
  const reader = h.source.events().getReader();
  h.last.open();
  h.last.message(trade("BTCUSDT", 7, "43150.50", "0.012", 1_710_000_000_999));
  h.last.message(trade("ETHUSDT", 70, "2300.00000000", "1.5", 1_710_000_001_000));
  h.last.message(trade("BTCUSDT", 8, "47465.55", "0.5", 1_710_000_001_001));
  const events: MarketEvent[] = [];
  for (let i = 0; i < 3; i++) events.push((await reader.read()).value!);
  assert.deepEqual(events[0], {
    timestamp: 1_710_000_000, // floor, not round: .999 s is still the same second
    symbol: "BTC-USDT",
    price: 43150.5,
    volume: 0.012,
    log_return: 0,
    is_anomaly: false,
    anomaly_type: null,
    ts_ms: 1_710_000_000_999,
    trade_id: 7,
    source: "binance",
  });
  assert.equal(events[1].symbol, "ETH-USDT");
  assert.equal(events[1].log_return, 0, "first ETH trade, although BTC traded before");
  assert.equal(events[2].timestamp, 1_710_000_001);
  // 47465.55 = 43150.50 · 1.1 in decimal, and ln 1.1 = 0.0953101798043249 (tables)
  assert.ok(Math.abs(events[2].log_return - 0.0953101798043249) < 1e-12);
  for (const e of events) assert.equal(MarketEvent.safeParse(e).success, true);
  await h.source.close();
});

Deno.test("trade-id gaps are counted, duplicates and older ids dropped, per symbol", async () => {
  const h = harness();
  const reader = h.source.events().getReader();
  h.last.open();
  for (
    const [s, id] of [["BTCUSDT", 10], ["BTCUSDT", 11], ["ETHUSDT", 1], ["BTCUSDT", 14]] as const
  ) {
    h.last.message(trade(s, id, "100"));
  }
  h.last.serverClose(1006); // ids survive the reconnect
  h.advance(50);
  h.last.open();
  for (
    const [s, id] of [["BTCUSDT", 12], ["BTCUSDT", 14], ["ETHUSDT", 3], ["BTCUSDT", 15]] as const
  ) {
    h.last.message(trade(s, id, "100"));
  }
  await h.source.close();
  const ids = (await drain(reader)).map((e) => [e.symbol, e.trade_id]);
  assert.deepEqual(ids, [
    ["BTC-USDT", 10],
    ["BTC-USDT", 11],
    ["ETH-USDT", 1],
    ["BTC-USDT", 14],
    ["ETH-USDT", 3],
    ["BTC-USDT", 15],
  ]);
  const s = h.source.status();
  assert.equal(s.gaps, 3); // BTC 12, 13 and ETH 2
  assert.equal(s.duplicates, 2); // BTC 12 (older than 14) and 14
  assert.equal(s.trades, 6);
  assert.equal(s.symbols["BTC-USDT"].gaps, 2);
  assert.equal(s.symbols["ETH-USDT"].gaps, 1);
  assert.equal(s.symbols["BTC-USDT"].duplicates, 2);
  assert.equal(s.symbols["BTC-USDT"].lastTradeId, 15);
});

Deno.test("an implausible trade-id jump is a counted resync, never a permanent mute", async () => {
  const h = harness();
  const reader = h.source.events().getReader();
  h.last.open();
  // The audit's frame: one trade with t = 10^15 between real ones.
  for (const id of [7370, 7371, 1_000_000_000_000_000, 7372, 7373, 7374]) {
    h.last.message(trade("BTCUSDT", id, "100"));
  }
  h.last.message(trade("ETHUSDT", 5, "10"));
  await h.source.close();
  const ids = (await drain(reader)).filter((e) => e.symbol === "BTC-USDT").map((e) => e.trade_id);
  assert.deepEqual(ids, [7370, 7371, 1_000_000_000_000_000, 7372, 7373, 7374]);
  const s = h.source.status();
  assert.equal(s.resyncs, 2, "the jump there and the jump back");
  assert.equal(s.symbols["BTC-USDT"].resyncs, 2);
  assert.equal(s.duplicates, 0, "real trades after the jump are not duplicates");
  assert.equal(s.gaps, 0, "a resync is not 10^15 missing trades");
  assert.equal(s.symbols["BTC-USDT"].lastTradeId, 7374);
  assert.ok(h.warnings.some((w) => /trade id jumped from 7371 to 1000000000000000/.test(w)));
});

Deno.test("a trade time far from the clock is refused, counted as clock_skew, either way", async () => {
  const h = harness({ maxClockSkewMs: 300_000 });
  const reader = h.source.events().getReader();
  h.last.open();
  const now = 1_700_000_000_000; // the harness clock
  h.last.message(trade("BTCUSDT", 1, "100", "1", now + 1000));
  h.last.message(trade("BTCUSDT", 2, "100", "1", 9e15)); // the audit's far-future T
  h.last.message(trade("BTCUSDT", 3, "100", "1", now - 3_600_000)); // an hour old
  h.last.message(trade("BTCUSDT", 4, "100", "1", now + 2000));
  await h.source.close();
  const events = await drain(reader);
  assert.deepEqual(events.map((e) => e.trade_id), [1, 4]);
  assert.deepEqual(h.source.status().malformed, { clock_skew: 2 });
  assert.ok(h.warnings.some((w) => /clock_skew .*ahead of the source's clock/.test(w)));
});

Deno.test("a trade whose price no market has (10^300) is refused as invalid_trade", async () => {
  const h = harness();
  const reader = h.source.events().getReader();
  h.last.open();
  h.last.message(trade("BTCUSDT", 1, "1" + "0".repeat(300)));
  h.last.message(trade("BTCUSDT", 2, "100"));
  await h.source.close();
  assert.deepEqual((await drain(reader)).map((e) => e.trade_id), [2]);
  assert.deepEqual(h.source.status().malformed, { invalid_trade: 1 });
  assert.equal(h.source.status().gaps, 0, "a refused trade is not counted as missing");
});

Deno.test("bad frames are counted by reason, logged once per reason, and the stream goes on", async () => {
  const h = harness();
  const reader = h.source.events().getReader();
  h.last.open();
  h.last.message("nope");
  h.last.message("nope again");
  h.last.message('{"e":"kline","E":1,"s":"BTCUSDT"}');
  h.last.message(trade("XRPUSDT", 1, "0.5")); // valid, but not subscribed
  h.last.message(trade("BTCUSDT", 1, "-3"));
  h.last.message(
    `{"stream":"btcusdt@aggTrade","data":${DOC_AGG_TRADE.replace("BNBBTC", "BTCUSDT")}}`,
  );
  h.last.message(new Uint8Array([1, 2, 3]));
  h.last.message(trade("BTCUSDT", 2, "100"));
  assert.equal((await reader.read()).value?.trade_id, 2);
  const s = h.source.status();
  assert.deepEqual(s.malformed, {
    invalid_json: 2,
    unknown_event: 1,
    unknown_symbol: 1,
    invalid_trade: 1,
    unexpected_event: 1,
    binary_frame: 1,
  });
  assert.equal(s.messages, 8);
  assert.equal(s.trades, 1);
  assert.equal(h.warnings.length, 6, h.warnings.join("\n"));
  assert.equal(h.warnings.filter((w) => w.includes("invalid_json")).length, 1);
  assert.equal(s.state, "connected");
  await h.source.close();
});

Deno.test("a stalled consumer: the buffer is bounded, overflow is counted, returns span the hole", async () => {
  const h = harness({ bufferSize: 2 });
  const reader = h.source.events().getReader();
  h.last.open();
  const prices = ["100", "110", "120", "130", "140"];
  prices.forEach((p, i) => h.last.message(trade("BTCUSDT", i + 1, p)));
  assert.equal(h.source.status().overflow, 3);
  assert.equal(h.source.status().trades, 5);
  assert.equal(h.source.status().gaps, 0, "the exchange lost nothing: overflow is ours");
  const a = (await reader.read()).value!;
  const b = (await reader.read()).value!;
  assert.deepEqual([a.price, b.price], [100, 110]);
  h.last.message(trade("BTCUSDT", 6, "121"));
  const c = (await reader.read()).value!;
  assert.equal(c.trade_id, 6);
  // relative to the last price the consumer saw (110), so ln(121/110) = ln 1.1
  assert.ok(Math.abs(c.log_return - Math.log(1.1)) < 1e-15);
  await h.source.close();
});

Deno.test("close() ends the stream, cancels timers, and never reconnects", async () => {
  const h = harness({ idleTimeoutMs: 1000 });
  const reader = h.source.events().getReader();
  h.last.open();
  await h.source.close();
  assert.deepEqual(h.sockets[0].closeCalls, [1000]);
  assert.equal((await reader.read()).done, true);
  assert.deepEqual(h.active(), []);
  assert.equal(h.source.status().state, "closed");
  h.advance(100_000);
  assert.equal(h.sockets.length, 1);
  await h.source.close(); // idempotent
});

Deno.test("close() during a backoff wait cancels the pending reconnect", async () => {
  const h = harness();
  h.source.events();
  h.last.fail();
  assert.equal(h.active().length, 1);
  await h.source.close();
  assert.deepEqual(h.active(), []);
  h.advance(10_000);
  assert.equal(h.sockets.length, 1);
});

Deno.test("the abort signal and the consumer's cancel both close the source", async () => {
  const h1 = harness();
  const ac = new AbortController();
  const reader = h1.source.events(ac.signal).getReader();
  h1.last.open();
  ac.abort();
  assert.equal((await reader.read()).done, true);
  assert.equal(h1.source.status().state, "closed");

  const h2 = harness();
  const stream = h2.source.events();
  h2.last.open();
  h2.last.message(trade("BTCUSDT", 1, "100"));
  for await (const _ of stream) break; // leaving the loop cancels the stream
  assert.equal(h2.source.status().state, "closed");
  assert.deepEqual(h2.sockets[0].closeCalls, [1000]);
  assert.throws(() => h2.source.events(), /once/);

  const h3 = harness();
  const aborted = AbortSignal.abort();
  assert.equal((await h3.source.events(aborted).getReader().read()).done, true);
  assert.equal(h3.sockets.length, 0);
});
