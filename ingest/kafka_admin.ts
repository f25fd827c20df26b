/**
 * Kafka admin helpers: topic creation ({@linkcode ensureTopics}), the health
 * probe ({@linkcode probeKafka}), consumer-group lag ({@linkcode consumerLag})
 * and teardown ({@linkcode deleteTopics}), each on a short-lived admin client.
 *
 * @module
 */
import type { Admin } from "kafkajs";
import { dlqTopic } from "./kafka_dlq.ts";
import { describeError, rootCause } from "./kafka_retry.ts";
import { createClient, KAFKA_DEFAULTS, type KafkaSettings } from "./kafka_settings.ts";

const COORDINATOR_MOVING = new Set([
  "NOT_COORDINATOR_FOR_GROUP",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "GROUP_LOAD_IN_PROGRESS",
]);
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
