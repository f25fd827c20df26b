/**
 * Evaluation arithmetic for the trainer's report (DESIGN.md section 8):
 * numpy-compatible percentiles, the confusion matrix and classification
 * report, ROC-AUC, average precision, and a seeded stratified split.
 * Every function follows scikit-learn's / numpy's definition so a report read
 * next to a Python notebook says the same thing; `tests/fixtures/sklearn_metrics.json`
 * holds the reference values.
 *
 * Labels are booleans: `true` = anomaly (the positive class), `false` = normal.
 *
 * @module
 */
import type { Random } from "../lib/random.ts";

/**
 * The `p`-th percentile (0–100) of `values`, by numpy's default `linear`
 * method (`np.percentile(values, p)`), including numpy's two-sided lerp that
 * keeps the result monotone in `p`. Does not modify `values`.
 *
 * @example
 * ```ts
 * import { percentile } from "./metrics.ts";
 * console.log(percentile([1, 2, 3, 4], 50)); // 2.5
 * ```
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) throw new RangeError("percentile of an empty sample");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in [0, 100], got ${p}`);
  const sorted = Float64Array.from(values).sort();
  return percentileOfSorted(sorted, p);
}

/**
 * {@linkcode percentile} of an already ascending-sorted sample, so several
 * percentiles of one sample cost one sort.
 *
 * @example
 * ```ts
 * import { percentileOfSorted } from "./metrics.ts";
 * console.log(percentileOfSorted(new Float64Array([1, 2, 3, 4]), 100)); // 4
 * ```
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new RangeError("percentile of an empty sample");
  // numpy divides the percentile by 100 first; keeping that order keeps the last bit equal.
  const virtualIndex = (n - 1) * (p / 100);
  if (virtualIndex >= n - 1) return sorted[n - 1];
  if (virtualIndex <= 0) return sorted[0];
  const lo = Math.floor(virtualIndex);
  const gamma = virtualIndex - lo;
  const a = sorted[lo], b = sorted[lo + 1];
  const diff = b - a;
  // numpy's _lerp interpolates from the nearer end.
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

/** `[[tn, fp], [fn, tp]]`, rows = truth (normal, anomaly), columns = prediction (scikit-learn's layout). */
export type ConfusionMatrix = [[number, number], [number, number]];

/**
 * Counts of truth × prediction, laid out as scikit-learn's
 * `confusion_matrix(y_true, y_pred, labels=[0, 1])`.
 *
 * @example
 * ```ts
 * import { confusionMatrix } from "./metrics.ts";
 * console.log(confusionMatrix([false, true, true], [false, false, true])); // [[1, 0], [1, 1]]
 * ```
 */
export function confusionMatrix(
  yTrue: ArrayLike<boolean>,
  yPred: ArrayLike<boolean>,
): ConfusionMatrix {
  sameLength(yTrue, yPred);
  let tn = 0, fp = 0, fn = 0, tp = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i]) yPred[i] ? tp++ : fn++;
    else yPred[i] ? fp++ : tn++;
  }
  return [[tn, fp], [fn, tp]];
}

/** Precision, recall, F1 and support of one class (or an average of both). */
export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** scikit-learn's `classification_report(..., output_dict=True)` for the two classes, plus the matrix. */
export interface ClassificationReport {
  normal: ClassScores;
  anomaly: ClassScores;
  accuracy: number;
  macro_avg: ClassScores;
  weighted_avg: ClassScores;
  confusion_matrix: ConfusionMatrix;
}

/**
 * Per-class precision, recall, F1 and support, accuracy, macro and weighted
 * averages, and the confusion matrix. A ratio with a zero denominator is 0
 * (scikit-learn's `zero_division=0`).
 *
 * @example
 * ```ts
 * import { classificationReport } from "./metrics.ts";
 * const r = classificationReport([false, false, true, true], [false, true, true, true]);
 * console.log(r.anomaly.precision, r.anomaly.recall); // 0.6666666666666666 1
 * ```
 */
export function classificationReport(
  yTrue: ArrayLike<boolean>,
  yPred: ArrayLike<boolean>,
): ClassificationReport {
  const cm = confusionMatrix(yTrue, yPred);
  const [[tn, fp], [fn, tp]] = cm;
  const normal = classScores(tn, fn, fp);
  const anomaly = classScores(tp, fp, fn);
  const total = tn + fp + fn + tp;
  const avg = (w0: number, w1: number, key: "precision" | "recall" | "f1") =>
    w0 * normal[key] + w1 * anomaly[key];
  const macro = (key: "precision" | "recall" | "f1") => avg(0.5, 0.5, key);
  const weighted = (key: "precision" | "recall" | "f1") =>
    total === 0 ? 0 : (normal.support * normal[key] + anomaly.support * anomaly[key]) / total;
  return {
    normal,
    anomaly,
    accuracy: ratio(tn + tp, total),
    macro_avg: {
      precision: macro("precision"),
      recall: macro("recall"),
      f1: macro("f1"),
      support: total,
    },
    weighted_avg: {
      precision: weighted("precision"),
      recall: weighted("recall"),
      f1: weighted("f1"),
      support: total,
    },
    confusion_matrix: cm,
  };
}

function classScores(truePos: number, falsePos: number, falseNeg: number): ClassScores {
  const precision = ratio(truePos, truePos + falsePos);
  const recall = ratio(truePos, truePos + falseNeg);
  // scikit-learn computes F1 from counts (2tp / (2tp + fp + fn)), not from the rounded ratios.
  const f1 = ratio(2 * truePos, 2 * truePos + falsePos + falseNeg);
  return { precision, recall, f1, support: truePos + falseNeg };
}

function ratio(num: number, den: number): number {
  return den === 0 ? 0 : num / den;
}

/**
 * Area under the ROC curve of `scores` (higher = more anomalous) against
 * `yTrue`, ties counted as half (the trapezoidal rule, identical to
 * scikit-learn's `roc_auc_score`). `NaN` when only one class is present,
 * where scikit-learn raises: the caller decides how to report "undefined".
 *
 * @example
 * ```ts
 * import { rocAuc } from "./metrics.ts";
 * console.log(rocAuc([false, true, false, true], [0.1, 0.9, 0.4, 0.4])); // 0.875
 * ```
 */
export function rocAuc(yTrue: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  sameLength(yTrue, scores);
  const order = descendingOrder(scores);
  let pos = 0, neg = 0;
  for (let i = 0; i < yTrue.length; i++) yTrue[i] ? pos++ : neg++;
  if (pos === 0 || neg === 0) return NaN;
  // Walk thresholds from high to low; each group of tied scores adds one trapezoid.
  let tp = 0, fp = 0, area = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i]];
    let dTp = 0, dFp = 0;
    while (i < order.length && scores[order[i]] === s) {
      yTrue[order[i]] ? dTp++ : dFp++;
      i++;
    }
    area += dFp * (tp + dTp / 2);
    tp += dTp;
    fp += dFp;
  }
  return area / (pos * neg);
}

/**
 * Average precision of `scores` (higher = more anomalous): Σ (Rₙ − Rₙ₋₁) Pₙ
 * over distinct score thresholds, as scikit-learn's `average_precision_score`
 * (no interpolation). `NaN` when there is no positive.
 *
 * @example
 * ```ts
 * import { averagePrecision } from "./metrics.ts";
 * console.log(averagePrecision([false, true, false, true], [0.1, 0.9, 0.4, 0.35])); // 0.8333333333333333
 * ```
 */
export function averagePrecision(yTrue: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  sameLength(yTrue, scores);
  const order = descendingOrder(scores);
  let pos = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i]) pos++;
  if (pos === 0) return NaN;
  let tp = 0, seen = 0, ap = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i]];
    let dTp = 0;
    while (i < order.length && scores[order[i]] === s) {
      if (yTrue[order[i]]) dTp++;
      seen++;
      i++;
    }
    tp += dTp;
    ap += (dTp / pos) * (tp / seen);
  }
  return ap;
}

/** Row indices of a train/test split, each ascending. */
export interface Split {
  train: number[];
  test: number[];
}

/**
 * Splits row indices into train and test, stratified by label: each class
 * sends `round(count × testFraction)` of its rows, chosen by a seeded
 * shuffle, to the test side. Same labels + same seed → same split.
 *
 * @example
 * ```ts
 * import { stratifiedSplit } from "./metrics.ts";
 * import { Random } from "../lib/random.ts";
 * const labels = [false, false, false, false, true, false, false, false, false, true];
 * const { train, test } = stratifiedSplit(labels, 0.2, new Random(1));
 * console.log(train.length, test.length); // 8 2
 * ```
 */
export function stratifiedSplit(
  labels: ArrayLike<boolean>,
  testFraction: number,
  random: Random,
): Split {
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new RangeError(`testFraction must be in [0, 1], got ${testFraction}`);
  }
  const byClass: [number[], number[]] = [[], []];
  for (let i = 0; i < labels.length; i++) byClass[labels[i] ? 1 : 0].push(i);
  const train: number[] = [], test: number[] = [];
  for (const rows of byClass) {
    random.shuffle(rows);
    const nTest = Math.round(rows.length * testFraction);
    for (let i = 0; i < rows.length; i++) (i < nTest ? test : train).push(rows[i]);
  }
  const ascending = (a: number, b: number) => a - b;
  return { train: train.sort(ascending), test: test.sort(ascending) };
}

function descendingOrder(scores: ArrayLike<number>): Int32Array {
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`);
  }
  const order = new Int32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  // Comparisons, not subtraction, so that ±Infinity scores sort instead of producing NaN.
  return order.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : 0));
}

function sameLength(a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) {
    throw new RangeError(`length mismatch: ${a.length} labels vs ${b.length} values`);
  }
}

/** Percentiles of a model's `decision_function` over some rows, and the share flagged (< 0). */
export interface ScoreSummary {
  min: number;
  p1: number;
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  p99: number;
  max: number;
  flagged_share: number;
}

/**
 * Summarises decision-function values the way the unlabelled training report
 * records them: min, numpy-linear p1 … p99, max, and the share below 0.
 *
 * @example
 * ```ts
 * import { scoreDistribution } from "./metrics.ts";
 * const d = scoreDistribution([-0.1, 0.1, 0.2, 0.3]);
 * console.log(d.min, d.p50, d.flagged_share); // -0.1 0.15000000000000002 0.25
 * ```
 */
export function scoreDistribution(decision: ArrayLike<number>): ScoreSummary {
  if (decision.length === 0) throw new RangeError("score distribution of an empty sample");
  const s = Float64Array.from(decision).sort();
  let flagged = 0;
  for (let i = 0; i < s.length; i++) if (s[i] < 0) flagged++;
  return {
    min: s[0],
    p1: percentileOfSorted(s, 1),
    p5: percentileOfSorted(s, 5),
    p25: percentileOfSorted(s, 25),
    p50: percentileOfSorted(s, 50),
    p75: percentileOfSorted(s, 75),
    p95: percentileOfSorted(s, 95),
    p99: percentileOfSorted(s, 99),
    max: s[s.length - 1],
    flagged_share: flagged / s.length,
  };
}
