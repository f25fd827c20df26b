/**
 * Anomaly episodes of the simulated market: what a real market anomaly looks
 * like over time, as a pure function of time since it began.
 *
 * The seed injected single events. Real anomalies are episodes: a spike that
 * reverts over seconds, a crash that falls over seconds and recovers part of
 * the way over a minute, a jump that stays, a burst of large trades, a pump
 * that builds for minutes and then dumps. An episode here is a shape: at time
 * `t` it gives an offset of the log price (on top of the market's own path), a
 * factor on trade sizes, a factor on the order rate and the share of buyer-
 * initiated orders. When it ends, the offset it leaves becomes part of the
 * market's path (a level shift stays, a crash keeps its unrecovered part).
 *
 * "Touched" (labelled `is_anomaly`, `anomaly_type`, `episode_id`): every trade
 * from the episode's first order until its end, the quiet-looking parts too
 * (a crash's recovery, a spike's reversion), except:
 * - VOLUME_SPIKE touches one trade (the order that starts it is one fill);
 * - LEVEL_SHIFT touches the trades of its first `labelSeconds` after the jump.
 *
 * @module
 */
import { ANOMALY_TYPES, type AnomalyType, type MarketEvent } from "../lib/contracts.ts";
import type { Random } from "../lib/random.ts";

/** The episode kinds: every anomaly type (the seed's three included), in the contract's order. */
export const EPISODE_TYPES = ANOMALY_TYPES;

/** Default relative frequency of each type. */
export const DEFAULT_EPISODE_WEIGHTS: Readonly<Record<AnomalyType, number>> = {
  PRICE_SPIKE: 3,
  VOLUME_SPIKE: 3,
  FLASH_CRASH: 1,
  LEVEL_SHIFT: 1,
  VOLUME_BURST: 2,
  PUMP_AND_DUMP: 0.5,
};

/**
 * The shapes' ranges (each episode draws uniformly within them). Price sizes
 * are log moves (0.02 ≈ 2 %); `SimEpisodeSettings.magnitude` scales them and
 * the excess of every volume and rate factor over 1.
 */
export const EPISODE_SHAPES = {
  /** jumps by ±size at once, reverts along (1 − u)² over `seconds` */
  PRICE_SPIKE: { size: [0.01, 0.03], seconds: [2, 10] },
  /** one trade of `volumeFactor` × the usual size (the seed's ×8) */
  VOLUME_SPIKE: { volumeFactor: 8 },
  /** falls by size over `fallSeconds` with sellers dominating, recovers `recovered` of it over `recoverSeconds` */
  FLASH_CRASH: {
    size: [0.02, 0.06],
    fallSeconds: [2, 10],
    recoverSeconds: [30, 90],
    recovered: [0.6, 0.95],
    rateFactor: 4,
  },
  /** jumps by ±size for good (what the seed's generator does to its price state) */
  LEVEL_SHIFT: { size: [0.01, 0.03], labelSeconds: 2 },
  /** `rateFactor` × the orders, `volumeFactor` × their size, for `seconds`, one side dominating */
  VOLUME_BURST: { seconds: [3, 15], rateFactor: [5, 15], volumeFactor: [3, 6] },
  /** rises by size along u² over `rampSeconds` with rate and size ramping up, then dumps over `dumpSeconds` to `residual` × size */
  PUMP_AND_DUMP: {
    size: [0.03, 0.1],
    rampSeconds: [120, 360],
    dumpSeconds: [10, 40],
    residual: [-0.2, 0.2],
    rateFactor: [3, 6],
    volumeFactor: [3, 5],
  },
} as const;

/** Which episodes happen and how strong they are. */
export interface SimEpisodeSettings {
  /** relative weight of each type (0 = never); at least one must be positive */
  weights: Readonly<Record<AnomalyType, number>>;
  /** multiplies every price size and every factor's excess over 1 (1 = the defaults) */
  magnitude: number;
}

/** The defaults: {@linkcode DEFAULT_EPISODE_WEIGHTS}, magnitude 1. */
export const DEFAULT_EPISODE_SETTINGS: SimEpisodeSettings = {
  weights: DEFAULT_EPISODE_WEIGHTS,
  magnitude: 1,
};

/**
 * Episodes start on a symbol as a Poisson process in market time, at
 * `anomalyProbability / EPISODE_SLOT_SECONDS` per second while none is running
 * there: ANOMALY_PROBABILITY is the chance that a 10-second slot of one
 * symbol's market starts an episode (0.01: about 3.6 episodes per symbol-hour).
 */
export const EPISODE_SLOT_SECONDS = 10;

/** One running episode (plain JSON: it is part of the simulator's saved state). */
export interface Episode {
  id: number;
  type: AnomalyType;
  /** ms of its first order */
  start: number;
  /** ms at which it ends (labels stop; the offset becomes permanent) */
  end: number;
  /** signed log-price size */
  size: number;
  /** ms of the first phase (fall, ramp; the whole shape for one-phase types) */
  phase: number;
  /** FLASH_CRASH: share recovered; PUMP_AND_DUMP: share of size left after the dump */
  keep: number;
  rateFactor: number;
  volumeFactor: number;
  /** share of buyer-initiated orders while it runs (0.5 = balanced) */
  buyShare: number;
}

/** What an episode does at one moment (reused object: no allocation per trade). */
export interface EpisodeEffect {
  /** added to the log price */
  offset: number;
  /** multiplies trade sizes */
  volumeFactor: number;
  /** multiplies the baseline order rate */
  rateFactor: number;
  /** share of buyer-initiated orders */
  buyShare: number;
}

/** An effect that changes nothing. */
export function quietEffect(): EpisodeEffect {
  return { offset: 0, volumeFactor: 1, rateFactor: 1, buyShare: 0.5 };
}

const u = (r: Random, [lo, hi]: readonly [number, number]) => r.uniform(lo, hi);

/** Picks a type by weight; `r` advances once. */
export function drawEpisodeType(r: Random, weights: Readonly<Record<AnomalyType, number>>) {
  let total = 0;
  for (const t of EPISODE_TYPES) total += weights[t];
  let x = r.float() * total;
  for (const t of EPISODE_TYPES) {
    x -= weights[t];
    if (x < 0 && weights[t] > 0) return t;
  }
  // float rounding on the last bucket
  return EPISODE_TYPES.findLast((t) => weights[t] > 0)!;
}

/**
 * Draws one episode of `type` starting at `startMs`.
 *
 * @example
 * ```ts
 * import { drawEpisode, DEFAULT_EPISODE_SETTINGS } from "./episodes.ts";
 * import { Random } from "../lib/random.ts";
 * const e = drawEpisode(new Random(1), "LEVEL_SHIFT", 1, 0, DEFAULT_EPISODE_SETTINGS);
 * console.log(e.end); // 2000
 * ```
 */
export function drawEpisode(
  r: Random,
  type: AnomalyType,
  id: number,
  startMs: number,
  settings: SimEpisodeSettings,
): Episode {
  const m = settings.magnitude;
  const factor = (f: number) => 1 + (f - 1) * m;
  const sign = () => (r.float() < 0.5 ? -1 : 1);
  const e: Episode = {
    id,
    type,
    start: startMs,
    end: startMs,
    size: 0,
    phase: 0,
    keep: 0,
    rateFactor: 1,
    volumeFactor: 1,
    buyShare: 0.5,
  };
  switch (type) {
    case "PRICE_SPIKE": {
      const s = EPISODE_SHAPES.PRICE_SPIKE;
      e.size = sign() * u(r, s.size) * m;
      e.phase = u(r, s.seconds) * 1000;
      e.end = startMs + e.phase;
      e.buyShare = e.size > 0 ? 0.7 : 0.3;
      break;
    }
    case "VOLUME_SPIKE":
      e.volumeFactor = factor(EPISODE_SHAPES.VOLUME_SPIKE.volumeFactor);
      break;
    case "FLASH_CRASH": {
      const s = EPISODE_SHAPES.FLASH_CRASH;
      e.size = -u(r, s.size) * m;
      e.phase = u(r, s.fallSeconds) * 1000;
      e.end = startMs + e.phase + u(r, s.recoverSeconds) * 1000;
      e.keep = u(r, s.recovered);
      e.rateFactor = factor(s.rateFactor);
      e.buyShare = 0.2;
      break;
    }
    case "LEVEL_SHIFT": {
      const s = EPISODE_SHAPES.LEVEL_SHIFT;
      e.size = sign() * u(r, s.size) * m;
      e.phase = s.labelSeconds * 1000;
      e.end = startMs + e.phase;
      break;
    }
    case "VOLUME_BURST": {
      const s = EPISODE_SHAPES.VOLUME_BURST;
      e.phase = u(r, s.seconds) * 1000;
      e.end = startMs + e.phase;
      e.rateFactor = factor(u(r, s.rateFactor));
      e.volumeFactor = factor(u(r, s.volumeFactor));
      e.buyShare = r.float() < 0.5 ? 0.25 : 0.75;
      break;
    }
    case "PUMP_AND_DUMP": {
      const s = EPISODE_SHAPES.PUMP_AND_DUMP;
      e.size = u(r, s.size) * m;
      e.phase = u(r, s.rampSeconds) * 1000;
      e.end = startMs + e.phase + u(r, s.dumpSeconds) * 1000;
      e.keep = u(r, s.residual);
      e.rateFactor = factor(u(r, s.rateFactor));
      e.volumeFactor = factor(u(r, s.volumeFactor));
      break;
    }
  }
  return e;
}

/**
 * The effect of `e` at `t` (ms, `start ≤ t < end`) written into `out`.
 * Continuous at `end` with {@linkcode leftOffset}, so a path carries on
 * without a jump when the episode closes.
 */
export function episodeEffect(e: Episode, t: number, out: EpisodeEffect): EpisodeEffect {
  out.offset = 0;
  out.volumeFactor = 1;
  out.rateFactor = 1;
  out.buyShare = 0.5;
  const dt = t - e.start;
  switch (e.type) {
    case "PRICE_SPIKE": {
      const v = 1 - dt / e.phase;
      out.offset = e.size * v * v;
      out.buyShare = e.buyShare;
      break;
    }
    case "VOLUME_SPIKE":
      out.volumeFactor = e.volumeFactor;
      break;
    case "FLASH_CRASH":
      if (dt < e.phase) {
        out.offset = e.size * (dt / e.phase);
        out.rateFactor = e.rateFactor;
        out.buyShare = e.buyShare;
      } else {
        out.offset = e.size * (1 - e.keep * ((dt - e.phase) / (e.end - e.start - e.phase)));
        out.buyShare = 0.6;
      }
      break;
    case "LEVEL_SHIFT":
      out.offset = e.size;
      break;
    case "VOLUME_BURST":
      out.rateFactor = e.rateFactor;
      out.volumeFactor = e.volumeFactor;
      out.buyShare = e.buyShare;
      break;
    case "PUMP_AND_DUMP":
      if (dt < e.phase) {
        const v = dt / e.phase;
        out.offset = e.size * v * v;
        out.rateFactor = 1 + (e.rateFactor - 1) * v;
        out.volumeFactor = 1 + (e.volumeFactor - 1) * v;
        out.buyShare = 0.5 + 0.25 * v;
      } else {
        const v = (dt - e.phase) / (e.end - e.start - e.phase);
        out.offset = e.size * (1 + (e.keep - 1) * v);
        out.rateFactor = e.rateFactor * 1.5;
        out.volumeFactor = e.volumeFactor;
        out.buyShare = 0.2;
      }
      break;
  }
  return out;
}

/** The log-price offset `e` leaves behind for good when it ends. */
export function leftOffset(e: Episode): number {
  switch (e.type) {
    case "FLASH_CRASH":
      return e.size * (1 - e.keep);
    case "LEVEL_SHIFT":
      return e.size;
    case "PUMP_AND_DUMP":
      return e.size * e.keep;
    default:
      return 0;
  }
}

/** One labelled episode as seen in a stream: what {@linkcode summariseEpisodes} returns. */
export interface EpisodeSummary {
  id: number;
  type: AnomalyType;
  symbol: string;
  /** ts_ms of its first and last touched trade */
  firstMs: number;
  lastMs: number;
  /** touched trades */
  events: number;
}

/**
 * The episodes of a labelled stream, from the labels alone (`episode_id`,
 * `anomaly_type`, `ts_ms`), in order of first trade. Events without an
 * `episode_id` (quiet trades, the seed profile's single-event anomalies) are
 * skipped. Works on a file replayed as well as on `simulateEvents`.
 *
 * @example
 * ```ts
 * import { summariseEpisodes } from "./episodes.ts";
 * import { simulateEvents } from "./simulate.ts";
 * const eps = summariseEpisodes(simulateEvents({
 *   profile: "realistic", seed: 1, symbols: ["BTC-USDT"], startMs: 0, endMs: 3_600_000,
 *   anomalyProbability: 0.05,
 * }));
 * console.log(eps.length > 5); // true
 * ```
 */
export function summariseEpisodes(
  events: Iterable<
    Pick<MarketEvent, "symbol" | "anomaly_type" | "episode_id" | "ts_ms" | "timestamp">
  >,
): EpisodeSummary[] {
  const byId = new Map<number, EpisodeSummary>();
  for (const e of events) {
    if (e.episode_id === undefined || e.anomaly_type === null) continue;
    const t = e.ts_ms ?? e.timestamp * 1000;
    const s = byId.get(e.episode_id);
    if (s) {
      s.lastMs = t;
      s.events++;
    } else {
      byId.set(e.episode_id, {
        id: e.episode_id,
        type: e.anomaly_type,
        symbol: e.symbol,
        firstMs: t,
        lastMs: t,
        events: 1,
      });
    }
  }
  return [...byId.values()];
}
