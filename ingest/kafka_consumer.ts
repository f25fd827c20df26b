/**
 * The Kafka adapter's consumer ({@linkcode EventConsumer}): one member of the
 * `sentinel-features` group. The handler commits its state and offsets to
 * Deno KV first; Kafka's committed offset follows, never ahead of KV, so a
 * restart resumes exactly where the state left off.
 *
 * @module
 */
import type { Consumer, EachBatchPayload } from "kafkajs";
import { KafkaSetupError, setupFailure } from "./kafka_client.ts";
import { type KafkaRecord, toRecord } from "./kafka_records.ts";
import {
  describeError,
  isRebalancing,
  KafkaJSError,
  retryDelayMs,
  Sleeper,
} from "./kafka_retry.ts";
import { createClient, KAFKA_DEFAULTS, type KafkaSettings } from "./kafka_settings.ts";

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
