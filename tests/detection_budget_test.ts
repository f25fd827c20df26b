/**
 * Detection v2 holds its alert budget: on 10 simulated hours with no
 * anomaly at all, trained on the first hour, the false incidents of the
 * other nine hours stay within a stated tolerance of ALERT_BUDGET.
 */
import assert from "node:assert/strict";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { RobustSymbol } from "../features/robust.ts";
import { channelScores, fitRobustCalibration, judge } from "../model/detector.ts";
import { IncidentTracker } from "../model/incidents.ts";

const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

function incidentsPerSymbolHour(budget: number, seed: number): number {
  const sim = new Simulator({ symbols: SYMBOLS, seed, anomalyProbability: 0 });
  const robust = new Map(SYMBOLS.map((s) => [s, new RobustSymbol()]));
  const train: { symbol: string; ts_ms: number; scores: number[] }[] = [];
  let cal = null;
  const tracker = new IncidentTracker({ gapMs: 5000 });
  let incidents = 0;
  for (const e of simulatedEvents(sim, { startMs: START, stepMs: 200, endMs: START + 10 * HOUR })) {
    const f = robust.get(e.symbol)!.update(e.price, e.volume, e.ts_ms!);
    if (e.ts_ms! < START + HOUR) {
      if (f.robust_ready) {
        train.push({ symbol: e.symbol, ts_ms: e.ts_ms!, scores: channelScores(f) });
      }
      continue;
    }
    cal ??= fitRobustCalibration(train, { budget });
    const v = judge(cal, e.symbol, f);
    const changes = tracker.observe({
      symbol: e.symbol,
      ts_ms: e.ts_ms!,
      price: e.price,
      alert: v.alert,
      severity: v.severity,
      driver: v.driverName,
      price_z: f.price_z,
      model_id: "t",
    });
    incidents += changes.filter((c) => c.kind === "opened").length;
  }
  return incidents / (9 * SYMBOLS.length);
}

Deno.test("detection v2: calibration holds ALERT_BUDGET over 10 quiet simulated hours", () => {
  // Tolerance: within a factor 2 of the budget either way (27 symbol-hours:
  // Poisson noise alone is ±20 % at budget 1).
  for (const budget of [1, 4]) {
    const rate = incidentsPerSymbolHour(budget, 3);
    assert.ok(
      rate <= 2 * budget && rate >= budget / 2,
      `budget ${budget}: ${rate.toFixed(2)} per symbol-hour`,
    );
  }
});
