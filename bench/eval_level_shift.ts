/**
 * The cost side of the winsorized-window prototype (docs/evaluation.md):
 * how many alerts a lasting level shift raises, with today's features and
 * with the window winsorized at ±3σ and ±5σ.
 *
 *   deno run -P bench/eval_level_shift.ts
 *
 * Each model is trained as `deno task eval` trains it (the first hour of
 * the default simulated stream, seed 42). Each is then run over 30 clean
 * BTC-like paths of 5 minutes (GBM, σ 0.1% per event, lognormal volume, one
 * event every 0.2 s, no injected anomaly) with a permanent jump at minute 2,
 * counting alerts in the 90 s after the jump and, as the background, in the
 * minute before it (scaled to 90 s).
 *
 * @module
 */
import type { FeatureRow, MarketEvent } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { FeatureEngine } from "../features/features.ts";
import { Scorer } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { predictRows } from "../model/predict.ts";
import { SIMULATED_START_MS } from "./eval_options.ts";

const HOUR_MS = 3_600_000, STEP_MS = 200, PATHS = 30, JUMP_AT = 600; // event index of minute 2
type Maker = () => { update(e: MarketEvent): FeatureRow };
const variants: [string, Maker][] = [
  ["today's window", () => new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 })],
  ["±3σ", () => new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10, winsorizeSigma: 3 })],
  ["±5σ", () => new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10, winsorizeSigma: 5 })],
];

function path(seed: number, jump: number): MarketEvent[] {
  const r = new Random(seed);
  let price = 43_000, prev = price;
  const out: MarketEvent[] = [];
  for (let k = 0; k < 1500; k++) {
    const t = SIMULATED_START_MS + k * STEP_MS;
    price *= Math.exp(-0.5e-6 + 0.001 * r.normal());
    if (k === JUMP_AT) price *= 1 + jump;
    out.push({
      timestamp: Math.floor(t / 1000),
      ts_ms: t,
      symbol: "BTC-USDT",
      price,
      volume: 1.5 * Math.exp(0.5 * r.normal()),
      log_return: Math.log(price / prev),
      is_anomaly: false,
      anomaly_type: null,
      source: "simulated",
    });
    prev = price;
  }
  return out;
}

const jumps = [0.02, 0.05, -0.05];
const round2 = (x: number) => Math.round(x * 100) / 100;
const results: Record<string, Record<string, number>> = {};
for (const [name, make] of variants) {
  const sim = new Simulator({
    symbols: ["BTC-USDT", "ETH-USDT", "BNB-USDT"],
    seed: 42,
    anomalyProbability: 0.01,
  });
  const engine = make();
  const rows = [
    ...simulatedEvents(sim, {
      startMs: SIMULATED_START_MS,
      stepMs: STEP_MS,
      endMs: SIMULATED_START_MS + HOUR_MS,
    }),
  ].map((e) => engine.update(e));
  const scorer = Scorer.fromBundle(
    trainBundle(rows, { id: "level-shift", createdAt: new Date(0).toISOString(), seed: 42 }),
  );
  const row: Record<string, number> = {};
  let background = 0;
  for (const jump of jumps) {
    let after = 0;
    for (let p = 0; p < PATHS; p++) {
      const events = path(1000 + p, jump);
      const tJump = events[JUMP_AT].ts_ms!;
      const fresh = make();
      const { predictions } = predictRows(events.map((e) => fresh.update(e)), scorer);
      for (const q of predictions) {
        if (!q.is_anomaly) continue;
        if (q.ts_ms >= tJump && q.ts_ms < tJump + 90_000) after++;
        // The minute before the jump, once the window is full: the background rate.
        else if (jump === jumps[0] && q.ts_ms >= tJump - 60_000 && q.ts_ms < tJump) background++;
      }
    }
    row[`${jump > 0 ? "+" : ""}${jump * 100}%`] = round2(after / PATHS);
  }
  results[name] = { "background per 90 s": round2((background / PATHS) * 1.5), ...row };
}
console.log(JSON.stringify(results, null, 2));
