/**
 * The evaluation harness (`deno task eval`, issue 6): runs Sentinel's own
 * detection path (FeatureEngine → trainBundle → Scorer via predictRows, the
 * code the live worker and trainer run) over a labelled stream, next to the
 * seed's method (one-minute tumbling windows, features/tumbling.ts, same
 * forest settings), and measures both with model/evaluate.ts.
 *
 *   deno task eval                                  # 24 simulated hours, 3 symbols, seed 42
 *   deno task eval --sweep                          # + the contamination trade-off table
 *   deno task eval --winsorize=5                    # + Sentinel with WINSORIZE_SIGMA=5
 *   deno task eval --file=BTCUSDT-trades-2024-03-01.zip --symbol=BTC-USDT
 *   deno task eval --help
 *
 * The first `--train-hours` of the stream train the models; only the rest
 * (the test period) is scored and measured, so no model ever sees a test
 * event. Feature windows do run on across the boundary, as they would live.
 *
 * Progress goes to stderr; the Markdown tables to stdout (or, with
 * `--json-only`, the JSON document); both are written to `<out>.json` and
 * `<out>.md` (default `bench/eval.json`, `bench/eval.md`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConfigError, parseConfig } from "../config.ts";
import {
  type AnomalyType,
  eventTimeMs,
  FEATURE_NAMES,
  type FeatureName,
  type FeatureRow,
  type MarketEvent,
  type Prediction,
} from "../lib/contracts.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { formatReplayProgress, ReplaySource } from "../ingest/replay.ts";
import { FeatureEngine } from "../features/features.ts";
import { TumblingWindows, type WindowRow } from "../features/tumbling.ts";
import { type Bundle, type HoldoutMetrics, Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { labelOf, predictRows } from "../model/predict.ts";
import { scoreDistribution, type ScoreSummary } from "../model/metrics.ts";
import { compact, renderMarkdown, renderSeedsMarkdown } from "./eval_markdown.ts";
import {
  type Alert,
  AlertClass,
  classifyAlerts,
  DEFAULT_SHADOW_MS,
  DEFAULT_TOLERANCE_MS,
  type DetectorReport,
  evaluateDetector,
  type FalsePositiveAnatomy,
  falsePositiveAnatomy,
  type LabelledStream,
} from "../model/evaluate.ts";
import { SIM_PROFILES, type SimProfile, simulateEvents } from "../ingest/simulate.ts";
import {
  EpisodeCollector,
  type EpisodeDetection,
  episodeReport,
  INCIDENT_COLUMNS,
  incidentCsvLine,
  type IncidentReport,
  incidentReport,
  incidentsFromAlerts,
  PREDICTION_COLUMNS,
  predictionCsvLine,
  RuleBaseline,
  SentinelV2,
  type SummaryEntry,
  type V2Detector,
} from "./eval_v2.ts";

// ---------------------------------------------------------------- options

/** Contamination values of `--sweep`. */
export const SWEEP_CONTAMINATIONS: readonly number[] = [0.002, 0.005, 0.01, 0.02, 0.03, 0.05];
/** Simulated streams start here (fixed, so every run of a seed is the same stream). */
export const SIMULATED_START_MS = Date.UTC(2024, 0, 1);
const HOUR_MS = 3_600_000;
const BATCH_ROWS = 4096;
const TOP_ALERTS = 20;
const MAX_LISTED_ALERTS = 1000;

/** Everything a run depends on. */
export interface EvalOptions {
  seed: number;
  /** simulated hours (ignored with `file`) */
  hours: number;
  symbols: string[];
  anomalyProbability: number;
  frequencySeconds: number;
  windowSeconds: number;
  minWindowEvents: number;
  contamination: number | "auto";
  trees: number;
  trainHours: number;
  /** contaminations to sweep, or null */
  sweep: number[] | null;
  /** a recorded file (ReplaySource) instead of the simulator */
  file: string | null;
  /** symbol of a Binance CSV whose name does not say it */
  fileSymbol: string | null;
  /** also run Sentinel with WINSORIZE_SIGMA=k: what enters the window is clipped to mean ± k·std (null: off) */
  winsorize: number | null;
  toleranceMs: number;
  /** ALERT_BUDGET: false incidents per symbol-hour the v2 detectors are calibrated to */
  budget: number;
  /** the simulator's profile (ignored with `file`); `seed` is the stream the targets are set on */
  profile?: SimProfile;
  /** write every test event's Sentinel v2 verdict as CSV here (null: no file) */
  predictionsOut?: string | null;
  /** write Sentinel v2's incidents as CSV here (null: no file) */
  incidentsOut?: string | null;
  /** INCIDENT_GAP_SECONDS, in ms */
  gapMs: number;
}

/** Where progress lines go (stderr in the CLI, nowhere in tests). */
export type ProgressSink = (line: string, final?: boolean) => void;

// ---------------------------------------------------------------- detectors

/** Something that turns events into feature rows, one per event (FeatureEngine's shape). */
interface RowMaker {
  update(e: MarketEvent): FeatureRow;
}

/** One scorer's verdicts over the test period. */
interface Verdicts {
  contamination: number | "auto";
  bundle: Bundle;
  scorer: Scorer;
  flagged: boolean[];
  score: number[];
  /** the flagged predictions, in stream order: the alerts */
  alerts: Prediction[];
}

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
class EventDetector {
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
class WindowDetector {
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

// ---------------------------------------------------------------- results

/** One feature's part in an alert: its value and how far the model's scaler puts it from normal. */
export interface Driver {
  feature: FeatureName;
  value: number;
  /** (value − training mean) / training std, as the forest sees it */
  z: number;
}

/** An alert as the report lists it. */
export interface AlertDetail {
  ts_ms: number;
  time: string;
  symbol: string;
  anomaly_score: number;
  price?: number;
  volume?: number;
  /** the event's label, when known */
  label: boolean | null;
  anomaly_type: AnomalyType | null;
  /** the five features, largest |z| first */
  drivers: Driver[];
}

/** One detector at one contamination. */
export interface DetectorResult {
  detector: string;
  label: string;
  contamination: number | "auto";
  model: {
    id: string;
    training_rows: number;
    /** event time of the first and last training row (the baseline's: window closes) */
    trained_from: string;
    trained_to: string;
    offset: number;
    /** the trainer's own holdout report (stratified 20% of the training period), when labelled */
    holdout: HoldoutMetrics | null;
  };
  /** decision function over the scored test rows */
  score_distribution: ScoreSummary | null;
  /** null for an unlabelled stream */
  report: DetectorReport | null;
  /** which feature drove the false alarms (largest |z|), counts; labelled streams only */
  false_alarm_drivers: Partial<Record<FeatureName, number>> | null;
  /** where the event-level false positives come from; labelled streams only */
  false_positive_anatomy: FalsePositiveAnatomy | null;
  alerts: number;
  alerts_per_hour: number | null;
  alerts_per_symbol_hour: number | null;
  top_alerts: AlertDetail[];
  /** v2 detectors: alerts per driving channel */
  alert_drivers?: Record<string, number>;
  /** v2 detectors: incidents formed */
  incident_count?: number;
  /** every alert, time order, up to 1000 (unlabelled streams only) */
  alert_list?: AlertDetail[];
  alert_list_truncated?: boolean;
}

/** The whole evaluation. */
export interface EvalResult {
  generated_by: string;
  command: string;
  options: EvalOptions;
  stream: {
    kind: "simulated" | "file";
    file: string | null;
    labelled: boolean;
    symbols: string[];
    events: number;
    train_events: number;
    test_events: number;
    train_from: string;
    test_from: string;
    test_to: string;
    test_hours: number;
    test_symbol_hours: number;
    injected: Partial<Record<AnomalyType | "ALL", number>>;
  };
  /** the main table: every detector at `options.contamination` */
  detectors: DetectorResult[];
  /** `--sweep`: every detector at every swept contamination */
  sweep: DetectorResult[] | null;
  /** incident-level figures per detector (labelled streams) */
  incidents: Record<string, IncidentReport> | null;
  /** the figures detection v2 is judged on, per detector (labelled streams) */
  summary: Record<string, SummaryEntry> | null;
  /** episode-level detection per detector and type (labelled streams) */
  episodes: Record<string, Record<string, EpisodeDetection>> | null;
  /** detectors that could not train on this stream, with why */
  skipped: Record<string, string>;
  runtime: { seconds: number; events_per_second: number; phases: Record<string, number> };
  machine: Record<string, string | number>;
}

const iso = (ms: number) => new Date(ms).toISOString();

function driversOf(p: Prediction, scorer: Scorer): Driver[] {
  const raw = new Float64Array([
    p.z_score_price,
    p.z_score_log_return,
    p.z_score_volume,
    p.rolling_price_std,
    p.rolling_volume_std,
  ]);
  const z = scorer.scaler.transformRow(raw, new Float64Array(raw.length));
  return FEATURE_NAMES.map((feature, k) => ({ feature, value: raw[k], z: z[k] }))
    .sort((a, b) => Math.abs(b.z) - Math.abs(a.z));
}

function detail(p: Prediction, scorer: Scorer): AlertDetail {
  const d: AlertDetail = {
    ts_ms: p.ts_ms,
    time: iso(p.ts_ms),
    symbol: p.symbol,
    anomaly_score: p.anomaly_score,
    label: p.label,
    anomaly_type: p.anomaly_type ?? null,
    drivers: driversOf(p, scorer),
  };
  if (p.price !== undefined) d.price = p.price;
  if (p.volume !== undefined) d.volume = p.volume;
  return d;
}

// ---------------------------------------------------------------- the run

/**
 * Runs one evaluation: streams the events once, trains at the end of the
 * training period, scores the test period in batches, then measures.
 */
export async function runEvaluation(
  o: EvalOptions,
  progress: ProgressSink = () => {},
  command = "deno task eval",
): Promise<EvalResult> {
  const t0 = performance.now();
  const phases: Record<string, number> = {};
  const contaminations = [...new Set([o.contamination, ...(o.sweep ?? [])])];
  const trainMs = o.trainHours * HOUR_MS;
  const eventDetectors = [
    new EventDetector("sentinel", "Sentinel (rolling window, per event)", new FeatureEngine(o)),
  ];
  if (o.winsorize !== null) {
    eventDetectors.push(
      new EventDetector(
        `sentinel_winsorized_${o.winsorize}`,
        `Sentinel, WINSORIZE_SIGMA=${o.winsorize}`,
        new FeatureEngine({
          windowSeconds: o.windowSeconds,
          minWindowEvents: o.minWindowEvents,
          winsorizeSigma: o.winsorize,
        }),
      ),
    );
  }
  const baseline = new WindowDetector(o);
  const enc = new TextEncoder();
  const predFile = o.predictionsOut
    ? Deno.openSync(o.predictionsOut, { write: true, create: true, truncate: true })
    : null;
  let predBuf = predFile ? PREDICTION_COLUMNS.join(",") + "\n" : "";
  const flushPred = (force: boolean) => {
    if (predFile && (force || predBuf.length > 1 << 20)) {
      const bytes = enc.encode(predBuf);
      let off = 0;
      while (off < bytes.length) off += predFile.writeSync(bytes.subarray(off));
      predBuf = "";
    }
  };
  const episodes = new EpisodeCollector();
  const skipped: Record<string, string> = {};
  const v2: V2Detector[] = [
    new SentinelV2({
      budget: o.budget,
      gapMs: o.gapMs,
      onTest: predFile
        ? (e, ts, f, v) => {
          predBuf += predictionCsvLine(e, ts, f, v);
          flushPred(false);
        }
        : undefined,
    }),
    new SentinelV2({
      budget: o.budget,
      gapMs: o.gapMs,
      model: "hst",
      name: "sentinel_v2_hst",
      label: "Sentinel v2, MODEL=hst (Half-Space Trees, online)",
    }),
    new SentinelV2({
      budget: o.budget,
      gapMs: o.gapMs,
      model: "combo",
      name: "sentinel_v2_combo",
      label: "Sentinel v2, MODEL=combo (robust channels + HST)",
    }),
    new RuleBaseline({ budget: o.budget, gapMs: o.gapMs }),
    new RuleBaseline({ budget: o.budget, gapMs: o.gapMs, useLabels: false }),
  ];

  // Test-period columns.
  const ts: number[] = [], symbol: string[] = [], isAnomaly: boolean[] = [];
  const type: (AnomalyType | null)[] = [];
  let labelled = true;
  let firstTs: number | null = null, lastTs = -Infinity;
  // From the first event's whole second, simulated or recorded alike (see below).
  let trainEnd: number | null = null;
  let trained = false, events = 0, trainEvents = 0;
  const testSpan = new Map<string, [number, number]>();
  let trainT = 0;

  const push = (e: MarketEvent) => {
    const t = eventTimeMs(e);
    events++;
    firstTs ??= t;
    // The training period starts at the first event's whole second, so a
    // simulated stream written to a file (a realistic profile's first trade
    // falls some time after the start) is cut exactly where the in-memory run
    // cuts it; on the seed profile the first event is at the start itself.
    trainEnd ??= Math.floor(t / 1000) * 1000 + trainMs;
    if (t > lastTs) lastTs = t;
    // Once the models are trained, everything is test (a late event cannot join the training).
    const test = trained || t >= trainEnd;
    if (test && !trained) {
      const tt = performance.now();
      progress(
        `eval: training on ${trainEvents} events (${contaminations.length} model(s) per detector)`,
      );
      for (const d of [...eventDetectors]) {
        try {
          d.train(contaminations, o, trainEnd);
        } catch (err) {
          // e.g. a thin market never fills the seed's 60 s window: no forest to fit
          skipped[d.name] = err instanceof Error ? err.message : String(err);
          eventDetectors.splice(eventDetectors.indexOf(d), 1);
          progress(`eval: ${d.label} cannot train here: ${skipped[d.name]}`, true);
        }
      }
      for (const d of v2) d.train();
      trained = true;
      trainT += performance.now() - tt;
    }
    for (const d of eventDetectors) d.push(e, test);
    for (const d of v2) d.push(e, test);
    baseline.push(e, test);
    if (!test) {
      trainEvents++;
      return;
    }
    const label = labelOf(e);
    if (label === null) labelled = false;
    episodes.push(e, t);
    ts.push(t);
    symbol.push(e.symbol);
    isAnomaly.push(label === true);
    type.push(label === true ? e.anomaly_type ?? null : null);
    const span = testSpan.get(e.symbol);
    if (span === undefined) testSpan.set(e.symbol, [t, t]);
    else {
      if (t < span[0]) span[0] = t;
      if (t > span[1]) span[1] = t;
    }
  };

  const passStart = performance.now();
  if (o.file === null) {
    const stepMs = o.frequencySeconds * 1000;
    const endMs = SIMULATED_START_MS + o.hours * HOUR_MS;
    const total = o.symbols.length * Math.ceil((endMs - SIMULATED_START_MS) / stepMs);
    const sim = new Simulator({
      symbols: o.symbols,
      seed: o.seed,
      anomalyProbability: o.anomalyProbability,
    });
    const profile = o.profile ?? "seed";
    const simulated = profile === "seed"
      ? simulatedEvents(sim, { startMs: SIMULATED_START_MS, stepMs, endMs })
      : simulateEvents({
        profile,
        seed: o.seed,
        symbols: o.symbols,
        startMs: SIMULATED_START_MS,
        endMs,
        anomalyProbability: o.anomalyProbability,
      });
    let nextReport = performance.now() + 1000;
    for (const e of simulated) {
      push(e);
      if ((events & 0x3fff) === 0 && performance.now() >= nextReport) {
        const secs = (performance.now() - passStart) / 1000;
        const rate = events / secs;
        progress(
          profile === "seed"
            ? `eval: ${compact(events)}/${compact(total)} events, ${compact(rate)}/s, ` +
              `ETA ${Math.ceil((total - events) / rate)}s`
            : `eval: ${compact(events)} events (${profile}), ${compact(rate)}/s`,
        );
        nextReport = performance.now() + 1000;
      }
    }
  } else {
    const replay = new ReplaySource({
      path: o.file,
      symbols: o.symbols,
      symbol: o.fileSymbol,
      speed: "max",
      logger: { info: (m) => progress(m, true), warn: (m) => progress(`warning: ${m}`, true) },
      onProgress: (p) => progress(`eval: ${formatReplayProgress(p)}`, p.done),
    });
    for await (const { event } of replay.events()) push(event);
    const rejected = Object.values(replay.stats().rejected).reduce((a, b) => a + (b ?? 0), 0);
    if (rejected > 0) progress(`eval: ${rejected} malformed line(s) skipped`, true);
  }
  if (firstTs === null) throw new Error("the stream holds no events");
  if (!trained) {
    const hours = (lastTs - firstTs) / HOUR_MS;
    throw new Error(
      `the stream spans ${hours.toFixed(2)} h, not more than --train-hours=${o.trainHours}: ` +
        `nothing is left to test (use a shorter --train-hours)`,
    );
  }
  for (const d of eventDetectors) d.flush();
  phases.stream_features_scoring = (performance.now() - passStart - trainT) / 1000;
  phases.training = trainT / 1000;

  flushPred(true);
  predFile?.close();
  const tb = performance.now();
  const withBaseline: (EventDetector | WindowDetector)[] = [...eventDetectors];
  try {
    baseline.finish(contaminations, o, trainEnd!, symbol);
    withBaseline.push(baseline);
  } catch (err) {
    skipped[baseline.name] = err instanceof Error ? err.message : String(err);
    progress(`eval: ${baseline.label} cannot train here: ${skipped[baseline.name]}`, true);
  }
  phases.baseline = (performance.now() - tb) / 1000;
  progress(`eval: ${compact(events)} events streamed; measuring`, true);

  const tm = performance.now();
  const stream: LabelledStream = { ts_ms: ts, symbol, is_anomaly: isAnomaly, anomaly_type: type };
  const testEnd = o.file === null ? SIMULATED_START_MS + o.hours * HOUR_MS : lastTs;
  const testHours = (testEnd - trainEnd!) / HOUR_MS;
  const symbolHours = o.file === null
    ? testHours * o.symbols.length
    : [...testSpan.values()].reduce((a, [lo, hi]) => a + (hi - lo) / HOUR_MS, 0);
  const injected: Partial<Record<AnomalyType | "ALL", number>> = { ALL: 0 };
  for (let i = 0; i < type.length; i++) {
    if (!isAnomaly[i]) continue;
    injected.ALL!++;
    const k = type[i];
    if (k !== null) injected[k] = (injected[k] ?? 0) + 1;
  }

  const measure = (name: string, label: string, v: Verdicts): DetectorResult => {
    const alerts: Alert[] = v.alerts.map((p) => ({
      ts_ms: p.ts_ms,
      symbol: p.symbol,
      score: p.anomaly_score,
    }));
    const scored = v.score.filter((s) => !Number.isNaN(s));
    const report = labelled
      ? evaluateDetector(stream, { flagged: v.flagged, anomaly_score: v.score }, alerts, {
        symbolHours,
        toleranceMs: o.toleranceMs,
        shadowMs: Math.max(o.toleranceMs, DEFAULT_SHADOW_MS),
      })
      : null;
    let drivers: Partial<Record<FeatureName, number>> | null = null;
    if (labelled) {
      drivers = {};
      const classes = classifyAlerts(
        stream,
        alerts,
        o.toleranceMs,
        Math.max(o.toleranceMs, DEFAULT_SHADOW_MS),
      );
      for (let j = 0; j < classes.length; j++) {
        if (classes[j] === AlertClass.True) continue;
        const top = driversOf(v.alerts[j], v.scorer)[0].feature;
        drivers[top] = (drivers[top] ?? 0) + 1;
      }
    }
    const strongest = [...v.alerts].sort((a, b) => a.anomaly_score - b.anomaly_score)
      .slice(0, TOP_ALERTS).map((p) => detail(p, v.scorer));
    const holdout = v.bundle.training.report.kind === "holdout"
      ? v.bundle.training.report.holdout
      : null;
    const r: DetectorResult = {
      detector: name,
      label,
      contamination: v.contamination,
      model: {
        id: v.bundle.id,
        training_rows: v.bundle.training.rows,
        trained_from: iso(v.bundle.training.from_ts),
        trained_to: iso(v.bundle.training.to_ts),
        offset: v.bundle.offset,
        holdout,
      },
      score_distribution: scored.length ? scoreDistribution(scored) : null,
      report,
      false_alarm_drivers: drivers,
      false_positive_anatomy: labelled
        ? falsePositiveAnatomy(stream, v.flagged, o.windowSeconds * 1000)
        : null,
      alerts: v.alerts.length,
      alerts_per_hour: testHours > 0 ? v.alerts.length / testHours : null,
      alerts_per_symbol_hour: symbolHours > 0 ? v.alerts.length / symbolHours : null,
      top_alerts: strongest,
    };
    if (!labelled) {
      r.alert_list = v.alerts.slice(0, MAX_LISTED_ALERTS).map((p) => detail(p, v.scorer));
      r.alert_list_truncated = v.alerts.length > MAX_LISTED_ALERTS;
    }
    return r;
  };

  const all: DetectorResult[] = [];
  const incidents: Record<string, IncidentReport> = {};
  const episodeFigures: Record<string, Record<string, EpisodeDetection>> = {};
  const eps = episodes.episodes();
  const v2Results: DetectorResult[] = [];
  for (const d of v2) {
    const v = d.finish();
    if (labelled) episodeFigures[d.name] = episodeReport(eps, v.alerts, o.toleranceMs);
    if (d.name === "sentinel_v2" && o.incidentsOut) {
      await Deno.writeTextFile(
        o.incidentsOut,
        INCIDENT_COLUMNS.join(",") + "\n" + v.incidents.map(incidentCsvLine).join(""),
      );
      progress(`eval: ${v.incidents.length} incidents written to ${o.incidentsOut}`, true);
    }
    const alerts = v.alerts;
    const report = labelled
      ? evaluateDetector(
        stream,
        { flagged: v.flagged, anomaly_score: v.score.map((x) => -x) },
        alerts,
        {
          symbolHours,
          toleranceMs: o.toleranceMs,
          shadowMs: Math.max(o.toleranceMs, DEFAULT_SHADOW_MS),
        },
      )
      : null;
    if (labelled) {
      incidents[d.name] = incidentReport(stream, v.incidents, {
        toleranceMs: o.toleranceMs,
        symbolHours,
      });
    }
    const drivers: Record<string, number> = {};
    for (const k of v.alertDrivers) drivers[k] = (drivers[k] ?? 0) + 1;
    const scored = v.score.filter((x) => !Number.isNaN(x)).map((x) => -x);
    v2Results.push({
      detector: d.name,
      label: d.label,
      contamination: o.contamination,
      model: {
        id: d.name,
        training_rows: trainEvents,
        trained_from: iso(firstTs),
        trained_to: iso(trainEnd!),
        offset: 0,
        holdout: null,
      },
      score_distribution: scored.length ? scoreDistribution(scored) : null,
      report,
      false_alarm_drivers: null,
      false_positive_anatomy: labelled
        ? falsePositiveAnatomy(stream, v.flagged, o.windowSeconds * 1000)
        : null,
      alerts: alerts.length,
      alerts_per_hour: testHours > 0 ? alerts.length / testHours : null,
      alerts_per_symbol_hour: symbolHours > 0 ? alerts.length / symbolHours : null,
      alert_drivers: drivers,
      incident_count: v.incidents.length,
      top_alerts: [],
    });
  }
  for (const c of contaminations) {
    for (const d of withBaseline) {
      const v = d.verdicts.find((x) => x.contamination === c)!;
      all.push(measure(d.name, d.label, v));
    }
  }
  const main = [...v2Results, ...all.filter((r) => r.contamination === o.contamination)];
  let summary: Record<string, SummaryEntry> | null = null;
  if (labelled) {
    for (const d of all.filter((r) => r.contamination === o.contamination)) {
      const v = withBaseline.find((x) => x.name === d.detector)!
        .verdicts.find((x) => x.contamination === o.contamination)!;
      episodeFigures[d.detector] = episodeReport(
        eps,
        v.alerts.map((p) => ({ ts_ms: p.ts_ms, symbol: p.symbol, score: p.anomaly_score })),
        o.toleranceMs,
      );
      incidents[d.detector] = incidentReport(
        stream,
        incidentsFromAlerts(
          v.alerts.map((p) => ({ ts_ms: p.ts_ms, symbol: p.symbol, score: p.anomaly_score })),
          o.gapMs,
        ),
        { toleranceMs: o.toleranceMs, symbolHours },
      );
    }
    summary = {};
    for (const d of main) summary[d.detector] = summaryOf(d, incidents[d.detector]);
  }
  phases.measuring = (performance.now() - tm) / 1000;
  const seconds = (performance.now() - t0) / 1000;
  return {
    generated_by: "bench/eval.ts",
    command,
    options: o,
    stream: {
      kind: o.file === null ? "simulated" : "file",
      file: o.file,
      labelled,
      symbols: [...testSpan.keys()],
      events,
      train_events: trainEvents,
      test_events: ts.length,
      train_from: iso(firstTs),
      test_from: iso(trainEnd!),
      test_to: iso(testEnd),
      test_hours: testHours,
      test_symbol_hours: symbolHours,
      injected: labelled ? injected : {},
    },
    detectors: main,
    sweep: o.sweep === null ? null : all,
    incidents: labelled ? incidents : null,
    summary,
    episodes: labelled ? episodeFigures : null,
    skipped,
    runtime: { seconds, events_per_second: events / seconds, phases },
    machine: machine(),
  };
}

/** The summary line of one detector (see {@linkcode SummaryEntry}). */
function summaryOf(d: DetectorResult, inc: IncidentReport): SummaryEntry {
  const rep = d.report!;
  const within = (k: AnomalyType | "ALL", ms: number) =>
    rep.detection[k].injected === 0
      ? null
      : rep.detection[k].detected_within.find((h) => h.within_ms === ms)?.rate ?? null;
  const byType: SummaryEntry["by_type"] = {};
  for (const [k, t] of Object.entries(rep.detection)) {
    if (k === "ALL" || t.injected === 0) continue;
    byType[k as AnomalyType] = {
      within_1s: within(k as AnomalyType, 1000),
      within_5s: within(k as AnomalyType, 5000),
    };
  }
  return {
    within_1s: within("ALL", 1000),
    within_5s: within("ALL", 5000),
    false_incidents_per_symbol_hour: inc.false_incidents_per_symbol_hour,
    incident_precision: inc.incident_precision,
    event_f1: rep.event_level.f1,
    by_type: byType,
  };
}

/** Mean over runs of every number in the summaries (same keys), for `summary_mean`. */
export function meanSummary(
  runs: readonly Record<string, SummaryEntry>[],
): Record<string, SummaryEntry> {
  const mean = (xs: (number | null | undefined)[]) => {
    const v = xs.filter((x): x is number => typeof x === "number");
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const out: Record<string, SummaryEntry> = {};
  for (const name of Object.keys(runs[0])) {
    const es = runs.map((r) => r[name]).filter((e) => e !== undefined);
    const types = new Set(es.flatMap((e) => Object.keys(e.by_type)));
    const byType: SummaryEntry["by_type"] = {};
    for (const t of types as Set<AnomalyType>) {
      byType[t] = {
        within_1s: mean(es.map((e) => e.by_type[t]?.within_1s)),
        within_5s: mean(es.map((e) => e.by_type[t]?.within_5s)),
      };
    }
    out[name] = {
      within_1s: mean(es.map((e) => e.within_1s)),
      within_5s: mean(es.map((e) => e.within_5s)),
      false_incidents_per_symbol_hour: mean(es.map((e) => e.false_incidents_per_symbol_hour)),
      incident_precision: mean(es.map((e) => e.incident_precision)),
      event_f1: mean(es.map((e) => e.event_f1)),
      by_type: byType,
    };
  }
  return out;
}

/** The headline figures of one detector in one run (what `--seeds` summarises). */
export interface Headline {
  detector: string;
  label: string;
  alerts_per_symbol_hour: number | null;
  false_alarms_per_symbol_hour: number | null;
  precision: number;
  recall: number;
  f1: number;
  roc_auc: number | null;
  average_precision: number | null;
  detected_1s: number | null;
  detected_5s: number | null;
  detected_60s: number | null;
  median_delay_ms: number | null;
  p95_delay_ms: number | null;
}

/** The headline of every detector of a labelled run (at the main contamination). */
export function headlines(r: EvalResult): Headline[] {
  return r.detectors.map((d) => {
    const rep = d.report;
    if (rep === null) throw new Error("headlines need a labelled stream");
    const all = rep.detection.ALL;
    const within = (ms: number) =>
      all.detected_within.find((h) => h.within_ms === ms)?.rate ?? null;
    return {
      detector: d.detector,
      label: d.label,
      alerts_per_symbol_hour: rep.false_alarms.alerts_per_symbol_hour,
      false_alarms_per_symbol_hour: rep.false_alarms.per_symbol_hour,
      precision: rep.event_level.precision,
      recall: rep.event_level.recall,
      f1: rep.event_level.f1,
      roc_auc: rep.event_level.roc_auc,
      average_precision: rep.event_level.average_precision,
      detected_1s: within(1000),
      detected_5s: within(5000),
      detected_60s: within(60_000),
      median_delay_ms: all.delay_ms.median,
      p95_delay_ms: all.delay_ms.p95,
    };
  });
}

/** Mean, min and max of one figure over the seeds (nulls left out). */
export interface Spread {
  mean: number | null;
  min: number | null;
  max: number | null;
}

/** `--seeds`: the same evaluation on several simulated streams. */
export interface SeedsResult {
  generated_by: string;
  command: string;
  options: EvalOptions;
  seeds: number[];
  runs: {
    seed: number;
    seconds: number;
    headlines: Headline[];
    summary: Record<string, SummaryEntry>;
  }[];
  /** the mean over seeds of each run's `summary` */
  summary_mean: Record<string, SummaryEntry>;
  /** per detector, each headline figure's spread over the seeds */
  summary: { detector: string; label: string; figures: Record<string, Spread> }[];
  runtime: { seconds: number };
  machine: Record<string, string | number>;
}

/** Runs the evaluation once per seed (stream and forest seed alike) and summarises the spread. */
export async function runSeeds(
  o: EvalOptions,
  seeds: readonly number[],
  progress: ProgressSink = () => {},
  command = "deno task eval",
): Promise<SeedsResult> {
  const t0 = performance.now();
  const runs: SeedsResult["runs"] = [];
  for (const seed of seeds) {
    progress(`eval: seed ${seed} (${runs.length + 1} of ${seeds.length})`, true);
    const r = await runEvaluation({ ...o, seed }, progress, command);
    runs.push({ seed, seconds: r.runtime.seconds, headlines: headlines(r), summary: r.summary! });
  }
  const summary: SeedsResult["summary"] = runs[0].headlines.map((h0, k) => {
    const figures: Record<string, Spread> = {};
    for (const key of Object.keys(h0) as (keyof Headline)[]) {
      if (key === "detector" || key === "label") continue;
      const xs = runs.map((r) => r.headlines[k][key]).filter((x): x is number =>
        typeof x === "number"
      );
      figures[key] = xs.length === 0 ? { mean: null, min: null, max: null } : {
        mean: xs.reduce((a, b) => a + b, 0) / xs.length,
        min: Math.min(...xs),
        max: Math.max(...xs),
      };
    }
    return { detector: h0.detector, label: h0.label, figures };
  });
  return {
    generated_by: "bench/eval.ts",
    command,
    options: o,
    seeds: [...seeds],
    runs,
    summary,
    summary_mean: meanSummary(runs.map((r) => r.summary)),
    runtime: { seconds: (performance.now() - t0) / 1000 },
    machine: machine(),
  };
}

function machine(): Record<string, string | number> {
  // /proc/cpuinfo needs --allow-all under Deno's permission model; lscpu says the same.
  let cpu = "unknown";
  try {
    const out = new Deno.Command("lscpu", { stdout: "piped", stderr: "null" }).outputSync();
    cpu = /Model name:\s*(.*)/.exec(new TextDecoder().decode(out.stdout))?.[1]?.trim() ?? cpu;
  } catch { /* no lscpu */ }
  const m: Record<string, string | number> = {
    cpu,
    cores: navigator.hardwareConcurrency,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
  };
  try {
    m.memory_gib = Math.round(Deno.systemMemoryInfo().total / 2 ** 30);
  } catch { /* no sys permission */ }
  return m;
}

// ---------------------------------------------------------------- CLI

const HELP = `deno task eval [options]

Measures Sentinel's detection (and the seed's method) on a labelled stream.

  --seed=N                 simulator and forest seed (42)
  --hours=H                simulated hours (24)
  --symbols=A-B,C-D        symbols (BTC-USDT,ETH-USDT,BNB-USDT)
  --anomaly-probability=P  share of injected anomalies (0.01)
  --frequency=S            seconds between simulator ticks (0.2)
  --window=S               feature window, seconds, both detectors (60)
  --contamination=C        forest contamination, or auto (0.01)
  --trees=N                trees per forest (200)
  --train-hours=H          start of the stream used for training (1); the rest is the test
  --tolerance=S            an alert within S seconds after a labelled event is not false (5)
  --profile=P              simulator profile: ${
  SIM_PROFILES.join(", ")
} (seed: the stream the targets are set on)
  --predictions-out=F.csv  every test event's Sentinel v2 verdict as CSV (columns: docs/detection.md)
  --incidents-out=F.csv    Sentinel v2's incidents as CSV (columns: docs/detection.md)
  --budget=B               ALERT_BUDGET: false incidents per symbol-hour for the v2 detectors (1)
  --gap=S                  INCIDENT_GAP_SECONDS: alerts closer than S seconds are one incident (5)
  --sweep                  also sweep contamination over ${SWEEP_CONTAMINATIONS.join(", ")}
  --seeds=1-5              repeat on several seeds (1-5 or 1,2,7); summary of the spread
  --winsorize=K            also run Sentinel with WINSORIZE_SIGMA=K (window memory clipped at ±K std)
  --file=PATH              a recorded file (JSONL, Binance trades/aggTrades CSV, .zip)
  --symbol=BASE-QUOTE      symbol of a Binance CSV whose name does not say it
  --out=PREFIX             write PREFIX.json and PREFIX.md (bench/eval)
  --json-only              print the JSON document instead of the tables
  --help`;

// CLI flag of each config variable, so a config error names what the user typed.
const FLAG_OF: Record<string, string> = {
  SEED: "--seed",
  SYMBOLS: "--symbols",
  ANOMALY_PROBABILITY: "--anomaly-probability",
  EVENT_FREQUENCY_SECONDS: "--frequency",
  WINDOW_SECONDS: "--window",
  CONTAMINATION: "--contamination",
  N_ESTIMATORS: "--trees",
  REPLAY_SYMBOL: "--symbol",
  ALERT_BUDGET: "--budget",
  INCIDENT_GAP_SECONDS: "--gap",
};

/** Parses the command line into options (defaults from config.ts); throws a readable Error. */
export function parseEvalArgs(
  argv: string[],
): EvalOptions & { out: string; jsonOnly: boolean; seeds: number[] | null } {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      seed: { type: "string" },
      hours: { type: "string", default: "24" },
      symbols: { type: "string" },
      "anomaly-probability": { type: "string" },
      frequency: { type: "string" },
      window: { type: "string" },
      contamination: { type: "string" },
      trees: { type: "string" },
      "train-hours": { type: "string", default: "1" },
      tolerance: { type: "string", default: String(DEFAULT_TOLERANCE_MS / 1000) },
      budget: { type: "string" },
      profile: { type: "string", default: "seed" },
      "predictions-out": { type: "string" },
      "incidents-out": { type: "string" },
      gap: { type: "string" },
      sweep: { type: "boolean", default: false },
      seeds: { type: "string" },
      winsorize: { type: "string" },
      file: { type: "string" },
      symbol: { type: "string" },
      out: { type: "string", default: "bench/eval" },
      "json-only": { type: "boolean", default: false },
    },
    strict: true,
  });
  // Only the command line counts: SEED=7 in the environment must not change a published figure.
  const env: Record<string, string | undefined> = {
    SEED: a.seed,
    SYMBOLS: a.symbols,
    ANOMALY_PROBABILITY: a["anomaly-probability"],
    EVENT_FREQUENCY_SECONDS: a.frequency,
    WINDOW_SECONDS: a.window,
    CONTAMINATION: a.contamination,
    N_ESTIMATORS: a.trees,
    REPLAY_SYMBOL: a.symbol,
    ALERT_BUDGET: a.budget,
    INCIDENT_GAP_SECONDS: a.gap,
  };
  let c;
  try {
    c = parseConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new Error(
      e.problems.map((p) => `${FLAG_OF[p.variable] ?? p.variable}: ${p.message}`).join("\n"),
    );
  }
  const positive = (flag: string, text: string) => {
    const x = Number(text);
    if (!(text.trim() !== "" && Number.isFinite(x) && x > 0)) {
      throw new Error(`${flag}: got "${text}", expected a number > 0`);
    }
    return x;
  };
  const hours = positive("--hours", a.hours);
  const trainHours = positive("--train-hours", a["train-hours"]);
  if (a.file === undefined && !(trainHours < hours)) {
    throw new Error(`--train-hours (${trainHours}) must be less than --hours (${hours})`);
  }
  const seeds = a.seeds === undefined ? null : parseSeeds(a.seeds);
  if (seeds !== null && (a.file !== undefined || a.sweep)) {
    throw new Error("--seeds runs simulated streams at one contamination: drop --file and --sweep");
  }
  return {
    seeds,
    seed: c.seed,
    hours,
    symbols: c.symbols,
    anomalyProbability: c.anomalyProbability,
    frequencySeconds: c.eventFrequencySeconds,
    windowSeconds: c.windowSeconds,
    minWindowEvents: c.minWindowEvents,
    contamination: c.contamination,
    trees: c.nEstimators,
    trainHours,
    sweep: a.sweep ? [...SWEEP_CONTAMINATIONS] : null,
    file: a.file ?? null,
    fileSymbol: c.replaySymbol,
    winsorize: a.winsorize === undefined ? null : positive("--winsorize", a.winsorize),
    toleranceMs: positive("--tolerance", a.tolerance) * 1000,
    budget: c.alertBudget,
    profile: parseProfile(a.profile),
    predictionsOut: a["predictions-out"] ?? null,
    incidentsOut: a["incidents-out"] ?? null,
    gapMs: c.incidentGapSeconds * 1000,
    out: a.out,
    jsonOnly: a["json-only"],
  };
}

/** `--profile` → a simulator profile, or a readable error. */
function parseProfile(text: string): SimProfile {
  const p = SIM_PROFILES.find((x) => x === text.trim().toLowerCase());
  if (!p) throw new Error(`--profile: got "${text}", expected one of ${SIM_PROFILES.join(", ")}`);
  return p;
}

/** `1-5` or `1,2,7` → seeds. */
function parseSeeds(text: string): number[] {
  const range = /^\s*(-?\d+)\s*-\s*(-?\d+)\s*$/.exec(text);
  const seeds = range
    ? Array.from(
      { length: Number(range[2]) - Number(range[1]) + 1 },
      (_, i) => Number(range[1]) + i,
    )
    : text.split(",").map((x) => (/^\s*-?\d+\s*$/.test(x) ? Number(x) : NaN));
  if (seeds.length === 0 || seeds.length > 100 || seeds.some((x) => !Number.isSafeInteger(x))) {
    throw new Error(`--seeds: got "${text}", expected a range like 1-5 or a list like 1,2,7`);
  }
  return seeds;
}

async function main(): Promise<number> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  let opts;
  try {
    opts = parseEvalArgs(Deno.args);
  } catch (e) {
    console.error(`eval: ${e instanceof Error ? e.message : e}\n(see deno task eval --help)`);
    return 2;
  }
  const { out, jsonOnly, seeds, ...o } = opts;
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let lastLine = 0;
  const progress: ProgressSink = (line, final = false) => {
    const now = performance.now();
    if (tty) {
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${line}${final ? "\n" : ""}`));
    } else if (final || now - lastLine >= 5000) {
      Deno.stderr.writeSync(enc.encode(`${line}\n`));
      lastLine = now;
    }
  };
  const command = ["deno task eval", ...Deno.args].join(" ");
  let json: string, md: string;
  try {
    if (seeds === null) {
      const result = await runEvaluation(o, progress, command);
      progress(`eval: done in ${result.runtime.seconds.toFixed(1)} s`, true);
      json = JSON.stringify(result, null, 2) + "\n";
      md = renderMarkdown(result);
    } else {
      const result = await runSeeds(o, seeds, progress, command);
      progress(`eval: ${seeds.length} seeds done in ${result.runtime.seconds.toFixed(1)} s`, true);
      json = JSON.stringify(result, null, 2) + "\n";
      md = renderSeedsMarkdown(result);
    }
  } catch (e) {
    console.error(`\neval: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  await Deno.writeTextFile(`${out}.json`, json);
  await Deno.writeTextFile(`${out}.md`, md);
  // Through the project's formatter, so a committed bench/eval.md passes `deno fmt --check`.
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", `${out}.md`],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  if (fmt?.success) md = await Deno.readTextFile(`${out}.md`);
  if (jsonOnly) console.log(json.trimEnd());
  else console.log(md + `\nWritten: ${out}.json, ${out}.md`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
