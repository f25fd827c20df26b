/**
 * Sentinel's Kafka adapter (DESIGN.md section 11), the module the rest of
 * Sentinel imports: the adapter's modules (ingest/kafka_*.ts) are the only
 * ones that import `kafkajs`. Everything else sees `MarketEvent`s, plain
 * {@linkcode KafkaRecord}s and small status objects.
 *
 * - {@linkcode EventProducer}: idempotent, acks=all, key = symbol, Java-compatible
 *   partitioning; waits out a broker outage instead of throwing.
 * - {@linkcode EventConsumer}: one member of the `sentinel-features` group; the
 *   handler commits its state and offsets to Deno KV first, Kafka's committed
 *   offset follows (never ahead of KV).
 * - {@linkcode DeadLetters}: invalid records go to `<topic>.dlq` with the reason in a header.
 * - {@linkcode ensureTopics}, {@linkcode probeKafka}, {@linkcode consumerLag}: admin helpers.
 *
 * The adapter is split by concern: kafka_settings.ts (settings, defaults, the
 * kafkajs client), kafka_client.ts (TLS, SASL, broker routing),
 * kafka_records.ts (records, event encoding and decoding), kafka_retry.ts
 * (back-off and error classes), kafka_producer.ts, kafka_consumer.ts,
 * kafka_dlq.ts (dead letters) and kafka_admin.ts (topics, probe, lag).
 *
 * @example Produce and consume
 * ```ts ignore
 * import { EventConsumer, EventProducer, decodeRecord, ensureTopics } from "./kafka.ts";
 * const settings = { brokers: ["127.0.0.1:9092"], topic: "crypto-market", clientId: "sentinel" };
 * await ensureTopics(settings);
 * const producer = new EventProducer(settings);
 * await producer.connect();
 * await producer.send(events);
 * const consumer = new EventConsumer(settings);
 * await consumer.run({
 *   async handleBatch(records) {
 *     for (const r of records) console.log(decodeRecord(r));
 *   },
 * });
 * ```
 *
 * @module
 */
export {
  type BrokerAddress,
  KAFKA_DEFAULTS,
  type KafkaLogger,
  type KafkaSettings,
} from "./kafka_settings.ts";
export {
  decodeRecord,
  encodeEvent,
  type KafkaRecord,
  type OutgoingMessage,
} from "./kafka_records.ts";
export { retryDelayMs } from "./kafka_retry.ts";
export { EventProducer, type ProducerStatus } from "./kafka_producer.ts";
export {
  type BatchContext,
  type ConsumerHandlers,
  type ConsumerSettings,
  type ConsumerStatus,
  EventConsumer,
} from "./kafka_consumer.ts";
export { deadLetterMessage, DeadLetters, DLQ_HEADERS, dlqTopic } from "./kafka_dlq.ts";
export { consumerLag, deleteTopics, ensureTopics, probeKafka } from "./kafka_admin.ts";
