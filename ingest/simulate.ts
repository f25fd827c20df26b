/**
 * One door to every simulator profile: `simulateEvents` for simulated time
 * (evaluation, backfill, `deno task simulate`, benchmarks) and
 * {@linkcode openSimulation} for the live source, which runs a profile in
 * real time and saves/restores it with each committed batch.
 *
 * `seed` is the seed's simulator (`ingest/simulator.ts`) untouched: one event
 * per symbol every `stepMs`, the same bytes for the same seed. The other
 * profiles are `ingest/market.ts`, each following its own arrival process.
 *
 * @module
 */
import { z } from "zod";
import {
  ANOMALY_TYPES,
  type AnomalyType,
  describeZodError,
  type MarketEvent,
} from "../lib/contracts.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import { liveEvents, simulatedEvents, Simulator, type SimulatorState } from "./simulator.ts";
import { Market, type MarketOptions, type MarketState } from "./market.ts";
import type { SimEpisodeSettings } from "./episodes.ts";
import { type MarketProfile, SIM_PROFILES, type SimProfile, tradesPerSecond } from "./profiles.ts";

export { SIM_PROFILES, type SimProfile };

/** What to simulate (pure: no clock, no I/O). */
export interface SimulateOptions {
  profile: SimProfile;
  seed: number;
  symbols: readonly string[];
  startMs: number;
  endMs: number;
  /**
   * `seed`: the chance that an event is an anomaly (the seed's meaning). Other
   * profiles: the chance that a 10-second slot of one symbol's market starts an
   * episode (0.01 ≈ 3.6 episodes per symbol-hour; `ingest/episodes.ts`).
   */
  anomalyProbability: number;
  /** seed profile only: tick step in ms (EVENT_FREQUENCY_SECONDS*1000); default 200 */
  stepMs?: number;
  /** episode mix and magnitude (not the seed profile); default `DEFAULT_EPISODE_SETTINGS` */
  episodes?: SimEpisodeSettings;
}

/** The seed's default tick step (EVENT_FREQUENCY_SECONDS = 0.2). */
export const SEED_STEP_MS = 200;

/**
 * Every event of [startMs, endMs) in time order (ts_ms non-decreasing across
 * symbols), labelled.
 *
 * @example
 * ```ts
 * import { simulateEvents } from "./simulate.ts";
 * const events = [...simulateEvents({
 *   profile: "realistic", seed: 1, symbols: ["BTC-USDT"],
 *   startMs: 0, endMs: 60_000, anomalyProbability: 0,
 * })];
 * console.log(events.length > 100); // true: about 8 trades a second
 * ```
 */
export function* simulateEvents(o: SimulateOptions): Generator<MarketEvent> {
  if (o.profile === "seed") {
    const sim = new Simulator({
      symbols: o.symbols,
      seed: o.seed,
      anomalyProbability: o.anomalyProbability,
    });
    yield* simulatedEvents(sim, {
      startMs: o.startMs,
      stepMs: o.stepMs ?? SEED_STEP_MS,
      endMs: o.endMs,
    });
    return;
  }
  const market = new Market({ ...o, profile: o.profile });
  while (market.peekTime() < o.endMs) yield market.next();
}

/**
 * Mean events per second of a profile for `symbols`, anomaly episodes
 * excluded (progress estimates, tests of the stated rates).
 */
export function expectedRate(
  profile: SimProfile,
  symbols: readonly string[],
  stepMs = SEED_STEP_MS,
): number {
  if (profile === "seed") return (symbols.length * 1000) / stepMs;
  return symbols.reduce((a, s) => a + tradesPerSecond(profile, s), 0);
}

/**
 * Live trades of a market: each one when the clock reaches its market time,
 * until `signal` aborts. A market behind the clock (restored after downtime)
 * skips to now first instead of replaying the gap.
 */
export async function* liveMarketEvents(
  market: Market,
  opts: { clock?: Clock; signal?: AbortSignal },
): AsyncGenerator<MarketEvent> {
  const clock = opts.clock ?? systemClock;
  market.skipTo(clock.now());
  while (!opts.signal?.aborted) {
    const wait = market.peekTime() - clock.now();
    if (wait > 0) await clock.sleep(wait, opts.signal);
    if (opts.signal?.aborted) return;
    yield market.next();
  }
}

const finite = z.number().refine(Number.isFinite, { message: "must be finite" });
const uint32 = z.number().int().min(0).max(0xffffffff);

/** The shape of a saved {@linkcode MarketState} (it comes back from KV after a restart). */
const SavedMarket = z.object({
  profile: z.enum(["realistic", "busy", "thin"]),
  random: z.object({ s: z.tuple([uint32, uint32, uint32, uint32]), spare: finite.nullable() }),
  current: z.number().int().min(-1),
  nextEpisodeId: z.number().int().min(1),
  symbols: z.record(
    z.string(),
    z.object({
      logPrice: finite,
      t: finite,
      lastT: finite,
      excitation: finite.nonnegative(),
      volatile: z.boolean(),
      regimeUntil: finite,
      episode: z.object({
        id: z.number().int().min(1),
        type: z.enum(ANOMALY_TYPES),
        start: finite,
        end: finite,
        size: finite,
        phase: finite,
        keep: finite,
        rateFactor: finite.positive(),
        volumeFactor: finite.positive(),
        buyShare: finite.min(0).max(1),
      }).nullable(),
      quietSince: finite,
      pending: z.number().int().nonnegative(),
      fill: z.number().int().nonnegative(),
      level: z.number().int(),
      buy: z.boolean(),
      volumeFactor: finite.positive(),
      rateFactor: finite.positive(),
      episodeId: z.number().int().nonnegative(),
      episodeType: z.enum(ANOMALY_TYPES).nullable(),
      lastPrice: finite.positive().nullable(),
      tradeId: z.number().int().nonnegative(),
    }),
  ),
});

/** `saved` continued, or a fresh market and why the saved one could not be. */
function restoreMarket(
  opts: MarketOptions,
  saved: unknown,
): { market: Market; unreadable: string | null } {
  try {
    const parsed = SavedMarket.safeParse(saved);
    if (!parsed.success) throw new Error(describeZodError(parsed.error));
    return { market: Market.fromJSON(opts, parsed.data as MarketState), unreadable: null };
  } catch (e) {
    return {
      market: new Market(opts),
      unreadable: `the saved market is unreadable (${(e as Error).message}); ` +
        `starting a fresh ${opts.profile} market`,
    };
  }
}

/** The saved state of a live simulation: the seed simulator's, or a market's. */
export type SimulationState = SimulatorState | MarketState;

/** A running simulation for the live source: a backfill, then real time. */
export interface Simulation {
  readonly profile: SimProfile;
  /** Events of [startMs, endMs) as fast as they are pulled. */
  backfill(startMs: number, endMs: number): Iterable<MarketEvent>;
  /** Live events until `signal` aborts. */
  live(opts: { clock: Clock; signal: AbortSignal }): AsyncIterable<MarketEvent>;
  /** State to save; {@linkcode openSimulation} continues from it. */
  toJSON(): SimulationState;
  /** For the log: how events arrive. */
  describe(): string;
}

/** Options of {@linkcode openSimulation}. */
export interface OpenSimulationOptions {
  profile: SimProfile;
  seed: number;
  symbols: readonly string[];
  anomalyProbability: number;
  /** seed profile: seconds between ticks */
  frequencySeconds: number;
  episodes?: SimEpisodeSettings;
  /** market time a fresh (non-seed) market starts at */
  startMs: number;
  /**
   * SIM_FIRST_EPISODE: a fresh non-seed market schedules one episode of
   * `type` on its first symbol this long after it goes live (null: none)
   */
  firstEpisode?: { afterMs: number; type: AnomalyType } | null;
}

/** The episode SIM_FIRST_EPISODE schedules: a jump of 1-3 % that reverts over seconds, caught by every detector. */
export const FIRST_EPISODE_TYPE: AnomalyType = "PRICE_SPIKE";

/**
 * The live simulation of a profile, continuing `saved` when it is of that
 * profile. `note` says why a saved state was not used (another profile).
 * The seed profile saves and restores exactly today's `SimulatorState`.
 */
export function openSimulation(
  o: OpenSimulationOptions,
  saved: SimulationState | null,
): { simulation: Simulation; restored: boolean; note: string | null } {
  const savedProfile: SimProfile | null = saved === null
    ? null
    : "profile" in saved
    ? saved.profile
    : "seed";
  const usable = saved !== null && savedProfile === o.profile;
  const note = saved !== null && !usable
    ? `the saved market is profile ${savedProfile}; starting a fresh ${o.profile} market`
    : null;
  if (o.profile === "seed") {
    const opts = { symbols: o.symbols, seed: o.seed, anomalyProbability: o.anomalyProbability };
    const sim = usable ? Simulator.fromJSON(opts, saved as SimulatorState) : new Simulator(opts);
    const stepMs = o.frequencySeconds * 1000;
    return {
      restored: usable,
      note,
      simulation: {
        profile: "seed",
        backfill: (startMs, endMs) => simulatedEvents(sim, { startMs, stepMs, endMs }),
        live: ({ clock, signal }) =>
          liveEvents(sim, { frequencySeconds: o.frequencySeconds, clock, signal }),
        toJSON: () => sim.toJSON(),
        describe: () => `one event per symbol every ${o.frequencySeconds} s`,
      },
    };
  }
  const profile: MarketProfile = o.profile;
  const opts = { ...o, profile };
  const { market, unreadable } = usable
    ? restoreMarket(opts, saved)
    : { market: new Market(opts), unreadable: null };
  // Only a fresh market, and only when anomalies are wanted at all.
  const first = !usable && o.anomalyProbability > 0 && o.symbols.length > 0
    ? o.firstEpisode ?? null
    : null;
  return {
    restored: usable && unreadable === null,
    note: note ?? unreadable,
    simulation: {
      profile,
      *backfill(startMs, endMs) {
        market.skipTo(startMs);
        while (market.peekTime() < endMs) yield market.next();
      },
      live: ({ clock, signal }) => {
        if (first) market.scheduleEpisode(o.symbols[0], first.type, clock.now() + first.afterMs);
        return liveMarketEvents(market, { clock, signal });
      },
      toJSON: () => market.toJSON(),
      describe: () =>
        `profile ${profile}, about ${
          expectedRate(profile, o.symbols).toPrecision(3)
        } trades/s in bursts` +
        (first
          ? `; a first ${first.type} on ${o.symbols[0]} ${
            first.afterMs / 1000
          } s after going live (SIM_FIRST_EPISODE)`
          : ""),
    },
  };
}
