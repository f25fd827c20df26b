/**
 * `deno task simulate`: a labelled simulated stream to a JSONL file, as fast
 * as the disk allows, for `DATA_SOURCE=replay`, `deno task eval --file=`,
 * demos and benchmarks.
 *
 *   deno task simulate --profile=realistic --hours=24 --seed=1 --out=data/sim.jsonl
 *   deno task simulate --profile=busy --hours=1 --symbols=BTC-USDT --out=busy.jsonl
 *   deno task simulate --help
 *
 * Flags default to the environment's configuration (SIM_PROFILE, SEED,
 * SYMBOLS, ANOMALY_PROBABILITY, EVENT_FREQUENCY_SECONDS, SIM_EPISODE_*), so
 * the file is the stream `deno task start` would simulate. The stream starts
 * at a fixed time (2024-01-01T00:00:00Z unless `--start`), so the same flags
 * give the same bytes. Progress goes to stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { ConfigError, parseConfig } from "../config.ts";
import { describeZodError, SYMBOL_PATTERN } from "../lib/contracts.ts";
import { SIM_PROFILES } from "../ingest/profiles.ts";
import { type SimulateOptions } from "../ingest/simulate.ts";
import { type SimulationProgress, writeSimulation } from "../ingest/simulate_file.ts";

/** Where simulated files start unless `--start` says otherwise (the evaluation's start). */
export const DEFAULT_START_MS = Date.UTC(2024, 0, 1);

const HELP = `deno task simulate [flags]: write a labelled simulated stream as JSONL MarketEvents

  --profile=P                ${SIM_PROFILES.join(" | ")} (default: SIM_PROFILE, realistic)
  --hours=H                  simulated hours, > 0 (default 1)
  --seed=N                   integer (default: SEED, 42)
  --symbols=A,B              BASE-QUOTE symbols (default: SYMBOLS)
  --anomaly-probability=X    in [0, 1] (default: ANOMALY_PROBABILITY, 0.01)
  --start=T                  ISO time or epoch ms of the first event (default 2024-01-01T00:00:00Z)
  --out=F.jsonl              output file (required)

Replay it: DATA_SOURCE=replay REPLAY_FILE=F.jsonl deno task start
Evaluate it: deno task eval --file=F.jsonl`;

const Flags = z.object({
  profile: z.enum(SIM_PROFILES, { message: `expected one of ${SIM_PROFILES.join(", ")}` }),
  hours: z.coerce.number({ message: "expected a number" }).positive({
    message: "expected a number > 0",
  }).max(24 * 366, { message: "at most a year" }),
  seed: z.coerce.number({ message: "expected an integer" }).int({
    message: "expected an integer",
  }),
  symbols: z.string().transform((s) => s.split(",").map((x) => x.trim().toUpperCase()))
    .pipe(
      z.array(z.string().regex(SYMBOL_PATTERN, { message: "expected BASE-QUOTE like BTC-USDT" }))
        .min(1),
    ),
  anomalyProbability: z.coerce.number({ message: "expected a number" }).min(0, {
    message: "expected a number in [0, 1]",
  }).max(1, { message: "expected a number in [0, 1]" }),
  start: z.string().transform((s, ctx) => {
    const t = /^\d+$/.test(s.trim()) ? Number(s) : Date.parse(s);
    if (!Number.isFinite(t) || t < 0) {
      ctx.addIssue({ code: "custom", message: `got "${s}", expected an ISO time or epoch ms` });
      return z.NEVER;
    }
    return Math.floor(t);
  }),
  out: z.string({ message: "is required (--out=F.jsonl)" }).min(1, { message: "is required" }),
});

/**
 * Turns the command line (and the environment's configuration) into the
 * simulation to run and the file to write. Throws an Error naming the flag.
 *
 * @example
 * ```ts
 * import { parseSimulateArgs } from "./simulate.ts";
 * const r = parseSimulateArgs(["--profile=thin", "--hours=2", "--out=x.jsonl"], {});
 * if (!r.help) console.log(r.options.profile, r.options.endMs - r.options.startMs); // "thin" 7200000
 * ```
 */
export function parseSimulateArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): { help: true } | { help: false; options: SimulateOptions; out: string } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      profile: { type: "string" },
      hours: { type: "string" },
      seed: { type: "string" },
      symbols: { type: "string" },
      "anomaly-probability": { type: "string" },
      start: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { help: true };
  const config = parseConfig(env);
  const r = Flags.safeParse({
    profile: values.profile ?? config.simProfile,
    hours: values.hours ?? "1",
    seed: values.seed ?? String(config.seed),
    symbols: values.symbols ?? config.symbols.join(","),
    anomalyProbability: values["anomaly-probability"] ?? String(config.anomalyProbability),
    start: values.start ?? String(DEFAULT_START_MS),
    out: values.out,
  });
  if (!r.success) {
    throw new Error(
      describeZodError(r.error).replace(
        /(^|; )(\w+)/g,
        (_, sep, name) => `${sep}--${name.replace(/[A-Z]/g, (c: string) => `-${c.toLowerCase()}`)}`,
      ),
    );
  }
  const f = r.data;
  return {
    help: false,
    out: f.out,
    options: {
      profile: f.profile,
      seed: f.seed,
      symbols: [...new Set(f.symbols)],
      startMs: f.start,
      endMs: f.start + Math.round(f.hours * 3_600_000),
      anomalyProbability: f.anomalyProbability,
      stepMs: config.eventFrequencySeconds * 1000,
      episodes: { weights: config.simEpisodeWeights, magnitude: config.simEpisodeMagnitude },
    },
  };
}

/** One progress line: share of simulated time, events, rate, size. */
export function formatSimulationProgress(p: SimulationProgress): string {
  const rate = p.events / Math.max(p.elapsedMs / 1000, 1e-3);
  return `simulate: ${(p.fraction * 100).toFixed(1)}% ${p.events} events, ${
    Math.round(rate).toLocaleString("en-US")
  } events/s, ${(p.bytes / 1e6).toFixed(1)} MB`;
}

if (import.meta.main) {
  let parsed;
  try {
    parsed = parseSimulateArgs(Deno.args, Deno.env.toObject());
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `simulate: ${(e as Error).message}`);
    Deno.exit(2);
  }
  if (parsed.help) {
    console.log(HELP);
    Deno.exit(0);
  }
  const { options: o, out } = parsed;
  console.error(
    `simulate: profile ${o.profile}, seed ${o.seed}, ${o.symbols.join(",")}, ${
      (o.endMs - o.startMs) / 3_600_000
    } h from ${new Date(o.startMs).toISOString()} → ${out}`,
  );
  const done = await writeSimulation(o, out, {
    onProgress: (p) => console.error(formatSimulationProgress(p)),
  });
  console.error(`simulate: wrote ${done.events} events to ${out}`);
}
