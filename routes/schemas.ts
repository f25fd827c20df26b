/**
 * The zod schemas of the HTTP API's requests and responses. The same schemas
 * validate what comes in and generate `/openapi.json`, so the document cannot
 * drift from the code. The records themselves (`Prediction`, the five
 * features, a bundle's training report) come from lib/contracts.ts and
 * model/bundle.ts; this file only adds the API's envelopes.
 *
 * Documentation goes through zod's own `.meta()` (which the OpenAPI
 * generator reads), not `.openapi()`: that method is patched onto zod by
 * `@hono/zod-openapi` and exists only on schemas created after that module
 * was evaluated, which lib/contracts.ts cannot be sure of.
 *
 * @module
 */
import { z } from "zod";
import {
  FEATURE_NAMES,
  FeatureVector,
  Prediction as PredictionRecord,
  Symbol as MarketSymbol,
} from "../lib/contracts.ts";
import { BUNDLE_ID_PATTERN, ScoreDistribution, TrainingReport } from "../model/bundle.ts";

/** Largest magnitude a feature may have in `POST /predict` (far beyond anything the stream produces). */
export const FEATURE_LIMIT = 1e6;

/** Most predictions `GET /latest-predictions` returns at once. */
export const MAX_LATEST = 500;

/** Most rows one `GET /export.csv` streams; its default. */
export const MAX_EXPORT = 1_000_000;
/** Rows `GET /export.csv` streams when no `limit` is given. */
export const DEFAULT_EXPORT = 100_000;

/** A symbol as the API takes it (`BASE-QUOTE`, upper case). */
export const SymbolParam = MarketSymbol.meta({ example: "BTC-USDT" });

/** One stored or streamed prediction (lib/contracts.ts `Prediction`). */
export const Prediction = PredictionRecord.meta({ id: "Prediction" });

/** One field that failed validation. */
export const FieldError = z.object({
  field: z.string().meta({ example: "z_score_price" }),
  message: z.string().meta({ example: "z_score_price must be a finite number" }),
}).meta({ id: "FieldError" });

/** Every error the API returns: a short reason and a detail (a text, or one entry per bad field). */
export const ErrorBody = z.object({
  error: z.string().meta({ example: "validation failed" }),
  detail: z.union([z.string(), z.array(FieldError)]),
}).meta({ id: "Error" });

const f = FeatureVector.shape;
type FeatureKey = keyof typeof f;
const zScore = (name: FeatureKey) =>
  f[name].min(-FEATURE_LIMIT, { message: `${name} must be >= -${FEATURE_LIMIT}` })
    .max(FEATURE_LIMIT, { message: `${name} must be <= ${FEATURE_LIMIT}` });
const relStd = (name: FeatureKey) =>
  f[name].min(0, { message: `${name} must not be negative` })
    .max(FEATURE_LIMIT, { message: `${name} must be <= ${FEATURE_LIMIT}` });

/**
 * `POST /predict`'s body: the seed's five features and an optional symbol.
 * Strict: an unknown field is an error (a typo such as `z_score_prce` must not
 * silently score a vector with a missing feature).
 */
export const PredictRequest = z.strictObject({
  symbol: SymbolParam.optional(),
  z_score_price: zScore("z_score_price").meta({ example: 4.5 }),
  z_score_log_return: zScore("z_score_log_return").meta({ example: 3.8 }),
  z_score_volume: zScore("z_score_volume").meta({ example: 1.5 }),
  rolling_price_std: relStd("rolling_price_std").meta({
    description: "std(price) / mean(price) over the window (0.008 = 0.8 % of the price)",
    example: 0.008,
  }),
  rolling_volume_std: relStd("rolling_volume_std").meta({
    description: "std(volume) / mean(volume) over the window (about 0.5 on a quiet market)",
    example: 25,
  }),
}).meta({ id: "PredictRequest" });
/** A parsed `POST /predict` body. */
export type PredictRequest = z.infer<typeof PredictRequest>;

/** `POST /predict`'s answer (the seed's shape plus `ts_ms` and the SSE `id`). */
export const PredictResponse = z.object({
  symbol: MarketSymbol,
  is_anomaly: z.boolean(),
  anomaly_score: z.number().meta({
    description: "scikit-learn's decision_function: negative = anomalous",
  }),
  severity: z.number().meta({ description: "s(x, n) in (0, 1]; higher = more anomalous" }),
  model_id: z.string(),
  timestamp: z.string().meta({ description: "ISO-8601 time of the prediction" }),
  ts_ms: z.number().int(),
  id: z.string().meta({ description: "the prediction's cursor (its SSE event id)" }),
  features: FeatureVector,
}).meta({ id: "PredictResponse" });
/** `POST /predict`'s answer. */
export type PredictResponse = z.infer<typeof PredictResponse>;

/** `GET /health`. */
export const HealthResponse = z.object({
  status: z.enum(["ok", "waiting_for_model"]),
  model_loaded: z.boolean(),
  model_id: z.string().optional(),
  uptime_s: z.number(),
}).meta({ id: "Health" });

const limit = (max: number, dflt: number) =>
  z.coerce.number({ error: `limit must be an integer between 1 and ${max}` }).int({
    message: `limit must be an integer between 1 and ${max}`,
  }).min(1, { message: `limit must be an integer between 1 and ${max}` }).max(max, {
    message: `limit must be an integer between 1 and ${max}`,
  }).default(dflt);

/** `GET /latest-predictions`' query. */
export const LatestQuery = z.object({
  limit: limit(MAX_LATEST, 50).meta({ example: 50 }),
  symbol: SymbolParam.optional(),
});

/** `GET /latest-predictions`' answer, newest first. */
export const LatestResponse = z.object({
  count: z.number().int(),
  predictions: z.array(Prediction),
}).meta({ id: "LatestPredictions" });

const flag = z.enum(["true", "false", "1", "0"]).transform((s) => s === "true" || s === "1");

/** `GET /export.csv`'s query. */
/**
 * Epoch milliseconds, or an ISO-8601 UTC/offset time. The pattern is in the
 * OpenAPI document, so every string a client builds from it is accepted
 * (V8's parser takes any day 01–31 of any month).
 */
const TIME_PATTERN =
  /^(\d{1,15}|\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))$/;

/**
 * A query parameter holding a time: epoch milliseconds or an ISO-8601 time,
 * parsed to epoch ms (a 422 naming the parameter otherwise). Shared by
 * `/incidents` and `/export.csv`.
 */
export const timeParam = (name: string) =>
  z.string().regex(TIME_PATTERN, {
    message: `${name} must be epoch milliseconds or an ISO-8601 time like 2024-01-01T00:00:00Z`,
  }).optional().transform((s): number | undefined => {
    if (s === undefined) return undefined;
    const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
    return Number.isFinite(ms) ? Math.max(0, ms) : 0;
  }).meta({ description: `${name}: epoch ms or ISO-8601`, example: "2024-01-01T00:00:00Z" });

export const ExportQuery = z.object({
  limit: limit(MAX_EXPORT, DEFAULT_EXPORT),
  symbol: SymbolParam.optional(),
  anomalies_only: flag.optional().meta({ description: "true or 1: predicted anomalies only" }),
  since: z.string().regex(/^\d{1,6}(s|m|h|d)$/, {
    message: "since must be a duration like 15m, 1h, 6h or 24h",
  }).optional().meta({ description: "only the last span of time, e.g. 15m, 1h, 6h, 24h" }),
  from: timeParam("from"),
  to: timeParam("to"),
  source: z.enum(["stream", "api"]).optional().meta({
    description:
      "stream: the market stream's predictions only; api: POST /predict manual tests only",
  }),
});

/** `GET /events`' query. */
export const EventsQuery = z.object({
  symbol: SymbolParam.optional(),
  lastEventId: z.string().max(512).optional().meta({
    description: "resume after this event id (for clients that cannot send Last-Event-ID)",
  }),
});

/** `GET /events`' headers. */
export const EventsHeaders = z.object({
  "last-event-id": z.string().max(512).optional().meta({
    description: "resume after this event id (sent by EventSource when it reconnects)",
  }),
});

const Percentiles = ScoreDistribution.omit({ flagged_share: true }).meta({
  id: "ScorePercentiles",
});

const FeatureSummary = z.object({
  mean: z.number(),
  std: z.number(),
  min: z.number(),
  max: z.number(),
});

const SymbolCounts = z.object({
  predictions: z.number().int(),
  anomalies: z.number().int(),
  anomaly_rate: z.number(),
});

/** `GET /stats`. */
export const StatsResponse = z.object({
  total_predictions: z.number().int(),
  total_anomalies: z.number().int(),
  anomaly_rate: z.number(),
  events: z.object({
    received: z.record(z.string(), z.number().int()),
    rejected: z.record(z.string(), z.number().int()),
    feature_rows: z.number().int(),
    warm_up_rows: z.number().int(),
    unscored_rows: z.number().int(),
  }),
  by_symbol: z.record(z.string(), SymbolCounts),
  recent: z.object({
    window: z.number().int().meta({ description: "how many of the newest predictions" }),
    count: z.number().int(),
    anomalies: z.number().int(),
    anomaly_rate: z.number(),
    from_ts: z.number().int().nullable(),
    to_ts: z.number().int().nullable(),
    score_percentiles: Percentiles.nullable(),
    features: z.record(z.enum(FEATURE_NAMES), FeatureSummary).nullable(),
  }),
}).meta({ id: "Stats" });
/** `GET /stats`. */
export type StatsResponse = z.infer<typeof StatsResponse>;

const perFeature = z.record(z.enum(FEATURE_NAMES), z.number());

/** `GET /model-info`: the active bundle without its trees. */
export const ModelInfo = z.object({
  model_id: z.string(),
  created_at: z.string(),
  activated_at: z.string(),
  loaded_in_process: z.boolean().meta({
    description: "this process scores with it (false for a moment after a swap)",
  }),
  feature_names: z.array(z.string()),
  params: z.object({
    n_estimators: z.number().int(),
    max_samples: z.number().int(),
    contamination: z.union([z.literal("auto"), z.number()]),
    seed: z.number(),
  }),
  offset: z.number(),
  scaler: z.object({ mean: perFeature, scale: perFeature }),
  training: z.object({
    rows: z.number().int(),
    symbols: z.array(z.string()),
    from_ts: z.number().int(),
    to_ts: z.number().int(),
    report: TrainingReport,
  }),
  size: z.object({ bytes: z.number().int(), chunks: z.number().int() }),
}).meta({ id: "ModelInfo" });
/** `GET /model-info`. */
export type ModelInfo = z.infer<typeof ModelInfo>;

/** One stored bundle in `GET /models`. */
export const ModelEntry = z.object({
  id: z.string(),
  created_at: z.string(),
  chunks: z.number().int(),
  bytes: z.number().int(),
  rows: z.number().int(),
  symbols: z.array(z.string()),
  report_kind: z.string(),
  active: z.boolean(),
}).meta({ id: "ModelEntry" });

/** `GET /models`. */
export const ModelsResponse = z.object({
  active_id: z.string().nullable(),
  models: z.array(ModelEntry),
}).meta({ id: "Models" });

/** `POST /models/{id}/activate`'s path. */
export const ModelIdParam = z.object({
  id: z.string().regex(BUNDLE_ID_PATTERN, { message: "not a bundle id" }).meta({
    param: { name: "id", in: "path" },
    example: "m-1710000000000",
  }),
});

/** `POST /model/retrain`'s answer. */
export const RetrainResponse = z.object({
  status: z.enum(["started", "requested"]),
  detail: z.string(),
}).meta({ id: "Retrain" });

/** One service in `GET /system-status`. */
export const ServiceStatus = z.object({
  name: z.string(),
  status: z.enum(["online", "degraded", "offline"]),
  latency_ms: z.number().nullable(),
  detail: z.string(),
}).meta({ id: "ServiceStatus" });
/** One service in `GET /system-status`. */
export type ServiceStatus = z.infer<typeof ServiceStatus>;

/** `GET /system-status`. */
export const SystemStatus = z.object({
  status: z.enum(["online", "degraded", "offline"]),
  checked_at: z.string(),
  services: z.array(ServiceStatus),
}).meta({ id: "SystemStatus" });
/** `GET /system-status`. */
export type SystemStatus = z.infer<typeof SystemStatus>;
