/**
 * `deno task eval --seeds`: the same evaluation on several simulated streams,
 * each run's headline figures, and their spread (mean, min, max) and mean
 * summary over the seeds, so one lucky stream cannot make a figure.
 *
 * @module
 */
import type { AnomalyType } from "../lib/contracts.ts";
import type { SummaryEntry } from "./eval_incidents.ts";
import { machine } from "./eval_machine.ts";
import type { EvalOptions, ProgressSink } from "./eval_options.ts";
import type { EvalResult } from "./eval_results.ts";
import { runEvaluation } from "./eval_run.ts";

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
