/**
 * The Kafka adapter's producer ({@linkcode EventProducer}): idempotent,
 * acks=all, key = symbol with Java-compatible partitioning, serialized sends,
 * and a retry loop that waits out a broker outage instead of throwing.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type Message, Partitioners, type Producer } from "kafkajs";
import type { MarketEvent } from "../lib/contracts.ts";
import { encodeEvent, type OutgoingMessage } from "./kafka_records.ts";
import { describeError, isPermanent, retryDelayMs, Sleeper } from "./kafka_retry.ts";
import { createClient, KAFKA_DEFAULTS, type KafkaSettings } from "./kafka_settings.ts";

function toBuffer(value: string | Uint8Array | null): string | Buffer | null {
  if (value === null || typeof value === "string" || Buffer.isBuffer(value)) return value;
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

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
