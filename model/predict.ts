/**
 * Feature rows → predictions with a model: the scoring step of the live
 * worker, as a pure function, so the worker and the evaluation harness
 * (`bench/eval.ts`) go through the very same code.
 *
 * @module
 */
import type { FeatureRow, MarketEvent, Prediction } from "../lib/contracts.ts";
import type { Scorer } from "./bundle.ts";
import { judgeScores, robustOf, SymbolScorer } from "./detector.ts";

/**
 * The event's label when it is known: simulated events carry their ground
 * truth; for any other source a flagged event is an anomaly and an unflagged
 * one is unknown (null), never "normal".
 *
 * Accepts a `MarketEvent` or the `FeatureRow` made from it (the row copies
 * `source` and `is_anomaly`), so both give the same answer.
 *
 * @example
 * ```ts
 * import { labelOf } from "./predict.ts";
 * console.log(labelOf({ source: "simulated", is_anomaly: false })); // false
 * console.log(labelOf({ source: "binance", is_anomaly: false })); // null
 * ```
 */
export function labelOf(e: Pick<MarketEvent, "source" | "is_anomaly">): boolean | null {
  if (e.source === "simulated") return e.is_anomaly;
  return e.is_anomaly ? true : null;
}

/** What {@linkcode predictRows} made of a batch of rows. */
export interface PredictedRows {
  /** One prediction per scored row, in row order. */
  predictions: Prediction[];
  /** `scored[j]` is the index in `rows` of `predictions[j]`. */
  scored: number[];
  /** Warm-up rows in the batch (never scored). */
  warmup: number;
}

/**
 * Scores a batch of feature rows the way the live worker does: warm-up rows
 * are skipped (counted), the others are scored in one `scoreMany` pass and
 * become {@linkcode Prediction}s stamped with the model id and the row's
 * label ({@linkcode labelOf}). With no model (`scorer` null) nothing is
 * scored and only the warm-up rows are counted.
 *
 * @example
 * ```ts
 * import { predictRows } from "./predict.ts";
 * import { parseBundle, Scorer } from "./bundle.ts";
 * const scorer = Scorer.fromBundle(
 *   parseBundle(JSON.parse(Deno.readTextFileSync("tests/fixtures/sklearn_bundle.json"))),
 * );
 * const row = {
 *   symbol: "BTC-USDT", ts_ms: 1_710_000_000_000, window_count: 290, warm_up: false,
 *   z_score_price: 0, z_score_log_return: 0, z_score_volume: 0,
 *   rolling_price_std: 0.0015, rolling_volume_std: 0.45, price: 43_000, volume: 1.5,
 *   is_anomaly: false, anomaly_type: null, source: "simulated",
 * };
 * const { predictions, warmup } = predictRows([row, { ...row, warm_up: true }], scorer);
 * console.log(predictions.length, warmup, predictions[0].label); // 1 1 false
 * ```
 */
export function predictRows(
  rows: readonly FeatureRow[],
  scorer: Scorer | null,
  scorers?: Map<string, SymbolScorer>,
): PredictedRows {
  if (scorer?.detection) return predictV2(rows, scorer, scorers ?? new Map());
  const scored: number[] = [];
  const toScore: FeatureRow[] = [];
  let warmup = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].warm_up) warmup++;
    else if (scorer) {
      toScore.push(rows[i]);
      scored.push(i);
    }
  }
  if (!scorer || toScore.length === 0) return { predictions: [], scored, warmup };
  const scores = scorer.scoreMany(toScore);
  const predictions: Prediction[] = new Array(toScore.length);
  for (let j = 0; j < toScore.length; j++) {
    predictions[j] = predictionOf(toScore[j], scores[j], scorer.id);
  }
  return { predictions, scored, warmup };
}

/**
 * Detection v2's scoring (DESIGN.md section 16): a row is scored once its
 * robust features are ready (a thin market is, on its longer horizons; the
 * seed window's warm-up does not matter), its model's channel scores go
 * through the bundle's calibration, and the verdict is the prediction:
 * `severity` = the calibrated severity in [0, 1] (0.5 = the alert line),
 * `is_anomaly` = severity ≥ 0.5, `anomaly_score` = 0.5 − severity (negative =
 * anomalous, the seed's sign convention), `driver` = the deciding channel.
 *
 * `scorers` holds each symbol's scores stage (Half-Space Trees learn as they
 * score); the caller keeps it across batches and checkpoints it.
 */
function predictV2(
  rows: readonly FeatureRow[],
  scorer: Scorer,
  scorers: Map<string, SymbolScorer>,
): PredictedRows {
  const det = scorer.detection!;
  const predictions: Prediction[] = [];
  const scored: number[] = [];
  let warmup = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const f = robustOf(r);
    if (f === null || !f.robust_ready) {
      warmup++;
      if (f !== null) stageOf(scorers, r.symbol, det.model).scores(f);
      continue;
    }
    const v = judgeScores(
      det.calibration,
      r.symbol,
      stageOf(scorers, r.symbol, det.model).scores(f),
    );
    const p = predictionOf(
      r,
      { anomaly_score: 0.5 - v.severity, severity: v.severity, is_anomaly: v.alert },
      scorer.id,
    );
    p.price_z = f.price_z;
    p.price_z_long = f.price_z_long;
    p.volume_z = f.volume_z;
    p.flow_z = f.flow_z;
    p.robust_ready = true;
    p.driver = v.driverName;
    predictions.push(p);
    scored.push(i);
  }
  return { predictions, scored, warmup };
}

/** A row's prediction with a verdict: the seed's fields, the trade, the label. */
function predictionOf(
  r: FeatureRow,
  v: { anomaly_score: number; severity: number; is_anomaly: boolean },
  modelId: string,
): Prediction {
  const p: Prediction = {
    symbol: r.symbol,
    ts_ms: r.ts_ms,
    z_score_price: r.z_score_price,
    z_score_log_return: r.z_score_log_return,
    z_score_volume: r.z_score_volume,
    rolling_price_std: r.rolling_price_std,
    rolling_volume_std: r.rolling_volume_std,
    price: r.price,
    volume: r.volume,
    anomaly_score: v.anomaly_score,
    severity: v.severity,
    is_anomaly: v.is_anomaly,
    anomaly_type: r.anomaly_type,
    model_id: modelId,
    label: labelOf(r),
  };
  if (r.trade_id !== undefined) p.trade_id = r.trade_id;
  if (r.source !== undefined) p.source = r.source;
  return p;
}

function stageOf(scorers: Map<string, SymbolScorer>, symbol: string, model: SymbolScorer["model"]) {
  let s = scorers.get(symbol);
  if (s === undefined || s.model !== model) scorers.set(symbol, s = new SymbolScorer(model));
  return s;
}
