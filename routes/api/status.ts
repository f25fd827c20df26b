/**
 * `GET /system-status`: what actually runs, as this process sees it. Checks
 * are taken first (a KV read round trip, a Kafka metadata request, the local
 * roles' own status, heartbeats other processes left in KV); then pure rules
 * ({@linkcode assessServices}) turn that snapshot into online / degraded /
 * offline with a sentence each.
 *
 * @module
 */
import type { OutboxStats } from "../../store/kv.ts";
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { ProcessorStats } from "../../pipeline/processor.ts";
import type { SourceStatus } from "../../pipeline/sources.ts";
import type { TrainerStatus } from "../../pipeline/trainer.ts";
import type { WebContext } from "../context.ts";
import { V1 } from "../../islands/shared/paths.ts";
import { type ServiceStatus, SystemStatus } from "../schemas.ts";
import type { ApiMetrics } from "./metrics.ts";

/** A worker that has not committed for this long while its source is live is degraded. */
export const WORKER_STALL_MS = 10_000;
/** A connected Binance stream silent for this long is degraded (BNB trades every few seconds at worst). */
export const BINANCE_SILENCE_MS = 60_000;
/** A KV read slower than this is degraded. */
export const KV_SLOW_MS = 500;
/** How long the Kafka metadata request may take before Kafka counts as offline. */
export const KAFKA_PROBE_TIMEOUT_MS = 3000;

/** A heartbeat another process left in KV (`["heartbeat", role, instance]`). */
export interface Heartbeat {
  instance: string;
  info: Record<string, unknown>;
}

/** Everything {@linkcode assessServices} looks at, gathered beforehand. */
export interface StatusSnapshot {
  now: number;
  startedAt: number;
  sseClients: number;
  kv: { ok: true; latencyMs: number } | { ok: false; latencyMs: number; error: string };
  model: { activeId: string | null; loadedId: string | null; waiting: string };
  worker: ProcessorStats | null;
  trainer: TrainerStatus | null;
  source: SourceStatus | null;
  heartbeats: Record<string, Heartbeat[]>;
  kafka:
    | null
    | {
      topic: string;
      probe:
        | { ok: true; latencyMs: number; brokers: number; partitions: number }
        | { ok: false; latencyMs: number; error: string };
      producer?: { state: string; sent: number; lastError: string | null };
      consumer?: { state: string; assigned: number[]; lastError: string | null };
    };
  /** the incident webhook outbox (null: ALERT_WEBHOOK_URL unset) */
  webhooks?: { receivers: number; stats: OutboxStats | null } | null;
}

const ago = (now: number, t: number) => `${((now - t) / 1000).toFixed(1)} s ago`;
const iso = (t: number | null) => {
  if (t === null) return "never";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? `invalid time ${t}` : d.toISOString();
};

function svc(
  name: string,
  status: ServiceStatus["status"],
  latency_ms: number | null,
  detail: string,
): ServiceStatus {
  return {
    name,
    status,
    latency_ms: latency_ms === null ? null : Math.round(latency_ms * 100) / 100,
    detail,
  };
}

function remote(role: string, beats: Heartbeat[] | undefined, now: number, absent: string) {
  if (!beats?.length) return svc(role, "offline", null, absent);
  const times = beats.map((b) => typeof b.info.at === "number" ? b.info.at : null)
    .filter((t): t is number => t !== null);
  const newest = times.length ? Math.max(...times) : null;
  return svc(
    role,
    "online",
    null,
    `${beats.length} remote instance(s) (${beats.map((b) => b.instance).join(", ")})` +
      (newest === null ? "" : `, last heartbeat ${ago(now, newest)}`),
  );
}

function sourceIsLive(s: SourceStatus | null): boolean {
  return s !== null && (s.state === "live" || s.state === "connected" || s.state === "backfilling");
}

/**
 * The services and their state, from a snapshot. Pure: the same snapshot
 * always gives the same answer.
 *
 * Rules: KV offline when the read failed, degraded when slower than
 * {@linkcode KV_SLOW_MS}; the scorer degraded while no model is loaded; the
 * worker degraded when its source is live and its last commit is older than
 * {@linkcode WORKER_STALL_MS}; a role not in this process is online when its
 * heartbeat is in KV, offline otherwise; Kafka (when configured) offline when
 * the metadata request fails, degraded when the producer or consumer reports
 * an error; the Binance stream (when it is the source) degraded while
 * reconnecting or silent for {@linkcode BINANCE_SILENCE_MS}.
 */
export function assessServices(s: StatusSnapshot): ServiceStatus[] {
  const { now } = s;
  const out: ServiceStatus[] = [];
  out.push(svc(
    "api",
    "online",
    null,
    `up ${((now - s.startedAt) / 1000).toFixed(0)} s, ${s.sseClients} SSE client(s)`,
  ));

  out.push(
    s.kv.ok
      ? svc(
        "kv",
        s.kv.latencyMs > KV_SLOW_MS ? "degraded" : "online",
        s.kv.latencyMs,
        s.kv.latencyMs > KV_SLOW_MS ? `read round trip slower than ${KV_SLOW_MS} ms` : "read ok",
      )
      : svc("kv", "offline", s.kv.latencyMs, `read failed: ${s.kv.error}`),
  );

  const m = s.model;
  if (m.loadedId && (m.activeId === null || m.activeId === m.loadedId)) {
    out.push(svc("scorer", "online", null, `model ${m.loadedId}`));
  } else if (m.loadedId) {
    out.push(svc("scorer", "degraded", null, `scoring with ${m.loadedId}, loading ${m.activeId}`));
  } else if (m.activeId) {
    out.push(svc("scorer", "degraded", null, `model ${m.activeId} is active but not loaded yet`));
  } else {
    out.push(svc("scorer", "degraded", null, `waiting for model: ${m.waiting}`));
  }

  const w = s.worker;
  if (w) {
    const live = sourceIsLive(s.source);
    const summary = `${w.events} events in ${w.batches} batches`;
    if (w.lastCommitAt === null) {
      const stalled = live && now - s.startedAt > WORKER_STALL_MS;
      out.push(svc(
        "feature-worker",
        stalled ? "degraded" : "online",
        null,
        stalled ? "the source is live but no batch has been committed" : "no batch yet",
      ));
    } else {
      const age = now - w.lastCommitAt;
      const stalled = live && age > WORKER_STALL_MS;
      out.push(svc(
        "feature-worker",
        stalled ? "degraded" : "online",
        w.lastLatencyMs,
        `${summary}, last commit ${ago(now, w.lastCommitAt)}` +
          (stalled ? ` while the source is live (> ${WORKER_STALL_MS / 1000} s)` : "") +
          (w.lastLatencyMs === null ? "" : `, event-to-commit ${w.lastLatencyMs} ms`),
      ));
    }
  } else {
    out.push(remote(
      "feature-worker",
      s.heartbeats.worker,
      now,
      "no worker in this process and no worker heartbeat in KV",
    ));
  }

  const t = s.trainer;
  if (t) {
    const status = t.state === "failed" ? "degraded" : t.state === "stopped" ? "offline" : "online";
    out.push(svc(
      "trainer",
      status,
      null,
      `${t.state}: ${t.detail}; ${t.runs} run(s), last ${iso(t.lastRunAt)}` +
        (t.lastDurationMs === null ? "" : ` (${t.lastDurationMs} ms)`) +
        `, next ${t.nextRunAt === null ? "on request" : iso(t.nextRunAt)}` +
        (t.drift ? `; ${t.drift}` : ""),
    ));
  } else {
    out.push(remote(
      "trainer",
      s.heartbeats.trainer,
      now,
      "not running in this process and no trainer heartbeat in KV (retrain requests wait in KV)",
    ));
  }

  if (s.kafka) {
    const k = s.kafka;
    if (!k.probe.ok) {
      out.push(
        svc("kafka", "offline", k.probe.latencyMs, `metadata request failed: ${k.probe.error}`),
      );
    } else {
      const errors = [
        k.producer?.lastError ? `producer: ${k.producer.lastError}` : null,
        k.consumer?.lastError ? `consumer: ${k.consumer.lastError}` : null,
      ].filter((x) => x !== null);
      const roles = [
        k.producer ? `producer ${k.producer.state} (${k.producer.sent} sent)` : null,
        k.consumer
          ? `consumer ${k.consumer.state} (partitions ${k.consumer.assigned.join(", ") || "none"})`
          : null,
      ].filter((x) => x !== null);
      out.push(svc(
        "kafka",
        errors.length ? "degraded" : "online",
        k.probe.latencyMs,
        `${k.probe.brokers} broker(s), topic ${k.topic} with ${k.probe.partitions} partition(s)` +
          (roles.length ? `; ${roles.join("; ")}` : "") +
          (errors.length ? `; ${errors.join("; ")}` : ""),
      ));
    }
  }

  const b = s.source?.binance;
  if (b) {
    const rejected = Object.entries(b.malformed).map(([r, n]) => `${r} ${n}`).join(", ");
    const counts =
      `${b.reconnects} reconnects, ${b.gaps} missing trades, ${b.duplicates} duplicates, ` +
      `${b.resyncs} resyncs, rejected frames: ${rejected || "none"}`;
    if (b.state === "connected") {
      const silent = b.lastMessageAt === null
        ? (b.connectedSince !== null && now - b.connectedSince > BINANCE_SILENCE_MS)
        : now - b.lastMessageAt > BINANCE_SILENCE_MS;
      out.push(svc(
        "binance",
        silent ? "degraded" : "online",
        null,
        `connected since ${iso(b.connectedSince)}, last message ${
          b.lastMessageAt === null ? "none yet" : ago(now, b.lastMessageAt)
        }, ${counts}`,
      ));
    } else {
      out.push(svc(
        "binance",
        b.state === "closed" ? "offline" : "degraded",
        null,
        `${b.state}${b.lastError ? ` (${b.lastError})` : ""}, ${counts}`,
      ));
    }
  }

  const src = s.source;
  if (src) {
    const status = src.state === "reconnecting"
      ? "degraded"
      : src.state === "ended" || src.state === "closed"
      ? "offline"
      : "online";
    out.push(svc(
      "source",
      status,
      null,
      `${src.name} ${src.state}: ${src.events} events` +
        (src.lastEventAt === null ? "" : `, last event time ${iso(src.lastEventAt)}`) +
        (src.detail ? `; ${src.detail}` : ""),
    ));
  } else {
    out.push(remote(
      "source",
      s.heartbeats.source,
      now,
      "no source in this process and no source heartbeat in KV",
    ));
  }
  if (s.webhooks) out.push(webhookService(s.webhooks, now));
  return out;
}

/** `online` when every service is, else `degraded` (the API itself answers, so never `offline`). */
export function overallStatus(services: readonly ServiceStatus[]): "online" | "degraded" {
  return services.every((s) => s.status === "online") ? "online" : "degraded";
}

async function timed<T>(
  f: () => Promise<T>,
): Promise<{ ok: true; value: T; ms: number } | { ok: false; error: string; ms: number }> {
  const t0 = performance.now();
  try {
    const value = await f();
    return { ok: true, value, ms: performance.now() - t0 };
  } catch (e) {
    return {
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      ms: performance.now() - t0,
    };
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The webhook outbox as a service: degraded while deliveries fail (some
 * pending entry has failed) or when any notification was dead-lettered.
 */
function webhookService(
  w: { receivers: number; stats: OutboxStats | null },
  now: number,
): ServiceStatus {
  const st = w.stats;
  if (!st) return svc("webhooks", "offline", null, "the outbox could not be read");
  const oldest = st.oldest_ms === null ? "" : `, oldest from ${ago(now, st.oldest_ms)}`;
  const detail = `${w.receivers} receiver(s): ${st.delivered} delivered, ${st.pending} pending` +
    `${oldest}, ${st.retrying} retrying, ${st.dead} dead-lettered, ${st.failed_attempts} failed attempt(s)`;
  return svc("webhooks", st.retrying > 0 || st.dead > 0 ? "degraded" : "online", null, detail);
}

/** Gathers a {@linkcode StatusSnapshot} from the running system. */
export async function takeSnapshot(ctx: WebContext, api: ApiMetrics): Promise<StatusSnapshot> {
  const [active, beats, kafkaProbe] = await Promise.all([
    timed(() => ctx.store.activeModel()),
    ctx.store.heartbeats().catch(() => []),
    ctx.kafka
      ? timed(() => withTimeout(ctx.kafka!.probe(), KAFKA_PROBE_TIMEOUT_MS, "metadata request"))
      : Promise.resolve(null),
  ]);
  const heartbeats: Record<string, Heartbeat[]> = {};
  for (const b of beats) {
    const info = b.info !== null && typeof b.info === "object"
      ? b.info as Record<string, unknown>
      : {};
    (heartbeats[b.role] ??= []).push({ instance: b.instance, info });
  }
  const t = ctx.trainer?.status();
  const k = ctx.kafka;
  const receivers = ctx.config.alertWebhookUrls.length;
  const webhooks = receivers
    ? { receivers, stats: await ctx.store.outboxStats().catch(() => null) }
    : null;
  return {
    webhooks,
    now: ctx.now(),
    startedAt: ctx.startedAt,
    sseClients: api.sseClients,
    kv: active.ok
      ? { ok: true, latencyMs: active.ms }
      : { ok: false, latencyMs: active.ms, error: active.error },
    model: {
      activeId: active.ok ? active.value?.active.id ?? null : null,
      loadedId: ctx.models.current?.id ?? null,
      waiting: t ? `trainer ${t.state}, ${t.detail}` : "no trainer in this process",
    },
    worker: ctx.worker?.stats() ?? null,
    trainer: t ?? null,
    source: ctx.source?.status() ?? null,
    heartbeats,
    kafka: k && kafkaProbe
      ? {
        topic: k.topic,
        probe: kafkaProbe.ok
          ? { ok: true, ...kafkaProbe.value }
          : { ok: false, latencyMs: kafkaProbe.ms, error: kafkaProbe.error },
        producer: k.producer?.(),
        consumer: k.consumer?.(),
      }
      : null,
  };
}

const route = createRoute({
  method: "get",
  path: V1.systemStatus,
  summary: "Each service online, degraded or offline",
  description:
    "API, KV (a read round trip), scorer, feature worker, trainer, Kafka (when configured), the " +
    "Binance stream (when it is the source) and the source, each with latency and detail.",
  tags: ["v1"],
  responses: {
    200: { description: "status", content: { "application/json": { schema: SystemStatus } } },
  },
});

/** Registers `GET /system-status`. */
export function statusRoutes(app: OpenAPIHono, ctx: WebContext, api: ApiMetrics): void {
  app.openapi(route, async (c) => {
    const snap = await takeSnapshot(ctx, api);
    const services = assessServices(snap);
    return c.json({
      status: overallStatus(services),
      checked_at: new Date(snap.now).toISOString(),
      services,
    }, 200);
  });
}
