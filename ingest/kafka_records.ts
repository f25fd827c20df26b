/**
 * Kafka records as the rest of Sentinel sees them: {@linkcode KafkaRecord}
 * (what a consumer fetched, free of kafkajs types), {@linkcode OutgoingMessage}
 * (what a producer sends), an event's Kafka form, and the decoding of a
 * record back into a MarketEvent with a one-line reason when it cannot be.
 * Pure: no broker, no client.
 *
 * @module
 */
import type { IHeaders, KafkaMessage } from "kafkajs";
import { type MarketEvent, parseMarketEvent, type ParseResult } from "../lib/contracts.ts";

/** One record as fetched from Kafka, free of kafkajs types. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Uint8Array | null;
  timestampMs: number;
  /** Record headers, decoded as UTF-8 (absent or empty when the record has none). */
  headers?: Record<string, string>;
}

/** A message to produce: what {@linkcode EventProducer.sendRaw} and the DLQ send. */
export interface OutgoingMessage {
  key: string | null;
  value: string | Uint8Array | null;
  headers?: Record<string, string>;
}

/**
 * The Kafka form of an event: key = symbol (per-symbol order and partition
 * ownership), value = the event's JSON.
 *
 * @example
 * ```ts
 * import { encodeEvent } from "./kafka.ts";
 * const m = encodeEvent({
 *   timestamp: 1710000000, symbol: "BTC-USDT", price: 43150.5, volume: 1.2,
 *   log_return: 0, is_anomaly: false, anomaly_type: null,
 * });
 * console.log(m.key); // "BTC-USDT"
 * ```
 */
export function encodeEvent(event: MarketEvent): { key: string; value: string } {
  return { key: event.symbol, value: JSON.stringify(event) };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Makes any message one line, so it fits a header and a log line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/**
 * Decodes a record into a MarketEvent, or says in one line why it cannot:
 * `empty value`, `invalid UTF-8: ...`, `invalid JSON: ...`, a schema reason
 * from {@linkcode parseMarketEvent} (`price: price must be positive`), or
 * `key: ...` when the record's key is not the event's symbol (such a record
 * sits on another symbol's partition, where the worker owning the symbol's
 * state never sees it).
 *
 * @example
 * ```ts
 * import { decodeRecord } from "./kafka.ts";
 * const r = decodeRecord({
 *   topic: "t", partition: 0, offset: 0, key: "BTC-USDT", timestampMs: 0,
 *   value: new TextEncoder().encode("not json"),
 * });
 * console.log(r.ok); // false
 * ```
 */
export function decodeRecord(r: KafkaRecord): ParseResult<MarketEvent> {
  if (r.value === null || r.value.byteLength === 0) return { ok: false, reason: "empty value" };
  let text: string;
  try {
    text = utf8.decode(r.value);
  } catch (e) {
    return { ok: false, reason: `invalid UTF-8: ${oneLine((e as Error).message)}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: `invalid JSON: ${oneLine((e as Error).message)}` };
  }
  const parsed = parseMarketEvent(json);
  if (!parsed.ok) return parsed;
  if (r.key !== parsed.value.symbol) {
    return {
      ok: false,
      reason: r.key === null
        ? `key: missing, must be the symbol ${parsed.value.symbol}`
        : `key: ${JSON.stringify(r.key)} is not the symbol ${parsed.value.symbol}`,
    };
  }
  return parsed;
}

function headerText(v: IHeaders[string]): string | undefined {
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return typeof one === "string" ? one : one.toString("utf8");
}

/** A kafkajs message of `topic`/`partition` as a {@linkcode KafkaRecord} (headers decoded as UTF-8). */
export function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  const record: KafkaRecord = {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key === null || m.key === undefined ? null : m.key.toString("utf8"),
    value: m.value ?? null,
    timestampMs: Number(m.timestamp),
  };
  if (m.headers) {
    const names = Object.keys(m.headers);
    if (names.length > 0) {
      record.headers = {};
      for (const name of names) {
        const text = headerText(m.headers[name]);
        if (text !== undefined) record.headers[name] = text;
      }
    }
  }
  return record;
}
