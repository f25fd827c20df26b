/**
 * `GET /stats`: totals from the KV counters (every prediction ever counted,
 * per symbol), and the distribution of the newest {@linkcode RECENT_WINDOW}
 * predictions: score percentiles and each feature's mean and standard
 * deviation.
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { FEATURE_NAMES, type FeatureName, type Prediction } from "../../lib/contracts.ts";
import { API_SOURCE, type WebContext } from "../context.ts";
import { V1 } from "../../islands/shared/paths.ts";
import { StatsResponse } from "../schemas.ts";

/**
 * How many of the newest predictions the distribution covers: about a minute
 * of the default simulated stream (15 predictions/s), enough for a stable
 * 1st percentile (10 points below it), and one KV list of a few pages.
 */
export const RECENT_WINDOW = 1000;

/**
 * The q-quantile (0 ≤ q ≤ 1) of ascending `sorted` by linear interpolation
 * between closest ranks (numpy's default `linear` method).
 *
 * @example
 * ```ts
 * import { quantile } from "./stats.ts";
 * console.log(quantile([1, 2, 3, 4], 0.5)); // 2.5
 * ```
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError("quantile of an empty list");
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Mean, sample standard deviation (n − 1; 0 for one value), min and max. */
export function describe(values: readonly number[]): {
  mean: number;
  std: number;
  min: number;
  max: number;
} {
  const n = values.length;
  let mean = 0, m2 = 0, min = Infinity, max = -Infinity;
  // Welford: stable for z-scores near 0 and relative stds near 1e-3 alike.
  for (let i = 0; i < n; i++) {
    const x = values[i];
    const d = x - mean;
    mean += d / (i + 1);
    m2 += d * (x - mean);
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { mean, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : 0, min, max };
}

/**
 * The stream's predictions of `preds`: manual tests (`POST /predict`,
 * `source: "api"`) stay in the history but out of live statistics.
 */
export function streamOnly(preds: readonly Prediction[]): Prediction[] {
  return preds.filter((p) => p.source !== API_SOURCE);
}

/** The `recent` section of `/stats` for `preds` (any order). */
export function recentSummary(preds: readonly Prediction[], window: number) {
  const n = preds.length;
  const anomalies = preds.reduce((a, p) => a + (p.is_anomaly ? 1 : 0), 0);
  if (n === 0) {
    return {
      window,
      count: 0,
      anomalies: 0,
      anomaly_rate: 0,
      from_ts: null,
      to_ts: null,
      score_percentiles: null,
      features: null,
    };
  }
  const scores = preds.map((p) => p.anomaly_score).sort((a, b) => a - b);
  const q = (x: number) => quantile(scores, x);
  const features = {} as Record<FeatureName, ReturnType<typeof describe>>;
  for (const name of FEATURE_NAMES) features[name] = describe(preds.map((p) => p[name]));
  let from = Infinity, to = -Infinity;
  for (const p of preds) {
    if (p.ts_ms < from) from = p.ts_ms;
    if (p.ts_ms > to) to = p.ts_ms;
  }
  return {
    window,
    count: n,
    anomalies,
    anomaly_rate: anomalies / n,
    from_ts: from,
    to_ts: to,
    score_percentiles: {
      min: scores[0],
      p1: q(0.01),
      p5: q(0.05),
      p25: q(0.25),
      p50: q(0.5),
      p75: q(0.75),
      p95: q(0.95),
      p99: q(0.99),
      max: scores[n - 1],
    },
    features,
  };
}

/** The counter-based part of `/stats` from `Store.counters()` (`"pred/BTC-USDT": 12`, ...). */
export function counterTotals(counters: Record<string, number>) {
  const received: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const bySymbol: Record<string, { predictions: number; anomalies: number; anomaly_rate: number }> =
    {};
  let total = 0, anomalies = 0;
  const sym = (s: string) => bySymbol[s] ??= { predictions: 0, anomalies: 0, anomaly_rate: 0 };
  for (const [key, n] of Object.entries(counters)) {
    const slash = key.indexOf("/");
    const kind = slash < 0 ? key : key.slice(0, slash);
    const rest = slash < 0 ? "" : key.slice(slash + 1);
    if (kind === "pred" && rest) {
      sym(rest).predictions += n;
      total += n;
    } else if (kind === "anomaly" && rest) {
      sym(rest).anomalies += n;
      anomalies += n;
    } else if (kind === "events" && rest) received[rest] = n;
    else if (kind === "rejected" && rest) rejected[rest] = n;
  }
  for (const s of Object.values(bySymbol)) {
    s.anomaly_rate = s.predictions ? s.anomalies / s.predictions : 0;
  }
  return {
    total_predictions: total,
    total_anomalies: anomalies,
    anomaly_rate: total ? anomalies / total : 0,
    events: {
      received,
      rejected,
      feature_rows: counters["rows"] ?? 0,
      warm_up_rows: counters["warmup"] ?? 0,
      unscored_rows: counters["unscored"] ?? 0,
    },
    by_symbol: bySymbol,
  };
}

const route = createRoute({
  method: "get",
  path: V1.stats,
  summary: "Totals, rates and recent distributions",
  description:
    `Totals and per-symbol counts from the KV counters (every prediction since the store was ` +
    `created; \`POST /predict\` manual tests are not counted); score percentiles (linear interpolation) and feature ` +
    `mean / sample std over the newest ${RECENT_WINDOW} predictions.`,
  tags: ["v1"],
  responses: {
    200: { description: "statistics", content: { "application/json": { schema: StatsResponse } } },
  },
});

/** Registers `GET /stats`. */
export function statsRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openapi(route, async (c) => {
    const [counters, recent] = await Promise.all([
      ctx.store.counters(),
      ctx.store.latestPredictions({ limit: RECENT_WINDOW }),
    ]);
    return c.json({
      ...counterTotals(counters),
      recent: recentSummary(streamOnly(recent), RECENT_WINDOW),
    }, 200);
  });
}
