/**
 * Kafka mode on the real broker: every event becomes exactly one prediction
 * (or one dead letter), and a worker killed with SIGKILL in the middle of a
 * run and restarted produces exactly the predictions of an uninterrupted run.
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
import { Sentinel } from "../sentinel.ts";
import { createApp } from "../routes/app.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { Store } from "../store/kv.ts";
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

const model = () => simulatedBundle({ id: "kafka-model", seed: 5, seconds: 900, nEstimators: 50 });
const storeWithModel = activateIn;

async function produce(topic: string, n: number, invalid: string[]): Promise<void> {
  const brokers = Deno.env.get("KAFKA_BROKERS")!.split(",");
  // The producer never auto-creates topics (a worker or source does at start).
  await ensureTopics({ brokers, topic, clientId: "test-admin", logger: quiet }, { partitions: 3 });
  const producer = new EventProducer({ brokers, topic, clientId: "test-producer", logger: quiet });
  await producer.connect();
  const sim = new Simulator({ symbols: SYMBOLS, seed: 77, anomalyProbability: 0.01 });
  const events = [
    ...simulatedEvents(sim, {
      startMs: 1_710_000_000_000,
      stepMs: 30,
      endMs: 1_710_000_000_000 + (n / 3) * 30,
    }),
  ];
  for (let i = 0; i < events.length; i += 5000) {
    await producer.send(events.slice(i, i + 5000));
    if (i === 0) await producer.sendRaw(invalid.map((value) => ({ key: "BTC-USDT", value })));
  }
  await producer.close();
}

function byTrade(preds: { symbol: string; trade_id?: number }[]) {
  return [...preds].sort((a, b) => a.symbol.localeCompare(b.symbol) || a.trade_id! - b.trade_id!);
}

if (requireSuite("kafka pipeline", "KAFKA_BROKERS", HOW_TO)) {
  const INVALID = ["not json", '{"symbol":"BTC-USDT","price":-1}', ""];

  Deno.test({
    name: "kafka: every event becomes exactly one prediction or one dead letter",
    sanitizeOps: false, // kafkajs leaves a timer behind on disconnect (TimeoutNegativeWarning)
    sanitizeResources: false,
    async fn() {
      const topic = `pipe-${crypto.randomUUID().slice(0, 8)}`;
      const { path, cleanup } = await tempKvPath();
      const N = 9000;
      const bundle = model();
      await storeWithModel(path, bundle);
      const config = testConfig({
        KV_PATH: path,
        KAFKA_BROKERS: Deno.env.get("KAFKA_BROKERS")!,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: `g-${topic}`,
        KAFKA_PARTITIONS: "3",
      });
      const s = await Sentinel.start(config, ["worker"], {
        logger: () => memoryLogger(),
        reportEveryMs: 0,
        kafkaSessionTimeoutMs: 6000,
      });
      try {
        await produce(topic, N, INVALID);
        await waitFor("all events processed", async () => {
          const c = await s.store.counters();
          return c["rows"] === N && c["rejected/kafka"] === INVALID.length;
        }, 60_000);
        const preds = await allPredictions(s.store);
        const c = await s.store.counters();
        assert.equal(preds.length + c["warmup"], N);
        const ids = new Set(preds.map((p) => `${p.symbol}#${p.trade_id}`));
        assert.equal(ids.size, preds.length, "no event scored twice");
        // /metrics reports the worker's consumer lag, and it has drained.
        const metrics = await (await createApp(s.webContext()).request("/metrics")).text();
        assert.match(metrics, /^sentinel_kafka_consumer_lag_records 0$/m);
        assert.match(
          metrics,
          new RegExp(`^sentinel_events_rejected_total\\{[^}]*source="kafka"`, "m"),
        );
        assert.ok(preds.every((p) => p.model_id === bundle.id));
        // The dead letters are on the DLQ with their reasons.
        const brokers = config.kafkaBrokers!;
        const consumer = new EventConsumer({
          brokers,
          topic: dlqTopic(topic),
          clientId: "dlq-reader",
          groupId: `dlq-${topic}`,
          logger: quiet,
        });
        const got: KafkaRecord[] = [];
        const running = consumer.run({ handleBatch: (r) => (got.push(...r), Promise.resolve()) });
        await waitFor("dead letters", () => got.length >= INVALID.length, 30_000);
        await consumer.stop();
        await running.catch(() => {});
        assert.equal(got.length, INVALID.length);
        const reasons = got.map((r) => r.headers?.[DLQ_HEADERS.error] ?? "");
        assert.ok(reasons.some((r) => /JSON/i.test(r)), reasons.join(" | "));
        assert.ok(reasons.some((r) => /price/.test(r)), reasons.join(" | "));
        assert.deepEqual(
          got.map((r) => new TextDecoder().decode(r.value ?? new Uint8Array())).sort(),
          [...INVALID].sort(),
        );
      } finally {
        await s.stop();
        await deleteTopics({
          brokers: config.kafkaBrokers!,
          topic,
          clientId: "cleanup",
          logger: quiet,
        }, {
          topics: [topic, dlqTopic(topic)],
        }).catch(() => {});
        await cleanup();
      }
    },
  });

  Deno.test({
    name:
      "kafka: a worker killed with SIGKILL mid-run and restarted gives exactly the uninterrupted run's predictions",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const topic = `crash-${crypto.randomUUID().slice(0, 8)}`;
      const ref = await tempKvPath();
      const crash = await tempKvPath();
      const N = 120_000;
      const bundle = model();
      await storeWithModel(ref.path, bundle);
      await storeWithModel(crash.path, bundle);
      const env = {
        KAFKA_BROKERS: Deno.env.get("KAFKA_BROKERS")!,
        KAFKA_TOPIC: topic,
        KAFKA_PARTITIONS: "3",
      };
      try {
        await produce(topic, N, INVALID);
        const valid = N;

        // One connection watches the worker's KV from here: opening a Deno KV
        // per poll grows this process's memory without bound (measured).
        const watcher = await Store.open(crash.path, { retentionMs: 86_400_000 });
        // The worker as a separate process, killed with SIGKILL twice mid-run.
        const spawn = () =>
          new Deno.Command(Deno.execPath(), {
            args: ["run", "-P", "main.ts", "--role=worker"],
            cwd: new URL("..", import.meta.url).pathname,
            env: {
              ...env,
              KV_PATH: crash.path,
              KAFKA_GROUP_ID: `g-crash-${topic}`,
              RETRAIN_INTERVAL: "off",
            },
            stdout: "null",
            stderr: "piped",
          }).spawn();
        for (const killAt of [valid * 0.2, valid * 0.55]) {
          const child = spawn();
          const seen = await waitFor(`the worker to pass ${killAt} rows`, async () => {
            const rows = (await watcher.counters())["rows"] ?? 0;
            return rows >= killAt && rows < valid ? rows : rows >= valid ? -1 : 0;
          }, 90_000);
          assert.notEqual(seen, -1, "the worker finished before it could be killed");
          child.kill("SIGKILL");
          await child.status;
          await child.stderr.cancel();
        }
        const last = spawn();
        await waitFor("the restarted worker to finish", async () => {
          const c = await watcher.counters();
          return c["rows"] === valid && c["rejected/kafka"] === INVALID.length;
        }, 120_000);
        last.kill("SIGTERM");
        assert.equal((await last.status).code, 0, "SIGTERM stops the worker cleanly");
        await last.stderr.cancel();
        watcher.close();

        // The uninterrupted reference run, in process, over the same topic.
        const s = await Sentinel.start(
          testConfig({ ...env, KV_PATH: ref.path, KAFKA_GROUP_ID: `g-ref-${topic}` }),
          ["worker"],
          { logger: () => memoryLogger(), reportEveryMs: 0, kafkaSessionTimeoutMs: 6000 },
        );
        try {
          await waitFor("the reference run to finish", async () => {
            const c = await s.store.counters();
            return c["rows"] === valid && c["rejected/kafka"] === INVALID.length;
          }, 120_000);
        } finally {
          await s.stop();
        }

        const a = await Store.open(ref.path, { retentionMs: 86_400_000 });
        const b = await Store.open(crash.path, { retentionMs: 86_400_000 });
        try {
          const pa = byTrade(await allPredictions(a));
          const pb = byTrade(await allPredictions(b));
          assert.ok(pa.length > valid * 0.9);
          assert.equal(pb.length, pa.length, "no more, no fewer");
          assert.deepEqual(pb, pa, "identical predictions, scores included");
          assert.deepEqual(await b.counters(), await a.counters());
        } finally {
          a.close();
          b.close();
        }
      } finally {
        await deleteTopics({
          brokers: env.KAFKA_BROKERS.split(","),
          topic,
          clientId: "cleanup",
          logger: quiet,
        }, {
          topics: [topic, dlqTopic(topic)],
        }).catch(() => {});
        await ref.cleanup();
        await crash.cleanup();
      }
    },
  });
}

if (Deno.env.get("KAFKA_BROKERS")) {
  Deno.test({
    name:
      "kafka: a replayed file goes through Kafka once; a restarted source resumes after the last acknowledged record",
    sanitizeOps: false, // kafkajs leaves a timer behind on disconnect
    sanitizeResources: false,
    async fn() {
      const topic = `replay-${crypto.randomUUID().slice(0, 8)}`;
      const { path, cleanup } = await tempKvPath();
      const file = path.replace(/kv\.sqlite$/, "recorded.jsonl");
      const sim = new Simulator({ symbols: SYMBOLS, seed: 21, anomalyProbability: 0.01 });
      const events = [
        ...simulatedEvents(sim, {
          startMs: 1_710_000_000_000,
          stepMs: 50,
          endMs: 1_710_000_150_000,
        }),
      ];
      await Deno.writeTextFile(file, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
      await storeWithModel(path, model());
      const config = testConfig({
        KV_PATH: path,
        DATA_SOURCE: "replay",
        REPLAY_FILE: file,
        KAFKA_BROKERS: Deno.env.get("KAFKA_BROKERS")!,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: `g-${topic}`,
        KAFKA_PARTITIONS: "3",
      });
      const opts = { logger: () => memoryLogger(), reportEveryMs: 0, kafkaSessionTimeoutMs: 6000 };
      try {
        const s = await Sentinel.start(config, ["source", "worker"], opts);
        try {
          await s.done; // the source reached the end of the file
          await waitFor(
            "every replayed event scored",
            async () => (await s.store.counters())["rows"] === events.length,
            60_000,
          );
        } finally {
          await s.stop();
        }
        // The source alone again: it resumes at the end of the file and sends nothing.
        const again = await Sentinel.start(config, ["source"], opts);
        await again.done;
        await again.stop();
        const w = await Sentinel.start(config, ["worker"], opts);
        try {
          await new Promise((r) => setTimeout(r, 3000));
          const c = await w.store.counters();
          assert.equal(c["rows"], events.length, "nothing sent or scored twice");
          assert.equal(await w.store.loadOffset(`source:replay:recorded.jsonl`, 0), events.length);
          const preds = await allPredictions(w.store);
          assert.equal(new Set(preds.map((p) => `${p.symbol}#${p.trade_id}`)).size, preds.length);
        } finally {
          await w.stop();
        }
      } finally {
        await deleteTopics({
          brokers: config.kafkaBrokers!,
          topic,
          clientId: "cleanup",
          logger: quiet,
        }, {
          topics: [topic, dlqTopic(topic)],
        }).catch(() => {});
        await cleanup();
      }
    },
  });
}
