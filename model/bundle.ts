/**
 * A trained model as one JSON document (DESIGN.md section 6): scaler, forest,
 * parameters and the training report, validated by the `Bundle` schema, cut
 * into chunks that fit Deno KV values, and turned back into a ready
 * {@linkcode Scorer}. The same JSON is what `tests/fixtures/sklearn_forest.py`
 * writes from a scikit-learn forest.
 *
 * @module
 */
import { z } from "zod";
import {
  describeZodError,
  FEATURE_NAMES,
  featureArray,
  type FeatureVector,
  Symbol as MarketSymbol,
} from "../lib/contracts.ts";
import { IsolationForest, treeProblem } from "./forest.ts";
import { StandardScaler } from "./scaler.ts";
import { Calibration } from "./calibration.ts";

/** The detection v2 models a bundle can carry a calibration for (model/detector.ts's MODELS). */
export const DETECTION_MODELS = ["robust", "hst", "combo"] as const;

/**
 * Detection v2's part of a bundle: which model judges live trades and its
 * per-symbol calibration to the alert budget (model/calibration.ts). Absent
 * in bundles trained before detection v2, or when no training row had its
 * robust features: the forest's verdict is used then.
 */
export const BundleDetection = z.object({
  model: z.enum(DETECTION_MODELS),
  budget: z.number().positive(),
  calibration: Calibration,
});
/** Detection v2's part of a bundle. */
export type BundleDetection = z.infer<typeof BundleDetection>;

/** Bundle ids appear in KV keys and URLs: letters, digits, `.`, `_`, `:`, `-`, at most 128. */
export const BUNDLE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

const count = z.number().int().nonnegative();
const unit = z.number().min(0).max(1);

const ClassScores = z.object({ precision: unit, recall: unit, f1: unit, support: count });

/** Percentiles of `decision_function` over the training rows, and the share below 0. */
export const ScoreDistribution = z.object({
  min: z.number(),
  p1: z.number(),
  p5: z.number(),
  p25: z.number(),
  p50: z.number(),
  p75: z.number(),
  p95: z.number(),
  p99: z.number(),
  max: z.number(),
  flagged_share: unit,
});
/** Percentiles of `decision_function` over the training rows, and the share below 0. */
export type ScoreDistribution = z.infer<typeof ScoreDistribution>;

/** The holdout's classification report (see model/metrics.ts); AUC and AP are null when one class is absent. */
export const HoldoutMetrics = z.object({
  normal: ClassScores,
  anomaly: ClassScores,
  accuracy: unit,
  macro_avg: ClassScores,
  weighted_avg: ClassScores,
  confusion_matrix: z.tuple([z.tuple([count, count]), z.tuple([count, count])]),
  roc_auc: unit.nullable(),
  average_precision: unit.nullable(),
});
/** The holdout's classification report. */
export type HoldoutMetrics = z.infer<typeof HoldoutMetrics>;

/**
 * `training.report`: with labels, a stratified holdout's metrics
 * (`kind: "holdout"`); without, only the training score distribution
 * (`kind: "unlabelled"`).
 */
export const TrainingReport = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("holdout"),
    train_rows: count,
    test_rows: count,
    test_fraction: unit,
    holdout: HoldoutMetrics,
    train_scores: ScoreDistribution,
  }),
  z.object({
    kind: z.literal("unlabelled"),
    train_rows: count,
    train_scores: ScoreDistribution,
  }),
]);
/** `training.report`. */
export type TrainingReport = z.infer<typeof TrainingReport>;

const Tree = z.object({
  feature: z.array(z.number().int()),
  threshold: z.array(z.number()),
  left: z.array(z.number().int()),
  right: z.array(z.number().int()),
  n_samples: z.array(z.number().int()),
}).superRefine((tree, ctx) => {
  const problem = treeProblem(tree, FEATURE_NAMES.length);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const perFeature = <T extends z.ZodType>(item: T) =>
  z.array(item).length(FEATURE_NAMES.length, {
    message: `expected one value per feature (${FEATURE_NAMES.length})`,
  });

/**
 * Schema of a model bundle. Beyond field types it checks what scoring relies
 * on: `feature_names` equal {@linkcode FEATURE_NAMES} in order, one tree per
 * `n_estimators`, every tree well formed (see `treeProblem`) with
 * `max_samples` rows at its root, positive scales, `from_ts <= to_ts`.
 *
 * @example
 * ```ts
 * import { Bundle } from "./bundle.ts";
 * console.log(Bundle.safeParse({ id: "x" }).success); // false
 * ```
 */
export const Bundle = z.object({
  id: z.string().regex(BUNDLE_ID_PATTERN, {
    message: "id must be 1-128 of A-Z a-z 0-9 . _ : - (starting with a letter or digit)",
  }),
  created_at: z.iso.datetime(),
  feature_names: z.array(z.string()).refine(
    (names) =>
      names.length === FEATURE_NAMES.length && names.every((n, i) => n === FEATURE_NAMES[i]),
    { message: `feature_names must be exactly ${FEATURE_NAMES.join(", ")}` },
  ),
  scaler: z.object({
    mean: perFeature(z.number()),
    scale: perFeature(z.number().positive()),
  }),
  params: z.object({
    n_estimators: z.number().int().positive(),
    max_samples: z.number().int().positive(),
    contamination: z.union([z.literal("auto"), z.number().gt(0).max(0.5)]),
    seed: z.number(),
  }),
  offset: z.number(),
  trees: z.array(Tree).min(1),
  detection: BundleDetection.optional(),
  training: z.object({
    rows: count,
    symbols: z.array(MarketSymbol),
    from_ts: count,
    to_ts: count,
    report: TrainingReport,
  }),
}).superRefine((b, ctx) => {
  if (b.trees.length !== b.params.n_estimators) {
    ctx.addIssue({
      code: "custom",
      path: ["trees"],
      message: `${b.trees.length} trees but params.n_estimators is ${b.params.n_estimators}`,
    });
  }
  b.trees.forEach((t, i) => {
    if (t.n_samples.length > 0 && t.n_samples[0] !== b.params.max_samples) {
      ctx.addIssue({
        code: "custom",
        path: ["trees", i, "n_samples", 0],
        message: `root holds ${
          t.n_samples[0]
        } samples but params.max_samples is ${b.params.max_samples}`,
      });
    }
  });
  if (b.training.from_ts > b.training.to_ts) {
    ctx.addIssue({
      code: "custom",
      path: ["training", "from_ts"],
      message: "from_ts is after to_ts",
    });
  }
});
/** A validated model bundle. */
export type Bundle = z.infer<typeof Bundle>;

/** The `training` section of a bundle. */
export type TrainingInfo = Bundle["training"];

/**
 * Parses anything (decoded JSON) into a Bundle, or throws one readable error
 * naming every failing path.
 *
 * @example
 * ```ts
 * import { parseBundle } from "./bundle.ts";
 * try { parseBundle({}); } catch (e) { console.log((e as Error).message.startsWith("invalid bundle")); } // true
 * ```
 */
export function parseBundle(input: unknown): Bundle {
  const r = Bundle.safeParse(input);
  if (!r.success) throw new Error(`invalid bundle: ${describeZodError(r.error)}`);
  return r.data;
}

/** A scaler and a forest, ready to score. */
export interface Model {
  scaler: StandardScaler;
  forest: IsolationForest;
}

/**
 * Builds the scaler and forest a bundle describes. The bundle should come
 * from {@linkcode parseBundle}; the forest re-validates its trees anyway.
 *
 * @example
 * ```ts
 * import { bundleToModel, parseBundle } from "./bundle.ts";
 * const json = JSON.parse(Deno.readTextFileSync("tests/fixtures/sklearn_bundle.json"));
 * const { forest } = bundleToModel(parseBundle(json));
 * console.log(forest.nEstimators); // 25
 * ```
 */
export function bundleToModel(bundle: Bundle): Model {
  const scaler = StandardScaler.fromJSON(bundle.scaler);
  const forest = IsolationForest.fromJSON(
    { params: bundle.params, offset: bundle.offset, trees: bundle.trees },
    FEATURE_NAMES.length,
  );
  return { scaler, forest };
}

/** What {@linkcode modelToBundle} needs besides the model itself. */
export interface BundleMeta {
  id: string;
  /** ISO-8601 time; an argument because model/ never reads the clock. */
  createdAt: string;
  training: TrainingInfo;
}

/**
 * Packs a fitted scaler and forest into a validated bundle (throws if the
 * result is not a valid Bundle, e.g. a bad id or a forest on other columns).
 *
 * @example
 * ```ts ignore
 * const bundle = modelToBundle({ scaler, forest }, { id: "m1", createdAt: "2025-01-01T00:00:00Z", training });
 * ```
 */
export function modelToBundle(model: Model, meta: BundleMeta): Bundle {
  const forest = model.forest.toJSON();
  return parseBundle({
    id: meta.id,
    created_at: meta.createdAt,
    feature_names: [...FEATURE_NAMES],
    scaler: model.scaler.toJSON(),
    params: forest.params,
    offset: forest.offset,
    trees: forest.trees,
    training: meta.training,
  });
}

/**
 * Serialises a bundle to JSON and cuts it into pieces of at most `maxBytes`
 * bytes each, to be stored as consecutive Deno KV values (a value is at most
 * 64 KiB). Non-ASCII characters are written as `\uXXXX` escapes first, so
 * every character is one byte in UTF-8 and in V8's serialisation, and a cut
 * can never split a character.
 *
 * @example
 * ```ts ignore
 * const chunks = encodeBundleChunks(bundle);
 * const same = decodeBundleChunks(chunks);
 * ```
 */
export function encodeBundleChunks(bundle: Bundle, maxBytes = 60_000): string[] {
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
  }
  const json = JSON.stringify(bundle).replace(
    /[\u0080-\uffff]/g,
    (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"),
  );
  const chunks: string[] = [];
  for (let i = 0; i < json.length; i += maxBytes) chunks.push(json.slice(i, i + maxBytes));
  return chunks;
}

/**
 * Joins chunks from {@linkcode encodeBundleChunks} (in order) and parses and
 * validates the bundle; throws a readable error on a missing or corrupt chunk.
 *
 * @example
 * ```ts ignore
 * const bundle = decodeBundleChunks(await readChunks(kv, id));
 * ```
 */
export function decodeBundleChunks(chunks: readonly string[]): Bundle {
  if (chunks.length === 0) throw new Error("invalid bundle: no chunks");
  let json: unknown;
  try {
    json = JSON.parse(chunks.join(""));
  } catch (e) {
    throw new Error(`invalid bundle: chunks do not join into JSON (${(e as Error).message})`);
  }
  return parseBundle(json);
}

/** One row's verdict: sklearn's `decision_function`, the paper's s(x, n), and the flag. */
export interface AnomalyScore {
  /** `decision_function`: negative = anomalous. */
  anomaly_score: number;
  /** 2^(−E[h]/c(ψ)) in (0, 1], higher = more anomalous (= −score_samples). */
  severity: number;
  /** `anomaly_score < 0`. */
  is_anomaly: boolean;
}

/**
 * Scores feature vectors with a bundle's scaler and forest: the one object
 * the live scorer and the `/predict` route hold.
 *
 * @example
 * ```ts
 * import { parseBundle, Scorer } from "./bundle.ts";
 * const json = JSON.parse(Deno.readTextFileSync("tests/fixtures/sklearn_bundle.json"));
 * const scorer = Scorer.fromBundle(parseBundle(json));
 * const r = scorer.scoreFeatures({
 *   z_score_price: 0, z_score_log_return: 0, z_score_volume: 0,
 *   rolling_price_std: 0.0015, rolling_volume_std: 0.45,
 * });
 * console.log(r.is_anomaly); // false
 * ```
 */
export class Scorer {
  /** The bundle id, recorded on every prediction as `model_id`. */
  readonly id: string;
  /** The bundle's scaler. */
  readonly scaler: StandardScaler;
  /** The bundle's forest. */
  readonly forest: IsolationForest;
  /** Detection v2's model and calibration, when the bundle has them. */
  readonly detection: BundleDetection | null;
  readonly #raw = new Float64Array(FEATURE_NAMES.length);
  readonly #scaled = new Float64Array(FEATURE_NAMES.length);

  /** Wraps a model; prefer {@linkcode Scorer.fromBundle}. */
  constructor(id: string, model: Model, detection: BundleDetection | null = null) {
    if (model.scaler.cols !== model.forest.nFeatures) {
      throw new RangeError(
        `scaler has ${model.scaler.cols} columns, forest ${model.forest.nFeatures}`,
      );
    }
    this.id = id;
    this.scaler = model.scaler;
    this.forest = model.forest;
    this.detection = detection;
  }

  /** A scorer for a validated bundle. */
  static fromBundle(bundle: Bundle): Scorer {
    return new Scorer(bundle.id, bundleToModel(bundle), bundle.detection ?? null);
  }

  /** Scales, then scores one feature vector. */
  scoreFeatures(v: FeatureVector): AnomalyScore {
    const raw = this.#raw;
    raw[0] = v.z_score_price;
    raw[1] = v.z_score_log_return;
    raw[2] = v.z_score_volume;
    raw[3] = v.rolling_price_std;
    raw[4] = v.rolling_volume_std;
    return this.#verdict(this.forest.scoreOne(this.scaler.transformRow(raw, this.#scaled)));
  }

  /** Scores many vectors in one batch pass (the fast path for the live scorer). */
  scoreMany(vs: readonly FeatureVector[]): AnomalyScore[] {
    const cols = FEATURE_NAMES.length;
    const X = new Float64Array(vs.length * cols);
    for (let i = 0; i < vs.length; i++) X.set(featureArray(vs[i]), i * cols);
    const scores = this.forest.scoreSamples(this.scaler.transform(X, vs.length), vs.length);
    const out: AnomalyScore[] = new Array(vs.length);
    for (let i = 0; i < vs.length; i++) out[i] = this.#verdict(scores[i]);
    return out;
  }

  #verdict(score: number): AnomalyScore {
    const anomaly_score = score - this.forest.offset;
    return { anomaly_score, severity: -score, is_anomaly: anomaly_score < 0 };
  }
}
