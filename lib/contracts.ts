/**
 * The three records that flow through Sentinel (DESIGN.md section 4):
 * `MarketEvent` in, `FeatureRow` in the middle, `Prediction` out.
 * Every byte that enters the system is parsed by one of these schemas.
 *
 * @module
 */
import { z } from "zod";

/**
 * The anomaly kinds the simulator injects (labels exist only for simulated data).
 * The first three are the seed's, in the seed's order (the `seed` profile draws
 * from {@linkcode SEED_ANOMALY_TYPES}); the others are simulator v2's episodes.
 * Append only: stored pages encode a type as its index here.
 */
export const ANOMALY_TYPES = [
  "PRICE_SPIKE",
  "VOLUME_SPIKE",
  "FLASH_CRASH",
  "LEVEL_SHIFT",
  "VOLUME_BURST",
  "PUMP_AND_DUMP",
] as const;
/** The seed's three anomaly kinds, in the seed's order. */
export const SEED_ANOMALY_TYPES = ["PRICE_SPIKE", "VOLUME_SPIKE", "FLASH_CRASH"] as const;
/** One of {@linkcode ANOMALY_TYPES}. */
export type AnomalyType = typeof ANOMALY_TYPES[number];

/** `BASE-QUOTE`, upper case, e.g. `BTC-USDT`. */
export const SYMBOL_PATTERN = /^[A-Z0-9]{2,15}-[A-Z0-9]{2,15}$/;

/** Schema of a market symbol in Sentinel's `BASE-QUOTE` form. */
export const Symbol = z.string().regex(SYMBOL_PATTERN, {
  message: "symbol must be BASE-QUOTE in upper case, e.g. BTC-USDT",
});

/**
 * What an event's `source` may be: a short lower-case name (`binance`,
 * `simulated`, `my-feed.v2`). It becomes a stats key, a metrics label and a
 * CSV cell, so it may not start with a formula character or carry spaces,
 * quotes or markup (docs/decisions.md, "Hostile inputs").
 */
export const SOURCE_PATTERN = /^[a-z][a-z0-9_.-]{0,31}$/;

/**
 * The latest event time accepted, ms (9999-12-31T23:59:59.999Z): every stored
 * time stays a valid `Date`, whatever a producer sends. How far an event may
 * be from its source's clock is a separate, tighter check at the edge
 * (ingest/admission.ts, `MAX_CLOCK_SKEW`).
 */
export const MAX_EVENT_TS_MS = 253_402_300_799_999;

/**
 * Plausibility bounds of a market event's numbers. Far outside any market
 * (prices from 10⁻¹² to 10¹², volumes to 10¹⁵, a log return of 100 is a
 * factor e¹⁰⁰), and far inside what the window's sums of squares can hold:
 * a price of 10³⁰⁰ is finite, but its square is not, and a window state
 * holding ∞ can never be loaded again (found by tests/fuzz_test.ts).
 */
export const EVENT_LIMITS = {
  minPrice: 1e-12,
  maxPrice: 1e12,
  maxVolume: 1e15,
  maxAbsLogReturn: 100,
} as const;

// zod 4 already refuses NaN and ±Infinity for z.number(); the message says so.
const finite = (what: string) =>
  z.number({
    error: (issue) =>
      issue.input === undefined ? `${what} is required` : `${what} must be a finite number`,
  });

/**
 * The seed's event format, kept byte-compatible, plus optional `ts_ms`,
 * `trade_id` and `source`. Unknown keys are stripped, not rejected, so a
 * producer that adds a field does not send its whole stream to the DLQ.
 *
 * @example
 * ```ts
 * import { MarketEvent } from "./contracts.ts";
 * const e = MarketEvent.parse({
 *   timestamp: 1710000000, symbol: "BTC-USDT", price: 43150.5, volume: 1.2,
 *   log_return: 0, is_anomaly: false, anomaly_type: null,
 * });
 * console.log(e.symbol); // "BTC-USDT"
 * ```
 */
export const MarketEvent = z.object({
  timestamp: z.number().int().nonnegative().max(Math.floor(MAX_EVENT_TS_MS / 1000), {
    message: "timestamp must be a Unix time in seconds before the year 10000",
  }),
  symbol: Symbol,
  price: finite("price").refine((p) => p > 0, { message: "price must be positive", abort: true })
    .refine((p) => p >= EVENT_LIMITS.minPrice && p <= EVENT_LIMITS.maxPrice, {
      message: `price must be between ${EVENT_LIMITS.minPrice} and ${EVENT_LIMITS.maxPrice}`,
    }),
  volume: finite("volume")
    .refine((v) => v >= 0, { message: "volume must not be negative", abort: true })
    .refine((v) => v <= EVENT_LIMITS.maxVolume, {
      message: `volume must be at most ${EVENT_LIMITS.maxVolume}`,
    }),
  log_return: finite("log_return").refine(
    (r) => Math.abs(r) <= EVENT_LIMITS.maxAbsLogReturn,
    { message: `log_return must be within ±${EVENT_LIMITS.maxAbsLogReturn}` },
  ),
  is_anomaly: z.boolean().default(false),
  anomaly_type: z.enum(ANOMALY_TYPES).nullable().default(null),
  ts_ms: z.number().int().nonnegative().max(MAX_EVENT_TS_MS, {
    message: "ts_ms must be a Unix time in ms before the year 10000",
  }).optional(),
  trade_id: z.number().int().nonnegative().optional(),
  source: z.string().regex(SOURCE_PATTERN, {
    message: "source must be a short lower-case name (a-z, 0-9, . _ -; 32 at most)",
  }).optional(),
  /** the labelled anomaly episode this event belongs to (simulated data only) */
  episode_id: z.number().int().nonnegative().optional(),
  /** the aggressor: `buy` when the taker bought (hit the ask), `sell` when it sold */
  side: z.enum(["buy", "sell"]).optional(),
});
/** A parsed, valid market event. */
export type MarketEvent = z.infer<typeof MarketEvent>;

/** Millisecond time of an event: `ts_ms` when the source knows it, else `timestamp` seconds. */
export function eventTimeMs(e: Pick<MarketEvent, "timestamp" | "ts_ms">): number {
  return e.ts_ms ?? e.timestamp * 1000;
}

/** Result of {@linkcode parseMarketEvent}: the event, or why it was rejected. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Formats a zod error as one line: `price: price must be positive; symbol: ...`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

/**
 * Parses anything (a decoded JSON value) into a MarketEvent, or a one-line reason.
 *
 * @example
 * ```ts
 * import { parseMarketEvent } from "./contracts.ts";
 * const r = parseMarketEvent({ symbol: "BTC-USDT", price: -1 });
 * console.log(r.ok); // false
 * ```
 */
export function parseMarketEvent(input: unknown): ParseResult<MarketEvent> {
  const r = MarketEvent.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, reason: describeZodError(r.error) };
}

/** The five model features, in the order the forest sees them (the seed's names). */
export const FEATURE_NAMES = [
  "z_score_price",
  "z_score_log_return",
  "z_score_volume",
  "rolling_price_std",
  "rolling_volume_std",
] as const;
/** One of {@linkcode FEATURE_NAMES}. */
export type FeatureName = typeof FEATURE_NAMES[number];

/** The five features as a plain record. */
export const FeatureVector = z.object({
  z_score_price: finite("z_score_price"),
  z_score_log_return: finite("z_score_log_return"),
  z_score_volume: finite("z_score_volume"),
  rolling_price_std: finite("rolling_price_std"),
  rolling_volume_std: finite("rolling_volume_std"),
});
/** The five features as a plain record. */
export type FeatureVector = z.infer<typeof FeatureVector>;

/**
 * Detection v2's robust features (features/robust.ts), carried by rows and
 * predictions when the worker computed them: the trade against a robust
 * recent reference, not the last minute's spread.
 */
export const RobustFields = z.object({
  price_z: finite("price_z"),
  price_z_long: finite("price_z_long"),
  volume_z: finite("volume_z"),
  flow_z: finite("flow_z"),
  robust_ready: z.boolean(),
});
/** Detection v2's robust features. */
export type RobustFields = z.infer<typeof RobustFields>;

/**
 * One event's features (DESIGN.md section 5). `warm_up` rows (window smaller
 * than MIN_WINDOW_EVENTS) are kept for visibility but never scored or trained on.
 * `price` and `volume` ride along so alerts can say what happened.
 */
export const FeatureRow = FeatureVector.extend({
  symbol: Symbol,
  ts_ms: z.number().int().nonnegative(),
  window_count: z.number().int().nonnegative(),
  warm_up: z.boolean(),
  price: finite("price"),
  volume: finite("volume"),
  is_anomaly: z.boolean(),
  anomaly_type: z.enum(ANOMALY_TYPES).nullable(),
  trade_id: z.number().int().nonnegative().optional(),
  source: z.string().max(32).optional(),
}).extend(RobustFields.partial().shape);
/** One event's features. */
export type FeatureRow = z.infer<typeof FeatureRow>;

/** Picks the five features of a row, in {@linkcode FEATURE_NAMES} order. */
export function featureArray(v: FeatureVector): number[] {
  return [
    v.z_score_price,
    v.z_score_log_return,
    v.z_score_volume,
    v.rolling_price_std,
    v.rolling_volume_std,
  ];
}

/**
 * A scored row. `anomaly_score` is scikit-learn's `decision_function`
 * (negative = anomalous); `severity` is the paper's s(x, n) in (0, 1], higher
 * = more anomalous; `label` is the event's own `is_anomaly` when known.
 */
export const Prediction = FeatureVector.extend({
  symbol: Symbol,
  ts_ms: z.number().int().nonnegative(),
  price: finite("price").optional(),
  volume: finite("volume").optional(),
  anomaly_score: finite("anomaly_score"),
  severity: finite("severity"),
  is_anomaly: z.boolean(),
  anomaly_type: z.enum(ANOMALY_TYPES).nullable().optional(),
  model_id: z.string(),
  label: z.boolean().nullable(),
  trade_id: z.number().int().nonnegative().optional(),
  source: z.string().max(32).optional(),
  /** detection v2: the channel that drove the verdict (e.g. `price_z`, `volume_z`) */
  driver: z.string().max(32).optional(),
}).extend(RobustFields.partial().shape);
/** A scored row. */
export type Prediction = z.infer<typeof Prediction>;
