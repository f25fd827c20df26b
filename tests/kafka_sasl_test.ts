/**
 * Kafka over SASL_SSL, as managed services require (DESIGN.md section 18):
 * a real broker with a TLS listener signed by a private CA and SASL users
 * (tests/kafka/broker.sh with KAFKA_SASL_SSL_PORT). Each mechanism carries
 * events end to end; the whole pipeline runs over it; a wrong password or an
 * untrusted certificate stops a Sentinel process at once with one line that
 * names the setting and never the password.
 *
 * Runs when KAFKA_SASL_ENV names the settings file broker.sh writes:
 *
 *   KAFKA_RUN_DIR=$PWD/tests/kafka/run-sasl KAFKA_PORT=9192 KAFKA_SASL_SSL_PORT=9194 \
 *     bash tests/kafka/broker.sh start
 *   KAFKA_SASL_ENV=tests/kafka/run-sasl/sasl_ssl.env deno test -P tests/kafka_sasl_test.ts
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  decodeRecord,
  deleteTopics,
  dlqTopic,
  ensureTopics,
  EventConsumer,
  EventProducer,
  type KafkaRecord,
  type KafkaSettings,
  probeKafka,
} from "../ingest/kafka.ts";
import { loadKafkaSecurity } from "../ingest/kafka_client.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { SASL_MECHANISMS } from "../config.ts";
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

const HOW_TO = "start a SASL_SSL broker (tests/kafka/README.md) and set " +
  "KAFKA_SASL_ENV=tests/kafka/run-sasl/sasl_ssl.env";
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const quiet = { info() {}, warn() {} };
const ROOT = new URL("..", import.meta.url).pathname;

/** The Sentinel settings broker.sh wrote for its SASL_SSL listener. */
function saslEnv(): Record<string, string> {
  const text = Deno.readTextFileSync(Deno.env.get("KAFKA_SASL_ENV")!);
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function settingsFor(topic: string, env: Record<string, string>): KafkaSettings {
  const config = testConfig(env);
  return {
    brokers: config.kafkaBrokers!,
    topic,
    clientId: "sasl-test",
    logger: quiet,
    security: loadKafkaSecurity(config),
  };
}

function events(n: number, seed: number) {
  const sim = new Simulator({ symbols: SYMBOLS, seed, anomalyProbability: 0.01 });
  return [
    ...simulatedEvents(sim, {
      startMs: 1_710_000_000_000,
      stepMs: 50,
      endMs: 1_710_000_000_000 + (n / SYMBOLS.length) * 50,
    }),
  ];
}

/** Runs `main.ts` with `env` (nothing inherited but PATH/HOME) and returns its exit code and stderr. */
async function runMain(env: Record<string, string>, role: string) {
  const started = Date.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P", "main.ts", `--role=${role}`],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      NO_COLOR: "1",
      RETRAIN_INTERVAL: "off",
      ...env,
    },
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return {
    code: out.code,
    stderr: new TextDecoder().decode(out.stderr),
    ms: Date.now() - started,
  };
}

/** The lines a process printed, without Deno's permission banner and kafkajs' timer warning. */
function ownLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    l.trim() !== "" && !/Permissions in the config file|TimeoutNegativeWarning|Timeout duration/
      .test(l)
  );
}

if (requireSuite("kafka SASL_SSL", "KAFKA_SASL_ENV", HOW_TO)) {
  for (const mechanism of SASL_MECHANISMS) {
    Deno.test({
      name:
        `kafka SASL_SSL: ${mechanism} carries 600 events exactly once through producer, consumer group and admin`,
      sanitizeOps: false, // kafkajs leaves a timer behind on disconnect
      sanitizeResources: false,
      async fn() {
        const topic = `sasl-${mechanism}-${crypto.randomUUID().slice(0, 8)}`;
        const settings = settingsFor(topic, { ...saslEnv(), KAFKA_SASL_MECHANISM: mechanism });
        const sent = events(600, 3);
        try {
          await ensureTopics(settings, { partitions: 3 });
          const probe = await probeKafka(settings, 10_000);
          assert.equal(probe.brokers, 1);
          assert.equal(probe.partitions, 3);
          const producer = new EventProducer(settings);
          await producer.send(sent);
          await producer.close();
          const got: KafkaRecord[] = [];
          const consumer = new EventConsumer({ ...settings, groupId: `g-${topic}` });
          const running = consumer.run({
            handleBatch: (r) => (got.push(...r), Promise.resolve()),
          });
          await waitFor("every event consumed", () => got.length >= sent.length, 30_000);
          await consumer.stop();
          await running;
          const ids = got.map((r) => {
            const d = decodeRecord(r);
            assert.ok(d.ok);
            return `${d.value.symbol}#${d.value.trade_id}`;
          });
          assert.equal(new Set(ids).size, sent.length, "every event once");
          assert.deepEqual(
            new Set(ids),
            new Set(sent.map((e) => `${e.symbol}#${e.trade_id}`)),
          );
        } finally {
          await deleteTopics(settings, { topics: [topic, dlqTopic(topic)] }).catch(() => {});
        }
      },
    });
  }

  Deno.test({
    name: "kafka SASL_SSL: source and worker score a replayed file over SASL_SSL, every event once",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const topic = `sasl-pipe-${crypto.randomUUID().slice(0, 8)}`;
      const { path, cleanup } = await tempKvPath();
      const file = path.replace(/kv\.sqlite$/, "recorded.jsonl");
      const sent = events(3000, 9);
      await Deno.writeTextFile(file, sent.map((e) => JSON.stringify(e)).join("\n") + "\n");
      await activateIn(
        path,
        simulatedBundle({ id: "sasl-model", seed: 5, seconds: 600, nEstimators: 30 }),
      );
      const env = saslEnv();
      const config = testConfig({
        ...env,
        KV_PATH: path,
        DATA_SOURCE: "replay",
        REPLAY_FILE: file,
        KAFKA_TOPIC: topic,
        KAFKA_GROUP_ID: `g-${topic}`,
        KAFKA_PARTITIONS: "3",
      });
      const s = await Sentinel.start(config, ["source", "worker"], {
        logger: () => memoryLogger(),
        reportEveryMs: 0,
        kafkaSessionTimeoutMs: 6000,
      });
      try {
        await s.done;
        await waitFor(
          "every replayed event scored",
          async () => (await s.store.counters())["rows"] === sent.length,
          60_000,
        );
        const preds = await allPredictions(s.store);
        const c = await s.store.counters();
        assert.equal(preds.length + (c["warmup"] ?? 0), sent.length);
        assert.equal(new Set(preds.map((p) => `${p.symbol}#${p.trade_id}`)).size, preds.length);
        assert.ok(preds.every((p) => p.model_id === "sasl-model"));
        assert.equal(s.producer?.status().state, "connected");
      } finally {
        await s.stop();
        await deleteTopics(settingsFor(topic, env), { topics: [topic, dlqTopic(topic)] })
          .catch(() => {});
        await cleanup();
      }
    },
  });

  Deno.test({
    name:
      "kafka SASL_SSL: a wrong password stops a worker at once with one line naming the setting, never the password",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const { path, cleanup } = await tempKvPath();
      const wrong = `wrong-${crypto.randomUUID()}`;
      try {
        const r = await runMain({
          ...saslEnv(),
          KAFKA_SASL_PASSWORD: wrong,
          KV_PATH: path,
          KAFKA_TOPIC: `sasl-badpw-${crypto.randomUUID().slice(0, 8)}`,
        }, "worker");
        assert.equal(r.code, 2, r.stderr);
        const lines = ownLines(r.stderr);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0],
          /^sentinel: Kafka refused SASL authentication \(mechanism scram-sha-256, user sentinel\): check KAFKA_SASL_USERNAME \/ KAFKA_SASL_PASSWORD/,
        );
        assert.ok(!r.stderr.includes(wrong), "the password is never printed");
        // Not a retry loop: kafkajs' bounded retries end well before a minute.
        assert.ok(r.ms < 45_000, `took ${r.ms} ms`);
      } finally {
        await cleanup();
      }
    },
  });

  Deno.test({
    name:
      "kafka SASL_SSL: a broker certificate the CA file does not sign stops a source with one line naming KAFKA_SSL_CA_FILE",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const { path, cleanup } = await tempKvPath();
      const dir = path.replace(/\/kv\.sqlite$/, "");
      try {
        // Another CA, which did not sign the broker's certificate.
        const made = await new Deno.Command("openssl", {
          args: [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=Some other CA",
            "-keyout",
            `${dir}/other.key`,
            "-out",
            `${dir}/other-ca.pem`,
          ],
          stdout: "null",
          stderr: "null",
        }).output();
        assert.equal(made.code, 0, "openssl made a CA");
        const r = await runMain({
          ...saslEnv(),
          KAFKA_SSL_CA_FILE: `${dir}/other-ca.pem`,
          KV_PATH: path,
          KAFKA_TOPIC: `sasl-badca-${crypto.randomUUID().slice(0, 8)}`,
        }, "source");
        assert.equal(r.code, 2, r.stderr);
        const lines = ownLines(r.stderr);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(
          lines[0],
          /^sentinel: Kafka's TLS certificate is not trusted: KAFKA_SSL_CA_FILE \(.*other-ca\.pem\) does not sign the broker's certificate/,
        );
        // An unreadable CA file is a setup error too, before any connection.
        const missing = await runMain({
          ...saslEnv(),
          KAFKA_SSL_CA_FILE: `${dir}/nope.pem`,
          KV_PATH: path,
        }, "source");
        assert.equal(missing.code, 2, missing.stderr);
        assert.match(ownLines(missing.stderr)[0], /^sentinel: KAFKA_SSL_CA_FILE: cannot read /);
      } finally {
        await cleanup();
      }
    },
  });
}
