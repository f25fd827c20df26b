/**
 * Hostile records on the Kafka topic (the audit of issue 11), on the real
 * broker: a far-future time (`ts_ms` 9e15, and one a day ahead), a symbol
 * that is not in SYMBOLS, a formula in `source`. Each goes to the DLQ with a
 * reason naming the field and keeps the original record's headers; the good
 * events around them are all processed and scored, so no symbol is frozen.
 */
import assert from "node:assert/strict";
import {
  deleteTopics,
  DLQ_HEADERS,
  dlqTopic,
  ensureTopics,
  EventConsumer,
  EventProducer,
  type KafkaRecord,
} from "../ingest/kafka.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { Sentinel } from "../sentinel.ts";
import {
  activateIn,
  allPredictions,
  simulatedBundle,
  tempKvPath,
  testConfig,
  waitFor,
} from "./helpers.ts";
import { requireSuite } from "./suite_gate.ts";

const HOW_TO = "set KAFKA_BROKERS=$(bash tests/kafka/broker.sh start)";
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const quiet = { info() {}, warn() {} };

if (requireSuite("kafka hostile inputs", "KAFKA_BROKERS", HOW_TO)) {
  Deno.test({
    name:
      "kafka: far-future times, unconfigured symbols and formula sources go to the DLQ with reasons and headers",
    sanitizeOps: false, // kafkajs leaves a timer behind on disconnect
    sanitizeResources: false,
    async fn() {
      const brokers = Deno.env.get("KAFKA_BROKERS")!.split(",");
      const topic = `hostile-${crypto.randomUUID().slice(0, 8)}`;
      const { path, cleanup } = await tempKvPath();
      await activateIn(
        path,
        simulatedBundle({ id: "hostile-model", seed: 3, seconds: 600, nEstimators: 50 }),
      );
      const config = testConfig({
        KV_PATH: path,
        KAFKA_BROKERS: brokers.join(","),
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: `g-${topic}`,
        KAFKA_PARTITIONS: "3",
      });
      const s = await Sentinel.start(config, ["worker"], {
        logger: () => memoryLogger(),
        reportEveryMs: 0,
        kafkaSessionTimeoutMs: 6000,
      });
      const now = Date.now();
      const base = {
        price: 43000,
        volume: 1,
        log_return: 0,
        is_anomaly: false,
        anomaly_type: null,
      };
      const hostile = [
        {
          why: /^ts_ms: .*year 10000/,
          event: { ...base, symbol: "BTC-USDT", timestamp: Math.floor(now / 1000), ts_ms: 9e15 },
        },
        {
          why: /^ts_ms: \d+ is \d+ ms ahead of the source's clock/,
          event: {
            ...base,
            symbol: "BTC-USDT",
            timestamp: Math.floor(now / 1000) + 86400,
            ts_ms: now + 86_400_000,
          },
        },
        {
          why: /^symbol: XRP-USDT is not in SYMBOLS/,
          event: { ...base, symbol: "XRP-USDT", timestamp: Math.floor(now / 1000), ts_ms: now },
        },
        {
          why: /^source: /,
          event: {
            ...base,
            symbol: "ETH-USDT",
            timestamp: Math.floor(now / 1000),
            ts_ms: now,
            source: '=HYPERLINK("http://evil.example","x")',
          },
        },
      ];
      try {
        await ensureTopics({ brokers, topic, clientId: "t-admin", logger: quiet }, {
          partitions: 3,
        });
        const producer = new EventProducer({ brokers, topic, clientId: "t-prod", logger: quiet });
        await producer.connect();
        const sim = new Simulator({ symbols: SYMBOLS, seed: 9, anomalyProbability: 0 });
        // 120 s of good events ending now, hostile records in the middle.
        const good = [...simulatedEvents(sim, { startMs: now - 120_000, stepMs: 200, endMs: now })];
        const half = good.length / 2;
        await producer.send(good.slice(0, half));
        await producer.sendRaw(hostile.map((h, i) => ({
          key: h.event.symbol,
          value: JSON.stringify(h.event),
          headers: { "trace-id": `t-${i}` },
        })));
        await producer.send(good.slice(half));
        await producer.close();

        await waitFor("every record processed or dead-lettered", async () => {
          const c = await s.store.counters();
          return c["rows"] === good.length && c["rejected/kafka"] === hostile.length;
        }, 60_000);
        // Every good event was a row; BTC keeps being scored after the far-future record.
        const preds = await allPredictions(s.store);
        const btcAfter = preds.filter((p) =>
          p.symbol === "BTC-USDT" && p.trade_id! > good[half - 1].trade_id!
        );
        assert.ok(
          btcAfter.length > 50,
          `BTC scored ${btcAfter.length} times after the hostile records`,
        );
        assert.ok(preds.every((p) => p.ts_ms <= now && SYMBOLS.includes(p.symbol)));
        assert.ok(preds.every((p) => p.source === "simulated"));

        const dlq = new EventConsumer({
          brokers,
          topic: dlqTopic(topic),
          clientId: "t-dlq",
          groupId: `dlq-${topic}`,
          logger: quiet,
        });
        const got: KafkaRecord[] = [];
        const running = dlq.run({ handleBatch: (r) => (got.push(...r), Promise.resolve()) });
        await waitFor("dead letters", () => got.length >= hostile.length, 30_000);
        await dlq.stop();
        await running.catch(() => {});
        assert.equal(got.length, hostile.length);
        for (const [i, h] of hostile.entries()) {
          const r = got.find((g) => g.headers?.["trace-id"] === `t-${i}`);
          assert.ok(r, `dead letter ${i} keeps its original header`);
          assert.match(r.headers![DLQ_HEADERS.error], h.why);
          assert.equal(new TextDecoder().decode(r.value!), JSON.stringify(h.event));
        }
      } finally {
        await s.stop();
        await deleteTopics({ brokers, topic, clientId: "t-clean", logger: quiet }, {
          topics: [topic, dlqTopic(topic)],
        }).catch(() => {});
        await cleanup();
      }
    },
  });
}
