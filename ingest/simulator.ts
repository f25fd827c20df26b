/**
 * The simulated market: geometric Brownian motion per symbol, lognormal
 * volume, and labelled anomalies injected with a fixed probability. Seeded:
 * the same seed and start time give the same stream, byte for byte.
 *
 * The simulator itself is a pure state machine (`tick(tsMs)`); the streams
 * below decide where time comes from: simulated timestamps as fast as
 * possible (backfill, evaluation, benchmarks) or the wall clock (live).
 *
 * @module
 */
import type { AnomalyType, MarketEvent } from "../lib/contracts.ts";
import { SEED_ANOMALY_TYPES } from "../lib/contracts.ts";
import { Random, type RandomState } from "../lib/random.ts";
import { type Clock, systemClock } from "../lib/clock.ts";

/** How one symbol moves. */
export interface SymbolModel {
  /** starting price */
  price: number;
  /** standard deviation of the per-event log return */
  volatility: number;
  /** median trade volume (lognormal) */
  volume: number;
  /** sigma of ln(volume) */
  volumeSigma: number;
}

/** The seed's three markets; any other symbol gets {@linkcode GENERIC_SYMBOL}. */
export const SYMBOL_MODELS: Readonly<Record<string, SymbolModel>> = {
  "BTC-USDT": { price: 43000, volatility: 0.001, volume: 1.5, volumeSigma: 0.5 },
  "ETH-USDT": { price: 2300, volatility: 0.0015, volume: 12, volumeSigma: 0.5 },
  "BNB-USDT": { price: 320, volatility: 0.002, volume: 40, volumeSigma: 0.5 },
};

/** Model for symbols the simulator has no preset for. */
export const GENERIC_SYMBOL: SymbolModel = {
  price: 100,
  volatility: 0.002,
  volume: 10,
  volumeSigma: 0.5,
};

/** Ranges of the injected anomalies (the seed's definitions). */
export const ANOMALY_EFFECTS = {
  PRICE_SPIKE: { priceFactor: [1.05, 1.15] as const },
  FLASH_CRASH: { priceFactor: [0.85, 0.95] as const },
  VOLUME_SPIKE: { volumeFactor: 8 },
} as const;

/** Options of a {@linkcode Simulator}. */
export interface SimulatorOptions {
  symbols: readonly string[];
  seed: number;
  anomalyProbability: number;
  /** per-symbol overrides of {@linkcode SYMBOL_MODELS} */
  models?: Readonly<Record<string, SymbolModel>>;
}

/** The persisted form of a {@linkcode Simulator} (plain JSON). */
export interface SimulatorState {
  random: RandomState;
  symbols: Record<string, { base: number; lastReported: number | null; tradeId: number }>;
}

interface SymbolState {
  symbol: string;
  model: SymbolModel;
  /** the underlying GBM path; anomalies distort the reported price, not the path */
  base: number;
  lastReported: number | null;
  tradeId: number;
}

/**
 * A seeded market simulator. `tick(tsMs)` returns one event per symbol.
 * This is the `seed` profile (SIM_PROFILE=seed); the others are
 * `ingest/market.ts`.
 *
 * Anomalies are transient here: a spike or crash distorts the price of the
 * one event where it happens; the market's path carries on, so the next
 * event's log return snaps back. (The seed's own generator multiplied its
 * price state instead, which makes a price anomaly a lasting level shift;
 * the other profiles have that as the LEVEL_SHIFT episode. This one keeps
 * its stream byte for byte.)
 *
 * @example
 * ```ts
 * import { Simulator } from "./simulator.ts";
 * const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 1, anomalyProbability: 0 });
 * const [e] = sim.tick(1_710_000_000_000);
 * console.log(e.symbol, e.price > 0); // "BTC-USDT" true
 * ```
 */
export class Simulator {
  #random: Random;
  readonly #p: number;
  readonly #states: SymbolState[];

  constructor(options: SimulatorOptions) {
    if (!(options.anomalyProbability >= 0 && options.anomalyProbability <= 1)) {
      throw new RangeError("anomalyProbability must be in [0, 1]");
    }
    this.#random = new Random(options.seed);
    this.#p = options.anomalyProbability;
    this.#states = options.symbols.map((symbol) => {
      const model = options.models?.[symbol] ?? SYMBOL_MODELS[symbol] ?? GENERIC_SYMBOL;
      return { symbol, model, base: model.price, lastReported: null, tradeId: 0 };
    });
  }

  /**
   * Everything needed to continue this exact stream after a restart: the
   * generator and each symbol's path, last reported price and trade id.
   */
  toJSON(): SimulatorState {
    return {
      random: this.#random.state(),
      symbols: Object.fromEntries(
        this.#states.map((s) => [s.symbol, {
          base: s.base,
          lastReported: s.lastReported,
          tradeId: s.tradeId,
        }]),
      ),
    };
  }

  /**
   * A simulator for `options` that continues from `state`. Symbols the state
   * does not know start fresh from their model.
   */
  static fromJSON(options: SimulatorOptions, state: SimulatorState): Simulator {
    const sim = new Simulator(options);
    sim.#random = Random.fromState(state.random);
    for (const s of sim.#states) {
      const saved = state.symbols[s.symbol];
      if (saved && saved.base > 0 && Number.isFinite(saved.base)) {
        s.base = saved.base;
        s.lastReported = saved.lastReported;
        s.tradeId = saved.tradeId;
      }
    }
    return sim;
  }

  /** One event per symbol at `tsMs`, in the order the symbols were given. */
  tick(tsMs: number): MarketEvent[] {
    const out: MarketEvent[] = new Array(this.#states.length);
    for (let i = 0; i < this.#states.length; i++) out[i] = this.#next(this.#states[i], tsMs);
    return out;
  }

  #next(s: SymbolState, tsMs: number): MarketEvent {
    const r = this.#random;
    const sigma = s.model.volatility;
    // GBM step with zero drift: E[price] stays put, ln-returns are N(-σ²/2, σ).
    s.base *= Math.exp(-0.5 * sigma * sigma + sigma * r.normal());
    let price = s.base;
    let volume = s.model.volume * Math.exp(s.model.volumeSigma * r.normal());
    let anomaly: AnomalyType | null = null;
    if (r.float() < this.#p) {
      anomaly = SEED_ANOMALY_TYPES[r.int(SEED_ANOMALY_TYPES.length)];
      if (anomaly === "PRICE_SPIKE") {
        price *= r.uniform(...ANOMALY_EFFECTS.PRICE_SPIKE.priceFactor);
      } else if (anomaly === "FLASH_CRASH") {
        price *= r.uniform(...ANOMALY_EFFECTS.FLASH_CRASH.priceFactor);
      } else {
        volume *= ANOMALY_EFFECTS.VOLUME_SPIKE.volumeFactor;
      }
    }
    const logReturn = s.lastReported === null ? 0 : Math.log(price / s.lastReported);
    s.lastReported = price;
    s.tradeId += 1;
    return {
      timestamp: Math.floor(tsMs / 1000),
      symbol: s.symbol,
      price: round(price, 8),
      volume: round(volume, 8),
      log_return: logReturn,
      is_anomaly: anomaly !== null,
      anomaly_type: anomaly,
      ts_ms: Math.floor(tsMs),
      trade_id: s.tradeId,
      source: "simulated",
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Events with simulated timestamps, as fast as the consumer pulls them:
 * ticks at `startMs`, `startMs + stepMs`, … while the tick time is before `endMs`.
 *
 * @example
 * ```ts
 * import { Simulator, simulatedEvents } from "./simulator.ts";
 * const sim = new Simulator({ symbols: ["BTC-USDT", "ETH-USDT"], seed: 1, anomalyProbability: 0 });
 * const events = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 1000 })];
 * console.log(events.length); // 10: 5 ticks × 2 symbols
 * ```
 */
export function* simulatedEvents(
  sim: Simulator,
  opts: { startMs: number; stepMs: number; endMs: number },
): Generator<MarketEvent> {
  if (!(opts.stepMs > 0)) throw new RangeError("stepMs must be > 0");
  for (let k = 0;; k++) {
    const t = opts.startMs + k * opts.stepMs;
    if (t >= opts.endMs) return;
    yield* sim.tick(t);
  }
}

export type { Clock } from "../lib/clock.ts";
export { systemClock } from "../lib/clock.ts";

/**
 * Live events: one tick every `frequencySeconds` by `clock`, stamped with the
 * time of the tick, until `signal` aborts. Ticks are scheduled on a fixed
 * grid from the first one, so a slow consumer does not make the rate drift.
 */
export async function* liveEvents(
  sim: Simulator,
  opts: { frequencySeconds: number; clock?: Clock; signal?: AbortSignal },
): AsyncGenerator<MarketEvent> {
  for await (const tick of liveTicks(sim, opts)) yield* tick;
}

/** {@linkcode liveEvents} a tick at a time (one array per tick: one await per tick, not per event). */
export async function* liveTicks(
  sim: Simulator,
  opts: { frequencySeconds: number; clock?: Clock; signal?: AbortSignal },
): AsyncGenerator<MarketEvent[]> {
  const clock = opts.clock ?? systemClock;
  const stepMs = opts.frequencySeconds * 1000;
  let due = clock.now();
  while (!opts.signal?.aborted) {
    const wait = due - clock.now();
    if (wait > 0) await clock.sleep(wait, opts.signal);
    if (opts.signal?.aborted) return;
    yield sim.tick(due);
    due += stepMs;
  }
}
