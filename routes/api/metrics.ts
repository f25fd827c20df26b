/**
 * `GET /metrics` (Prometheus text exposition) and the middleware that counts
 * every HTTP request by route pattern, method and status. The pipeline's own
 * counters and histograms live in `PipelineMetrics`; the web layer adds its
 * counters here and sets a few gauges at scrape time (model loaded, a KV read
 * round trip, SSE clients, the worker's commit age).
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { Counter } from "../../pipeline/metrics.ts";
import { keys, type OutboxStats } from "../../store/kv.ts";
import type { BinanceStatus } from "../../ingest/binance.ts";
import type { WebContext } from "../context.ts";

/** Counters of the web layer, rendered after the pipeline's. */
export class ApiMetrics {
  /** SSE clients connected now */
  sseClients = 0;
  readonly sseDropped = new Counter(
    "sentinel_sse_dropped_clients_total",
    "SSE clients disconnected because they fell too far behind, by reason",
  );
  readonly sseSent = new Counter(
    "sentinel_sse_events_total",
    "SSE events written, by event type (prediction, alert)",
  );
  readonly apiPredictions = new Counter(
    "sentinel_api_predictions_total",
    "Predictions made by POST /predict, by outcome",
  );

  /** The web layer's series in Prometheus text format. */
  render(): string {
    return [
      this.sseDropped.render(),
      this.sseSent.render(),
      this.apiPredictions.render(),
      "# HELP sentinel_sse_clients SSE clients connected",
      "# TYPE sentinel_sse_clients gauge",
      `sentinel_sse_clients ${this.sseClients}`,
    ].join("\n") + "\n";
  }
}

/**
 * The label of a request's route: its pattern in OpenAPI form
 * (`/models/{id}/activate`), or `unmatched` so that scans of random paths
 * cannot grow the label set.
 */
export function routeLabel(pattern: string): string {
  if (pattern === "" || pattern === "*" || pattern === "/*") return "unmatched";
  return pattern.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
}

/** Middleware: counts every request in `sentinel_http_requests_total` and times it. */
export function httpMetrics(ctx: WebContext): MiddlewareHandler {
  return async (c, next) => {
    const t0 = performance.now();
    try {
      await next();
    } finally {
      // The most specific route the path matched, even when a middleware answered first (a 413,
      // a 401): the last match that is not a catch-all.
      const patterns = matchedRoutes(c).map((r) => r.path).filter((p) =>
        routeLabel(p) !== "unmatched"
      );
      const route = routeLabel(patterns.at(-1) ?? "");
      const status = String(c.res.status);
      ctx.metrics.http.inc({ route, method: c.req.method, status });
      ctx.metrics.httpSeconds.observe((performance.now() - t0) / 1000, {
        route,
        method: c.req.method,
      });
    }
  };
}

/**
 * The Binance stream's counters as Prometheus series (cumulative since the
 * process started): frames rejected by reason, trades, missing trades,
 * duplicates, trade-id resyncs, reconnects, overflow. Reasons are a closed
 * set (`MalformedReason`), so the label stays bounded.
 */
export function binanceSeries(b: BinanceStatus): string {
  const counter = (name: string, help: string, lines: string[]) =>
    [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...lines].join("\n");
  const one = (name: string, help: string, v: number) => counter(name, help, [`${name} ${v}`]);
  return [
    counter(
      "sentinel_binance_frames_rejected_total",
      "Binance frames not used, by reason (malformed JSON, invalid trade, clock skew, ...)",
      Object.entries(b.malformed).map(([reason, n]) =>
        `sentinel_binance_frames_rejected_total{reason="${reason}"} ${n}`
      ),
    ),
    one("sentinel_binance_trades_total", "Binance trades accepted", b.trades),
    one("sentinel_binance_missing_trades_total", "Trades missing by trade-id gaps", b.gaps),
    one("sentinel_binance_duplicates_total", "Replayed or older trade ids dropped", b.duplicates),
    one(
      "sentinel_binance_resyncs_total",
      "Implausible trade-id jumps followed as resyncs",
      b.resyncs,
    ),
    one("sentinel_binance_reconnects_total", "Connection attempts after the first", b.reconnects),
    one("sentinel_binance_overflow_total", "Trades dropped for a slow consumer", b.overflow),
  ].join("\n") + "\n";
}

/**
 * The incident webhook outbox as Prometheus series, read from KV at scrape
 * time (the sender may run in another process): pending, retrying and
 * dead-lettered notifications, and deliveries and failed attempts since the
 * store was created.
 */
export function webhookSeries(st: OutboxStats, nowMs: number): string {
  const one = (name: string, type: string, help: string, v: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${v}`;
  return [
    one(
      "sentinel_webhook_pending",
      "gauge",
      "Incident notifications waiting in the outbox",
      st.pending,
    ),
    one(
      "sentinel_webhook_retrying",
      "gauge",
      "Pending notifications that failed at least once",
      st.retrying,
    ),
    one(
      "sentinel_webhook_dead_letters",
      "gauge",
      "Notifications given up on (kept for the retention)",
      st.dead,
    ),
    one(
      "sentinel_webhook_delivered_total",
      "counter",
      "Notifications a receiver acknowledged",
      st.delivered,
    ),
    one(
      "sentinel_webhook_failed_attempts_total",
      "counter",
      "Delivery attempts that failed",
      st.failed_attempts,
    ),
    one(
      "sentinel_webhook_oldest_pending_age_seconds",
      "gauge",
      "Age of the oldest pending notification (0 when none)",
      st.oldest_ms === null ? 0 : Math.max(0, (nowMs - st.oldest_ms) / 1000),
    ),
  ].join("\n") + "\n";
}

const route = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics",
  description:
    "Text exposition format 0.0.4: events received and rejected per source, feature rows, " +
    "predictions and anomalies per symbol and type, event-to-prediction latency, KV commit " +
    "time, HTTP requests by route and status, SSE clients, and gauges taken at scrape time.",
  tags: ["operations"],
  responses: {
    200: {
      description: "metrics",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});

/** Registers `GET /metrics`. */
export function metricsRoutes(app: OpenAPIHono, ctx: WebContext, api: ApiMetrics): void {
  app.openapi(route, async (c) => {
    const m = ctx.metrics;
    const t0 = performance.now();
    let kvUp = 1;
    try {
      await ctx.store.kv.get(keys.modelActive);
    } catch {
      kvUp = 0;
    }
    m.setGauge("sentinel_kv_up", "1 when a KV read succeeded at scrape time", kvUp);
    m.setGauge(
      "sentinel_kv_read_seconds",
      "Duration of one KV read round trip at scrape time",
      (performance.now() - t0) / 1000,
    );
    m.setGauge(
      "sentinel_model_loaded",
      "1 when this process has an active model",
      ctx.models.current ? 1 : 0,
    );
    const now = ctx.now();
    m.setGauge(
      "sentinel_uptime_seconds",
      "Seconds since this process started",
      (now - ctx.startedAt) / 1000,
    );
    const w = ctx.worker?.stats();
    if (w?.lastCommitAt != null) {
      m.setGauge(
        "sentinel_worker_last_commit_age_seconds",
        "Seconds since the worker last committed a batch (queue lag when it grows)",
        (now - w.lastCommitAt) / 1000,
      );
    }
    if (w?.lastLatencyMs != null) {
      m.setGauge(
        "sentinel_worker_last_batch_latency_seconds",
        "Receive-to-commit time of the newest event of the last batch",
        w.lastLatencyMs / 1000,
      );
    }
    const lag = ctx.kafka?.consumer?.().lag;
    if (lag) {
      m.setGauge(
        "sentinel_kafka_consumer_lag_records",
        "Records of this worker's partitions not yet processed (high watermark − next offset)",
        Object.values(lag).reduce((a, b) => a + b, 0),
      );
    }
    const binance = ctx.source?.status().binance;
    const hooks = ctx.config.alertWebhookUrls.length
      ? await ctx.store.outboxStats().then((st) => webhookSeries(st, now), () => "")
      : "";
    return c.text(
      m.render() + api.render() + (binance ? binanceSeries(binance) : "") + hooks,
      200,
      {
        "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
      },
    );
  });
}
