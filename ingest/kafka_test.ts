/**
 * The Kafka adapter's pure parts: event encoding, record decoding (with the
 * rejection reasons the DLQ carries), DLQ messages and the retry back-off.
 * No broker needed; the broker suite is tests/kafka_adapter_test.ts.
 */
import assert from "node:assert/strict";
import {
  deadLetterMessage,
  decodeRecord,
  dlqTopic,
  encodeEvent,
  KAFKA_DEFAULTS,
  type KafkaRecord,
  retryDelayMs,
} from "./kafka.ts";
import type { MarketEvent } from "../lib/contracts.ts";

const EVENT: MarketEvent = {
  timestamp: 1710000000,
  symbol: "BTC-USDT",
  price: 43150.5,
  volume: 12.53421,
  log_return: 0.003521,
  is_anomaly: false,
  anomaly_type: null,
  ts_ms: 1710000000123,
  trade_id: 3391823,
  source: "binance",
};

const bytes = (s: string) => new TextEncoder().encode(s);

function record(value: Uint8Array | null, key: string | null = "BTC-USDT"): KafkaRecord {
  return { topic: "crypto-market", partition: 2, offset: 41, key, value, timestampMs: 1 };
}

function reasonOf(r: ReturnType<typeof decodeRecord>): string {
  assert.equal(r.ok, false, "expected a rejection");
  return (r as { reason: string }).reason;
}

Deno.test("dlqTopic appends .dlq", () => {
  assert.equal(dlqTopic("crypto-market"), "crypto-market.dlq");
});

Deno.test("encodeEvent keys by symbol and its value is the seed's JSON", () => {
  const m = encodeEvent(EVENT);
  assert.equal(m.key, "BTC-USDT");
  // The seed's byte format: the same field names and values, as plain JSON.
  assert.deepEqual(JSON.parse(m.value), {
    timestamp: 1710000000,
    symbol: "BTC-USDT",
    price: 43150.5,
    volume: 12.53421,
    log_return: 0.003521,
    is_anomaly: false,
    anomaly_type: null,
    ts_ms: 1710000000123,
    trade_id: 3391823,
    source: "binance",
  });
});

Deno.test("decodeRecord round-trips an encoded event", () => {
  const m = encodeEvent(EVENT);
  const r = decodeRecord(record(bytes(m.value), m.key));
  assert.deepEqual(r, { ok: true, value: EVENT });
});

Deno.test("decodeRecord fills the seed's defaults and strips unknown fields", () => {
  const r = decodeRecord(record(bytes(JSON.stringify({
    timestamp: 1,
    symbol: "BTC-USDT",
    price: 1,
    volume: 0,
    log_return: 0,
    extra: "ignored",
  }))));
  assert.deepEqual(r, {
    ok: true,
    value: {
      timestamp: 1,
      symbol: "BTC-USDT",
      price: 1,
      volume: 0,
      log_return: 0,
      is_anomaly: false,
      anomaly_type: null,
    },
  });
});

Deno.test("decodeRecord rejects a null or zero-length value as empty", () => {
  assert.equal(reasonOf(decodeRecord(record(null))), "empty value");
  assert.equal(reasonOf(decodeRecord(record(new Uint8Array(0)))), "empty value");
});

Deno.test("decodeRecord rejects bytes that are not UTF-8", () => {
  // 0xff never occurs in UTF-8; 0xc3 starts a 2-byte sequence that 0x28 does not continue.
  for (const raw of [[0xff, 0xfe], [0x7b, 0xc3, 0x28, 0x7d]]) {
    assert.match(reasonOf(decodeRecord(record(new Uint8Array(raw)))), /^invalid UTF-8: /);
  }
});

Deno.test("decodeRecord rejects text that is not JSON, with the parser's message", () => {
  for (const text of ["not json", '{"price": 1,', "{'a':1}"]) {
    let parserSays = "";
    try {
      JSON.parse(text);
    } catch (e) {
      parserSays = (e as Error).message;
    }
    assert.notEqual(parserSays, "");
    assert.equal(reasonOf(decodeRecord(record(bytes(text)))), `invalid JSON: ${parserSays}`);
  }
});

Deno.test("decodeRecord rejects schema violations with the contract's one-line reason", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...EVENT, price: -1 }, /^price: price must be positive$/],
    [{ ...EVENT, price: 0 }, /^price: price must be positive$/],
    [{ ...EVENT, volume: -0.5 }, /^volume: volume must not be negative$/],
    [{ ...EVENT, symbol: "btcusdt" }, /^symbol: /],
    [{ ...EVENT, timestamp: "soon" }, /^timestamp: /],
  ];
  for (const [value, reason] of cases) {
    const key = typeof value.symbol === "string" ? value.symbol : null;
    assert.match(reasonOf(decodeRecord(record(bytes(JSON.stringify(value)), key))), reason);
  }
  // Valid JSON of the wrong shape.
  assert.match(reasonOf(decodeRecord(record(bytes("[1,2]")))), /^\(root\): /);
  assert.match(reasonOf(decodeRecord(record(bytes("null")))), /^\(root\): /);
});

Deno.test("decodeRecord rejects a record whose key is not the event's symbol", () => {
  const value = bytes(JSON.stringify(EVENT));
  assert.equal(
    reasonOf(decodeRecord(record(value, "ETH-USDT"))),
    'key: "ETH-USDT" is not the symbol BTC-USDT',
  );
  assert.equal(
    reasonOf(decodeRecord(record(value, null))),
    "key: missing, must be the symbol BTC-USDT",
  );
});

Deno.test("every rejection reason is one line", () => {
  const values = [null, new Uint8Array([0xff]), bytes('{\n"a":\n'), bytes('{"price":-1}')];
  for (const v of values) assert.doesNotMatch(reasonOf(decodeRecord(record(v))), /[\r\n]/);
});

Deno.test("deadLetterMessage keeps key and value bytes and says why and where", () => {
  const value = new Uint8Array([0xff, 0x00, 0x41]);
  const r: KafkaRecord = {
    topic: "crypto-market",
    partition: 1,
    offset: 9007199254740,
    key: "ETH-USDT",
    value,
    timestampMs: 5,
  };
  const m = deadLetterMessage(r, "invalid UTF-8: bad byte");
  assert.equal(m.key, "ETH-USDT");
  assert.deepEqual([...m.value!], [0xff, 0x00, 0x41]);
  assert.deepEqual(m.headers, {
    "x-sentinel-error": "invalid UTF-8: bad byte",
    "x-sentinel-source-topic": "crypto-market",
    "x-sentinel-source-partition": "1",
    "x-sentinel-source-offset": "9007199254740",
  });
});

Deno.test("deadLetterMessage keeps the original record's headers; its own win on a clash", () => {
  const r: KafkaRecord = {
    ...record(null),
    headers: { "trace-id": "abc", "x-sentinel-error": "forged" },
  };
  const m = deadLetterMessage(r, "price: price must be positive");
  assert.equal(m.headers["trace-id"], "abc");
  assert.equal(m.headers["x-sentinel-error"], "price: price must be positive");
});

Deno.test("deadLetterMessage makes the reason one line and bounds its length", () => {
  const r = record(null, null);
  assert.equal(
    deadLetterMessage(r, "line one\n  line two\r\n").headers["x-sentinel-error"],
    "line one line two",
  );
  const long = deadLetterMessage(r, "x".repeat(5_000)).headers["x-sentinel-error"];
  assert.equal(long.length, KAFKA_DEFAULTS.maxReasonLength);
  assert.ok(long.endsWith("…"));
  assert.equal(deadLetterMessage(r, "short").headers["x-sentinel-error"], "short");
});

Deno.test("retryDelayMs doubles from 200 ms, caps at 10 s, jitters ±20 %", () => {
  // Middle of the jitter range (0.5 → factor 1.0): the bare schedule.
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 50].map((a) => retryDelayMs(a, 0.5)),
    [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000],
  );
  assert.equal(retryDelayMs(0, 0), 160);
  assert.equal(retryDelayMs(0, 0.999999), 240);
  assert.equal(retryDelayMs(9, 0), 8_000);
  assert.equal(retryDelayMs(2, 0.5, { initialMs: 10, maxMs: 25 }), 25);
});
