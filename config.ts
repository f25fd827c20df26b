/**
 * Sentinel's configuration: every environment variable of DESIGN.md section
 * 13 (plus the few the design left implicit) parsed by one zod schema.
 * A bad value stops the program with one line per variable naming it and
 * what is accepted.
 *
 * @module
 */
import { z } from "zod";
import { ANOMALY_TYPES, type AnomalyType, SYMBOL_PATTERN } from "./lib/contracts.ts";
import { SIM_PROFILES, type SimProfile } from "./ingest/profiles.ts";
import { DEFAULT_EPISODE_WEIGHTS } from "./ingest/episodes.ts";

/** Documentation of one variable: shown by `--help` and checked against the README. */
export interface VarDoc {
  name: string;
  default: string;
  accepts: string;
  doc: string;
}

/** Every variable Sentinel reads, in the order `--help` lists them. */
export const CONFIG_VARS: readonly VarDoc[] = [
  {
    name: "DATA_SOURCE",
    default: "simulated",
    accepts: "simulated | binance | replay",
    doc: "where market events come from",
  },
  {
    name: "SYMBOLS",
    default: "BTC-USDT,ETH-USDT,BNB-USDT",
    accepts: "comma-separated BASE-QUOTE symbols",
    doc: "markets to watch",
  },
  {
    name: "KAFKA_BROKERS",
    default: "(unset: embedded mode)",
    accepts: "comma-separated host:port",
    doc: "Kafka bootstrap servers; alias KAFKA_BOOTSTRAP_SERVERS (the seed's name)",
  },
  {
    name: "KAFKA_TOPIC",
    default: "crypto-market",
    accepts: "Kafka topic name",
    doc: "topic of market events; invalid messages go to <topic>.dlq",
  },
  {
    name: "KAFKA_GROUP_ID",
    default: "sentinel-features",
    accepts: "Kafka consumer group id",
    doc: "consumer group of the feature workers (every worker of one deployment shares it)",
  },
  {
    name: "KAFKA_PARTITIONS",
    default: "6",
    accepts: "integer in [1, 1000]",
    doc:
      "partitions of the topic when Sentinel creates it (the most workers that can share the load)",
  },
  {
    name: "SIM_PROFILE",
    default: "realistic",
    accepts: SIM_PROFILES.join(" | "),
    doc:
      "simulator: seed (the seed's stream, byte for byte), realistic, busy (≥ 50 trades/s per symbol) or thin (a trade every ~30 s)",
  },
  {
    name: "KAFKA_SSL",
    default: "false",
    accepts: "true | false",
    doc: "connect to the brokers over TLS (managed Kafka: SASL_SSL needs it)",
  },
  {
    name: "KAFKA_SSL_CA_FILE",
    default: "(unset: the system's CAs)",
    accepts: "path of a PEM file",
    doc:
      "CA certificate(s) that sign the brokers' certificates (a private CA); needs KAFKA_SSL=true",
  },
  {
    name: "KAFKA_SASL_MECHANISM",
    default: "(unset: no SASL)",
    accepts: "plain, scram-sha-256, scram-sha-512",
    doc: "SASL authentication to the brokers; needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD",
  },
  {
    name: "KAFKA_SASL_USERNAME",
    default: "(unset)",
    accepts: "string",
    doc: "SASL user name",
  },
  {
    name: "KAFKA_SASL_PASSWORD",
    default: "(unset)",
    accepts: "string (a secret: never printed)",
    doc: "SASL password",
  },
  {
    name: "EVENT_FREQUENCY_SECONDS",
    default: "0.2",
    accepts: "number > 0",
    doc:
      "simulator, seed profile: seconds between ticks (one event per symbol per tick); other profiles follow their own arrivals",
  },
  {
    name: "ANOMALY_PROBABILITY",
    default: "0.01",
    accepts: "number in [0, 1]",
    doc:
      "simulator: seed profile, chance that an event is an injected anomaly; other profiles, chance that a 10 s slot of one symbol starts an anomaly episode (0.01 ≈ 3.6 per symbol-hour)",
  },
  {
    name: "SIM_EPISODE_WEIGHTS",
    default:
      "(every type, PRICE_SPIKE=3,VOLUME_SPIKE=3,FLASH_CRASH=1,LEVEL_SHIFT=1,VOLUME_BURST=2,PUMP_AND_DUMP=0.5)",
    accepts: "comma-separated TYPE=weight (unlisted types never happen)",
    doc: "simulator, non-seed profiles: relative frequency of each anomaly episode type",
  },
  {
    name: "SIM_EPISODE_MAGNITUDE",
    default: "1",
    accepts: "number > 0",
    doc:
      "simulator, non-seed profiles: scales every episode's price move and the excess of its volume and rate factors",
  },
  {
    name: "SIM_FIRST_EPISODE",
    default: "20s",
    accepts: "duration (20s, 1m) or off",
    doc:
      "simulator, non-seed profiles: a fresh market (first start, after its backfill) has a price spike on the first symbol this long after going live, so a new user sees an incident at once",
  },
  {
    name: "SEED",
    default: "42",
    accepts: "integer",
    doc: "seed of the simulator and of model training (same seed, same stream)",
  },
  {
    name: "BACKFILL_SECONDS",
    default: "600",
    accepts: "integer >= 0",
    doc: "simulator: seconds of history generated at start so the first model trains at once",
  },
  {
    name: "WINDOW_SECONDS",
    default: "60",
    accepts: "integer in [2, 3600]",
    doc: "length of the rolling feature window (1 s panes)",
  },
  {
    name: "WINSORIZE_SIGMA",
    default: "off",
    accepts: "number > 0, or off",
    doc:
      "clip what an event adds to its window at mean ± k·std, so one spike does not inflate the next minute's statistics (docs/evaluation.md)",
  },
  {
    name: "MIN_WINDOW_EVENTS",
    default: "10",
    accepts: "integer >= 2",
    doc: "rows whose window holds fewer events are warm-up: not scored, not trained on",
  },
  {
    name: "MIN_TRAINING_ROWS",
    default: "1000",
    accepts: "integer >= 10",
    doc: "feature rows the trainer waits for before the first fit",
  },
  {
    name: "MAX_WAIT_SECONDS",
    default: "300",
    accepts: "integer >= 1",
    doc: "how long the trainer waits for MIN_TRAINING_ROWS before it reports why it cannot train",
  },
  {
    name: "RETRAIN_INTERVAL",
    default: "1h",
    accepts: "duration (90s, 15m, 1h, 1d) or off",
    doc: "scheduled retraining period",
  },
  {
    name: "N_ESTIMATORS",
    default: "200",
    accepts: "integer in [1, 1000]",
    doc: "trees in the Isolation Forest",
  },
  {
    name: "CONTAMINATION",
    default: "0.01",
    accepts: "number in (0, 0.5] or auto",
    doc:
      "MODEL=iforest and POST /predict: expected share of anomalies; sets the forest's decision threshold",
  },
  {
    name: "MODEL",
    default: "robust",
    accepts: "robust, hst, combo or iforest",
    doc:
      "what judges live trades: robust (calibrated robust channels, the default: best measured), hst (Half-Space Trees, online), combo (both), iforest (the seed-compatible forest with CONTAMINATION)",
  },
  {
    name: "ALERT_BUDGET",
    default: "1",
    accepts: "number in (0, 3600]",
    doc:
      "detection v2: expected false incidents per symbol-hour of market time; sets each symbol's calibrated threshold (docs/detection.md)",
  },
  {
    name: "INCIDENT_GAP_SECONDS",
    default: "5",
    accepts: "number in (0, 3600]",
    doc:
      "alerts of a symbol closer than this belong to one incident; an incident closes after this much quiet; the trainer's calibration spends ALERT_BUDGET only where an alert would open a new incident",
  },
  {
    name: "INCIDENT_SETTLE_SECONDS",
    default: "60",
    accepts: "number in [0, 3600]",
    doc:
      "an incident that would close as a level shift stays open up to this long after its last alert, closing as a spike or crash if the price gives back over 30 % of the move (0: type at the gap)",
  },
  {
    name: "ALERT_WEBHOOK_URL",
    default: "(unset: no webhooks)",
    accepts: "http(s) URLs, comma-separated (secrets: never printed)",
    doc:
      "receivers of every incident opened and closed, as JSON; delivered at least once through a KV outbox",
  },
  {
    name: "ALERT_WEBHOOK_SECRET",
    default: "(unset: unsigned)",
    accepts: "16+ chars (a secret: never printed)",
    doc:
      "signs each webhook body: header X-Sentinel-Signature: sha256=<hex HMAC-SHA256 of the body>",
  },
  {
    name: "ALERT_WEBHOOK_FORMAT",
    default: "json",
    accepts: "json | slack",
    doc: "json: Sentinel's incident event; slack: Slack's incoming-webhook message shape",
  },
  {
    name: "ALERT_WEBHOOK_MAX_ATTEMPTS",
    default: "12",
    accepts: "integer in [1, 100]",
    doc:
      "deliveries tried (backoff 1 s doubling up to 5 min) before a notification is dead-lettered",
  },
  {
    name: "KV_PATH",
    default: "./data/sentinel.kv",
    accepts: "file path, or a KV Connect URL",
    doc: "Deno KV database; an http(s):// URL is a KV Connect server (denokv, Deno Deploy)",
  },
  {
    name: "DENO_KV_ACCESS_TOKEN",
    default: "(unset)",
    accepts: "12+ chars (a secret: never printed)",
    doc: "access token of the KV Connect server; required when KV_PATH is a URL",
  },
  { name: "PORT", default: "8000", accepts: "integer in [1, 65535]", doc: "HTTP port" },
  {
    name: "SENTINEL_API_KEY",
    default: "(unset: admin endpoints disabled)",
    accepts: "string of at least 16 characters",
    doc: "bearer token for POST /model/retrain and model activation",
  },
  {
    name: "REPLAY_FILE",
    default: "(unset)",
    accepts: "path",
    doc:
      "replay: JSONL of MarketEvents, Binance trades or aggTrades CSV, or a .zip of one (required when DATA_SOURCE=replay)",
  },
  {
    name: "REPLAY_SPEED",
    default: "max",
    accepts: "max, or a multiple of real time > 0",
    doc: "replay pace",
  },
  {
    name: "TRAIN_SECONDS",
    default: "600",
    accepts: "integer >= 0",
    doc:
      "REPLAY_SPEED=max: the file's first TRAIN_SECONDS of event time train the model before any later event is read, so every later event is scored by a model that never saw it (0: off)",
  },
  {
    name: "REPLAY_SYMBOL",
    default: "(from the file name)",
    accepts: "BASE-QUOTE symbol",
    doc: "replay: symbol of a Binance CSV file",
  },
  {
    name: "RETENTION",
    default: "24h",
    accepts: "duration (90s, 15m, 1h, 1d)",
    doc:
      "long tier: how long per-second bars per symbol, incidents and reviews stay in KV (raw rows and predictions: RETENTION_RAW)",
  },
  {
    name: "RETENTION_RAW",
    default: "(RETENTION)",
    accepts: "duration (90s, 15m, 1h, 1d), at most RETENTION",
    doc:
      "raw tier: how long per-event feature rows and predictions stay in KV (event time; the worker sweeps older pages every minute)",
  },
  {
    name: "BINANCE_WS_URL",
    default: "wss://stream.binance.com:9443",
    accepts: "ws:// or wss:// URL",
    doc: "Binance WebSocket base URL (tests point it at a local server)",
  },
  {
    name: "BINANCE_STREAM",
    default: "trade",
    accepts: "trade | aggTrade",
    doc: "which Binance trade stream to subscribe to",
  },
  {
    name: "MAX_CLOCK_SKEW",
    default: "5m",
    accepts: "duration (90s, 15m, 1h)",
    doc:
      "events whose time is further than this from the source's clock are rejected with a reason (Binance: either way; Kafka and replay: ahead of the clock)",
  },
  {
    name: "UNCONFIGURED_SYMBOLS",
    default: "reject",
    accepts: "reject | accept",
    doc:
      "Kafka workers: events of a symbol not in SYMBOLS go to the DLQ with a reason (reject) or are processed (accept)",
  },
  {
    name: "HOST",
    default: "0.0.0.0",
    accepts: "IP address or host name",
    doc:
      "interface the HTTP server binds to (0.0.0.0: every IPv4 interface; 127.0.0.1: local only)",
  },
];

/** The parsed configuration. */
export interface Config {
  dataSource: "simulated" | "binance" | "replay";
  symbols: string[];
  kafkaBrokers: string[] | null;
  kafkaTopic: string;
  kafkaGroupId: string;
  kafkaPartitions: number;
  /** the simulator's profile (DATA_SOURCE=simulated) */
  simProfile: SimProfile;
  /** TLS to the brokers (KAFKA_SSL) */
  kafkaSsl: boolean;
  /** PEM file of the CA(s) to trust instead of the system's, or null */
  kafkaSslCaFile: string | null;
  /** SASL credentials, or null for none. The password is a secret: never log it. */
  kafkaSasl: KafkaSasl | null;
  eventFrequencySeconds: number;
  anomalyProbability: number;
  /** relative weight of each anomaly episode type (non-seed profiles) */
  simEpisodeWeights: Record<AnomalyType, number>;
  /** scale of episode magnitudes (non-seed profiles) */
  simEpisodeMagnitude: number;
  /** SIM_FIRST_EPISODE: seconds after going live of a fresh market's first episode, or null (off) */
  simFirstEpisodeSeconds: number | null;
  seed: number;
  backfillSeconds: number;
  windowSeconds: number;
  /** null: DESIGN.md's window exactly */
  winsorizeSigma: number | null;
  minWindowEvents: number;
  minTrainingRows: number;
  maxWaitSeconds: number;
  /** Seconds, or null when scheduled retraining is off. */
  retrainIntervalSeconds: number | null;
  nEstimators: number;
  contamination: number | "auto";
  /** TRAIN_SECONDS: the replay prefix that trains before the rest is read (0: off) */
  trainSeconds: number;
  /** MODEL: detection v2's model, or the seed-compatible forest */
  model: "robust" | "hst" | "combo" | "iforest";
  /** expected false incidents per symbol-hour */
  alertBudget: number;
  incidentGapSeconds: number;
  /** INCIDENT_SETTLE_SECONDS: how long a would-be level shift waits for a reversion */
  incidentSettleSeconds: number;
  /** ALERT_WEBHOOK_URL: incident webhook receivers (empty: none) */
  alertWebhookUrls: string[];
  /** ALERT_WEBHOOK_SECRET: HMAC key of the X-Sentinel-Signature header (null: unsigned) */
  alertWebhookSecret: string | null;
  alertWebhookFormat: "json" | "slack";
  alertWebhookMaxAttempts: number;
  kvPath: string;
  port: number;
  apiKey: string | null;
  replayFile: string | null;
  replaySpeed: number | "max";
  replaySymbol: string | null;
  retentionSeconds: number;
  /** RETENTION_RAW: the raw rows' and predictions' horizon, seconds (≤ retentionSeconds) */
  rawRetentionSeconds: number;
  binanceWsUrl: string;
  binanceStream: "trade" | "aggTrade";
  /** MAX_CLOCK_SKEW, ms */
  maxClockSkewMs: number;
  /** UNCONFIGURED_SYMBOLS */
  unconfiguredSymbols: "reject" | "accept";
  /** HOST: the HTTP server's bind address */
  host: string;
}

/** The SASL mechanisms kafkajs supports that managed Kafka services use. */
export const SASL_MECHANISMS = ["plain", "scram-sha-256", "scram-sha-512"] as const;

/** SASL credentials for Kafka (KAFKA_SASL_*). */
export interface KafkaSasl {
  mechanism: typeof SASL_MECHANISMS[number];
  username: string;
  /** a secret: never printed, never in an error message */
  password: string;
}

/** Thrown by {@linkcode parseConfig}; `message` has one line per bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(problems.map((p) => `config error: ${p.variable}: ${p.message}`).join("\n"));
    this.name = "ConfigError";
  }
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses `90`, `90s`, `15m`, `1h`, `1d` into seconds, or null when malformed.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./config.ts";
 * console.log(parseDuration("15m")); // 900
 * ```
 */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * UNIT_SECONDS[m[2] ?? "s"];
}

const defaults = Object.fromEntries(
  CONFIG_VARS.filter((v) => !v.default.startsWith("(")).map((v) => [v.name, v.default]),
);

const num = (accepts: string, ok: (n: number) => boolean, int = false) =>
  z.string().transform((s, ctx) => {
    const t = s.trim();
    const n = t === "" ? NaN : Number(t);
    if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || !ok(n)) {
      ctx.addIssue({ code: "custom", message: `got "${s}", expected ${accepts}` });
      return z.NEVER;
    }
    return n;
  });

const duration = (accepts: string, allowOff: boolean) =>
  z.string().transform((s, ctx): number | null => {
    const t = s.trim().toLowerCase();
    if (allowOff && (t === "off" || t === "0")) return null;
    const d = parseDuration(t);
    if (d === null || d <= 0) {
      ctx.addIssue({ code: "custom", message: `got "${s}", expected ${accepts}` });
      return z.NEVER;
    }
    return d;
  });

const symbol = z.string().transform((s, ctx) => {
  const t = s.trim().toUpperCase();
  if (!SYMBOL_PATTERN.test(t)) {
    ctx.addIssue({
      code: "custom",
      message: `got "${s}", expected BASE-QUOTE like BTC-USDT`,
    });
    return z.NEVER;
  }
  return t;
});

const symbolList = z.string().transform((s, ctx) => {
  const items = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
  const bad = items.filter((x) => !SYMBOL_PATTERN.test(x.toUpperCase()));
  if (items.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `got "${s}", expected comma-separated BASE-QUOTE symbols like BTC-USDT,ETH-USDT` +
        (bad.length ? ` (bad: ${bad.join(", ")})` : ""),
    });
    return z.NEVER;
  }
  return [...new Set(items.map((x) => x.toUpperCase()))];
});

const brokerList = z.string().transform((s, ctx) => {
  const items = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
  const bad = items.filter((x) => !/^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$/.test(x));
  if (items.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: "custom",
      message: `got "${s}", expected comma-separated host:port like 127.0.0.1:9092`,
    });
    return z.NEVER;
  }
  return items;
});

const oneOf = <T extends string>(values: readonly T[]) =>
  z.string().transform((s, ctx) => {
    const hit = values.find((v) => v.toLowerCase() === s.trim().toLowerCase());
    if (!hit) {
      ctx.addIssue({ code: "custom", message: `got "${s}", expected one of ${values.join(", ")}` });
      return z.NEVER;
    }
    return hit;
  });

const episodeWeights = z.string().transform((s, ctx): Record<AnomalyType, number> => {
  const out = Object.fromEntries(ANOMALY_TYPES.map((t) => [t, 0])) as Record<AnomalyType, number>;
  const problems: string[] = [];
  for (const item of s.split(",").map((x) => x.trim()).filter((x) => x !== "")) {
    const [name, value, extra] = item.split("=").map((x) => x.trim());
    const type = ANOMALY_TYPES.find((t) => t === name?.toUpperCase());
    const w = value === undefined || value === "" ? NaN : Number(value);
    if (!type) problems.push(`unknown type "${name}"`);
    else if (extra !== undefined || !Number.isFinite(w) || w < 0) {
      problems.push(`bad weight in "${item}"`);
    } else out[type] = w;
  }
  if (problems.length || !Object.values(out).some((w) => w > 0)) {
    ctx.addIssue({
      code: "custom",
      message: `got "${s}", expected TYPE=weight pairs like PRICE_SPIKE=1,FLASH_CRASH=2 ` +
        `with a positive weight (types: ${ANOMALY_TYPES.join(", ")})` +
        (problems.length ? ` (${problems.join("; ")})` : ""),
    });
    return z.NEVER;
  }
  return out;
});

const EnvSchema = z.object({
  DATA_SOURCE: oneOf(["simulated", "binance", "replay"] as const),
  SYMBOLS: symbolList,
  KAFKA_BROKERS: brokerList.optional(),
  KAFKA_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, {
    message: "expected a Kafka topic name (letters, digits, . _ -)",
  }),
  KAFKA_GROUP_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, {
    message: "expected a group id (letters, digits, . _ -)",
  }),
  KAFKA_PARTITIONS: num("an integer between 1 and 1000", (n) => n >= 1 && n <= 1000, true),
  SIM_PROFILE: oneOf(SIM_PROFILES),
  SIM_EPISODE_WEIGHTS: episodeWeights.optional(),
  SIM_EPISODE_MAGNITUDE: num("a number > 0", (n) => n > 0),
  SIM_FIRST_EPISODE: duration("a duration like 20s, 1m, or off", true),
  KAFKA_SSL: oneOf(["true", "false"] as const),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_SASL_MECHANISM: oneOf(SASL_MECHANISMS).optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  // Secrets: the schema never echoes them (no "got ..." in these messages).
  KAFKA_SASL_PASSWORD: z.string().min(1, { message: "must not be empty" }).optional(),
  DENO_KV_ACCESS_TOKEN: z.string().min(12, {
    message: "must be at least 12 characters (denokv refuses shorter tokens)",
  }).optional(),
  EVENT_FREQUENCY_SECONDS: num("a number > 0", (n) => n > 0),
  ANOMALY_PROBABILITY: num("a number between 0 and 1", (n) => n >= 0 && n <= 1),
  SEED: num("an integer", () => true, true),
  BACKFILL_SECONDS: num("an integer >= 0", (n) => n >= 0, true),
  WINDOW_SECONDS: num("an integer between 2 and 3600", (n) => n >= 2 && n <= 3600, true),
  WINSORIZE_SIGMA: z.string().transform((s, ctx): number | null => {
    const t = s.trim().toLowerCase();
    if (t === "off") return null;
    const n = Number(t);
    if (t === "" || !Number.isFinite(n) || n <= 0) {
      ctx.addIssue({ code: "custom", message: `got "${s}", expected a number > 0 or off` });
      return z.NEVER;
    }
    return n;
  }),
  MIN_WINDOW_EVENTS: num("an integer >= 2", (n) => n >= 2, true),
  MIN_TRAINING_ROWS: num("an integer >= 10", (n) => n >= 10, true),
  MAX_WAIT_SECONDS: num("an integer >= 1", (n) => n >= 1, true),
  RETRAIN_INTERVAL: duration("a duration like 90s, 15m, 1h, 1d, or off", true),
  N_ESTIMATORS: num("an integer between 1 and 1000", (n) => n >= 1 && n <= 1000, true),
  TRAIN_SECONDS: num("an integer >= 0", (n) => n >= 0, true),
  MODEL: oneOf(["robust", "hst", "combo", "iforest"] as const),
  ALERT_BUDGET: num("a number in (0, 3600]", (n) => n > 0 && n <= 3600),
  INCIDENT_GAP_SECONDS: num("a number in (0, 3600]", (n) => n > 0 && n <= 3600),
  INCIDENT_SETTLE_SECONDS: num("a number in [0, 3600]", (n) => n >= 0 && n <= 3600),
  // A webhook URL may carry a token (Slack's do): messages never echo it.
  ALERT_WEBHOOK_URL: z.string().transform((s, ctx): string[] => {
    const urls = s.split(",").map((u) => u.trim()).filter((u) => u !== "");
    urls.forEach((u, i) => {
      let ok = false;
      try {
        ok = /^https?:$/.test(new URL(u).protocol);
      } catch {
        // not a URL
      }
      if (!ok) {
        ctx.addIssue({ code: "custom", message: `entry ${i + 1} is not an http(s) URL` });
      }
    });
    return urls;
  }).optional(),
  ALERT_WEBHOOK_SECRET: z.string().min(16, { message: "must be at least 16 characters" })
    .optional(),
  ALERT_WEBHOOK_FORMAT: oneOf(["json", "slack"] as const),
  ALERT_WEBHOOK_MAX_ATTEMPTS: num("an integer between 1 and 100", (n) => n >= 1 && n <= 100, true),
  CONTAMINATION: z.string().transform((s, ctx): number | "auto" => {
    if (s.trim().toLowerCase() === "auto") return "auto";
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 0.5) {
      ctx.addIssue({
        code: "custom",
        message: `got "${s}", expected a number in (0, 0.5] or auto`,
      });
      return z.NEVER;
    }
    return n;
  }),
  KV_PATH: z.string().min(1, { message: "must not be empty" }),
  PORT: num("an integer between 1 and 65535", (n) => n >= 1 && n <= 65535, true),
  SENTINEL_API_KEY: z.string().min(16, {
    message: "must be at least 16 characters (it guards model administration)",
  }).optional(),
  REPLAY_FILE: z.string().min(1).optional(),
  REPLAY_SPEED: z.string().transform((s, ctx): number | "max" => {
    if (s.trim().toLowerCase() === "max") return "max";
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isFinite(n) || n <= 0) {
      ctx.addIssue({ code: "custom", message: `got "${s}", expected max or a number > 0` });
      return z.NEVER;
    }
    return n;
  }),
  REPLAY_SYMBOL: symbol.optional(),
  RETENTION: duration("a duration like 90s, 15m, 1h, 1d", false),
  RETENTION_RAW: duration("a duration like 90s, 15m, 1h, 1d", false).optional(),
  BINANCE_WS_URL: z.string().regex(/^wss?:\/\/[^\s]+$/, {
    message: "expected a ws:// or wss:// URL",
  }),
  BINANCE_STREAM: oneOf(["trade", "aggTrade"] as const),
  MAX_CLOCK_SKEW: duration("a duration like 90s, 5m, 1h", false),
  UNCONFIGURED_SYMBOLS: oneOf(["reject", "accept"] as const),
  HOST: z.string().regex(/^[A-Za-z0-9.:\[\]-]{1,253}$/, {
    message: "expected an IP address or host name, e.g. 0.0.0.0 or 127.0.0.1",
  }),
});

/**
 * Parses an environment (e.g. `Deno.env.toObject()`) into a {@linkcode Config}.
 * Empty strings count as unset. Throws {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const c = parseConfig({ SYMBOLS: "BTC-USDT" });
 * console.log(c.windowSeconds); // 60
 * ```
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, string> = { ...defaults };
  for (const v of CONFIG_VARS) {
    const value = env[v.name];
    if (value !== undefined && value !== "") raw[v.name] = value;
  }
  const alias = env.KAFKA_BOOTSTRAP_SERVERS;
  if (raw.KAFKA_BROKERS === undefined && alias !== undefined && alias !== "") {
    raw.KAFKA_BROKERS = alias;
  }
  const r = EnvSchema.safeParse(raw);
  if (!r.success) {
    throw new ConfigError(
      r.error.issues.map((i) => ({
        variable: String(i.path[0] ?? "(config)"),
        message: i.message,
      })),
    );
  }
  const e = r.data;
  const problems: { variable: string; message: string }[] = [];
  if (e.DATA_SOURCE === "replay" && !e.REPLAY_FILE) {
    problems.push({ variable: "REPLAY_FILE", message: "is required when DATA_SOURCE=replay" });
  }
  if (e.ALERT_WEBHOOK_SECRET && !e.ALERT_WEBHOOK_URL?.length) {
    problems.push({
      variable: "ALERT_WEBHOOK_SECRET",
      message: "is set but ALERT_WEBHOOK_URL is not",
    });
  }
  if (e.MIN_WINDOW_EVENTS > e.MIN_TRAINING_ROWS) {
    problems.push({
      variable: "MIN_WINDOW_EVENTS",
      message: `must not exceed MIN_TRAINING_ROWS (${e.MIN_TRAINING_ROWS})`,
    });
  }
  if ((e.RETENTION_RAW ?? 0) > (e.RETENTION ?? 86400)) {
    problems.push({
      variable: "RETENTION_RAW",
      message:
        `must not exceed RETENTION (${raw.RETENTION}): raw history cannot outlive the long tier`,
    });
  }
  problems.push(...securityProblems(e));
  if (problems.length) throw new ConfigError(problems);
  return {
    dataSource: e.DATA_SOURCE,
    symbols: e.SYMBOLS,
    kafkaBrokers: e.KAFKA_BROKERS ?? null,
    kafkaTopic: e.KAFKA_TOPIC,
    kafkaGroupId: e.KAFKA_GROUP_ID,
    kafkaPartitions: e.KAFKA_PARTITIONS,
    simProfile: e.SIM_PROFILE,
    kafkaSsl: e.KAFKA_SSL === "true",
    kafkaSslCaFile: e.KAFKA_SSL_CA_FILE ?? null,
    kafkaSasl: e.KAFKA_SASL_MECHANISM
      ? {
        mechanism: e.KAFKA_SASL_MECHANISM,
        username: e.KAFKA_SASL_USERNAME!,
        password: e.KAFKA_SASL_PASSWORD!,
      }
      : null,
    eventFrequencySeconds: e.EVENT_FREQUENCY_SECONDS,
    anomalyProbability: e.ANOMALY_PROBABILITY,
    simEpisodeWeights: e.SIM_EPISODE_WEIGHTS ?? { ...DEFAULT_EPISODE_WEIGHTS },
    simEpisodeMagnitude: e.SIM_EPISODE_MAGNITUDE,
    simFirstEpisodeSeconds: e.SIM_FIRST_EPISODE,
    seed: e.SEED,
    backfillSeconds: e.BACKFILL_SECONDS,
    windowSeconds: e.WINDOW_SECONDS,
    winsorizeSigma: e.WINSORIZE_SIGMA,
    minWindowEvents: e.MIN_WINDOW_EVENTS,
    minTrainingRows: e.MIN_TRAINING_ROWS,
    maxWaitSeconds: e.MAX_WAIT_SECONDS,
    retrainIntervalSeconds: e.RETRAIN_INTERVAL,
    nEstimators: e.N_ESTIMATORS,
    contamination: e.CONTAMINATION,
    model: e.MODEL,
    trainSeconds: e.TRAIN_SECONDS,
    alertBudget: e.ALERT_BUDGET,
    incidentGapSeconds: e.INCIDENT_GAP_SECONDS,
    incidentSettleSeconds: e.INCIDENT_SETTLE_SECONDS,
    alertWebhookUrls: e.ALERT_WEBHOOK_URL ?? [],
    alertWebhookSecret: e.ALERT_WEBHOOK_SECRET ?? null,
    alertWebhookFormat: e.ALERT_WEBHOOK_FORMAT,
    alertWebhookMaxAttempts: e.ALERT_WEBHOOK_MAX_ATTEMPTS,
    kvPath: e.KV_PATH,
    port: e.PORT,
    apiKey: e.SENTINEL_API_KEY ?? null,
    replayFile: e.REPLAY_FILE ?? null,
    replaySpeed: e.REPLAY_SPEED,
    replaySymbol: e.REPLAY_SYMBOL ?? null,
    retentionSeconds: e.RETENTION ?? 86400,
    rawRetentionSeconds: e.RETENTION_RAW ?? e.RETENTION ?? 86400,
    binanceWsUrl: e.BINANCE_WS_URL.replace(/\/+$/, ""),
    binanceStream: e.BINANCE_STREAM,
    maxClockSkewMs: (e.MAX_CLOCK_SKEW ?? 300) * 1000,
    unconfiguredSymbols: e.UNCONFIGURED_SYMBOLS,
    host: e.HOST,
  };
}

/**
 * The rules between the Kafka security and KV Connect variables: what one
 * needs of another. Messages name variables, never a secret's value.
 */
function securityProblems(
  e: z.infer<typeof EnvSchema>,
): { variable: string; message: string }[] {
  const out: { variable: string; message: string }[] = [];
  const need = (variable: string, message: string) => out.push({ variable, message });
  const kafkaVars = [
    ["KAFKA_SSL", e.KAFKA_SSL === "true"],
    ["KAFKA_SSL_CA_FILE", e.KAFKA_SSL_CA_FILE],
    ["KAFKA_SASL_MECHANISM", e.KAFKA_SASL_MECHANISM],
    ["KAFKA_SASL_USERNAME", e.KAFKA_SASL_USERNAME],
    ["KAFKA_SASL_PASSWORD", e.KAFKA_SASL_PASSWORD],
  ] as const;
  if (!e.KAFKA_BROKERS) {
    for (const [name, set] of kafkaVars) {
      if (set) need(name, "is set but KAFKA_BROKERS is not (it only applies to Kafka mode)");
    }
    if (out.length) return out;
  }
  if (e.KAFKA_SSL_CA_FILE && e.KAFKA_SSL !== "true") {
    need("KAFKA_SSL_CA_FILE", "needs KAFKA_SSL=true (a CA file is only used over TLS)");
  }
  if (e.KAFKA_SASL_MECHANISM) {
    if (!e.KAFKA_SASL_USERNAME) {
      need("KAFKA_SASL_USERNAME", `is required when KAFKA_SASL_MECHANISM is set`);
    }
    if (!e.KAFKA_SASL_PASSWORD) {
      need("KAFKA_SASL_PASSWORD", `is required when KAFKA_SASL_MECHANISM is set`);
    }
  } else {
    for (const name of ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"] as const) {
      if (e[name]) {
        need(name, `is set but KAFKA_SASL_MECHANISM is not (${SASL_MECHANISMS.join(", ")})`);
      }
    }
  }
  if (/^https?:\/\//i.test(e.KV_PATH)) {
    let url: URL | null = null;
    try {
      url = new URL(e.KV_PATH);
    } catch {
      need("KV_PATH", "is not a valid URL (expected http(s)://host:port of a KV Connect server)");
    }
    if (url && !e.DENO_KV_ACCESS_TOKEN) {
      need(
        "DENO_KV_ACCESS_TOKEN",
        "is required when KV_PATH is a KV Connect URL (the token the server was started with)",
      );
    }
  }
  return out;
}
