/**
 * The source and worker roles with Kafka between them (DESIGN.md section 11).
 * The source produces MarketEvents keyed by symbol; workers consume the topic
 * as one consumer group and run each partition's records through the same
 * {@linkcode Processor} as embedded mode. KV holds the true offsets, written
 * in the atomic of the state they cover; Kafka's committed offsets follow and
 * are only a fast restart point, so records below KV's offset are skipped.
 *
 * @module
 */
import { splitBySymbols } from "./split.ts";
import type { Config } from "../config.ts";
import {
  DeadLetters,
  decodeRecord,
  ensureTopics,
  EventConsumer,
  EventProducer,
  type KafkaRecord,
  type KafkaSettings,
} from "../ingest/kafka.ts";
import { Admission } from "../ingest/admission.ts";
import {
  type KafkaSecurity,
  KafkaSetupError,
  loadKafkaSecurity,
  setupFailure,
} from "../ingest/kafka_client.ts";
import { keys, PartitionLostError, type Store } from "../store/kv.ts";
import { sourceBatches } from "./batcher.ts";
import type { Logger } from "./log.ts";
import type { IncomingEvent, Processor } from "./processor.ts";
import type { MarketSource } from "./sources.ts";

const securityOf = new WeakMap<Config, KafkaSecurity>();

/**
 * Kafka settings for a role of this process, TLS and SASL included (the CA
 * file is read once per config). Throws {@linkcode KafkaSetupError} when
 * KAFKA_SSL_CA_FILE cannot be read.
 */
export function kafkaSettings(config: Config, role: string, logger: Logger): KafkaSettings {
  let security = securityOf.get(config);
  if (!security) securityOf.set(config, security = loadKafkaSecurity(config));
  return {
    brokers: config.kafkaBrokers ?? [],
    topic: config.kafkaTopic,
    clientId: `sentinel-${role}`,
    logger,
    security,
  };
}

/**
 * Creates the topic and its DLQ if missing. The first contact with the
 * cluster at start: wrong credentials or an untrusted certificate stop the
 * process here with a {@linkcode KafkaSetupError} naming the setting.
 */
export async function prepareTopics(config: Config, logger: Logger): Promise<void> {
  // kafkajs' own warnings while it retries would repeat the cause the error ends with.
  const quieter: Logger = {
    info: (m) => logger.info(m),
    warn: (m) => m.startsWith("kafkajs ") ? undefined : logger.warn(m),
  };
  const settings = kafkaSettings(config, "admin", quieter);
  try {
    await ensureTopics(settings, { partitions: config.kafkaPartitions });
  } catch (e) {
    const why = setupFailure(e, settings.security);
    if (why) throw new KafkaSetupError(why, { cause: e });
    throw e;
  }
}

/**
 * The source role: events in batches to Kafka. A broker outage makes `send`
 * wait (the producer retries); the source's own state (the simulator's) is
 * saved after each acknowledged batch.
 */
export async function runKafkaSource(
  source: MarketSource,
  producer: EventProducer,
  store: Store,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  await producer.connect();
  // A replayable source (a file) resumes after the last record Kafka acknowledged.
  const stream = `source:${source.stream}`;
  const start = (await store.loadOffset(stream, 0)) ?? 0;
  logger.info(
    `source: producing ${source.name} events to Kafka` + (start ? ` from offset ${start}` : ""),
  );
  let sent = 0;
  for await (
    const items of sourceBatches(source, signal, start, { maxSize: 1000, maxWaitMs: 10 })
  ) {
    await producer.send(items.map((i) => i.event));
    sent += items.length;
    const op = store.kv.atomic();
    const last = items[items.length - 1].offset;
    if (last !== undefined) op.set(keys.offset(stream, 0), last + 1);
    const cp = items[items.length - 1].checkpoint ?? source.checkpoint();
    if (cp) op.set(cp[0], cp[1]);
    await op.commit();
  }
  logger.info(`source: ended after ${sent} events`);
}

/** The worker role over Kafka: a consumer group member feeding the processor. */
export class KafkaWorker {
  readonly consumer: EventConsumer;
  readonly #dlq: DeadLetters;
  readonly #next = new Map<number, number>();
  readonly #admission: Admission;

  constructor(
    readonly config: Config,
    readonly processor: Processor,
    readonly logger: Logger,
    opts: { sessionTimeoutMs?: number } = {},
  ) {
    const settings = kafkaSettings(config, "worker", logger);
    this.consumer = new EventConsumer({
      ...settings,
      groupId: config.kafkaGroupId,
      sessionTimeoutMs: opts.sessionTimeoutMs,
    });
    this.#dlq = new DeadLetters(settings);
    // The topic carries history (replays, backfills): only the future side of the clock is checked.
    this.#admission = new Admission({
      symbols: config.symbols,
      unconfiguredSymbols: config.unconfiguredSymbols,
      maxClockSkewMs: config.maxClockSkewMs,
      direction: "ahead",
    });
  }

  /** Runs until {@linkcode KafkaWorker.stop}. */
  run(): Promise<void> {
    const topic = this.config.kafkaTopic;
    return this.consumer.run({
      onAssignment: (partitions) => {
        // Another member may have moved any partition's state on: forget it all.
        this.processor.reset();
        this.#next.clear();
        this.logger.info(`worker: assigned partitions [${partitions.join(", ")}] of ${topic}`);
      },
      handleBatch: async (records, ctx) => {
        const p = ctx.partition;
        let next = this.#next.get(p);
        if (next === undefined) {
          next = (await this.processor.claim(topic, p)) ?? 0;
          this.#next.set(p, next);
        }
        const fresh = records.filter((r) => r.offset >= next!);
        for (let i = 0; i < fresh.length; i += 1000) {
          if (!ctx.isRunning() || ctx.isStale()) return this.#next.get(p);
          const chunk = fresh.slice(i, i + 1000);
          await this.#process(topic, p, chunk);
          this.#next.set(p, chunk[chunk.length - 1].offset + 1);
          await ctx.heartbeat();
        }
      },
    });
  }

  async #process(topic: string, partition: number, records: KafkaRecord[]): Promise<void> {
    const events: IncomingEvent[] = [];
    const dead: { record: KafkaRecord; reason: string }[] = [];
    const now = Date.now();
    for (const r of records) {
      const d = decodeRecord(r);
      // Schema first, then the edge policy: configured symbols, time near the clock.
      const why = d.ok ? this.#admission.check(d.value, now) : d.reason;
      if (d.ok && why === null) {
        events.push({ event: d.value, receivedAt: r.timestampMs, offset: r.offset });
      } else dead.push({ record: r, reason: why! });
    }
    // Dead letters are durable before the offsets that skip them are.
    if (dead.length) await this.#dlq.publish(dead);
    try {
      // A batch touching many symbols commits as consecutive parts (KV's 800 KB atomic limit).
      const parts = splitBySymbols({
        stream: topic,
        partition,
        firstOffset: records[0].offset,
        nextOffset: records[records.length - 1].offset + 1,
        events,
        rejected: dead.map((d) => ({ source: "kafka", reason: d.reason })),
      });
      for (const part of parts) await this.processor.process(part);
    } catch (e) {
      if (e instanceof PartitionLostError) {
        this.logger.warn(`worker: ${e.message}; dropping its state`);
        this.processor.reset();
        this.#next.clear();
      }
      throw e;
    }
  }

  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.#dlq.close();
  }
}

/** Saves a role's liveness for `/system-status` in other processes. */
export function startHeartbeat(
  store: Store,
  role: string,
  instance: string,
  info: () => unknown,
  signal: AbortSignal,
  everyMs = 5000,
): void {
  const beat = () =>
    store.heartbeat(role, instance, { at: Date.now(), ...(info() as object) }, everyMs * 4)
      .catch(() => {});
  beat();
  const t = setInterval(beat, everyMs);
  signal.addEventListener("abort", () => clearInterval(t), { once: true });
}
