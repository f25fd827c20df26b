/**
 * The benchmark's model, trained in a process of its own
 * (`deno run -P bench/pipeline_model.ts KV_PATH`): one simulated hour of the
 * default stream, fitted and activated in the KV file the benchmark then
 * runs on. Apart so that the resident memory `deno task bench:pipeline`
 * reports is the pipeline's own, not the 54 000 rows and the fit that came
 * before it (~140 MB that V8 keeps once it has grown).
 *
 * @module
 */
import { parseConfig } from "../config.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { trainBundle } from "../model/train.ts";
import { Store } from "../store/kv.ts";

/** The symbols every benchmark run streams. */
export const BENCH_SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

/** Trains the benchmark's model and activates it in the KV file at `path` (`env`: the run's configuration). */
export async function trainBenchModel(path: string, env: Record<string, string>): Promise<void> {
  const config = parseConfig(env);
  const sim = new Simulator({ symbols: BENCH_SYMBOLS, seed: 1, anomalyProbability: 0.01 });
  const engine = new FeatureEngine(config);
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 3_600_000 })]
    .map((e) => engine.update(e));
  // The same choice as the running trainer (sentinel.ts): MODEL=iforest is the seed's forest,
  // every other MODEL is detection v2 calibrated to ALERT_BUDGET.
  const detection = config.model === "iforest"
    ? undefined
    : { model: config.model, budget: config.alertBudget, gapMs: config.incidentGapSeconds * 1000 };
  const bundle = trainBundle(rows, {
    id: "bench",
    createdAt: new Date().toISOString(),
    seed: 1,
    ...(detection ? { detection } : {}),
  });
  const store = await Store.open(path, { retentionMs: config.retentionSeconds * 1000 });
  await store.saveBundle(bundle);
  await store.activate(bundle.id, new Date().toISOString());
  store.close();
}

/** Runs {@linkcode trainBenchModel} in a child process (the caller's heap stays small). */
export async function trainBenchModelApart(
  path: string,
  env: Record<string, string>,
): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P", new URL(import.meta.url).pathname, path, JSON.stringify(env)],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`bench model: the training process exited with ${out.code}`);
}

if (import.meta.main) {
  const [path, env] = Deno.args;
  if (!path || !env) {
    console.error("usage: deno run -P bench/pipeline_model.ts KV_PATH CONFIG_JSON");
    Deno.exit(2);
  }
  await trainBenchModel(path, JSON.parse(env));
}
