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
 * This file is the command line only; the run is split by concern:
 * eval_options.ts (options, flags, `--help`), eval_stream.ts (simulated or
 * recorded events), eval_detectors.ts and eval_v2.ts (the detectors),
 * eval_run.ts (one run), eval_measure.ts and eval_incidents.ts (the figures),
 * eval_results.ts (the report's shape), eval_seeds.ts (`--seeds`),
 * eval_markdown.ts and eval_csv.ts (the outputs).
 *
 * @module
 */
import { renderMarkdown, renderSeedsMarkdown } from "./eval_markdown.ts";
import { HELP, parseEvalArgs, type ProgressSink } from "./eval_options.ts";
import { runEvaluation } from "./eval_run.ts";
import { runSeeds } from "./eval_seeds.ts";
import { dirname } from "node:path";

/** Runs `deno task eval` with `Deno.args`; resolves to the process exit code. */
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
  // Every output's folder exists before the run, so a long run is not lost at its end.
  for (const f of [`${out}.json`, o.predictionsOut, o.incidentsOut]) {
    const dir = f ? dirname(f) : null;
    if (dir === null) continue;
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      console.error(`eval: cannot write ${f}: ${e instanceof Error ? e.message : e}`);
      return 2;
    }
  }
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
