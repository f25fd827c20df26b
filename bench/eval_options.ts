/**
 * What an evaluation run depends on (`EvalOptions`) and how `deno task eval`'s
 * command line sets it: the flags, their defaults (from config.ts, so a flag
 * is checked as its environment variable is), and the `--help` text. Kept
 * apart from the run so the CLI's contract can be read in one place.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ConfigError, parseConfig } from "../config.ts";
import { DEFAULT_TOLERANCE_MS } from "../model/evaluate.ts";
import { SIM_PROFILES, type SimProfile } from "../ingest/simulate.ts";

/** Contamination values of `--sweep`. */
export const SWEEP_CONTAMINATIONS: readonly number[] = [0.002, 0.005, 0.01, 0.02, 0.03, 0.05];
/** Simulated streams start here (fixed, so every run of a seed is the same stream). */
export const SIMULATED_START_MS = Date.UTC(2024, 0, 1);
/** One hour in milliseconds. */
export const HOUR_MS = 3_600_000;

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

/** The text of `deno task eval --help`. */
export const HELP = `deno task eval [options]

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
