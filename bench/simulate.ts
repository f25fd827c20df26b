/**
 * How fast `deno task simulate` writes (issue 10's target: ≥ 500 000
 * events/s to a file on one core), and how fast the generator alone runs.
 * One run per profile, on a temporary file; prints progress, then a JSON
 * summary, also written to bench/results/simulate.json.
 *
 *   deno task bench:simulate [--hours=6]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { simulateEvents, type SimulateOptions } from "../ingest/simulate.ts";
import { writeSimulation } from "../ingest/simulate_file.ts";
import { formatSimulationProgress } from "../scripts/simulate.ts";

const { values } = parseArgs({ args: Deno.args, options: { hours: { type: "string" } } });
const hours = Number(values.hours ?? "6");
if (!(hours > 0)) throw new Error(`--hours: got "${values.hours}", expected a number > 0`);

const START = Date.UTC(2024, 0, 1);
const results: Record<string, unknown>[] = [];
const dir = await Deno.makeTempDir({ prefix: "sentinel-simbench-" });
try {
  for (const profile of ["realistic", "busy", "seed"] as const) {
    const o: SimulateOptions = {
      profile,
      seed: 1,
      symbols: ["BTC-USDT", "ETH-USDT", "BNB-USDT"],
      startMs: START,
      endMs: START + (profile === "busy" ? hours / 4 : hours) * 3_600_000,
      anomalyProbability: 0.01,
    };
    let t = performance.now();
    let n = 0;
    for (const _ of simulateEvents(o)) n++;
    const generateS = (performance.now() - t) / 1000;
    t = performance.now();
    const file = `${dir}/${profile}.jsonl`;
    const done = await writeSimulation(o, file, {
      onProgress: (p) => console.error(`${profile}: ${formatSimulationProgress(p)}`),
    });
    const writeS = (performance.now() - t) / 1000;
    await Deno.remove(file);
    results.push({
      profile,
      events: n,
      generate_events_per_s: Math.round(n / generateS),
      write_events_per_s: Math.round(done.events / writeS),
      write_mb_per_s: Math.round(done.bytes / 1e6 / writeS),
    });
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
const json = JSON.stringify({ hours, deno: Deno.version.deno, results }, null, 2);
console.log(json);
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Deno.writeTextFile(new URL("./results/simulate.json", import.meta.url), json + "\n");
