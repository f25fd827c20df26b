/**
 * Where the Manual Test presets come from (islands/shared/presets.ts): runs
 * the default simulated stream for an hour of simulated time, trains a model
 * on its first ten minutes as the trainer does, and prints, per kind of row
 * (quiet, PRICE_SPIKE, VOLUME_SPIKE, FLASH_CRASH), how many the model flags
 * and the per-feature median of the rows it classifies as expected; then the
 * presets' verdicts under that model and under the browser suite's faster
 * stream. Pure computation, no I/O but the printout.
 *
 * `deno run -P scripts/manual_presets.ts`
 *
 * @module
 */
import { FEATURE_NAMES, type FeatureRow } from "../lib/contracts.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { PRESETS } from "../islands/shared/presets.ts";

/** A simulated stream as the pipeline would see it. */
export interface StreamSpec {
  /** seconds between ticks (EVENT_FREQUENCY_SECONDS) */
  stepSeconds: number;
  /** ANOMALY_PROBABILITY */
  anomalyProbability: number;
  seed: number;
  /** seconds of stream */
  seconds: number;
}

/** The default configuration's stream (config.ts defaults). */
export const DEFAULT_STREAM: StreamSpec = {
  stepSeconds: 0.2,
  anomalyProbability: 0.01,
  seed: 42,
  seconds: 600,
};

/** The non-warm-up feature rows of a stream over the default symbols and 60 s windows. */
export function streamRows(spec: StreamSpec): FeatureRow[] {
  const sim = new Simulator({
    symbols: ["BTC-USDT", "ETH-USDT", "BNB-USDT"],
    seed: spec.seed,
    anomalyProbability: spec.anomalyProbability,
  });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const start = 1_710_000_000_000;
  const rows: FeatureRow[] = [];
  for (
    const e of simulatedEvents(sim, {
      startMs: start,
      stepMs: spec.stepSeconds * 1000,
      endMs: start + spec.seconds * 1000,
    })
  ) {
    const row = engine.update(e);
    if (!row.warm_up) rows.push(row);
  }
  return rows;
}

/** A scorer trained on `rows` the way the trainer trains (contamination 0.01). */
export function trainedScorer(rows: FeatureRow[], nEstimators: number, seed: number): Scorer {
  return Scorer.fromBundle(
    trainBundle(rows, {
      id: "m-presets",
      createdAt: new Date(0).toISOString(),
      nEstimators,
      contamination: 0.01,
      seed,
    }),
  );
}

/** The q-quantile by linear interpolation between closest ranks (numpy's default). */
function quantile(xs: readonly number[], q: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  const pos = q * (s.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

if (import.meta.main) {
  const hour = streamRows({ ...DEFAULT_STREAM, seconds: 3600 });
  const split = hour.findIndex((r) => r.ts_ms >= hour[0].ts_ms + 600_000);
  const scorer = trainedScorer(hour.slice(0, split), 200, DEFAULT_STREAM.seed);
  const scored = hour.slice(split);
  console.log(`default stream, seed 42: trained on ${split} rows, scoring ${scored.length}\n`);
  for (const kind of [null, "PRICE_SPIKE", "VOLUME_SPIKE", "FLASH_CRASH"] as const) {
    const rows = scored.filter((r) => r.anomaly_type === kind);
    const flagged = rows.filter((r) => scorer.scoreFeatures(r).is_anomaly);
    const typical = kind === null ? rows.filter((r) => !flagged.includes(r)) : flagged;
    console.log(
      `${kind ?? "quiet"}: ${rows.length} rows, ${flagged.length} flagged ` +
        `(${((flagged.length / rows.length) * 100).toFixed(1)} %)`,
    );
    console.log(
      `  ${"feature".padEnd(20)} ${
        ["p5", "p25", "p50", "p75", "p95"].map((q) => q.padStart(9)).join("")
      }` +
        `   median of the ${kind === null ? "passed" : "flagged"}`,
    );
    for (const f of FEATURE_NAMES) {
      const xs = rows.map((r) => r[f]);
      const qs = [0.05, 0.25, 0.5, 0.75, 0.95].map((q) =>
        quantile(xs, q).toPrecision(4).padStart(9)
      );
      const mid = quantile(typical.map((r) => r[f]), 0.5).toPrecision(4);
      console.log(`  ${f.padEnd(20)} ${qs.join("")}   ${mid}`);
    }
  }
  const models = [
    ["default stream (seed 42)", scorer],
    [
      "browser suite stream (0.05 s, 3 %, 120 s, 100 trees)",
      trainedScorer(
        streamRows({ stepSeconds: 0.05, anomalyProbability: 0.03, seed: 42, seconds: 120 }),
        100,
        42,
      ),
    ],
  ] as const;
  for (const [name, s] of models) {
    console.log(`\npresets under the ${name} model:`);
    for (const p of PRESETS) {
      const v = s.scoreFeatures(p.features);
      console.log(
        `  ${p.label.padEnd(13)} ${v.is_anomaly ? "anomaly" : "normal "} score ` +
          `${v.anomaly_score.toFixed(4)} (expected ${p.expected})`,
      );
    }
  }
}
