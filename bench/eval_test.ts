import assert from "node:assert/strict";
import type { FeatureRow, MarketEvent } from "../lib/contracts.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { FeatureEngine } from "../features/features.ts";
import { TumblingWindows, type WindowRow } from "../features/tumbling.ts";
import { Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { type EvalOptions, parseEvalArgs, SIMULATED_START_MS } from "./eval_options.ts";
import { runEvaluation } from "./eval_run.ts";
import { headlines, runSeeds } from "./eval_seeds.ts";
import { renderMarkdown, renderSeedsMarkdown } from "./eval_markdown.ts";

// Half an hour of one symbol (9 000 events), 50 trees: a small run, seconds not minutes.
const OPTS: EvalOptions = {
  seed: 7,
  hours: 0.5,
  symbols: ["BTC-USDT"],
  anomalyProbability: 0.01,
  frequencySeconds: 0.2,
  windowSeconds: 60,
  minWindowEvents: 10,
  contamination: 0.01,
  trees: 50,
  trainHours: 0.25,
  sweep: null,
  file: null,
  fileSymbol: null,
  winsorize: null,
  toleranceMs: 5000,
  budget: 1,
  gapMs: 5000,
};
const TRAIN_END = SIMULATED_START_MS + OPTS.trainHours * 3_600_000;
const END = SIMULATED_START_MS + OPTS.hours * 3_600_000;

function events(): MarketEvent[] {
  const sim = new Simulator({ symbols: OPTS.symbols, seed: OPTS.seed, anomalyProbability: 0.01 });
  return [...simulatedEvents(sim, { startMs: SIMULATED_START_MS, stepMs: 200, endMs: END })];
}

const result = await runEvaluation(OPTS);
const byName = (name: string) => result.detectors.find((d) => d.detector === name)!;

Deno.test("eval: the stream is split at --train-hours and no model sees the test period", () => {
  const all = events();
  const test = all.filter((e) => e.ts_ms! >= TRAIN_END);
  assert.equal(result.stream.events, all.length);
  assert.equal(result.stream.test_events, test.length);
  assert.equal(result.stream.train_events, all.length - test.length);
  assert.equal(result.stream.labelled, true);
  assert.equal(result.stream.injected.ALL, test.filter((e) => e.is_anomaly).length);
  assert.equal(result.stream.test_symbol_hours, 0.25);
  for (const d of result.detectors) {
    assert.ok(
      Date.parse(d.model.trained_to) <= TRAIN_END,
      `${d.detector} trained on the test period`,
    );
  }
  assert.ok(Date.parse(byName("sentinel").model.trained_to) < TRAIN_END);
});

Deno.test("eval: Sentinel's figures are those of the live modules, computed directly", () => {
  // Independent route: FeatureEngine rows, trainBundle on the training period, scoreMany
  // on every non-warm-up test row; no predictRows, no harness.
  const engine = new FeatureEngine(OPTS);
  const train: FeatureRow[] = [], test: FeatureRow[] = [];
  for (const e of events()) (e.ts_ms! < TRAIN_END ? train : test).push(engine.update(e));
  const bundle = trainBundle(train, {
    id: "direct",
    createdAt: new Date(TRAIN_END).toISOString(),
    nEstimators: OPTS.trees,
    contamination: OPTS.contamination,
    seed: OPTS.seed,
  });
  const scored = test.filter((r) => !r.warm_up);
  const verdicts = Scorer.fromBundle(bundle).scoreMany(scored);
  const flagged = verdicts.filter((v) => v.is_anomaly).length;
  const tp = scored.filter((r, i) => r.is_anomaly && verdicts[i].is_anomaly).length;
  const s = byName("sentinel");
  assert.equal(s.alerts, flagged);
  assert.equal(s.model.offset, bundle.offset);
  const e = s.report!.event_level;
  assert.equal(e.flagged, flagged);
  assert.equal(e.confusion_matrix[1][1], tp);
  assert.equal(e.positives, test.filter((r) => r.is_anomaly).length);
  assert.equal(e.scored, scored.length);
});

Deno.test("eval: the baseline's figures are those of tumbling windows, computed directly", () => {
  const windows = new TumblingWindows(OPTS);
  const rows: WindowRow[] = [];
  for (const e of events()) {
    const closed = windows.update(e);
    if (closed) rows.push(closed);
  }
  rows.push(...windows.flush());
  assert.equal(rows.length, 30); // 30 minutes, one window each
  const train = rows.filter((r) => r.ts_ms <= TRAIN_END);
  const test = rows.filter((r) => r.ts_ms > TRAIN_END && !r.warm_up);
  const bundle = trainBundle(train, {
    id: "direct",
    createdAt: new Date(TRAIN_END).toISOString(),
    nEstimators: OPTS.trees,
    contamination: OPTS.contamination,
    seed: OPTS.seed,
  });
  const verdicts = Scorer.fromBundle(bundle).scoreMany(test);
  const flaggedWindows = test.filter((_, i) => verdicts[i].is_anomaly);
  const b = byName("seed_baseline");
  assert.equal(b.alerts, flaggedWindows.length);
  // Every event of a flagged window is predicted positive.
  assert.equal(
    b.report!.event_level.flagged,
    flaggedWindows.reduce((a, r) => a + r.window_count, 0),
  );
});

Deno.test("eval: report invariants", () => {
  for (const d of result.detectors) {
    const r = d.report!;
    for (const t of Object.values(r.detection)) {
      const rates = t.detected_within.map((h) => h.detected);
      assert.deepEqual([...rates].sort((a, b) => a - b), rates, "detections grow with the horizon");
      if (t.delay_ms.p95 !== null) assert.ok(t.delay_ms.p95 <= 60_000);
    }
    assert.equal(r.false_alarms.alerts, d.alerts);
    assert.ok(r.false_alarms.false_alarms <= d.alerts);
    assert.ok(r.false_alarms.in_shadow <= r.false_alarms.false_alarms);
    if (d.false_alarm_drivers !== null) {
      // v1 detectors: the feature that drove each false alarm
      const drivers = Object.values(d.false_alarm_drivers).reduce((a, b) => a + b, 0);
      assert.equal(drivers, r.false_alarms.false_alarms);
    } else {
      // v2 detectors: the channel that drove each alert
      const drivers = Object.values(d.alert_drivers ?? {}).reduce((a, b) => a + b, 0);
      assert.equal(drivers, d.alerts);
    }
  }
  const md = renderMarkdown(result);
  assert.match(md, /### Detection by anomaly type/);
  assert.match(md, /\| Sentinel \(rolling window, per event\) \| ALL \|/);
  assert.match(md, /false alarms \/ symbol-hour/);
});

Deno.test("eval: a recorded JSONL file gives the simulated run's figures; unlabelled gives a summary", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-eval-" });
  try {
    const labelled = `${dir}/sim.jsonl`;
    await Deno.writeTextFile(labelled, events().map((e) => JSON.stringify(e)).join("\n") + "\n");
    const r = await runEvaluation({ ...OPTS, file: labelled });
    assert.equal(r.stream.kind, "file");
    assert.equal(r.stream.labelled, true);
    for (const name of ["sentinel", "seed_baseline", "sentinel_v2", "robust_rule"]) {
      const a = r.detectors.find((d) => d.detector === name)!, b = byName(name);
      assert.deepEqual(a.report!.detection, b.report!.detection, name);
      assert.deepEqual(a.report!.event_level, b.report!.event_level, name);
      assert.equal(a.alerts, b.alerts);
    }

    // The same trades without labels (as a recording of a live market would be).
    const unlabelled = `${dir}/market.jsonl`;
    await Deno.writeTextFile(
      unlabelled,
      events().map((e) =>
        JSON.stringify({ ...e, source: "replay", is_anomaly: false, anomaly_type: null })
      ).join("\n") + "\n",
    );
    const u = await runEvaluation({ ...OPTS, file: unlabelled });
    assert.equal(u.stream.labelled, false);
    const s = u.detectors.find((d) => d.detector === "sentinel")!;
    assert.equal(s.report, null);
    assert.ok(s.score_distribution !== null);
    assert.equal(s.alert_list?.length, Math.min(s.alerts, 1000));
    // A file's test period ends at its last event (200 ms before the simulated end).
    const testHours = (END - 200 - TRAIN_END) / 3_600_000;
    assert.equal(u.stream.test_hours, testHours);
    assert.ok(Math.abs(s.alerts_per_hour! - s.alerts / testHours) < 1e-9);
    for (const a of s.alert_list!) {
      assert.ok(a.anomaly_score < 0);
      assert.ok(a.ts_ms >= TRAIN_END);
      const z = a.drivers.map((d) => Math.abs(d.z));
      assert.deepEqual([...z].sort((x, y) => y - x), z, "drivers by |z|, largest first");
    }
    assert.match(renderMarkdown(u), /### Score distribution/);

    // A file shorter than the training period is refused with the reason.
    await assert.rejects(
      () => runEvaluation({ ...OPTS, file: labelled, trainHours: 1 }),
      /spans 0\.50 h, not more than --train-hours=1/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval: command-line options, checked with the flag's name", () => {
  const o = parseEvalArgs([]);
  assert.equal(o.seed, 42);
  assert.equal(o.hours, 24);
  assert.equal(o.trainHours, 1);
  assert.deepEqual(o.symbols, ["BTC-USDT", "ETH-USDT", "BNB-USDT"]);
  assert.equal(o.contamination, 0.01);
  assert.equal(o.trees, 200);
  assert.equal(o.windowSeconds, 60);
  assert.equal(o.sweep, null);
  assert.equal(o.out, "bench/eval");
  const p = parseEvalArgs([
    "--seed=3",
    "--hours=2",
    "--symbols=eth-usdt",
    "--sweep",
    "--winsorize=5",
  ]);
  assert.deepEqual([p.seed, p.hours, p.symbols, p.winsorize], [3, 2, ["ETH-USDT"], 5]);
  assert.ok(p.sweep !== null && p.sweep.includes(0.002) && p.sweep.includes(0.05));
  assert.throws(() => parseEvalArgs(["--contamination=2"]), /^Error: --contamination: got "2"/);
  assert.throws(
    () => parseEvalArgs(["--hours=1", "--train-hours=1"]),
    /--train-hours \(1\) must be less/,
  );
  assert.throws(() => parseEvalArgs(["--hours=0"]), /--hours: got "0"/);
  assert.throws(() => parseEvalArgs(["--bogus"]), /bogus/);
});

Deno.test("eval --seeds: one run per seed, summarised as mean, min and max", async () => {
  const r = await runSeeds({ ...OPTS, hours: 0.4 }, [7, 8]);
  assert.deepEqual(r.seeds, [7, 8]);
  assert.equal(r.runs.length, 2);
  // Seed 7 of the 0.4 h stream is its own run: same figures as a single evaluation.
  const single = headlines(await runEvaluation({ ...OPTS, hours: 0.4 }));
  assert.deepEqual(r.runs[0].headlines, single);
  for (const d of r.summary) {
    const k = r.summary.indexOf(d);
    const f1 = r.runs.map((run) => run.headlines[k].f1);
    assert.equal(d.figures.f1.mean, (f1[0] + f1[1]) / 2);
    assert.equal(d.figures.f1.min, Math.min(...f1));
    assert.equal(d.figures.f1.max, Math.max(...f1));
  }
  assert.match(renderSeedsMarkdown(r), /over 2 seeds \(7, 8\)/);
  assert.deepEqual(parseEvalArgs(["--seeds=1-3"]).seeds, [1, 2, 3]);
  assert.deepEqual(parseEvalArgs(["--seeds=4,9"]).seeds, [4, 9]);
  assert.equal(parseEvalArgs([]).seeds, null);
  assert.throws(() => parseEvalArgs(["--seeds=1,x"]), /--seeds: got "1,x"/);
  assert.throws(() => parseEvalArgs(["--seeds=1-3", "--sweep"]), /drop --file and --sweep/);
});

Deno.test("eval: summary has every detector's v2 keys; the rule baseline and Sentinel v2 run", () => {
  const summary = result.summary!;
  for (const name of ["sentinel_v2", "robust_rule", "sentinel", "seed_baseline"]) {
    const e = summary[name];
    assert.ok(e, `summary.${name}`);
    for (
      const k of [
        "within_1s",
        "within_5s",
        "false_incidents_per_symbol_hour",
        "incident_precision",
        "event_f1",
      ] as const
    ) {
      // a detector with no incident at all has no incident precision
      const ok = typeof e[k] === "number" || (k === "incident_precision" && e[k] === null);
      assert.ok(ok, `${name}.${k}: ${e[k]}`);
    }
    assert.equal(typeof e.by_type.PRICE_SPIKE?.within_1s, "number");
    assert.equal(typeof e.by_type.VOLUME_SPIKE?.within_5s, "number");
  }
  // The rule is a real detector here: it catches the large price anomalies.
  assert.ok(summary.robust_rule.by_type.PRICE_SPIKE!.within_1s! > 0.9);
  // Detection v2 catches every price anomaly of this stream within a second
  // (≥ 5 % moves against a 0.1 % per-event volatility) and keeps its budget.
  assert.ok(summary.sentinel_v2.by_type.PRICE_SPIKE!.within_1s! >= 0.99);
  assert.ok(summary.sentinel_v2.by_type.FLASH_CRASH!.within_1s! >= 0.99);
  assert.ok(summary.sentinel_v2.false_incidents_per_symbol_hour! <= 4);
});

Deno.test("eval: Sentinel v2's alerts are those of the live stages, computed directly", async () => {
  const { RobustSymbol } = await import("../features/robust.ts");
  const { channelScores, fitRobustCalibration, judge } = await import("../model/detector.ts");
  const robust = new RobustSymbol();
  const train: { symbol: string; ts_ms: number; scores: number[] }[] = [];
  const feats = [];
  for (const e of events()) {
    const f = robust.update(e.price, e.volume, e.ts_ms!);
    if (e.ts_ms! < TRAIN_END) {
      if (f.robust_ready) {
        train.push({ symbol: e.symbol, ts_ms: e.ts_ms!, scores: channelScores(f) });
      }
    } else feats.push(f);
  }
  const cal = fitRobustCalibration(train, { budget: 1 });
  const alerts = feats.filter((f) => judge(cal, "BTC-USDT", f).alert).length;
  assert.equal(byName("sentinel_v2").alerts, alerts);
});

Deno.test("eval: a realistic-profile stream written to JSONL evaluates as the in-memory stream", async () => {
  const { simulateEvents } = await import("../ingest/simulate.ts");
  const o: EvalOptions = { ...OPTS, profile: "realistic", hours: 1, trainHours: 0.5, seed: 3 };
  const dir = await Deno.makeTempDir({ prefix: "sentinel-eval-" });
  try {
    const file = `${dir}/realistic.jsonl`;
    const lines = [];
    for (
      const e of simulateEvents({
        profile: "realistic",
        seed: 3,
        symbols: o.symbols,
        startMs: SIMULATED_START_MS,
        endMs: SIMULATED_START_MS + 3_600_000,
        anomalyProbability: o.anomalyProbability,
      })
    ) lines.push(JSON.stringify(e));
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const mem = await runEvaluation(o);
    const fromFile = await runEvaluation({ ...o, file });
    assert.equal(fromFile.stream.test_events, mem.stream.test_events);
    assert.deepEqual(fromFile.stream.injected, mem.stream.injected);
    for (const name of ["sentinel_v2", "robust_rule", "sentinel"]) {
      const a = fromFile.detectors.find((d) => d.detector === name)!;
      const b = mem.detectors.find((d) => d.detector === name)!;
      assert.equal(a.alerts, b.alerts, name);
      assert.deepEqual(a.report!.detection, b.report!.detection, name);
      assert.deepEqual(a.report!.event_level, b.report!.event_level, name);
      assert.deepEqual(fromFile.episodes![name], mem.episodes![name], name);
      assert.equal(fromFile.incidents![name].incidents, mem.incidents![name].incidents, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("eval CLI: output folders that do not exist yet are made before the run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-eval-cli-" });
  try {
    const root = new URL("..", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P",
        "--config",
        `${root}deno.json`,
        `${root}bench/eval.ts`,
        "--hours=0.2",
        "--train-hours=0.1",
        `--out=${dir}/a/e`,
        `--incidents-out=${dir}/b/c/incidents.csv`,
        "--json-only",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const report = JSON.parse(await Deno.readTextFile(`${dir}/a/e.json`));
    assert.ok(report.summary.sentinel_v2, "the written report has detection v2's summary");
    const csv = await Deno.readTextFile(`${dir}/b/c/incidents.csv`);
    assert.match(csv.split("\n")[0], /^id,symbol,type,start_ms/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
