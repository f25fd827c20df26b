/**
 * Cost of `FeatureEngine.update` per event (DESIGN.md section 5: target
 * ≤ 1 µs on one core). Each benchmark iteration processes exactly one
 * pre-generated event, so Deno's "time/iter" is the time per event. When a
 * stream is exhausted the engine is replaced by a fresh one (once every
 * 100 000+ events, negligible) so time never runs backwards.
 *
 * Run: `deno bench -P bench/features_bench.ts` (add `--json` for machine-readable output).
 *
 * @module
 */
import type { MarketEvent } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { FeatureEngine } from "../features/features.ts";

const SYMBOLS: [string, number][] = [["BTC-USDT", 43_000], ["ETH-USDT", 2_300], ["BNB-USDT", 320]];
const OPTIONS = { windowSeconds: 60, minWindowEvents: 20 };

/** A random walk per symbol; `stepMs()` gives the time to the next event of the stream. */
function generate(n: number, symbols: [string, number][], stepMs: (rng: Random) => number) {
  const rng = new Random(1);
  const price = new Map(symbols);
  const events: MarketEvent[] = [];
  let t = 1_710_000_000_000;
  for (let i = 0; i < n; i++) {
    t += stepMs(rng);
    const [symbol] = symbols[i % symbols.length];
    const prev = price.get(symbol)!;
    const next = prev * Math.exp(1e-4 * rng.normal());
    price.set(symbol, next);
    events.push({
      timestamp: Math.floor(t / 1000),
      ts_ms: t,
      symbol,
      price: next,
      volume: -Math.log(1 - rng.float()),
      log_return: Math.log(next / prev),
      is_anomaly: false,
      anomaly_type: null,
      trade_id: i,
      source: "simulator",
    });
  }
  return events;
}

/** A benchmark body that feeds one event per call, cycling through `events`. */
function perEvent(events: MarketEvent[]): () => void {
  let engine = new FeatureEngine(OPTIONS);
  let i = 0;
  let sink = 0;
  return () => {
    if (i === events.length) {
      engine = new FeatureEngine(OPTIONS);
      i = 0;
    }
    sink += engine.update(events[i++]).z_score_price;
    if (sink === Infinity) throw new Error("unreachable: keeps the result alive");
  };
}

// ~10 ms between events, three symbols in turn: ~33 events/s per symbol.
const realistic = generate(200_000, SYMBOLS, (rng) => 5 + rng.int(11));
// One symbol at 1000 events/s: every pane holds ~1000 events.
const burst = generate(200_000, [SYMBOLS[0]], () => 1);
// Three symbols, ~1.5 s apart each: a new second on almost every event, so the
// O(W) refresh of the closed-pane cache runs nearly every time (worst case per event).
const sparse = generate(200_000, SYMBOLS, (rng) => 300 + rng.int(400));

Deno.bench({
  name: "update, 3 symbols, event every ~10 ms, W=60 (per event)",
  group: "features",
  baseline: true,
  fn: perEvent(realistic),
});
Deno.bench({
  name: "update, burst 1000 events/s on one symbol, W=60 (per event)",
  group: "features",
  fn: perEvent(burst),
});
Deno.bench({
  name: "update, 3 symbols, one event per ~1.5 s each, W=60 (per event)",
  group: "features",
  fn: perEvent(sparse),
});
