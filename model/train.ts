/**
 * From feature rows to a bundle (DESIGN.md section 8): drop warm-up rows,
 * hold out a stratified 20% when labels exist, fit scaler + forest, and record
 * the report; with `detection`, also calibrate detection v2 (section 16). Pure: the id and creation time are arguments, randomness comes
 * from the seed.
 *
 * @module
 */
import { FEATURE_NAMES, featureArray, type FeatureRow } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { type Bundle, modelToBundle, parseBundle, type TrainingReport } from "./bundle.ts";
import type { Calibration, ScoredEvent } from "./calibration.ts";
import { type DetectionModel, fitRobustCalibration, robustOf, SymbolScorer } from "./detector.ts";
import { DEFAULT_FOREST_PARAMS, type ForestParams, IsolationForest } from "./forest.ts";
import {
  averagePrecision,
  classificationReport,
  rocAuc,
  scoreDistribution,
  stratifiedSplit,
} from "./metrics.ts";
import { StandardScaler } from "./scaler.ts";

/** Share of labelled rows held out for the classification report. */
export const DEFAULT_TEST_FRACTION = 0.2;
/** Fewest non-warm-up rows a model can be fitted on. */
export const MIN_TRAIN_ROWS = 2;
// The split draws from its own stream so it does not share the forest's sequence.
const SPLIT_SEED_SALT = 0x5eed5917;

/** Options of {@linkcode trainBundle}; forest parameters default to {@linkcode DEFAULT_FOREST_PARAMS}. */
export interface TrainOptions extends Partial<ForestParams> {
  /** Bundle id (see `BUNDLE_ID_PATTERN`). */
  id: string;
  /** ISO-8601 creation time (model/ never reads the clock). */
  createdAt: string;
  /** Force (true) or forbid (false) the labelled holdout; default: labelled when any row is an anomaly. */
  labelled?: boolean;
  /** Holdout share for labelled data, default {@linkcode DEFAULT_TEST_FRACTION}. */
  testFraction?: number;
  /**
   * Detection v2: calibrate this model's channels to `budget` false incidents
   * per symbol-hour on the rows' robust features (rows in time order).
   */
  detection?: {
    model: DetectionModel;
    budget: number;
    /** INCIDENT_GAP_SECONDS in ms (model/calibration_cover.ts; default 5 000) */
    gapMs?: number;
  };
}

/**
 * Trains a bundle on feature rows.
 *
 * - Warm-up rows are dropped; fewer than {@linkcode MIN_TRAIN_ROWS} remaining throws.
 * - Labelled (`opts.labelled`, else "some row is an anomaly"): a seeded split
 *   stratified by `is_anomaly` holds out `testFraction` of the rows; scaler and
 *   forest are fitted on the rest, and the report holds the holdout's
 *   precision / recall / F1 / support per class, accuracy, confusion matrix,
 *   and ROC-AUC and average precision of −decision_function.
 * - Unlabelled: fitted on every row.
 * - Both record the training rows' decision-function distribution.
 *
 * @example
 * ```ts ignore
 * const bundle = trainBundle(rows, { id: "m-1710000000000", createdAt: new Date().toISOString(), seed: 42 });
 * console.log(bundle.training.report.kind); // "holdout" for simulated (labelled) data
 * ```
 */
export function trainBundle(rows: readonly FeatureRow[], opts: TrainOptions): Bundle {
  let usable = rows.filter((r) => !r.warm_up);
  // A thin market (a trade every ~30 s) never fills the seed's 60 s window:
  // its forest is then fitted on every row rather than not at all, and its
  // verdicts come from detection v2's longer horizons anyway.
  if (usable.length < MIN_TRAIN_ROWS && opts.detection) usable = [...rows];
  if (usable.length < MIN_TRAIN_ROWS) {
    throw new RangeError(
      `need at least ${MIN_TRAIN_ROWS} non-warm-up rows to train, got ${usable.length} ` +
        `(${rows.length - usable.length} warm-up rows dropped)`,
    );
  }
  const params: ForestParams = {
    nEstimators: opts.nEstimators ?? DEFAULT_FOREST_PARAMS.nEstimators,
    maxSamples: opts.maxSamples ?? DEFAULT_FOREST_PARAMS.maxSamples,
    contamination: opts.contamination ?? DEFAULT_FOREST_PARAMS.contamination,
    seed: opts.seed ?? DEFAULT_FOREST_PARAMS.seed,
  };
  const labels = usable.map((r) => r.is_anomaly);
  const labelled = opts.labelled ?? labels.some((l) => l);

  let scaler: StandardScaler, forest: IsolationForest, report: TrainingReport;
  if (labelled) {
    const testFraction = opts.testFraction ?? DEFAULT_TEST_FRACTION;
    const split = stratifiedSplit(
      labels,
      testFraction,
      new Random(Math.trunc(params.seed) ^ SPLIT_SEED_SALT),
    );
    if (split.train.length < MIN_TRAIN_ROWS || split.test.length < 1) {
      throw new RangeError(
        `a ${testFraction} holdout of ${usable.length} rows leaves ${split.train.length} to train ` +
          `and ${split.test.length} to test; need at least ${MIN_TRAIN_ROWS} and 1`,
      );
    }
    const train = featureMatrix(usable, split.train);
    scaler = StandardScaler.fit(train, split.train.length, FEATURE_NAMES.length);
    forest = IsolationForest.fit(
      scaler.transform(train, split.train.length),
      split.train.length,
      FEATURE_NAMES.length,
      params,
    );
    const testX = scaler.transform(featureMatrix(usable, split.test), split.test.length);
    const decision = forest.decisionFunction(testX, split.test.length);
    const yTrue = split.test.map((i) => labels[i]);
    const yPred = Array.from(decision, (d) => d < 0);
    const anomalousness = decision.map((d) => -d);
    report = {
      kind: "holdout",
      train_rows: split.train.length,
      test_rows: split.test.length,
      test_fraction: testFraction,
      holdout: {
        ...classificationReport(yTrue, yPred),
        roc_auc: definedOrNull(rocAuc(yTrue, anomalousness)),
        average_precision: definedOrNull(averagePrecision(yTrue, anomalousness)),
      },
      train_scores: trainScores(forest, scaler, train, split.train.length),
    };
  } else {
    const all = featureMatrix(usable, null);
    scaler = StandardScaler.fit(all, usable.length, FEATURE_NAMES.length);
    forest = IsolationForest.fit(
      scaler.transform(all, usable.length),
      usable.length,
      FEATURE_NAMES.length,
      params,
    );
    report = {
      kind: "unlabelled",
      train_rows: usable.length,
      train_scores: trainScores(forest, scaler, all, usable.length),
    };
  }

  let fromTs = Infinity, toTs = -Infinity;
  for (const r of usable) {
    if (r.ts_ms < fromTs) fromTs = r.ts_ms;
    if (r.ts_ms > toTs) toTs = r.ts_ms;
  }
  const bundle = modelToBundle({ scaler, forest }, {
    id: opts.id,
    createdAt: opts.createdAt,
    training: {
      rows: usable.length,
      symbols: [...new Set(usable.map((r) => r.symbol))].sort(),
      from_ts: fromTs,
      to_ts: toTs,
      report,
    },
  });
  if (opts.detection) {
    const calibration = fitDetection(rows, opts.detection);
    if (calibration) {
      return parseBundle({
        ...bundle,
        detection: { model: opts.detection.model, budget: opts.detection.budget, calibration },
      });
    }
  }
  return bundle;
}

/**
 * Detection v2's calibration from training rows: each symbol's rows go, in
 * time order, through a fresh scores stage of the model (HST learns as it
 * would live); null when no row has robust features.
 */
function fitDetection(
  rows: readonly FeatureRow[],
  o: { model: DetectionModel; budget: number; gapMs?: number },
): Calibration | null {
  const scorers = new Map<string, SymbolScorer>();
  const events: ScoredEvent[] = [];
  for (const r of rows) {
    const f = robustOf(r);
    if (f === null) continue;
    let sc = scorers.get(r.symbol);
    if (!sc) scorers.set(r.symbol, sc = new SymbolScorer(o.model));
    const scores = sc.scores(f);
    if (f.robust_ready) events.push({ symbol: r.symbol, ts_ms: r.ts_ms, scores });
  }
  if (events.length === 0) return null;
  return fitRobustCalibration(events, o);
}

/** Row-major features of `rows[indices]` (all rows when `indices` is null). */
function featureMatrix(
  rows: readonly FeatureRow[],
  indices: readonly number[] | null,
): Float64Array {
  const n = indices ? indices.length : rows.length;
  const cols = FEATURE_NAMES.length;
  const X = new Float64Array(n * cols);
  for (let i = 0; i < n; i++) X.set(featureArray(rows[indices ? indices[i] : i]), i * cols);
  return X;
}

function trainScores(
  forest: IsolationForest,
  scaler: StandardScaler,
  raw: Float64Array,
  rows: number,
) {
  return scoreDistribution(forest.decisionFunction(scaler.transform(raw, rows), rows));
}

function definedOrNull(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}
