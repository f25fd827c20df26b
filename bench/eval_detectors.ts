/**
 * The forest detectors the evaluation runs: Sentinel's own path (one feature
 * row per event, scored as the live worker scores, with or without
 * WINSORIZE_SIGMA) and the seed's method (one-minute tumbling windows). Each
 * collects its training rows, trains one forest per contamination at the end
 * of the training period, and keeps its verdicts aligned with the test stream.
 *
 * @module
 */
import type { FeatureRow, MarketEvent, Prediction } from "../lib/contracts.ts";
import { TumblingWindows, type WindowRow } from "../features/tumbling.ts";
import { type Bundle, Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { predictRows } from "../model/predict.ts";
import type { EvalOptions } from "./eval_options.ts";

const BATCH_ROWS = 4096;

/** Something that turns events into feature rows, one per event (FeatureEngine's shape). */
export interface RowMaker {
  update(e: MarketEvent): FeatureRow;
}

/** One scorer's verdicts over the test period. */
export interface Verdicts {
  contamination: number | "auto";
  bundle: Bundle;
  scorer: Scorer;
  flagged: boolean[];
  score: number[];
  /** the flagged predictions, in stream order: the alerts */
  alerts: Prediction[];
}

/** One forest per contamination, trained on `rows`, each with an empty verdict list. */
function trainAll(
  name: string,
  rows: readonly FeatureRow[],
  contaminations: readonly (number | "auto")[],
  o: EvalOptions,
  trainEndMs: number,
): Verdicts[] {
  return contaminations.map((c) => {
    const bundle = trainBundle(rows, {
      id: `eval-${name}-c${c}`,
      createdAt: new Date(trainEndMs).toISOString(),
      nEstimators: o.trees,
      contamination: c,
      seed: o.seed,
    });
    return {
      contamination: c,
      bundle,
      scorer: Scorer.fromBundle(bundle),
      flagged: [],
      score: [],
      alerts: [],
    };
  });
}

/** Sentinel's path (with or without WINSORIZE_SIGMA): one row per event, scored as the live worker scores. */
export class EventDetector {
  readonly trainRows: FeatureRow[] = [];
  verdicts: Verdicts[] = [];
  #batch: FeatureRow[] = [];
  constructor(readonly name: string, readonly label: string, readonly rows: RowMaker) {}

  push(e: MarketEvent, test: boolean): void {
    const row = this.rows.update(e);
    if (!test) this.trainRows.push(row);
    else {
      this.#batch.push(row);
      if (this.#batch.length >= BATCH_ROWS) this.flush();
    }
  }

  train(contaminations: readonly (number | "auto")[], o: EvalOptions, trainEndMs: number): void {
    this.verdicts = trainAll(this.name, this.trainRows, contaminations, o, trainEndMs);
    this.trainRows.length = 0;
  }

  flush(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    for (const v of this.verdicts) {
      const base = v.flagged.length;
      for (let j = 0; j < batch.length; j++) {
        v.flagged.push(false);
        v.score.push(NaN);
      }
      const { predictions, scored } = predictRows(batch, v.scorer);
      for (let j = 0; j < predictions.length; j++) {
        const p = predictions[j];
        v.score[base + scored[j]] = p.anomaly_score;
        if (p.is_anomaly) {
          v.flagged[base + scored[j]] = true;
          v.alerts.push(p);
        }
      }
    }
    this.#batch = [];
  }
}

/** The seed's method: tumbling windows, one row per closed window, alerts at the close. */
export class WindowDetector {
  readonly name = "seed_baseline";
  readonly label = "seed method (1-min tumbling windows)";
  readonly windows: TumblingWindows;
  readonly rows: WindowRow[] = [];
  /** per test event: start of the window it went to */
  readonly eventWindow: number[] = [];
  verdicts: Verdicts[] = [];

  constructor(o: EvalOptions) {
    this.windows = new TumblingWindows(o);
  }

  push(e: MarketEvent, test: boolean): void {
    const closed = this.windows.update(e);
    if (closed) this.rows.push(closed);
    if (test) this.eventWindow.push(this.windows.openWindowStart(e.symbol)!);
  }

  /**
   * Trains on the windows closed by the end of the training period and
   * scores the later ones; each test event takes its window's verdict
   * (every event of a flagged window is predicted positive).
   */
  finish(
    contaminations: readonly (number | "auto")[],
    o: EvalOptions,
    trainEndMs: number,
    testSymbols: readonly string[],
  ): void {
    this.rows.push(...this.windows.flush());
    const train = this.rows.filter((r) => r.ts_ms <= trainEndMs);
    const test = this.rows.filter((r) => r.ts_ms > trainEndMs);
    this.verdicts = trainAll(this.name, train, contaminations, o, trainEndMs);
    for (const v of this.verdicts) {
      const bySymbol = new Map<string, Map<number, Prediction>>();
      const { predictions } = predictRows(test, v.scorer);
      for (const p of predictions) {
        let m = bySymbol.get(p.symbol);
        if (m === undefined) bySymbol.set(p.symbol, m = new Map());
        // The prediction's ts_ms is the window's close; key by the window's start.
        m.set(p.ts_ms - this.windows.widthMs, p);
        if (p.is_anomaly) v.alerts.push(p);
      }
      v.alerts.sort((a, b) => a.ts_ms - b.ts_ms);
      const n = this.eventWindow.length;
      v.flagged = new Array(n);
      v.score = new Array(n);
      for (let i = 0; i < n; i++) {
        const p = bySymbol.get(testSymbols[i])?.get(this.eventWindow[i]);
        v.flagged[i] = p?.is_anomaly ?? false;
        v.score[i] = p?.anomaly_score ?? NaN;
      }
    }
  }
}
