/**
 * Cost of detection v2's stages per event (issue 9 target: ≤ 2 µs per event
 * on one core for the stages added to the seed features): robust features
 * (`RobustSymbol.update`), channel scores and the calibrated verdict
 * (`judgeScores`), and the incident state machine — each alone, and the
 * whole chain. One iteration = one event of a realistic-profile stream
 * (bursts, repeated prices, three symbols).
 *
 * Run: `deno bench -P bench/detection_bench.ts` (part of `deno task bench`).
 *
 * @module
 */
import { simulateEvents } from "../ingest/simulate.ts";
import { RobustSymbol } from "../features/robust.ts";
import { fitRobustCalibration, judgeScores, SymbolScorer } from "../model/detector.ts";
import { IncidentTracker } from "../model/incidents.ts";
import type { RobustFeatures } from "../features/robust.ts";

const START = Date.UTC(2024, 0, 1);
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const events = [
  ...simulateEvents({
    profile: "realistic",
    seed: 1,
    symbols: SYMBOLS,
    startMs: START,
    endMs: START + 2 * 3_600_000,
    anomalyProbability: 0.01,
  }),
];
// Precompute features and a calibration on the first hour, as the trainer would.
const robust = new Map(SYMBOLS.map((s) => [s, new RobustSymbol()]));
const scorers = new Map(SYMBOLS.map((s) => [s, new SymbolScorer("robust")]));
const feats: RobustFeatures[] = [];
const train = [];
for (const e of events) {
  const f = robust.get(e.symbol)!.update(e.price, e.volume, e.ts_ms!);
  feats.push(f);
  const scores = scorers.get(e.symbol)!.scores(f);
  if (e.ts_ms! < START + 3_600_000 && f.robust_ready) {
    train.push({ symbol: e.symbol, ts_ms: e.ts_ms!, scores });
  }
}
const cal = fitRobustCalibration(train, { budget: 1 });
let sink = 0;

function cycle<T>(make: () => T, step: (state: T, i: number) => number): () => void {
  let state = make();
  let i = 0;
  return () => {
    if (i === events.length) {
      state = make();
      i = 0;
    }
    sink += step(state, i++);
    if (sink === Infinity) throw new Error("unreachable: keeps the result alive");
  };
}

Deno.bench({
  name: "robust features (RobustSymbol.update), realistic stream",
  group: "detection",
  fn: cycle(
    () => new Map(SYMBOLS.map((s) => [s, new RobustSymbol()])),
    (m, i) =>
      m.get(events[i].symbol)!.update(events[i].price, events[i].volume, events[i].ts_ms!).price_z,
  ),
});

Deno.bench({
  name: "scores + calibrated verdict (MODEL=robust)",
  group: "detection",
  fn: cycle(
    () => new Map(SYMBOLS.map((s) => [s, new SymbolScorer("robust")])),
    (m, i) =>
      judgeScores(cal, events[i].symbol, m.get(events[i].symbol)!.scores(feats[i])).severity,
  ),
});

Deno.bench({
  name: "incident state machine",
  group: "detection",
  fn: cycle(
    () => new IncidentTracker({ gapMs: 5000 }),
    (t, i) =>
      t.observe({
        symbol: events[i].symbol,
        ts_ms: events[i].ts_ms!,
        price: events[i].price,
        alert: i % 997 === 0,
        severity: 0.6,
        driver: "price_z",
        price_z: 5,
        model_id: "m",
      }).length,
  ),
});

Deno.bench({
  name: "the whole v2 chain: features → scores → verdict → incidents",
  group: "detection",
  baseline: true,
  fn: cycle(
    () => ({
      robust: new Map(SYMBOLS.map((s) => [s, new RobustSymbol()])),
      scorers: new Map(SYMBOLS.map((s) => [s, new SymbolScorer("robust")])),
      tracker: new IncidentTracker({ gapMs: 5000 }),
    }),
    (st, i) => {
      const e = events[i];
      const f = st.robust.get(e.symbol)!.update(e.price, e.volume, e.ts_ms!);
      const v = judgeScores(cal, e.symbol, st.scorers.get(e.symbol)!.scores(f));
      return st.tracker.observe({
        symbol: e.symbol,
        ts_ms: e.ts_ms!,
        price: e.price,
        alert: v.alert,
        severity: v.severity,
        driver: v.driverName,
        price_z: f.price_z,
        model_id: "m",
      }).length + v.severity;
    },
  ),
});
