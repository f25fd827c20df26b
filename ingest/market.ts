/**
 * The market of the `realistic`, `busy` and `thin` profiles: a pure, seeded
 * state machine that emits one trade per `next()`, in time order across
 * symbols, and can be saved and restored after any trade.
 *
 * Per symbol: an efficient log price diffusing at a per-second volatility
 * derived from the daily figure (`σ_day / √86 400`), scaled by a two-state
 * volatility regime (calm / volatile, exponential durations, normalised so
 * the long-run variance is the configured one); market orders arriving from
 * a Hawkes process (Dassios & Zhao's exact sampler for the exponential
 * kernel, two uniforms per order); each order filling K resting orders in
 * the same millisecond at the touch and walking the book tick by tick
 * (`ingest/profiles.ts` has the numbers and why); sizes lognormal × Pareto,
 * rounded to the lot. Anomaly episodes (`ingest/episodes.ts`) bend the price,
 * sizes, order rate and side while they run, and label every trade they touch.
 *
 * Speed: ≥ 500 000 trades/s to a file on one core is the budget, so the hot
 * path allocates nothing but the event object and keeps state in flat fields.
 *
 * @module
 */
import type { AnomalyType, MarketEvent } from "../lib/contracts.ts";
import { Random, type RandomState } from "../lib/random.ts";
import {
  DEFAULT_EPISODE_SETTINGS,
  drawEpisode,
  drawEpisodeType,
  type Episode,
  EPISODE_SLOT_SECONDS,
  episodeEffect,
  leftOffset,
  quietEffect,
  type SimEpisodeSettings,
} from "./episodes.ts";
import {
  type MarketModel,
  marketModel,
  type MarketProfile,
  meanFills,
  PROFILE_DYNAMICS,
  type ProfileDynamics,
  regimeMultipliers,
  tradesPerSecond,
} from "./profiles.ts";

/** Options of a {@linkcode Market}. */
export interface MarketOptions {
  profile: MarketProfile;
  seed: number;
  symbols: readonly string[];
  /** market time (ms) of the first possible order */
  startMs: number;
  /** chance that a 10-second slot of one symbol starts an episode (see {@linkcode EPISODE_SLOT_SECONDS}) */
  anomalyProbability: number;
  episodes?: SimEpisodeSettings;
  /** per-symbol overrides of the presets */
  models?: Readonly<Record<string, MarketModel>>;
}

/** The dynamic part of one symbol (plain JSON). */
export interface SymbolMarketState {
  /** ln of the efficient price, permanent episode shifts included */
  logPrice: number;
  /** ms of the order being filled, or of the next one */
  t: number;
  /** ms of the previous order */
  lastT: number;
  /** Hawkes excitation (orders/s) just after the previous order */
  excitation: number;
  volatile: boolean;
  regimeUntil: number;
  episode: Episode | null;
  /** ms since which no episode has run (the start hazard counts from here) */
  quietSince: number;
  /** fills left in the current order, its next fill index, tick level and side */
  pending: number;
  fill: number;
  level: number;
  buy: boolean;
  /** the current order's episode effect on sizes and on the next arrival */
  volumeFactor: number;
  rateFactor: number;
  /** the current order's episode (0 = none) and type */
  episodeId: number;
  episodeType: AnomalyType | null;
  lastPrice: number | null;
  tradeId: number;
}

/** Everything needed to continue a {@linkcode Market} exactly (plain JSON). */
export interface MarketState {
  profile: MarketProfile;
  random: RandomState;
  /** index of the symbol whose order is being filled, or -1 */
  current: number;
  nextEpisodeId: number;
  symbols: Record<string, SymbolMarketState>;
}

interface SymbolRuntime extends SymbolMarketState {
  readonly symbol: string;
  readonly model: MarketModel;
  /** σ per √ms, calm and volatile */
  readonly sigmaCalm: number;
  readonly sigmaVolatile: number;
  /** baseline orders per second, calm and volatile */
  readonly muCalm: number;
  readonly muVolatile: number;
  /** Pareto scale of sizes so the median is about `model.medianSize` */
  readonly sizeScale: number;
}

const MS_PER_DAY = 86_400_000;
const BUY = "buy" as const;
const SELL = "sell" as const;

/**
 * A seeded market of trades for one profile.
 *
 * @example
 * ```ts
 * import { Market } from "./market.ts";
 * const m = new Market({ profile: "realistic", seed: 1, symbols: ["BTC-USDT"], startMs: 0, anomalyProbability: 0 });
 * const e = m.next();
 * console.log(e.symbol, e.trade_id); // "BTC-USDT" 1
 * ```
 */
export class Market {
  #random: Random;
  readonly #profile: MarketProfile;
  readonly #d: ProfileDynamics;
  readonly #states: SymbolRuntime[];
  readonly #episodes: SimEpisodeSettings;
  /** episode starts per ms per symbol */
  readonly #episodeRate: number;
  readonly #walk: number;
  readonly #fillExponent: number;
  readonly #fillCap: number;
  readonly #alpha: number;
  readonly #beta: number;
  readonly #calmMs: number;
  readonly #volatileMs: number;
  #current = -1;
  #nextEpisodeId = 1;
  readonly #fx = quietEffect();

  constructor(o: MarketOptions) {
    if (!(o.anomalyProbability >= 0 && o.anomalyProbability <= 1)) {
      throw new RangeError("anomalyProbability must be in [0, 1]");
    }
    const episodes = o.episodes ?? DEFAULT_EPISODE_SETTINGS;
    if (!Object.values(episodes.weights).some((w) => w > 0) && o.anomalyProbability > 0) {
      throw new RangeError("at least one episode type needs a positive weight");
    }
    this.#profile = o.profile;
    const d = PROFILE_DYNAMICS[o.profile];
    this.#d = d;
    this.#random = new Random(o.seed);
    this.#episodes = episodes;
    this.#episodeRate = o.anomalyProbability / (EPISODE_SLOT_SECONDS * 1000);
    this.#walk = d.walkProbability;
    this.#fillExponent = -1 / d.fillTail;
    this.#fillCap = d.fillCap;
    this.#beta = d.decayPerSecond;
    this.#alpha = d.branching * d.decayPerSecond;
    this.#calmMs = d.calmSeconds * 1000;
    this.#volatileMs = d.volatileSeconds * 1000;
    const reg = regimeMultipliers(d);
    const fills = meanFills(d.fillTail, d.fillCap);
    const r = this.#random;
    this.#states = o.symbols.map((symbol) => {
      const model = o.models?.[symbol] ?? marketModel(symbol);
      const sigma = model.dailyVolatility / Math.sqrt(MS_PER_DAY);
      const mu = (tradesPerSecond(o.profile, symbol) * (1 - d.branching)) / fills;
      const volatile = r.float() < reg.volatileShare;
      const s: SymbolRuntime = {
        symbol,
        model,
        sigmaCalm: sigma * reg.vol[0],
        sigmaVolatile: sigma * reg.vol[1],
        muCalm: mu * reg.rate[0],
        muVolatile: mu * reg.rate[1],
        sizeScale: model.medianSize / (2 ** (1 / d.sizeTail)),
        logPrice: Math.log(model.price),
        t: o.startMs,
        lastT: o.startMs,
        excitation: 0,
        volatile,
        regimeUntil: o.startMs + this.#expMs(volatile),
        episode: null,
        quietSince: o.startMs,
        pending: 0,
        fill: 0,
        level: 0,
        buy: true,
        volumeFactor: 1,
        rateFactor: 1,
        episodeId: 0,
        episodeType: null,
        lastPrice: null,
        tradeId: 0,
      };
      return s;
    });
    for (const s of this.#states) s.t = o.startMs + this.#gapMs(s);
  }

  /** The profile this market runs. */
  get profile(): MarketProfile {
    return this.#profile;
  }

  /** Market time (ms, fractional) of the trade `next()` will return. */
  peekTime(): number {
    if (this.#current >= 0) return this.#states[this.#current].t;
    let t = Infinity;
    for (const s of this.#states) if (s.t < t) t = s.t;
    return t;
  }

  /** The next trade (of whichever symbol trades first). */
  next(): MarketEvent {
    if (this.#current < 0) {
      let best = 0;
      for (let i = 1; i < this.#states.length; i++) {
        if (this.#states[i].t < this.#states[best].t) best = i;
      }
      this.#current = best;
      this.#order(this.#states[best]);
    }
    const s = this.#states[this.#current];
    const e = this.#fill(s);
    if (s.pending === 0) {
      s.t += this.#gapMs(s);
      this.#current = -1;
    }
    return e;
  }

  /**
   * Moves every idle symbol whose next order is before `ms` to a fresh
   * arrival after `ms`, without trading in between (a restart after downtime:
   * the market does not replay the hours it was off).
   */
  skipTo(ms: number): void {
    for (let i = 0; i < this.#states.length; i++) {
      const s = this.#states[i];
      if (i === this.#current || s.t >= ms) continue;
      s.lastT = ms;
      s.quietSince = Math.max(s.quietSince, ms);
      if (s.regimeUntil < ms) s.regimeUntil = ms + this.#expMs(s.volatile);
      if (s.episode && s.episode.end <= ms) this.#close(s);
      s.excitation = 0;
      s.t = ms + this.#gapMs(s);
    }
  }

  /**
   * Schedules an episode of `type` on `symbol`, starting with the symbol's
   * first order at or after `atMs` (SIM_FIRST_EPISODE: a fresh live market
   * shows an incident soon). Drawn from the market's own random stream, so a
   * seed still gives one stream; kept in the saved state like any running
   * episode. Returns the episode, or null when the symbol is unknown or
   * already has one.
   */
  scheduleEpisode(symbol: string, type: AnomalyType, atMs: number): Episode | null {
    const s = this.#states.find((x) => x.symbol === symbol);
    if (!s || s.episode !== null) return null;
    s.episode = drawEpisode(this.#random, type, this.#nextEpisodeId++, atMs, this.#episodes);
    return { ...s.episode };
  }

  /** The whole state: restoring it continues this exact stream. */
  toJSON(): MarketState {
    const symbols: Record<string, SymbolMarketState> = {};
    for (const s of this.#states) {
      symbols[s.symbol] = {
        logPrice: s.logPrice,
        t: s.t,
        lastT: s.lastT,
        excitation: s.excitation,
        volatile: s.volatile,
        regimeUntil: s.regimeUntil,
        episode: s.episode ? { ...s.episode } : null,
        quietSince: s.quietSince,
        pending: s.pending,
        fill: s.fill,
        level: s.level,
        buy: s.buy,
        volumeFactor: s.volumeFactor,
        rateFactor: s.rateFactor,
        episodeId: s.episodeId,
        episodeType: s.episodeType,
        lastPrice: s.lastPrice,
        tradeId: s.tradeId,
      };
    }
    return {
      profile: this.#profile,
      random: this.#random.state(),
      current: this.#current,
      nextEpisodeId: this.#nextEpisodeId,
      symbols,
    };
  }

  /**
   * A market for `options` that continues from `state`. Symbols the state
   * does not know start fresh at `options.startMs`. Throws when the state is
   * of another profile or does not fit the symbols.
   */
  static fromJSON(options: MarketOptions, state: MarketState): Market {
    if (state.profile !== options.profile) {
      throw new RangeError(`saved market is profile ${state.profile}, not ${options.profile}`);
    }
    const m = new Market(options);
    m.#random = Random.fromState(state.random);
    m.#nextEpisodeId = state.nextEpisodeId;
    const current = state.current >= 0 ? Object.keys(state.symbols)[state.current] ?? null : null;
    m.#current = -1;
    for (let i = 0; i < m.#states.length; i++) {
      const s = m.#states[i];
      const saved = state.symbols[s.symbol];
      if (!saved || !Number.isFinite(saved.logPrice)) continue;
      Object.assign(s, saved, { episode: saved.episode ? { ...saved.episode } : null });
      if (s.symbol === current) m.#current = i;
    }
    if (current !== null && m.#current < 0) {
      throw new RangeError(`saved market is filling an order of ${current}, not configured`);
    }
    return m;
  }

  #expMs(volatile: boolean): number {
    return -Math.log(1 - this.#random.float()) * (volatile ? this.#volatileMs : this.#calmMs);
  }

  /** Ms to the symbol's next order after one at `s.t` (Hawkes, exact). */
  #gapMs(s: SymbolRuntime): number {
    const r = this.#random;
    const mu = (s.volatile ? s.muVolatile : s.muCalm) * s.rateFactor;
    const beta = this.#beta;
    const e = s.excitation;
    let w = -Math.log(1 - r.float()) / mu;
    if (e > 0) {
      const d = 1 + (beta * Math.log(1 - r.float())) / e;
      if (d > 0) {
        const w1 = -Math.log(d) / beta;
        if (w1 < w) w = w1;
      }
    }
    s.excitation = e * Math.exp(-beta * w) + this.#alpha;
    return w * 1000;
  }

  /** A market order arrives on `s` at `s.t`: move the price, run episodes, draw side and fills. */
  #order(s: SymbolRuntime): void {
    const r = this.#random;
    const t = s.t;
    const dt = t - s.lastT;
    const sigma = s.volatile ? s.sigmaVolatile : s.sigmaCalm;
    // Log-price step with the Itô correction, so the price itself is a martingale.
    s.logPrice += sigma * Math.sqrt(dt) * r.normal() - 0.5 * sigma * sigma * dt;
    while (t >= s.regimeUntil) {
      s.volatile = !s.volatile;
      s.regimeUntil += this.#expMs(s.volatile);
    }
    const scheduled = s.episode;
    if (scheduled !== null && s.episodeId !== scheduled.id && t >= scheduled.start) {
      // A scheduled episode (scheduleEpisode) begins with this order, as a drawn one would.
      scheduled.end += t - scheduled.start;
      scheduled.start = t;
    } else if (s.episode !== null && t >= s.episode.end) this.#close(s);
    if (s.episode === null && this.#episodeRate > 0) {
      const from = s.lastT > s.quietSince ? s.lastT : s.quietSince;
      if (r.float() < 1 - Math.exp(-this.#episodeRate * (t - from))) {
        const type = drawEpisodeType(r, this.#episodes.weights);
        s.episode = drawEpisode(r, type, this.#nextEpisodeId++, t, this.#episodes);
      }
    }
    s.lastT = t;
    // A scheduled episode waits for its start time.
    const ep = s.episode !== null && t >= s.episode.start ? s.episode : null;
    const fx = this.#fx;
    let fills: number;
    if (ep !== null) {
      episodeEffect(ep, t, fx);
      s.episodeId = ep.id;
      s.episodeType = ep.type;
      fills = ep.type === "VOLUME_SPIKE" ? 1 : this.#fillCount();
    } else {
      fx.offset = 0;
      fx.volumeFactor = 1;
      fx.rateFactor = 1;
      fx.buyShare = 0.5;
      s.episodeId = 0;
      s.episodeType = null;
      fills = this.#fillCount();
    }
    s.volumeFactor = fx.volumeFactor;
    s.rateFactor = fx.rateFactor;
    s.buy = r.float() < fx.buyShare;
    const bid = Math.floor(Math.exp(s.logPrice + fx.offset) * s.model.ticksPerUnit);
    s.level = s.buy ? bid + 1 : Math.max(1, bid);
    s.pending = fills;
    s.fill = 0;
  }

  #fillCount(): number {
    const k = Math.floor((1 - this.#random.float()) ** this.#fillExponent);
    return k < this.#fillCap ? k : this.#fillCap;
  }

  #close(s: SymbolRuntime): void {
    const ep = s.episode!;
    s.logPrice += leftOffset(ep);
    s.quietSince = ep.end;
    s.episode = null;
  }

  #fill(s: SymbolRuntime): MarketEvent {
    const r = this.#random;
    if (s.fill > 0 && r.float() < this.#walk) {
      s.level += s.buy ? 1 : -1;
      if (s.level < 1) s.level = 1;
    }
    s.fill++;
    s.pending--;
    const d = this.#d;
    const size = s.sizeScale * Math.exp(d.sizeSigma * r.normal()) *
      (1 - r.float()) ** (-1 / d.sizeTail) * s.volumeFactor;
    const lots = Math.round(size * s.model.lotsPerUnit);
    const price = s.level / s.model.ticksPerUnit;
    const volume = (lots > 1 ? lots : 1) / s.model.lotsPerUnit;
    const logReturn = s.lastPrice === null ? 0 : Math.log(price / s.lastPrice);
    s.lastPrice = price;
    s.tradeId += 1;
    const ts = Math.floor(s.t);
    // Two literals, not one with `episode_id: undefined`: a quiet event has no such key at all
    // (as a replayed one has none), and each literal keeps one hidden class for V8.
    if (s.episodeId === 0) {
      return {
        timestamp: Math.floor(ts / 1000),
        symbol: s.symbol,
        price,
        volume,
        log_return: logReturn,
        is_anomaly: false,
        anomaly_type: null,
        ts_ms: ts,
        trade_id: s.tradeId,
        source: "simulated",
        side: s.buy ? BUY : SELL,
      };
    }
    return {
      timestamp: Math.floor(ts / 1000),
      symbol: s.symbol,
      price,
      volume,
      log_return: logReturn,
      is_anomaly: true,
      anomaly_type: s.episodeType,
      ts_ms: ts,
      trade_id: s.tradeId,
      source: "simulated",
      side: s.buy ? BUY : SELL,
      episode_id: s.episodeId,
    };
  }
}
