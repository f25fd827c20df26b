import assert from "node:assert/strict";
import { CONFIG_VARS, ConfigError, parseConfig, parseDuration } from "./config.ts";

Deno.test("config: empty environment gives DESIGN.md's defaults", () => {
  const c = parseConfig({});
  assert.equal(c.dataSource, "simulated");
  assert.deepEqual(c.symbols, ["BTC-USDT", "ETH-USDT", "BNB-USDT"]);
  assert.equal(c.kafkaBrokers, null);
  assert.equal(c.kafkaTopic, "crypto-market");
  assert.equal(c.windowSeconds, 60);
  assert.equal(c.nEstimators, 200);
  assert.equal(c.contamination, 0.01);
  assert.equal(c.port, 8000);
  assert.equal(c.apiKey, null);
  assert.equal(c.retrainIntervalSeconds, 3600);
  assert.equal(c.retentionSeconds, 86400);
  assert.equal(c.replaySpeed, "max");
  assert.equal(c.winsorizeSigma, null);
  assert.equal(parseConfig({ WINSORIZE_SIGMA: "5" }).winsorizeSigma, 5);
});

function errorOf(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e;
  }
  assert.fail(`expected ${JSON.stringify(env)} to be rejected`);
}

Deno.test("config: a bad value names the variable and what is accepted, one line each", () => {
  const e = errorOf({ ANOMALY_PROBABILITY: "2" });
  assert.equal(e.message.split("\n").length, 1);
  assert.match(
    e.message,
    /^config error: ANOMALY_PROBABILITY: got "2", expected a number between 0 and 1$/,
  );

  const s = errorOf({ SYMBOLS: "btc" });
  assert.match(s.message, /SYMBOLS: got "btc", expected comma-separated BASE-QUOTE/);

  const both = errorOf({ PORT: "http", CONTAMINATION: "0.9" });
  const lines = both.message.split("\n");
  assert.equal(lines.length, 2);
  assert.ok(lines.some((l) => l.startsWith("config error: PORT:")));
  assert.ok(lines.some((l) => l.startsWith("config error: CONTAMINATION:")));
});

Deno.test("config: every numeric variable rejects garbage, NaN and out-of-range", () => {
  const bad: Record<string, string[]> = {
    EVENT_FREQUENCY_SECONDS: ["0", "-1", "x", "NaN", "Infinity"],
    SEED: ["1.5", "abc"],
    WINDOW_SECONDS: ["1", "3601", "60.5"],
    MIN_WINDOW_EVENTS: ["1"],
    MIN_TRAINING_ROWS: ["5"],
    N_ESTIMATORS: ["0", "1001"],
    PORT: ["0", "70000"],
    RETRAIN_INTERVAL: ["soon", "-5m"],
    RETENTION: ["off", "0"],
    REPLAY_SPEED: ["0", "fast"],
    WINSORIZE_SIGMA: ["0", "-1", "wide"],
    DATA_SOURCE: ["kafka"],
    BINANCE_STREAM: ["depth"],
    BINANCE_WS_URL: ["http://x"],
    KAFKA_BROKERS: ["localhost", "a:b"],
    SENTINEL_API_KEY: ["short"],
  };
  for (const [name, values] of Object.entries(bad)) {
    for (const v of values) {
      const e = errorOf({ [name]: v });
      assert.ok(e.problems.some((p) => p.variable === name), `${name}=${v}: ${e.message}`);
    }
  }
});

Deno.test("config: the seed's names and aliases work unchanged", () => {
  const c = parseConfig({
    KAFKA_BOOTSTRAP_SERVERS: "kafka:29092,127.0.0.1:9092",
    SYMBOLS: "btc-usdt, SOL-USDT,BTC-USDT",
    CONTAMINATION: "auto",
    RETRAIN_INTERVAL: "off",
    REPLAY_SPEED: "10",
    DATA_SOURCE: "BINANCE",
  });
  assert.deepEqual(c.kafkaBrokers, ["kafka:29092", "127.0.0.1:9092"]);
  assert.deepEqual(c.symbols, ["BTC-USDT", "SOL-USDT"]);
  assert.equal(c.contamination, "auto");
  assert.equal(c.retrainIntervalSeconds, null);
  assert.equal(c.replaySpeed, 10);
  assert.equal(c.dataSource, "binance");
  // KAFKA_BROKERS wins over the alias when both are set.
  assert.deepEqual(
    parseConfig({ KAFKA_BROKERS: "a:1", KAFKA_BOOTSTRAP_SERVERS: "b:2" }).kafkaBrokers,
    ["a:1"],
  );
});

Deno.test("config: cross-field rules", () => {
  assert.match(errorOf({ DATA_SOURCE: "replay" }).message, /REPLAY_FILE: is required/);
  assert.equal(
    parseConfig({ DATA_SOURCE: "replay", REPLAY_FILE: "x.jsonl" }).replayFile,
    "x.jsonl",
  );
  assert.match(
    errorOf({ MIN_WINDOW_EVENTS: "500", MIN_TRAINING_ROWS: "100" }).message,
    /MIN_WINDOW_EVENTS: must not exceed/,
  );
});

Deno.test("config: durations", () => {
  assert.equal(parseDuration("90"), 90);
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("15m"), 900);
  assert.equal(parseDuration("1.5h"), 5400);
  assert.equal(parseDuration("2d"), 172800);
  assert.equal(parseDuration("250ms"), 0.25);
  assert.equal(parseDuration("1w"), null);
  assert.equal(parseDuration(""), null);
});

Deno.test("config: every variable is documented in the README's table", async () => {
  const readme = await Deno.readTextFile(new URL("./README.md", import.meta.url));
  for (const v of CONFIG_VARS) {
    assert.ok(readme.includes(`| \`${v.name}\``), `README lacks a row for ${v.name}`);
  }
});

Deno.test("config: SIM_PROFILE defaults to realistic; episode weights and magnitude parse or name the variable", () => {
  const c = parseConfig({});
  assert.equal(c.simProfile, "realistic");
  assert.equal(c.simEpisodeMagnitude, 1);
  assert.ok(Object.values(c.simEpisodeWeights).every((w) => w > 0));
  assert.equal(parseConfig({ SIM_PROFILE: "Seed" }).simProfile, "seed");
  assert.deepEqual(
    parseConfig({ SIM_EPISODE_WEIGHTS: "flash_crash=2, LEVEL_SHIFT=0.5" }).simEpisodeWeights,
    {
      PRICE_SPIKE: 0,
      VOLUME_SPIKE: 0,
      FLASH_CRASH: 2,
      LEVEL_SHIFT: 0.5,
      VOLUME_BURST: 0,
      PUMP_AND_DUMP: 0,
    },
  );
  assert.match(
    errorOf({ SIM_PROFILE: "wild" }).message,
    /SIM_PROFILE: got "wild", expected one of seed, realistic, busy, thin/,
  );
  assert.match(
    errorOf({ SIM_EPISODE_WEIGHTS: "SPIKE=1" }).message,
    /SIM_EPISODE_WEIGHTS: .*unknown type "SPIKE"/,
  );
  assert.match(
    errorOf({ SIM_EPISODE_WEIGHTS: "PRICE_SPIKE=-1" }).message,
    /SIM_EPISODE_WEIGHTS: .*bad weight/,
  );
  assert.match(
    errorOf({ SIM_EPISODE_WEIGHTS: "PRICE_SPIKE=0" }).message,
    /SIM_EPISODE_WEIGHTS: .*positive weight/,
  );
  assert.match(errorOf({ SIM_EPISODE_MAGNITUDE: "0" }).message, /SIM_EPISODE_MAGNITUDE: got "0"/);
});

Deno.test("config: detection v2 variables — MODEL, ALERT_BUDGET, INCIDENT_GAP_SECONDS, TRAIN_SECONDS", () => {
  const c = parseConfig({});
  assert.equal(c.model, "robust");
  assert.equal(c.alertBudget, 1);
  assert.equal(c.incidentGapSeconds, 5);
  assert.equal(c.trainSeconds, 600);
  const d = parseConfig({
    MODEL: "IForest",
    ALERT_BUDGET: "0.5",
    INCIDENT_GAP_SECONDS: "12",
    TRAIN_SECONDS: "0",
  });
  assert.equal(d.model, "iforest");
  assert.equal(d.alertBudget, 0.5);
  assert.equal(d.incidentGapSeconds, 12);
  assert.equal(d.trainSeconds, 0);
  assert.match(
    errorOf({ MODEL: "svm" }).message,
    /MODEL: got "svm", expected one of robust, hst, combo, iforest/,
  );
  assert.match(errorOf({ ALERT_BUDGET: "0" }).message, /ALERT_BUDGET/);
  assert.match(errorOf({ INCIDENT_GAP_SECONDS: "-1" }).message, /INCIDENT_GAP_SECONDS/);
  assert.match(errorOf({ TRAIN_SECONDS: "1.5" }).message, /TRAIN_SECONDS/);
});

Deno.test("config: Kafka TLS and SASL settings parse into one security object", () => {
  const c = parseConfig({
    KAFKA_BROKERS: "kafka.example.com:9093",
    KAFKA_SSL: "true",
    KAFKA_SSL_CA_FILE: "/etc/ssl/kafka-ca.pem",
    KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
    KAFKA_SASL_USERNAME: "sentinel",
    KAFKA_SASL_PASSWORD: "s3cret-value",
  });
  assert.equal(c.kafkaSsl, true);
  assert.equal(c.kafkaSslCaFile, "/etc/ssl/kafka-ca.pem");
  assert.deepEqual(c.kafkaSasl, {
    mechanism: "scram-sha-512",
    username: "sentinel",
    password: "s3cret-value",
  });
  const plain = parseConfig({});
  assert.equal(plain.kafkaSsl, false);
  assert.equal(plain.kafkaSasl, null);
});

Deno.test("config: Kafka security errors name the variable and never print a secret", () => {
  const secret = "hunter2-very-secret";
  const missing = errorOf({
    KAFKA_BROKERS: "k:9093",
    KAFKA_SASL_MECHANISM: "scram-sha-256",
    KAFKA_SASL_PASSWORD: secret,
  });
  assert.equal(
    missing.message,
    "config error: KAFKA_SASL_USERNAME: is required when KAFKA_SASL_MECHANISM is set",
  );
  const noMech = errorOf({ KAFKA_BROKERS: "k:9093", KAFKA_SASL_PASSWORD: secret });
  assert.match(
    noMech.message,
    /^config error: KAFKA_SASL_PASSWORD: is set but KAFKA_SASL_MECHANISM/,
  );
  assert.ok(!noMech.message.includes(secret));
  const badMech = errorOf({
    KAFKA_BROKERS: "k:9093",
    KAFKA_SASL_MECHANISM: "gssapi",
    KAFKA_SASL_USERNAME: "u",
    KAFKA_SASL_PASSWORD: secret,
  });
  assert.match(badMech.message, /KAFKA_SASL_MECHANISM: got "gssapi", expected one of plain, /);
  assert.ok(!badMech.message.includes(secret));
  assert.match(
    errorOf({ KAFKA_BROKERS: "k:9093", KAFKA_SSL_CA_FILE: "/ca.pem" }).message,
    /^config error: KAFKA_SSL_CA_FILE: needs KAFKA_SSL=true/,
  );
  assert.match(
    errorOf({ KAFKA_BROKERS: "k:9093", KAFKA_SSL: "yes" }).message,
    /^config error: KAFKA_SSL: got "yes"/,
  );
  assert.match(
    errorOf({
      KAFKA_SASL_MECHANISM: "plain",
      KAFKA_SASL_USERNAME: "u",
      KAFKA_SASL_PASSWORD: secret,
    })
      .message,
    /KAFKA_SASL_MECHANISM: is set but KAFKA_BROKERS is not/,
  );
});

Deno.test("config: a KV Connect URL needs DENO_KV_ACCESS_TOKEN; a file path does not", () => {
  const e = errorOf({ KV_PATH: "http://127.0.0.1:4512" });
  assert.equal(
    e.message,
    "config error: DENO_KV_ACCESS_TOKEN: is required when KV_PATH is a KV Connect URL " +
      "(the token the server was started with)",
  );
  const c = parseConfig({
    KV_PATH: "https://kv.example.com",
    DENO_KV_ACCESS_TOKEN: "tok-1234567890",
  });
  assert.equal(c.kvPath, "https://kv.example.com");
  assert.equal(parseConfig({ KV_PATH: "/tmp/x.kv" }).kvPath, "/tmp/x.kv");
  const short = errorOf({
    KV_PATH: "http://h:1",
    DENO_KV_ACCESS_TOKEN: "short-secret".slice(0, 11),
  });
  assert.match(
    short.message,
    /^config error: DENO_KV_ACCESS_TOKEN: must be at least 12 characters/,
  );
  assert.ok(!short.message.includes("short-secre"));
});

Deno.test("config: incident webhooks — URLs, secret, format, attempts; errors never echo a URL", () => {
  const c = parseConfig({});
  assert.deepEqual(c.alertWebhookUrls, []);
  assert.equal(c.alertWebhookSecret, null);
  assert.equal(c.alertWebhookFormat, "json");
  assert.equal(c.alertWebhookMaxAttempts, 12);
  const d = parseConfig({
    ALERT_WEBHOOK_URL: "https://hooks.example.com/a, http://127.0.0.1:9/b",
    ALERT_WEBHOOK_SECRET: "0123456789abcdef",
    ALERT_WEBHOOK_FORMAT: "Slack",
    ALERT_WEBHOOK_MAX_ATTEMPTS: "3",
  });
  assert.deepEqual(d.alertWebhookUrls, ["https://hooks.example.com/a", "http://127.0.0.1:9/b"]);
  assert.equal(d.alertWebhookSecret, "0123456789abcdef");
  assert.equal(d.alertWebhookFormat, "slack");
  assert.equal(d.alertWebhookMaxAttempts, 3);
  const bad = errorOf({ ALERT_WEBHOOK_URL: "https://ok.example.com,ftp://x/secret-token" });
  assert.match(bad.message, /^config error: ALERT_WEBHOOK_URL: entry 2 is not an http\(s\) URL/);
  assert.ok(!bad.message.includes("secret-token"));
  assert.match(
    errorOf({ ALERT_WEBHOOK_SECRET: "0123456789abcdef" }).message,
    /ALERT_WEBHOOK_SECRET: is set but ALERT_WEBHOOK_URL is not/,
  );
  assert.match(
    errorOf({ ALERT_WEBHOOK_URL: "http://h/", ALERT_WEBHOOK_SECRET: "short" }).message,
    /ALERT_WEBHOOK_SECRET: must be at least 16 characters/,
  );
  assert.match(
    errorOf({ ALERT_WEBHOOK_FORMAT: "teams" }).message,
    /ALERT_WEBHOOK_FORMAT: got "teams"/,
  );
  assert.match(errorOf({ ALERT_WEBHOOK_MAX_ATTEMPTS: "0" }).message, /ALERT_WEBHOOK_MAX_ATTEMPTS/);
});

Deno.test("config: SIM_FIRST_EPISODE is 20 s by default, off turns it off, nonsense names the variable", () => {
  assert.equal(parseConfig({}).simFirstEpisodeSeconds, 20);
  assert.equal(parseConfig({ SIM_FIRST_EPISODE: "1m" }).simFirstEpisodeSeconds, 60);
  assert.equal(parseConfig({ SIM_FIRST_EPISODE: "off" }).simFirstEpisodeSeconds, null);
  assert.match(errorOf({ SIM_FIRST_EPISODE: "soon" }).message, /SIM_FIRST_EPISODE: got "soon"/);
});

Deno.test("config: RETENTION_RAW is the raw tier's horizon, never longer than RETENTION", () => {
  // Unset, it is RETENTION: one tier, what a default deployment's pages and exports read.
  assert.equal(parseConfig({}).rawRetentionSeconds, 86400);
  assert.equal(parseConfig({ RETENTION: "10m" }).rawRetentionSeconds, 600);
  assert.equal(parseConfig({ RETENTION: "30d", RETENTION_RAW: "1h" }).rawRetentionSeconds, 3600);
  assert.equal(parseConfig({ RETENTION_RAW: "15m" }).rawRetentionSeconds, 900);
  const e = errorOf({ RETENTION: "2h", RETENTION_RAW: "3h" });
  assert.match(e.message, /RETENTION_RAW: must not exceed RETENTION \(2h\)/);
  assert.match(errorOf({ RETENTION_RAW: "soon" }).message, /RETENTION_RAW: got "soon"/);
});
