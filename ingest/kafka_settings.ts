/**
 * What every part of the Kafka adapter needs to reach the cluster
 * ({@linkcode KafkaSettings}), the defaults of every option
 * ({@linkcode KAFKA_DEFAULTS}), and the one place a kafkajs client is built
 * from them: timeouts, inner retries, logging through {@linkcode KafkaLogger},
 * TLS/SASL and broker routing (ingest/kafka_client.ts).
 *
 * @module
 */
import { Kafka, type logCreator, logLevel, type RetryOptions } from "kafkajs";
import { clientSecurity, type KafkaSecurity, routedSocketFactory } from "./kafka_client.ts";
import { oneLine } from "./kafka_records.ts";

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

/** A kafkajs client for `settings`; `overrides` replace the default timeouts and retries. */
export function createClient(
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
