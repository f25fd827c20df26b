/**
 * The seed's response shapes, field by field as ../shared/seed-contract.md
 * gives them (the original system's response models): the seed paths answer
 * these, so a client written for the seed keeps working. Extra fields are
 * allowed; a listed field is never missing, renamed, or of another type or
 * unit (the seed's `anomaly_rate` is a percentage, 0–100). Sentinel's richer
 * shapes live under `/api/v1` (routes/schemas.ts).
 *
 * @module
 */
import { z } from "zod";
import { FEATURE_NAMES, Symbol as MarketSymbol } from "../lib/contracts.ts";
import { MAX_LATEST, Prediction } from "./schemas.ts";

/** `GET /latest-predictions`' default `limit` (the seed's). */
export const SEED_DEFAULT_LATEST = 100;

const limitMessage = `limit must be an integer between 1 and ${MAX_LATEST}`;

/** `GET /latest-predictions`' query (the seed's: `limit` 1–500, default 100; `symbol`). */
export const SeedLatestQuery = z.object({
  limit: z.coerce.number({ error: limitMessage }).int({ message: limitMessage })
    .min(1, { message: limitMessage }).max(MAX_LATEST, { message: limitMessage })
    .default(SEED_DEFAULT_LATEST).meta({ example: SEED_DEFAULT_LATEST }),
  symbol: MarketSymbol.optional().meta({ example: "BTC-USDT" }),
});

/** `GET /latest-predictions`: an array, newest last (the seed slices `items[-limit:]`). */
export const SeedLatestResponse = z.array(Prediction).meta({ id: "SeedLatestPredictions" });

/** One service of the seed's `GET /system-status`. */
export const SeedService = z.object({
  name: z.string().meta({ description: "the API's own entry is named exactly `API`" }),
  status: z.enum(["online", "degraded", "offline"]),
  response_time_ms: z.number().meta({
    description: "the check's round trip in ms (0 when the service has no timed check)",
  }),
  details: z.string().nullable().optional(),
}).meta({ id: "SeedService" });
/** One service of the seed's `GET /system-status`. */
export type SeedService = z.infer<typeof SeedService>;

/** The seed's `GET /system-status`. */
export const SeedSystemStatus = z.object({
  services: z.array(SeedService),
  timestamp: z.string().meta({ description: "ISO 8601, UTC" }),
  status: z.enum(["online", "degraded", "offline"]).meta({ description: "Sentinel's extra" }),
}).meta({ id: "SeedSystemStatus" });

const SeedSymbolStats = z.object({
  count: z.number().int(),
  anomalies: z.number().int(),
  anomaly_rate: z.number().meta({ description: "percent, 0–100" }),
  avg_score: z.number(),
});

const SeedPercentiles = z.object({
  p25: z.number(),
  p50: z.number(),
  p75: z.number(),
  p95: z.number(),
  p99: z.number(),
});

const SeedFeatureStats = z.object({
  mean: z.number(),
  std: z.number(),
  min: z.number(),
  max: z.number(),
});

/** The seed's `GET /stats`. */
export const SeedStats = z.object({
  total_predictions: z.number().int(),
  total_anomalies: z.number().int(),
  anomaly_rate: z.number().meta({ description: "percent, 0–100, 2 decimals" }),
  avg_score: z.number().meta({ description: "mean anomaly_score of the newest predictions" }),
  per_symbol: z.record(z.string(), SeedSymbolStats),
  score_percentiles: SeedPercentiles.nullable(),
  feature_stats: z.record(z.enum(FEATURE_NAMES), SeedFeatureStats).nullable(),
}).meta({ id: "SeedStats" });
/** The seed's `GET /stats`. */
export type SeedStats = z.infer<typeof SeedStats>;

/** The seed's `GET /model-info` (`loaded: false` and nulls while no model is active). */
export const SeedModelInfo = z.object({
  loaded: z.boolean(),
  model_type: z.string().nullable(),
  n_estimators: z.number().int().nullable(),
  contamination: z.number().nullable().meta({ description: "null when `auto`" }),
  max_samples: z.string().nullable(),
  feature_names: z.array(z.string()).nullable(),
  scaler_means: z.array(z.number()).nullable(),
  scaler_stds: z.array(z.number()).nullable(),
  model_file_size_kb: z.number().nullable(),
  model_file_modified: z.string().nullable(),
  model_id: z.string().nullable().meta({ description: "Sentinel's extra" }),
}).meta({ id: "SeedModelInfo" });
/** The seed's `GET /model-info`. */
export type SeedModelInfo = z.infer<typeof SeedModelInfo>;
