/**
 * Smoke test against a real Kafka broker (DESIGN.md section 11): topic
 * creation, an idempotent keyed producer, and a consumer group, end to end.
 *
 * Runs only when KAFKA_BROKERS is set:
 *
 *   KAFKA_BROKERS=$(tests/kafka/broker.sh start) deno test -P tests/kafka/smoke_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Admin, type Consumer, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import { requireSuite } from "../suite_gate.ts";

const SUITE = "kafka smoke";
const HOW_TO = "set KAFKA_BROKERS=127.0.0.1:9092, see tests/kafka/README.md";

/**
 * Partition of each key in a 3-partition topic as Kafka's Java client chooses
 * it (murmur2 of the UTF-8 key, made positive, mod 3), printed by
 * `org.apache.kafka.common.utils.Utils.murmur2` (same in kafka-clients 3.9.2 and 4.3.1).
 * Keys are market symbols, as in Sentinel's `crypto-market` topic, and were
 * picked to cover all three partitions.
 */
const JAVA_PARTITION_OF: Readonly<Record<string, number>> = {
  "BTC-USDT": 2,
  "ETH-USDT": 2,
  "BNB-USDT": 0,
  "SOL-USDT": 2,
  "DOGE-USDT": 1,
};
const KEYS = Object.keys(JAVA_PARTITION_OF);
const MESSAGES = 100;
const PARTITIONS = 3;
/** A failure deadline so a broken broker fails the test instead of hanging it; not a speed check. */
const DEADLINE_MS = 25_000;

interface Received {
  /** The record's Kafka key; must equal `key` from the value. */
  recordKey: string;
  key: string;
  seq: number;
  partition: number;
  offset: bigint;
}

/** Rejects with a message naming `what` when `promise` has not settled within `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

if (requireSuite(SUITE, "KAFKA_BROKERS", HOW_TO)) {
  Deno.test({
    name:
      `${SUITE}: 100 keyed messages through a 3-partition topic, exactly once, in per-key order`,
    // Deno's op and resource sanitizers stay on: kafkajs 2.2.4 clears its
    // timers and closes its sockets on disconnect(), and `finally` below
    // disconnects everything this test opens.
    async fn() {
      const brokers = Deno.env.get("KAFKA_BROKERS")!.split(",").map((b) => b.trim());
      const unique = `${Date.now()}-${crypto.randomUUID().slice(0, 8)}`;
      const topic = `sentinel-smoke-${unique}`;
      const kafka = new Kafka({
        clientId: "sentinel-smoke",
        brokers,
        logLevel: logLevel.NOTHING,
        retry: { retries: 5, initialRetryTime: 100 },
      });

      const admin: Admin = kafka.admin();
      // Java-compatible murmur2 placement: the same key lands where a Java producer puts it.
      const producer: Producer = kafka.producer({
        idempotent: true,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      const consumer: Consumer = kafka.consumer({ groupId: `sentinel-smoke-${unique}` });
      let topicCreated = false;

      try {
        await within(DEADLINE_MS, "admin connect", admin.connect());
        const created = await within(
          DEADLINE_MS,
          "createTopics",
          admin.createTopics({
            topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
            waitForLeaders: true,
          }),
        );
        assert.equal(created, true, `topic ${topic} already existed`);
        topicCreated = true;
        const meta = await admin.fetchTopicMetadata({ topics: [topic] });
        assert.equal(meta.topics[0].partitions.length, PARTITIONS);

        // Round-robin over keys, so each key gets seq 0..19 and partitions interleave.
        const sent = Array.from({ length: MESSAGES }, (_, i) => ({
          key: KEYS[i % KEYS.length],
          seq: Math.floor(i / KEYS.length),
        }));
        await within(DEADLINE_MS, "producer connect", producer.connect());
        // Ten sequential batches: the idempotent producer's per-partition sequence
        // numbers must advance across requests, not only within one.
        for (let i = 0; i < MESSAGES; i += 10) {
          await within(
            DEADLINE_MS,
            `send batch ${i / 10}`,
            producer.send({
              topic,
              acks: -1,
              messages: sent.slice(i, i + 10).map((m) => ({
                key: m.key,
                value: JSON.stringify(m),
              })),
            }),
          );
        }

        // The log holds exactly MESSAGES records: the idempotent producer wrote no duplicates.
        const offsets = await admin.fetchTopicOffsets(topic);
        const stored = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
        assert.equal(stored, MESSAGES, "records in the topic's log");

        const received: Received[] = [];
        let allArrived!: () => void;
        const arrived = new Promise<void>((resolve) => (allArrived = resolve));
        await within(DEADLINE_MS, "consumer connect", consumer.connect());
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          eachMessage: ({ partition, message }) => {
            const body = JSON.parse(message.value!.toString()) as { key: string; seq: number };
            // No asserts in here: a throw makes kafkajs redeliver, hiding the cause.
            received.push({
              ...body,
              recordKey: message.key?.toString() ?? "",
              partition,
              offset: BigInt(message.offset),
            });
            if (received.length >= MESSAGES) allArrived();
            return Promise.resolve();
          },
        });
        await within(DEADLINE_MS, `consuming ${MESSAGES} messages`, arrived).catch((e) => {
          throw new Error(`${(e as Error).message}; got ${received.length}`);
        });

        // Exactly once: every (key, seq) sent is received once, nothing else.
        const ids = received.map((r) => `${r.key}#${r.seq}`).sort();
        assert.deepEqual(ids, sent.map((m) => `${m.key}#${m.seq}`).sort());

        for (const r of received) assert.equal(r.recordKey, r.key, "record key matches its value");

        for (const key of KEYS) {
          const ofKey = received.filter((r) => r.key === key);
          // Per-key order: seqs arrive as 0, 1, 2, ... with increasing offsets.
          assert.deepEqual(
            ofKey.map((r) => r.seq),
            Array.from({ length: MESSAGES / KEYS.length }, (_, i) => i),
            `order of ${key}`,
          );
          for (let i = 1; i < ofKey.length; i++) {
            assert.ok(ofKey[i].offset > ofKey[i - 1].offset, `offsets of ${key} increase`);
          }
          // One partition per key, the one Java's partitioner picks.
          assert.deepEqual(
            [...new Set(ofKey.map((r) => r.partition))],
            [JAVA_PARTITION_OF[key]],
            `partition of ${key}`,
          );
        }
      } finally {
        await consumer.disconnect().catch(() => {});
        await producer.disconnect().catch(() => {});
        if (topicCreated) await admin.deleteTopics({ topics: [topic] }).catch(() => {});
        await admin.disconnect().catch(() => {});
      }
    },
  });
}
