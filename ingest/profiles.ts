/**
 * What each simulator profile means in numbers: per-symbol markets (price,
 * tick, lot, daily volatility, trade rate, trade size) and per-profile
 * dynamics (arrival process, fills per order, volatility regimes).
 *
 * Why these figures: the seed's stream moved by a fixed σ per event, so at
 * 5 events/s BTC had a 66 % daily volatility and one trade every 0.2 s.
 * Recorded Binance trades look nothing like that: BTC moves ~3 % a day, trades
 * arrive in bursts (hundreds in one millisecond when a market order sweeps
 * many resting orders), a third to two thirds of trades repeat the previous
 * price, and thin pairs go quiet for minutes. Every number below is one of
 * those facts turned into a parameter; `ingest/market.ts` turns them into
 * trades.
 *
 * @module
 */

/** The simulator's profiles; `seed` is the seed's stream, byte for byte. */
export const SIM_PROFILES = ["seed", "realistic", "busy", "thin"] as const;
/** One of {@linkcode SIM_PROFILES}. */
export type SimProfile = typeof SIM_PROFILES[number];
/** The profiles driven by `ingest/market.ts` (every one but the seed's). */
export type MarketProfile = Exclude<SimProfile, "seed">;

/** One market's constants. */
export interface MarketModel {
  /** starting price */
  price: number;
  /** price increments per unit (100 = a tick of 0.01) */
  ticksPerUnit: number;
  /** quantity increments per unit (100 000 = a lot of 0.00001) */
  lotsPerUnit: number;
  /** daily volatility of the log price (0.03 = 3 % a day) */
  dailyVolatility: number;
  /** mean trades per second in the `realistic` profile (episodes excluded) */
  tradesPerSecond: number;
  /** median trade size in base units */
  medianSize: number;
}

/**
 * Markets with presets; any other symbol gets {@linkcode GENERIC_MARKET}.
 * Prices are the seed's; ticks and lots are Binance's spot filters for these
 * pairs (BNB's tick is 0.01 here so its repeat share stays in the observed range).
 */
export const MARKET_MODELS: Readonly<Record<string, MarketModel>> = {
  "BTC-USDT": {
    price: 43000,
    ticksPerUnit: 100,
    lotsPerUnit: 100_000,
    dailyVolatility: 0.03,
    tradesPerSecond: 8,
    medianSize: 0.003,
  },
  "ETH-USDT": {
    price: 2300,
    ticksPerUnit: 100,
    lotsPerUnit: 10_000,
    dailyVolatility: 0.04,
    tradesPerSecond: 5,
    medianSize: 0.05,
  },
  "BNB-USDT": {
    price: 320,
    ticksPerUnit: 100,
    lotsPerUnit: 1_000,
    dailyVolatility: 0.05,
    tradesPerSecond: 3,
    medianSize: 0.3,
  },
};

/** A mid-sized altcoin: what a symbol without a preset trades like. */
export const GENERIC_MARKET: MarketModel = {
  price: 100,
  ticksPerUnit: 100,
  lotsPerUnit: 1_000,
  dailyVolatility: 0.05,
  tradesPerSecond: 2,
  medianSize: 1,
};

/** The market model of `symbol` (its preset, or the generic one). */
export function marketModel(symbol: string): MarketModel {
  return MARKET_MODELS[symbol] ?? GENERIC_MARKET;
}

/**
 * How a profile's trades arrive and print.
 *
 * Arrivals are market orders from a Hawkes process with an exponential
 * kernel: baseline rate μ (scaled by the volatility regime and by episodes),
 * each order raising the intensity by `branching · decayPerSecond`, decaying
 * at `decayPerSecond`. Each order fills against `K` resting orders in the same
 * millisecond, `P(K ≥ k) = k^-fillTail` for `k ≤ fillCap` (a discrete Pareto
 * tail: most orders are one trade, a few sweep hundreds); after each fill the
 * next one is one tick further with probability `walkProbability`, else at
 * the same price (that is where repeated prices come from).
 */
export interface ProfileDynamics {
  /** mean trades per second per symbol; null = the symbol's `tradesPerSecond` */
  tradesPerSecond: number | null;
  /** Hawkes branching ratio n (mean orders triggered by one order), in [0, 1) */
  branching: number;
  /** Hawkes kernel decay rate β, per second */
  decayPerSecond: number;
  /** tail exponent of fills per order */
  fillTail: number;
  /** most fills one order can have */
  fillCap: number;
  /** chance the next fill of an order is one tick further */
  walkProbability: number;
  /** mean length of a calm regime, seconds */
  calmSeconds: number;
  /** mean length of a volatile regime, seconds */
  volatileSeconds: number;
  /** volatility of the volatile regime relative to the calm one */
  volatileVolRatio: number;
  /** order rate of the volatile regime relative to the calm one */
  volatileRateRatio: number;
  /** tail exponent of the Pareto factor of trade sizes (lower = heavier) */
  sizeTail: number;
  /** sigma of the lognormal factor of trade sizes */
  sizeSigma: number;
}

const REGIMES = {
  calmSeconds: 1800,
  volatileSeconds: 300,
  volatileVolRatio: 3,
  volatileRateRatio: 2,
} as const;

const SIZES = { sizeTail: 1.7, sizeSigma: 0.8 } as const;

/** Each non-seed profile's dynamics. */
export const PROFILE_DYNAMICS: Readonly<Record<MarketProfile, ProfileDynamics>> = {
  realistic: {
    tradesPerSecond: null,
    branching: 0.7,
    decayPerSecond: 1,
    fillTail: 1.5,
    fillCap: 500,
    walkProbability: 0.3,
    ...REGIMES,
    ...SIZES,
  },
  busy: {
    tradesPerSecond: 60,
    branching: 0.7,
    decayPerSecond: 2,
    fillTail: 1.5,
    fillCap: 500,
    walkProbability: 0.3,
    ...REGIMES,
    ...SIZES,
  },
  thin: {
    tradesPerSecond: 1 / 30,
    branching: 0,
    decayPerSecond: 1,
    fillTail: 3,
    fillCap: 3,
    walkProbability: 0.5,
    ...REGIMES,
    ...SIZES,
  },
};

/**
 * Mean fills per order: `E[K] = Σ_{k=1..cap} P(K ≥ k) = Σ k^-tail`.
 *
 * @example
 * ```ts
 * import { meanFills } from "./profiles.ts";
 * console.log(meanFills(1.5, 1)); // 1
 * ```
 */
export function meanFills(tail: number, cap: number): number {
  let s = 0;
  for (let k = 1; k <= cap; k++) s += k ** -tail;
  return s;
}

/**
 * The regime multipliers, normalised so the long-run mean variance and mean
 * order rate are the configured ones: with π the share of time in the
 * volatile regime, `(1−π)·c² + π·(r·c)² = 1` for volatility and
 * `(1−π)·c + π·r·c = 1` for the rate.
 */
export function regimeMultipliers(d: ProfileDynamics): {
  volatileShare: number;
  vol: [calm: number, volatile: number];
  rate: [calm: number, volatile: number];
} {
  const pi = d.volatileSeconds / (d.calmSeconds + d.volatileSeconds);
  const cv = 1 / Math.sqrt(1 - pi + pi * d.volatileVolRatio ** 2);
  const cr = 1 / (1 - pi + pi * d.volatileRateRatio);
  return {
    volatileShare: pi,
    vol: [cv, cv * d.volatileVolRatio],
    rate: [cr, cr * d.volatileRateRatio],
  };
}

/** Mean trades per second of `symbol` in `profile` (episodes excluded). */
export function tradesPerSecond(profile: MarketProfile, symbol: string): number {
  return PROFILE_DYNAMICS[profile].tradesPerSecond ?? marketModel(symbol).tradesPerSecond;
}
