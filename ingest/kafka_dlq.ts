/**
 * The dead-letter queue: a record the worker cannot use goes, unchanged, to
 * `<topic>.dlq` with the reason and its origin in headers
 * ({@linkcode DLQ_HEADERS}), so nothing is lost and each rejection can be read
 * back.
 *
 * @module
 */
import type { KafkaRecord, OutgoingMessage } from "./kafka_records.ts";
import { oneLine } from "./kafka_records.ts";
import { EventProducer } from "./kafka_producer.ts";
import { KAFKA_DEFAULTS, type KafkaSettings } from "./kafka_settings.ts";

/** The DLQ topic of a topic: `${topic}.dlq`. */
export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** DLQ header names. */
export const DLQ_HEADERS = {
  error: "x-sentinel-error",
  sourceTopic: "x-sentinel-source-topic",
  sourcePartition: "x-sentinel-source-partition",
  sourceOffset: "x-sentinel-source-offset",
} as const;

/**
 * The DLQ message of a rejected record: its original key, value bytes and
 * headers, plus headers saying why and where it came from. The reason is made one line
 * and cut at {@linkcode KAFKA_DEFAULTS}.maxReasonLength characters.
 *
 * @example
 * ```ts
 * import { deadLetterMessage } from "./kafka.ts";
 * const m = deadLetterMessage(
 *   { topic: "crypto-market", partition: 2, offset: 41, key: "BTC-USDT", value: null, timestampMs: 0 },
 *   "empty value",
 * );
 * console.log(m.headers["x-sentinel-source-offset"]); // "41"
 * ```
 */
export function deadLetterMessage(
  record: KafkaRecord,
  reason: string,
): { key: string | null; value: Uint8Array | null; headers: Record<string, string> } {
  let why = oneLine(reason);
  if (why.length > KAFKA_DEFAULTS.maxReasonLength) {
    why = `${why.slice(0, KAFKA_DEFAULTS.maxReasonLength - 1)}…`;
  }
  return {
    key: record.key,
    value: record.value,
    headers: {
      // The original record's headers travel with it (tracing ids, schema versions); ours win.
      ...record.headers,
      [DLQ_HEADERS.error]: why,
      [DLQ_HEADERS.sourceTopic]: record.topic,
      [DLQ_HEADERS.sourcePartition]: String(record.partition),
      [DLQ_HEADERS.sourceOffset]: String(record.offset),
    },
  };
}

/**
 * Publishes rejected records to `<source topic>.dlq`: the original key and
 * value bytes, with `x-sentinel-error` (the reason) and the source topic,
 * partition and offset as headers. A worker awaits {@linkcode publish} before
 * it commits the offsets covering those records, so a rejected record is
 * never lost. Given settings it owns its producer; given a producer, it shares it.
 *
 * @example
 * ```ts ignore
 * const dlq = new DeadLetters(producer);
 * const bad = records.flatMap((record) => {
 *   const r = decodeRecord(record);
 *   return r.ok ? [] : [{ record, reason: r.reason }];
 * });
 * await dlq.publish(bad);
 * ```
 */
export class DeadLetters {
  readonly #producer: EventProducer;
  readonly #owned: boolean;
  #published = 0;

  constructor(producerOrSettings: EventProducer | KafkaSettings) {
    if (producerOrSettings instanceof EventProducer) {
      this.#producer = producerOrSettings;
      this.#owned = false;
    } else {
      this.#producer = new EventProducer({
        ...producerOrSettings,
        clientId: `${producerOrSettings.clientId}-dlq`,
      });
      this.#owned = true;
    }
  }

  /** Records sent to a DLQ so far. */
  get published(): number {
    return this.#published;
  }

  /** Publishes each record to its topic's DLQ; resolves when the broker has them all. */
  async publish(items: readonly { record: KafkaRecord; reason: string }[]): Promise<void> {
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const { record, reason } of items) {
      const topic = dlqTopic(record.topic);
      const list = byTopic.get(topic) ?? [];
      list.push(deadLetterMessage(record, reason));
      byTopic.set(topic, list);
    }
    for (const [topic, messages] of byTopic) {
      await this.#producer.sendTo(topic, messages);
      this.#published += messages.length;
    }
  }

  /** Closes the producer if this DeadLetters created it. */
  async close(): Promise<void> {
    if (this.#owned) await this.#producer.close();
  }
}
