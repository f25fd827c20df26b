/**
 * The seed's four read paths in the seed's own shapes
 * (../shared/seed-contract.md): `GET /latest-predictions` (an array, newest
 * last), `GET /system-status` (services with `response_time_ms`, the API's
 * entry named `API`), `GET /stats` (rates in percent, `avg_score`,
 * `per_symbol`) and `GET /model-info` (`loaded`, `scaler_means`, ...; 200
 * with `loaded: false` while no model is active, as the seed). A client
 * written for the seed reads them unchanged. They are adapters over the
 * same data as Sentinel's richer `/api/v1` paths (the dashboard's), so the
 * two can never disagree.
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { FEATURE_NAMES, type Prediction } from "../../lib/contracts.ts";
import type { Bundle } from "../../model/bundle.ts";
import type { ModelIndexEntry } from "../../store/kv.ts";
import type { WebContext } from "../context.ts";
import { ErrorBody, type ServiceStatus } from "../schemas.ts";
import {
  SeedLatestQuery,
  SeedLatestResponse,
  type SeedModelInfo,
  SeedModelInfo as SeedModelInfoSchema,
  type SeedService,
  type SeedStats,
  SeedStats as SeedStatsSchema,
  SeedSystemStatus,
} from "../seed_schemas.ts";
import type { ApiMetrics } from "./metrics.ts";
import { bundleInfoLoader } from "./models.ts";
import { counterTotals, RECENT_WINDOW, recentSummary, streamOnly } from "./stats.ts";
import { assessServices, overallStatus, takeSnapshot } from "./status.ts";

/** A fraction as the seed's percentage: 0–100, two decimals. */
export function percent(fraction: number): number {
  return Math.round(fraction * 10_000) / 100;
}

/**
 * The seed's `/stats` from the KV counters (totals and per-symbol counts,
 * every prediction ever made) and the newest predictions (`avg_score`,
 * percentiles and feature statistics over `recent`, any order).
 */
export function seedStats(
  counters: Record<string, number>,
  recent: readonly Prediction[],
): SeedStats {
  const totals = counterTotals(counters);
  const summary = recentSummary(recent, recent.length);
  const scoreSum = new Map<string, { sum: number; n: number }>();
  let sum = 0;
  for (const p of recent) {
    sum += p.anomaly_score;
    const s = scoreSum.get(p.symbol) ?? { sum: 0, n: 0 };
    s.sum += p.anomaly_score;
    s.n++;
    scoreSum.set(p.symbol, s);
  }
  const per_symbol: SeedStats["per_symbol"] = {};
  for (const [symbol, c] of Object.entries(totals.by_symbol)) {
    const s = scoreSum.get(symbol);
    per_symbol[symbol] = {
      count: c.predictions,
      anomalies: c.anomalies,
      anomaly_rate: percent(c.anomaly_rate),
      avg_score: s ? s.sum / s.n : 0,
    };
  }
  const pct = summary.score_percentiles;
  return {
    total_predictions: totals.total_predictions,
    total_anomalies: totals.total_anomalies,
    anomaly_rate: percent(totals.anomaly_rate),
    avg_score: recent.length ? sum / recent.length : 0,
    per_symbol,
    score_percentiles: pct
      ? { p25: pct.p25, p50: pct.p50, p75: pct.p75, p95: pct.p95, p99: pct.p99 }
      : null,
    feature_stats: summary.features,
  };
}

const SEED_NAMES: Record<string, string> = {
  api: "API",
  kv: "KV",
  scorer: "Scorer",
  "feature-worker": "Feature Worker",
  trainer: "Trainer",
  kafka: "Kafka",
  binance: "Binance",
  source: "Source",
};

/**
 * A service as the seed lists it: the seed's name (`API` exactly for the
 * API), `response_time_ms` (the check's latency, `apiMs` for the API, 0 for
 * a service without a timed check) and `details`.
 */
export function seedService(s: ServiceStatus, apiMs: number): SeedService {
  const isApi = s.name === "api";
  const ms = isApi ? apiMs : s.latency_ms ?? 0;
  return {
    name: SEED_NAMES[s.name] ?? s.name,
    status: s.status,
    response_time_ms: Math.round(ms * 100) / 100,
    details: s.detail,
  };
}

/** The seed's `/model-info` for a tree-less bundle (null: no active model). */
export function seedModelInfo(
  info: { bundle: Bundle; entry: ModelIndexEntry } | null,
): SeedModelInfo {
  if (!info) {
    return {
      loaded: false,
      model_type: null,
      n_estimators: null,
      contamination: null,
      max_samples: null,
      feature_names: null,
      scaler_means: null,
      scaler_stds: null,
      model_file_size_kb: null,
      model_file_modified: null,
      model_id: null,
    };
  }
  const { bundle, entry } = info;
  const c = bundle.params.contamination;
  return {
    loaded: true,
    model_type: "IsolationForest",
    n_estimators: bundle.params.n_estimators,
    contamination: c === "auto" ? null : c,
    max_samples: String(bundle.params.max_samples),
    feature_names: [...FEATURE_NAMES],
    scaler_means: [...bundle.scaler.mean],
    scaler_stds: [...bundle.scaler.scale],
    model_file_size_kb: Math.round(entry.bytes / 1024 * 100) / 100,
    model_file_modified: bundle.created_at,
    model_id: bundle.id,
  };
}

const latestRoute = createRoute({
  method: "get",
  path: "/latest-predictions",
  summary: "The newest predictions (the seed's shape)",
  description: "An array, newest last (the seed's `items[-limit:]`), optionally of one symbol; " +
    "`limit` 1–500, default 100. Sentinel's shape: `/api/v1/latest-predictions`.",
  tags: ["seed"],
  request: { query: SeedLatestQuery },
  responses: {
    200: {
      description: "predictions, oldest first",
      content: { "application/json": { schema: SeedLatestResponse } },
    },
    422: {
      description: "limit out of range or a malformed symbol",
      content: { "application/json": { schema: ErrorBody } },
    },
  },
});

const statsRoute = createRoute({
  method: "get",
  path: "/stats",
  summary: "Totals and rates (the seed's shape)",
  description: "Totals and per-symbol counts from the KV counters (rates in percent, 0–100); " +
    `\`avg_score\`, percentiles and feature statistics over the newest ${RECENT_WINDOW} ` +
    "predictions. Sentinel's shape: `/api/v1/stats`.",
  tags: ["seed"],
  responses: {
    200: {
      description: "statistics",
      content: { "application/json": { schema: SeedStatsSchema } },
    },
  },
});

const statusRoute = createRoute({
  method: "get",
  path: "/system-status",
  summary: "Each service online, degraded or offline (the seed's shape)",
  description: "The seed's `services` (the API's entry named `API`) and `timestamp`. " +
    "Sentinel's shape: `/api/v1/system-status`.",
  tags: ["seed"],
  responses: {
    200: { description: "status", content: { "application/json": { schema: SeedSystemStatus } } },
  },
});

const modelRoute = createRoute({
  method: "get",
  path: "/model-info",
  summary: "The active model (the seed's shape)",
  description: "`loaded: false` and nulls while no model is active. Sentinel's shape " +
    "(training report, scaler by feature): `/api/v1/model-info`.",
  tags: ["seed"],
  responses: {
    200: {
      description: "the active model",
      content: { "application/json": { schema: SeedModelInfoSchema } },
    },
  },
});

/** Registers the seed's `/latest-predictions`, `/stats`, `/system-status` and `/model-info`. */
export function seedRoutes(app: OpenAPIHono, ctx: WebContext, api: ApiMetrics): void {
  app.openapi(latestRoute, async (c) => {
    const q = c.req.valid("query");
    const newestFirst = await ctx.store.latestPredictions({ limit: q.limit, symbol: q.symbol });
    return c.json(newestFirst.reverse(), 200);
  });

  app.openapi(statsRoute, async (c) => {
    const [counters, recent] = await Promise.all([
      ctx.store.counters(),
      ctx.store.latestPredictions({ limit: RECENT_WINDOW }),
    ]);
    return c.json(seedStats(counters, streamOnly(recent)), 200);
  });

  app.openapi(statusRoute, async (c) => {
    const t0 = performance.now();
    const snap = await takeSnapshot(ctx, api);
    const services = assessServices(snap);
    const apiMs = performance.now() - t0;
    return c.json({
      services: services.map((s) => seedService(s, apiMs)),
      timestamp: new Date(snap.now).toISOString(),
      status: overallStatus(services),
    }, 200);
  });

  const loadInfo = bundleInfoLoader(ctx);
  app.openapi(modelRoute, async (c) => {
    const active = await ctx.store.activeModel();
    return c.json(seedModelInfo(active ? await loadInfo(active.active.id) : null), 200);
  });
}
