/**
 * Sentinel's Kafka adapter (DESIGN.md section 11): the only module that
 * imports `kafkajs`. Everything else sees `MarketEvent`s, plain
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
import { Buffer } from "node:buffer";
import kafkajs, {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type logCreator,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type RetryOptions,
} from "kafkajs";
import { type MarketEvent, parseMarketEvent, type ParseResult } from "../lib/contracts.ts";
import {
  clientSecurity,
  type KafkaSecurity,
  KafkaSetupError,
  routedSocketFactory,
  setupFailure,
} from "./kafka_client.ts";

// kafkajs spreads its error classes into module.exports, which Deno's CommonJS
// export detection cannot see as named exports: take it from the default export.
const { KafkaJSError } = kafkajs;

/** Where kafkajs' warnings and the adapter's own notes go. */
export interface KafkaLogger {
  info(msg: string): void;
  warn(msg: string): void;
}

/** A broker address as `host` and `port`. */
export interface BrokerAddress {
  host: string;
  port: number;
}

/** What every part of the adapter needs to reach the cluster. */
export interface KafkaSettings {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  /** The event topic, e.g. `crypto-market`. */
  topic: string;
  /** Client id sent to the broker (shows in its logs and quotas). */
  clientId: string;
  /** Receives kafkajs' warnings and errors; without it kafkajs is silent. */
  logger?: KafkaLogger;
  /**
   * Dials another address than the one a broker advertises. For port
   * forwarding or NAT, where the advertised listener is unreachable; tests use
   * it to put a pausable proxy between the client and the broker. Default: as advertised.
   */
  brokerRoute?: (advertised: BrokerAddress) => BrokerAddress;
  /** TCP connect timeout in ms (default 3 000). */
  connectionTimeoutMs?: number;
  /** TLS and SASL for a remote cluster (ingest/kafka_client.ts); default plaintext. */
  security?: KafkaSecurity;
}

/** The defaults of every option, spelled out once. */
export const KAFKA_DEFAULTS = {
  partitions: 3,
  replicationFactor: 1,
  groupId: "sentinel-features",
  sessionTimeoutMs: 10_000,
  /** How long a fetch waits for data: bounds how long stop() and rebalances wait. */
  maxWaitTimeMs: 1_000,
  /** Messages per produce request; keeps each partition's record batch well under 1 MB. */
  maxBatchMessages: 1_000,
  connectionTimeoutMs: 3_000,
  requestTimeoutMs: 30_000,
  /** The adapter's own retry loop around kafkajs' retries. */
  backoff: { initialMs: 200, maxMs: 10_000 },
  /** kafkajs' inner retries: short, so an outage shows up in status() quickly. */
  kafkajsRetry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
  /** The consumer's kafkajs retries: handler failures back off here, then the consumer restarts. */
  consumerRetry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
  probeTimeoutMs: 3_000,
  /** Longest reason kept in the DLQ's `x-sentinel-error` header. */
  maxReasonLength: 1_000,
} as const;

/** The DLQ topic of a topic: `${topic}.dlq`. */
export function dlqTopic(topic: string): string {
  return `${topic}.dlq`;
}

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

// ---------------------------------------------------------------------------
// Pure parts: encoding, decoding, DLQ messages, back-off

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
function oneLine(text: string): string {
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
 * Delay before retry number `attempt` (0-based) of the adapter's own loop:
 * exponential from `initialMs`, capped at `maxMs`, times a jitter factor in
 * [0.8, 1.2) so that many clients do not retry in step.
 *
 * @example
 * ```ts
 * import { retryDelayMs } from "./kafka.ts";
 * console.log(retryDelayMs(3, 0.5)); // 200 * 2**3 = 1600
 * ```
 */
export function retryDelayMs(
  attempt: number,
  random01: number = Math.random(),
  backoff: { initialMs: number; maxMs: number } = KAFKA_DEFAULTS.backoff,
): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.4 * random01));
}

/** One line describing any thrown value, with the root cause when kafkajs wrapped it. */
function describeError(e: unknown): string {
  if (!(e instanceof Error)) return oneLine(String(e));
  const root = rootCause(e);
  // Protocol errors carry Kafka's error name (e.g. MESSAGE_TOO_LARGE): the searchable part.
  const type = (root as { type?: unknown }).type;
  const name = typeof type === "string" ? `${e.name} [${type}]` : e.name;
  const text = root !== e && root.message !== e.message
    ? `${name}: ${e.message} (cause: ${root.message})`
    : `${name}: ${e.message}`;
  return oneLine(text);
}

function rootCause(e: Error): Error {
  let root = e;
  for (let i = 0; i < 10 && root.cause instanceof Error; i++) root = root.cause;
  return root;
}

const PROGRAMMING_ERRORS = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError"]);
/** kafkajs marks these non-retriable, yet they end when the broker comes back. */
const TRANSIENT_NON_RETRIABLE = new Set([
  "KafkaJSNumberOfRetriesExceeded",
  "KafkaJSTimeout",
  "KafkaJSLockTimeout",
]);

/**
 * Whether a produce error will not go away by waiting: the broker refused
 * the request itself (message too large, not authorized, producer fenced) or
 * our code is wrong. Connection losses, timeouts, missing leaders and
 * exhausted kafkajs retries over those are transient.
 */
function isPermanent(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const root = rootCause(e);
  if (PROGRAMMING_ERRORS.has(root.name)) return true;
  if (setupFailure(e) !== null) return true; // wrong credentials or an untrusted certificate
  if (!(root instanceof KafkaJSError)) return false;
  return root.retriable === false && !TRANSIENT_NON_RETRIABLE.has(root.name);
}

const COORDINATOR_MOVING = new Set([
  "NOT_COORDINATOR_FOR_GROUP",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "GROUP_LOAD_IN_PROGRESS",
]);

const REBALANCE_TYPES = new Set([
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR_FOR_GROUP",
  "ILLEGAL_GENERATION",
]);
function isRebalancing(e: unknown): boolean {
  return REBALANCE_TYPES.has((e as { type?: string } | null)?.type ?? "");
}

// ---------------------------------------------------------------------------
// kafkajs client construction

/**
 * kafkajs warns about this once per idempotent producer because we bound its
 * inner retries; our own loop retries without bound, so the warning is noise.
 */
const IDEMPOTENT_RETRIES_WARNING = "Limiting retries for the idempotent producer";

function logCreatorFor(logger: KafkaLogger): logCreator {
  return () => ({ namespace, level, log }) => {
    const { message, error } = log as { message: string; error?: unknown };
    if (message.startsWith(IDEMPOTENT_RETRIES_WARNING)) return;
    const detail = error === undefined
      ? ""
      : ` (${oneLine(error instanceof Error ? error.message : String(error))})`;
    const text = `kafkajs ${namespace}: ${oneLine(message)}${detail}`;
    if (level === logLevel.INFO || level === logLevel.DEBUG) logger.info(text);
    else logger.warn(text);
  };
}

function createClient(
  settings: KafkaSettings,
  overrides: { connectionTimeout?: number; requestTimeout?: number; retry?: RetryOptions } = {},
): Kafka {
  const route = settings.brokerRoute;
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: overrides.connectionTimeout ?? settings.connectionTimeoutMs ??
      KAFKA_DEFAULTS.connectionTimeoutMs,
    requestTimeout: overrides.requestTimeout ?? KAFKA_DEFAULTS.requestTimeoutMs,
    retry: overrides.retry ?? { ...KAFKA_DEFAULTS.kafkajsRetry },
    logLevel: settings.logger ? logLevel.WARN : logLevel.NOTHING,
    ...(settings.logger ? { logCreator: logCreatorFor(settings.logger) } : {}),
    ...clientSecurity(settings.security),
    ...(route ? { socketFactory: routedSocketFactory(route) } : {}),
  });
}

/** Sleeps that close()/stop() can cut short. */
class Sleeper {
  #wakers = new Set<() => void>();
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }
  wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}

function toBuffer(value: string | Uint8Array | null): string | Buffer | null {
  if (value === null || typeof value === "string" || Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

// ---------------------------------------------------------------------------
// Producer

/** What {@linkcode EventProducer.status} reports. */
export interface ProducerStatus {
  state: "connecting" | "connected" | "retrying" | "closed";
  /** Messages acknowledged by the broker. */
  sent: number;
  /** Failed attempts the adapter's loop has retried. */
  retries: number;
  /** The last error seen, kept after recovery (`state` says whether it still matters). */
  lastError: string | null;
  /** `Date.now()` of the last acknowledged send. */
  lastSendAt: number | null;
}

/**
 * Idempotent producer of MarketEvents: acks=all, one in-flight request per
 * broker, key = symbol, placement by kafkajs' `DefaultPartitioner` (murmur2,
 * the same partition a Java producer picks). A broker outage never makes it
 * throw: sends wait, retrying with exponential back-off, and
 * {@linkcode EventProducer.status} says `retrying` meanwhile. Sends are
 * serialized, so per-symbol order holds even when callers overlap them.
 *
 * @example
 * ```ts ignore
 * const producer = new EventProducer({ brokers: ["127.0.0.1:9092"], topic: "crypto-market", clientId: "src" });
 * await producer.connect();
 * await producer.send(events); // resolves once the broker has them all
 * await producer.close();
 * ```
 */
export class EventProducer {
  readonly #settings: KafkaSettings;
  readonly #producer: Producer;
  readonly #sleeper = new Sleeper();
  #state: ProducerStatus["state"] = "connecting";
  #connected = false;
  #touched = false;
  #closed = false;
  #sent = 0;
  #retries = 0;
  #lastError: string | null = null;
  #lastSendAt: number | null = null;
  #tail: Promise<unknown> = Promise.resolve();
  #maxBatch: number;

  constructor(settings: KafkaSettings, opts: { maxBatchMessages?: number } = {}) {
    this.#settings = settings;
    this.#maxBatch = opts.maxBatchMessages ?? KAFKA_DEFAULTS.maxBatchMessages;
    this.#producer = createClient(settings).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { ...KAFKA_DEFAULTS.kafkajsRetry },
    });
  }

  /** Connects (and gets the idempotent producer id); waits out an outage like {@linkcode send}. */
  connect(): Promise<void> {
    return this.#serial(() => this.#withRetry("connect", () => this.#ensureConnected()));
  }

  /**
   * Sends events in order; resolves when the broker has acknowledged all of
   * them. Throws only after {@linkcode close} or for a permanent refusal
   * (e.g. a record too large, not authorized): never for a transient outage.
   */
  send(events: readonly MarketEvent[]): Promise<void> {
    return this.sendTo(this.#settings.topic, events.map(encodeEvent));
  }

  /** Sends raw keys and values to the event topic (tests inject invalid messages with it). */
  sendRaw(messages: readonly OutgoingMessage[]): Promise<void> {
    return this.sendTo(this.#settings.topic, messages);
  }

  /** Sends raw messages, with headers, to any topic (the DLQ uses it). Same guarantees as {@linkcode send}. */
  sendTo(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.#serial(async () => {
      for (let i = 0; i < messages.length; i += this.#maxBatch) {
        const chunk: Message[] = messages.slice(i, i + this.#maxBatch).map((m) => ({
          key: m.key,
          value: toBuffer(m.value),
          ...(m.headers ? { headers: m.headers } : {}),
        }));
        await this.#withRetry(`send to ${topic}`, async () => {
          await this.#ensureConnected();
          await this.#producer.send({ topic, acks: -1, messages: chunk });
          this.#sent += chunk.length;
          this.#lastSendAt = Date.now();
        });
      }
    });
  }

  /** State, counters and the last error, for `/system-status`. */
  status(): ProducerStatus {
    return {
      state: this.#state,
      sent: this.#sent,
      retries: this.#retries,
      lastError: this.#lastError,
      lastSendAt: this.#lastSendAt,
    };
  }

  /**
   * Stops retrying, lets an in-flight request finish (kafkajs would reconnect
   * a cluster closed under a running send), then disconnects. Pending sends reject.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sleeper.wakeAll();
    await this.#tail.catch(() => {});
    if (this.#touched) await this.#producer.disconnect().catch(() => {});
    this.#state = "closed";
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(job, job);
    this.#tail = run.catch(() => {});
    return run;
  }

  async #ensureConnected(): Promise<void> {
    if (this.#connected) return;
    this.#touched = true;
    await this.#producer.connect();
    this.#connected = true;
  }

  async #withRetry(what: string, attempt: () => Promise<void>): Promise<void> {
    for (let failures = 0;; failures++) {
      if (this.#closed) throw new Error(`Kafka producer closed before ${what} completed`);
      try {
        await attempt();
        this.#state = "connected";
        return;
      } catch (e) {
        this.#lastError = describeError(e);
        if (this.#closed) {
          throw new Error(`Kafka producer closed before ${what} completed: ${this.#lastError}`);
        }
        if (isPermanent(e)) {
          this.#state = this.#connected ? "connected" : "connecting";
          throw new Error(`Kafka refused ${what}: ${this.#lastError}`, { cause: e });
        }
        this.#retries++;
        this.#state = "retrying";
        const delay = retryDelayMs(failures);
        this.#settings.logger?.warn(
          `kafka producer: ${what} failed (${this.#lastError}); retry ${
            failures + 1
          } in ${delay} ms`,
        );
        await this.#sleeper.sleep(delay);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Consumer

/** What a batch handler gets besides the records. */
export interface BatchContext {
  partition: number;
  /** Tells the group this member is alive; call it between chunks of a large batch. Throws on a rebalance. */
  heartbeat(): Promise<void>;
  /** False once stop() was called: finish the current chunk and return. */
  isRunning(): boolean;
  /** True when this batch was superseded (a seek/rebalance): stop and return. */
  isStale(): boolean;
}

/** The batch handler of {@linkcode EventConsumer.run}. */
export interface ConsumerHandlers {
  /**
   * Handles the records of one partition, in offset order, and commits its
   * state together with the partition's next offset to Deno KV before it
   * resolves. Records below the KV offset may arrive (Kafka's committed offset
   * can lag KV's) and are skipped by the handler.
   *
   * Returns nothing when the whole batch is covered, or the next offset it
   * covered when it stopped early (stop() or a rebalance): only records below
   * it count as done. Throwing commits nothing; the batch is re-delivered
   * after a back-off. Never await `stop()` from inside the handler: stop()
   * waits for the handler.
   */
  handleBatch(records: KafkaRecord[], ctx: BatchContext): Promise<void | number>;
  /** After each rebalance: the partitions this member now owns. Batches wait for it to settle. */
  onAssignment?(partitions: number[]): void | Promise<void>;
}

/** What {@linkcode EventConsumer.status} reports. */
export interface ConsumerStatus {
  state: "connecting" | "running" | "rebalancing" | "stopped" | "crashed";
  /** Partitions owned since the last rebalance, ascending. */
  assigned: number[];
  lastBatchAt: number | null;
  /** Records the handler covered. */
  records: number;
  /** The last error seen, kept after recovery (`state` says whether it still matters). */
  lastError: string | null;
  /** Per owned partition: high watermark − next offset after the last batch. */
  lag: Record<number, number>;
}

/** Options of {@linkcode EventConsumer} beyond {@linkcode KafkaSettings}. */
export interface ConsumerSettings extends KafkaSettings {
  /** Default `sentinel-features`. */
  groupId?: string;
  /** Default 10 000 ms; heartbeats go every third of it. */
  sessionTimeoutMs?: number;
  /** Longest fetch wait (default 1 000 ms): bounds how long stop() and rebalances wait for an idle fetch. */
  maxWaitTimeMs?: number;
  /**
   * Back-off after a failed batch: `retries` re-deliveries, the first after
   * `initialMs`, doubling up to `maxMs`; then kafkajs restarts the consumer
   * (it rejoins and resumes from the committed offset). Defaults in
   * {@linkcode KAFKA_DEFAULTS}.consumerRetry.
   */
  retry?: { retries?: number; initialMs?: number; maxMs?: number };
}

/**
 * One member of a consumer group on the event topic. Offsets are committed
 * to Kafka only after the handler resolved (it has written them to KV), with
 * auto-commit off, so Kafka's committed offset is never ahead of KV's. A new
 * group starts from the beginning of the topic. When the handler throws,
 * kafkajs backs off and fetches the same batch again; after repeated failures
 * it restarts the consumer, which resumes from the committed offset.
 *
 * @example
 * ```ts ignore
 * const consumer = new EventConsumer({ brokers: ["127.0.0.1:9092"], topic: "crypto-market", clientId: "worker-1" });
 * const running = consumer.run({ handleBatch: async (records) => { ... } });
 * // later
 * await consumer.stop();
 * await running;
 * ```
 */
export class EventConsumer {
  readonly #settings: ConsumerSettings;
  readonly #sleeper = new Sleeper();
  #consumer: Consumer | null = null;
  #state: ConsumerStatus["state"] = "connecting";
  #assigned: number[] = [];
  #lastBatchAt: number | null = null;
  #records = 0;
  #lastError: string | null = null;
  #lag: Record<number, number> = {};
  #stopping = false;
  #setup: Promise<void> = Promise.resolve();
  #assignmentReady: Promise<void> = Promise.resolve();
  #finished: PromiseWithResolvers<void> = Promise.withResolvers<void>();

  constructor(settings: ConsumerSettings) {
    this.#settings = settings;
    // A crash can reject this before run() chained onto it; run()'s own promise still rejects.
    this.#finished.promise.catch(() => {});
  }

  /** The group id this member joins. */
  get groupId(): string {
    return this.#settings.groupId ?? KAFKA_DEFAULTS.groupId;
  }

  /**
   * Joins the group and feeds batches to `handlers.handleBatch` until
   * {@linkcode stop}. Resolves after stop(); rejects if kafkajs crashes
   * without restarting (a non-retriable error).
   */
  run(handlers: ConsumerHandlers): Promise<void> {
    if (this.#consumer || this.#stopping) {
      return Promise.reject(new Error("EventConsumer.run may be called once"));
    }
    const s = this.#settings;
    const sessionTimeout = s.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs;
    const consumer = createClient(s).consumer({
      groupId: this.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 3)),
      rebalanceTimeout: Math.max(sessionTimeout, 10_000),
      maxWaitTimeInMs: s.maxWaitTimeMs ?? KAFKA_DEFAULTS.maxWaitTimeMs,
      allowAutoTopicCreation: false,
      retry: {
        retries: s.retry?.retries ?? KAFKA_DEFAULTS.consumerRetry.retries,
        initialRetryTime: s.retry?.initialMs ?? KAFKA_DEFAULTS.consumerRetry.initialRetryTime,
        maxRetryTime: s.retry?.maxMs ?? KAFKA_DEFAULTS.consumerRetry.maxRetryTime,
      },
    });
    this.#consumer = consumer;
    const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      this.#assigned = [...(payload.memberAssignment[s.topic] ?? [])].sort((a, b) => a - b);
      this.#lag = Object.fromEntries(
        Object.entries(this.#lag).filter(([p]) => this.#assigned.includes(Number(p))),
      );
      if (!this.#stopping) this.#state = "running";
      const assigned = [...this.#assigned];
      this.#assignmentReady = Promise.resolve()
        .then(() => handlers.onAssignment?.(assigned))
        .catch((e) => s.logger?.warn(`kafka consumer: onAssignment failed: ${describeError(e)}`));
    });
    consumer.on(REBALANCING, () => {
      if (!this.#stopping) this.#state = "rebalancing";
    });
    consumer.on(CRASH, ({ payload }) => {
      this.#lastError = describeError(payload.error);
      if (this.#stopping) return;
      if (payload.restart) {
        this.#state = "connecting";
      } else {
        this.#state = "crashed";
        this.#finished.reject(payload.error);
      }
    });
    this.#setup = this.#start(consumer, handlers);
    return this.#setup.then(() => this.#finished.promise);
  }

  /** Leaves the group after the batch in progress, then disconnects. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopping) return await this.#finished.promise.catch(() => {});
    this.#stopping = true;
    this.#sleeper.wakeAll();
    await this.#setup.catch(() => {});
    if (this.#consumer) {
      await this.#consumer.disconnect().catch((e) => {
        this.#settings.logger?.warn(`kafka consumer: disconnect failed: ${describeError(e)}`);
      });
    }
    if (this.#state !== "crashed") this.#state = "stopped";
    this.#assigned = [];
    this.#finished.resolve();
  }

  /** State, ownership, progress and lag, for `/system-status` and `/metrics`. */
  status(): ConsumerStatus {
    return {
      state: this.#state,
      assigned: [...this.#assigned],
      lastBatchAt: this.#lastBatchAt,
      records: this.#records,
      lastError: this.#lastError,
      lag: { ...this.#lag },
    };
  }

  /** Connects and subscribes, retrying until it works or stop() is called, then starts kafkajs' loop. */
  async #start(consumer: Consumer, handlers: ConsumerHandlers): Promise<void> {
    for (let failures = 0; !this.#stopping; failures++) {
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [this.#settings.topic], fromBeginning: true });
        break;
      } catch (e) {
        this.#lastError = describeError(e);
        const why = setupFailure(e, this.#settings.security);
        if (why) {
          await consumer.disconnect().catch(() => {});
          this.#state = "crashed";
          throw new KafkaSetupError(why, { cause: e });
        }
        const delay = retryDelayMs(failures);
        this.#settings.logger?.warn(
          `kafka consumer: cannot join yet (${this.#lastError}); retry in ${delay} ms`,
        );
        await consumer.disconnect().catch(() => {});
        await this.#sleeper.sleep(delay);
      }
    }
    if (this.#stopping) return;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#eachBatch(payload, handlers),
    });
  }

  async #eachBatch(p: EachBatchPayload, handlers: ConsumerHandlers): Promise<void> {
    const { batch } = p;
    if (!p.isRunning() || p.isStale() || batch.messages.length === 0) return;
    await this.#assignmentReady;
    const records = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
    const first = records[0].offset;
    const last = records[records.length - 1].offset;
    let covered: void | number;
    try {
      covered = await handlers.handleBatch(records, {
        partition: batch.partition,
        heartbeat: p.heartbeat,
        isRunning: p.isRunning,
        isStale: p.isStale,
      });
    } catch (e) {
      this.#lastError = describeError(e);
      this.#settings.logger?.warn(
        `kafka consumer: handleBatch failed on ${batch.topic}[${batch.partition}] offsets ` +
          `${first}..${last} (${this.#lastError}); not committed, kafkajs re-delivers after a back-off`,
      );
      // A KafkaJSError (e.g. a rebalance seen by heartbeat()) keeps its type so
      // kafkajs rejoins; anything else becomes retriable, because kafkajs gives up
      // on a TypeError for good and the consumer would never restart.
      if (e instanceof KafkaJSError) throw e;
      // kafkajs' JS constructor takes `cause`; its typings omit it (a variable dodges the literal check).
      const metadata = { retriable: true, cause: e instanceof Error ? e : undefined };
      throw new KafkaJSError(`handleBatch failed: ${this.#lastError}`, metadata);
    }
    const next = typeof covered === "number" ? covered : last + 1;
    if (!Number.isInteger(next) || next < first || next > last + 1) {
      throw new RangeError(
        `handleBatch returned ${covered}; the next offset must lie in ${first}..${last + 1}`,
      );
    }
    this.#records += records.reduce((n, r) => n + (r.offset < next ? 1 : 0), 0);
    this.#lastBatchAt = Date.now();
    this.#lag[batch.partition] = Math.max(0, Number(batch.highWatermark) - next);
    if (next === first) return;
    p.resolveOffset(String(next - 1));
    try {
      await p.commitOffsetsIfNecessary(p.uncommittedOffsets());
    } catch (e) {
      // KV already has these offsets; Kafka's copy is only a restart hint.
      if (isRebalancing(e)) throw e;
      this.#lastError = describeError(e);
      this.#settings.logger?.warn(
        `kafka consumer: offset commit to Kafka failed (${this.#lastError}); KV keeps the truth`,
      );
    }
  }
}

function headerText(v: IHeaders[string]): string | undefined {
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return typeof one === "string" ? one : one.toString("utf8");
}

function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
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

// ---------------------------------------------------------------------------
// Dead letters

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

// ---------------------------------------------------------------------------
// Admin helpers

async function withAdmin<T>(
  settings: KafkaSettings,
  work: (admin: Admin) => Promise<T>,
  overrides?: Parameters<typeof createClient>[1],
): Promise<T> {
  const admin = createClient(settings, overrides).admin();
  try {
    await admin.connect();
    return await work(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Errors of a topic that was just created and is not yet in every metadata answer. */
const TOPIC_SETTLING = new Set([
  "UNKNOWN_TOPIC_OR_PARTITION",
  "LEADER_NOT_AVAILABLE",
  "TOPIC_ALREADY_EXISTS",
]);

/**
 * Creates the event topic and its DLQ when missing (default 3 partitions,
 * replication 1, the local broker's only option). Idempotent, and safe when
 * several processes race to create them.
 *
 * @example
 * ```ts ignore
 * await ensureTopics({ brokers: ["127.0.0.1:9092"], topic: "crypto-market", clientId: "sentinel" });
 * ```
 */
export async function ensureTopics(
  settings: KafkaSettings,
  opts: { partitions?: number; replicationFactor?: number } = {},
): Promise<void> {
  const wanted = [settings.topic, dlqTopic(settings.topic)];
  await withAdmin(settings, async (admin) => {
    // Right after a create, the metadata kafkajs polls for leaders can still say the topic is
    // unknown (seen on KRaft under load), which kafkajs throws: look again, a few times.
    for (let attempt = 0;; attempt++) {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: opts.partitions ?? KAFKA_DEFAULTS.partitions,
            replicationFactor: opts.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor,
          })),
        });
        return;
      } catch (e) {
        const types = [e, e instanceof Error ? rootCause(e) : null]
          .map((x) => (x as { type?: string } | null)?.type ?? "");
        if (attempt >= 4 || !types.some((t) => TOPIC_SETTLING.has(t))) throw e;
        await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      }
    }
  });
}

/**
 * A health probe for `/system-status`: connects, times one metadata round
 * trip, and counts brokers and the event topic's partitions (0 when the topic
 * does not exist). Throws when the cluster does not answer within
 * `timeoutMs`; the half-open client is then closed in the background.
 *
 * @example
 * ```ts ignore
 * const { latencyMs, brokers } = await probeKafka(settings, 2_000);
 * ```
 */
export function probeKafka(
  settings: KafkaSettings,
  timeoutMs: number = KAFKA_DEFAULTS.probeTimeoutMs,
): Promise<{ latencyMs: number; brokers: number; partitions: number }> {
  const work = withAdmin(settings, async (admin) => {
    const t0 = performance.now();
    const cluster = await admin.describeCluster();
    const latencyMs = performance.now() - t0;
    let partitions = 0;
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [settings.topic] });
      partitions = meta.topics[0]?.partitions.length ?? 0;
    } catch {
      // the topic does not exist (yet): the cluster still answered
    }
    return { latencyMs, brokers: cluster.brokers.length, partitions };
  }, {
    // kafkajs gives up a little before the deadline, so that normally it has
    // closed its sockets by the time the probe rejects.
    connectionTimeout: Math.max(50, Math.floor(timeoutMs * 0.8)),
    requestTimeout: Math.max(50, Math.floor(timeoutMs * 0.8)),
    retry: { retries: 0 },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Kafka did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer)).catch((e) => {
    work.catch(() => {});
    throw new Error(`Kafka probe failed: ${describeError(e)}`);
  });
}

/**
 * Per-partition lag of a consumer group on the event topic: high watermark
 * minus the group's committed offset (minus the log start when it has
 * committed nothing), for `/metrics`.
 *
 * @example
 * ```ts ignore
 * const lag = await consumerLag(settings, "sentinel-features"); // { 0: 12, 1: 0, 2: 3 }
 * ```
 */
export async function consumerLag(
  settings: KafkaSettings,
  groupId: string,
): Promise<Record<number, number>> {
  return await withAdmin(settings, async (admin) => {
    // Right after a group (re)joins, its coordinator may still be loading or
    // moving: kafkajs surfaces that as a non-retried "not the correct
    // coordinator". A few short retries, then the error as it is.
    const fetchCommitted = async () => {
      for (let attempt = 0;; attempt++) {
        try {
          return await admin.fetchOffsets({ groupId, topics: [settings.topic] });
        } catch (e) {
          const type = e instanceof Error ? (rootCause(e) as { type?: string }).type ?? "" : "";
          if (attempt >= 5 || !COORDINATOR_MOVING.has(type)) throw e;
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
    };
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(settings.topic),
      fetchCommitted(),
    ]);
    const committedOf = new Map<number, number>();
    for (const p of committed.find((t) => t.topic === settings.topic)?.partitions ?? []) {
      committedOf.set(p.partition, Number(p.offset));
    }
    const lag: Record<number, number> = {};
    for (const p of ends) {
      const c = committedOf.get(p.partition) ?? -1;
      const from = c >= 0 ? c : Number(p.low);
      lag[p.partition] = Math.max(0, Number(p.high) - from);
    }
    return lag;
  });
}

/**
 * Deletes the event topic and its DLQ (or the `topics` given) and the given
 * consumer groups, ignoring what does not exist. For tests and teardown
 * scripts: production never deletes its topics.
 *
 * @example
 * ```ts ignore
 * await deleteTopics(settings, { groupIds: ["sentinel-test-1"] });
 * ```
 */
export async function deleteTopics(
  settings: KafkaSettings,
  opts: { topics?: string[]; groupIds?: string[] } = {},
): Promise<void> {
  await withAdmin(settings, async (admin) => {
    if (opts.groupIds?.length) await admin.deleteGroups(opts.groupIds).catch(() => {});
    const existing = new Set(await admin.listTopics());
    const topics = (opts.topics ?? [settings.topic, dlqTopic(settings.topic)])
      .filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  });
}
