/**
 * One evaluation run (`runEvaluation`): streams the events once through every
 * detector, trains them all at the end of the training period, scores the
 * test period, then measures each detector on it. The detectors are in
 * bench/eval_detectors.ts and bench/eval_v2.ts, the figures in
 * bench/eval_measure.ts and bench/eval_incidents.ts; this module is the order
 * they run in and the stream's own figures.
 *
 * @module
 */
import { type AnomalyType, eventTimeMs, type MarketEvent } from "../lib/contracts.ts";
import { FeatureEngine } from "../features/features.ts";
import { labelOf } from "../model/predict.ts";
import type { LabelledStream } from "../model/evaluate.ts";
import { compact } from "./eval_markdown.ts";
import {
  INCIDENT_COLUMNS,
  incidentCsvLine,
  predictionCsvLine,
  PredictionsFile,
} from "./eval_csv.ts";
import { EventDetector, WindowDetector } from "./eval_detectors.ts";
import {
  EpisodeCollector,
  type EpisodeDetection,
  episodeReport,
  type IncidentReport,
  incidentReport,
  incidentsFromAlerts,
  type SummaryEntry,
} from "./eval_incidents.ts";
import { machine } from "./eval_machine.ts";
import { type MeasureContext, measureForest, measureV2, summaryOf } from "./eval_measure.ts";
import {
  type EvalOptions,
  HOUR_MS,
  type ProgressSink,
  SIMULATED_START_MS,
} from "./eval_options.ts";
import { type DetectorResult, type EvalResult, iso } from "./eval_results.ts";
import { streamEvents } from "./eval_stream.ts";
import { RuleBaseline, SentinelV2, type V2Detector } from "./eval_v2.ts";

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
  const predFile = o.predictionsOut ? new PredictionsFile(o.predictionsOut) : null;
  const episodes = new EpisodeCollector();
  const skipped: Record<string, string> = {};
  const v2: V2Detector[] = [
    new SentinelV2({
      budget: o.budget,
      gapMs: o.gapMs,
      onTest: predFile ? (e, ts, f, v) => predFile.add(predictionCsvLine(e, ts, f, v)) : undefined,
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
  await streamEvents(o, progress, push);
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

  const ctx: MeasureContext = { o, stream, labelled, testHours, symbolHours };

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
    if (labelled) {
      incidents[d.name] = incidentReport(stream, v.incidents, {
        toleranceMs: o.toleranceMs,
        symbolHours,
      });
    }
    v2Results.push(
      measureV2(ctx, d, v, { rows: trainEvents, from_ms: firstTs, to_ms: trainEnd! }),
    );
  }
  for (const c of contaminations) {
    for (const d of withBaseline) {
      const v = d.verdicts.find((x) => x.contamination === c)!;
      all.push(measureForest(ctx, d.name, d.label, v));
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
