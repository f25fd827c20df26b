/**
 * The configured market source as one interface, whatever it is: the
 * simulator (with a backfill of history so the first model trains at once),
 * Binance's live trades, or a recorded file. Every source yields the same
 * `MarketEvent`s with the time Sentinel received them.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Clock } from "../lib/clock.ts";
import { systemClock } from "../lib/clock.ts";
import { BinanceSource, type BinanceStatus } from "../ingest/binance.ts";
import {
  expectedRate,
  FIRST_EPISODE_TYPE,
  openSimulation,
  type Simulation,
  type SimulationState,
} from "../ingest/simulate.ts";
import {
  liveEvents,
  liveTicks,
  simulatedEvents,
  Simulator,
  type SimulatorState,
} from "../ingest/simulator.ts";
import { formatReplayProgress, ReplaySource } from "../ingest/replay.ts";
import { keys, type Store } from "../store/kv.ts";
import type { Logger } from "./log.ts";
import type { MarketEvent } from "../lib/contracts.ts";
import type { IncomingEvent } from "./processor.ts";

/** A source of market events for the worker (embedded) or the Kafka producer. */
export interface MarketSource {
  readonly name: "simulated" | "binance" | "replay";
  /** the stream its offsets are saved under (`["offsets", stream, 0]` in embedded mode) */
  readonly stream: string;
  /** Events until `signal` aborts or the source ends. `startOffset` is the resume point of replayable sources. */
  events(signal: AbortSignal, startOffset: number): AsyncIterable<IncomingEvent>;
  /**
   * The same events in arrays (optional): a source that makes several at a
   * time (the simulator's ticks) hands them over with one await, not one each.
   */
  chunks?(signal: AbortSignal, startOffset: number): AsyncIterable<IncomingEvent[]>;
  /** State to persist with the batch that ends at the last event yielded (resumable sources). */
  checkpoint(): readonly [Deno.KvKey, unknown] | null;
  /** For `/system-status`. */
  status(): SourceStatus;
  close(): Promise<void>;
}

/** What `/system-status` shows of a source. */
export interface SourceStatus {
  name: string;
  state: "starting" | "backfilling" | "live" | "connected" | "reconnecting" | "ended" | "closed";
  events: number;
  lastEventAt: number | null;
  detail: string;
  binance?: BinanceStatus;
}

/**
 * The seed simulator's saved state as the embedded worker commits it with
 * each batch: the state before the tick the batch's last event belongs to,
 * that tick's time, and how many of its events are committed. The seed
 * simulator makes a whole tick (one event per symbol) at once, and a batch
 * may end inside one; saving the state after the tick would lose the rest of
 * it on a kill. (The other profiles' markets emit one trade per step and save
 * their state after it exactly.)
 */
export interface SimulatorCheckpoint {
  /** the simulator before the tick */
  before: SimulatorState;
  /** the tick's time, ms */
  tick_ms: number;
  /** events of the tick already committed */
  done: number;
}

function isCheckpoint(v: unknown): v is SimulatorCheckpoint {
  return typeof v === "object" && v !== null && "before" in v && "tick_ms" in v && "done" in v;
}

/** The seed profile's simulator, with the tick being yielded and a tick to finish. */
interface SeedTicks {
  sim: Simulator;
  /** the tick being yielded: the state before it, its time, and events yielded so far */
  tick: SimulatorCheckpoint | null;
  /** a tick a killed process had partly committed: finished first */
  pending: { tickMs: number; done: number } | null;
}

/** Backfill events handed over in one chunk ({@linkcode SimulatedSource.chunks}). */
const BACKFILL_CHUNK = 256;
const SIMULATOR_KEY = keys.source("simulator");

/** The seeded simulator (SIM_PROFILE): a backfill of simulated history, then live events. */
export class SimulatedSource implements MarketSource {
  readonly name = "simulated";
  readonly stream = "simulated";
  #sim: Simulation;
  #seed: SeedTicks | null = null;
  /** the seed profile's live stream a tick at a time */
  #seedTicks: ((o: { clock: Clock; signal: AbortSignal }) => AsyncIterable<MarketEvent[]>) | null =
    null;
  #status: SourceStatus = {
    name: "simulated",
    state: "starting",
    events: 0,
    lastEventAt: null,
    detail: "",
  };

  constructor(
    readonly config: Pick<
      Config,
      | "symbols"
      | "seed"
      | "anomalyProbability"
      | "eventFrequencySeconds"
      | "backfillSeconds"
      | "simProfile"
      | "simEpisodeWeights"
      | "simEpisodeMagnitude"
      | "simFirstEpisodeSeconds"
    >,
    saved: SimulationState | SimulatorCheckpoint | null,
    readonly backfill: boolean,
    readonly logger: Logger,
    readonly clock: Clock = systemClock,
  ) {
    const seedState = saved !== null && !isCheckpoint(saved) && !("profile" in saved);
    if (config.simProfile === "seed" && (saved === null || isCheckpoint(saved) || seedState)) {
      const opts = {
        symbols: config.symbols,
        seed: config.seed,
        anomalyProbability: config.anomalyProbability,
      };
      const seed: SeedTicks = { sim: new Simulator(opts), tick: null, pending: null };
      if (isCheckpoint(saved)) {
        seed.sim = Simulator.fromJSON(opts, saved.before);
        seed.pending = { tickMs: saved.tick_ms, done: saved.done };
      } else if (saved) seed.sim = Simulator.fromJSON(opts, saved as SimulatorState);
      // Every tick, whoever drives it (backfill, live, a resumed tick), records where it started.
      const tick = seed.sim.tick.bind(seed.sim);
      seed.sim.tick = (tsMs: number) => {
        seed.tick = { before: seed.sim.toJSON(), tick_ms: tsMs, done: 0 };
        return tick(tsMs);
      };
      this.#seed = seed;
      const freq = config.eventFrequencySeconds;
      this.#seedTicks = ({ clock, signal }) =>
        liveTicks(seed.sim, { frequencySeconds: freq, clock, signal });
      this.#sim = {
        profile: "seed",
        backfill: (startMs, endMs) =>
          simulatedEvents(seed.sim, { startMs, stepMs: freq * 1000, endMs }),
        live: ({ clock, signal }) =>
          liveEvents(seed.sim, { frequencySeconds: freq, clock, signal }),
        toJSON: () => seed.sim.toJSON(),
        describe: () => `one event per symbol every ${freq} s`,
      };
      return;
    }
    const { simulation, note } = openSimulation({
      profile: config.simProfile,
      symbols: config.symbols,
      seed: config.seed,
      anomalyProbability: config.anomalyProbability,
      frequencySeconds: config.eventFrequencySeconds,
      episodes: { weights: config.simEpisodeWeights, magnitude: config.simEpisodeMagnitude },
      startMs: clock.now() - (backfill ? config.backfillSeconds * 1000 : 0),
      // After a backfill the first model is live within seconds: show it an incident soon.
      firstEpisode: backfill && config.simFirstEpisodeSeconds !== null
        ? { afterMs: config.simFirstEpisodeSeconds * 1000, type: FIRST_EPISODE_TYPE }
        : null,
    }, isCheckpoint(saved) ? saved.before : saved);
    if (note) logger.warn(`simulator: ${note}`);
    this.#sim = simulation;
  }

  /** `event` with the checkpoint that resumes right after it. */
  #stamped(event: MarketEvent): IncomingEvent {
    const tick = this.#seed?.tick;
    if (tick) {
      tick.done++;
      const checkpoint: SimulatorCheckpoint = {
        before: tick.before,
        tick_ms: tick.tick_ms,
        done: tick.done,
      };
      return { event, receivedAt: this.clock.now(), checkpoint: [SIMULATOR_KEY, checkpoint] };
    }
    return {
      event,
      receivedAt: this.clock.now(),
      checkpoint: [SIMULATOR_KEY, this.#sim.toJSON()],
    };
  }

  /** Loads the simulator's saved state (if any) so a restart continues the same market. */
  static async open(
    config: Config,
    store: Store,
    logger: Logger,
    clock: Clock = systemClock,
  ): Promise<SimulatedSource> {
    const saved = await store.getSourceState<SimulationState | SimulatorCheckpoint>("simulator");
    const active = await store.activeModel();
    if (saved) logger.info("simulator: continuing the saved market");
    return new SimulatedSource(config, saved, !active && config.backfillSeconds > 0, logger, clock);
  }

  async *events(signal: AbortSignal): AsyncGenerator<IncomingEvent> {
    for await (const chunk of this.chunks(signal)) yield* chunk;
  }

  /**
   * The events in arrays: the rest of a partly committed tick, the backfill
   * {@linkcode BACKFILL_CHUNK} at a time, then a tick at a time (the seed
   * profile) or an event at a time (the other profiles' markets).
   */
  async *chunks(signal: AbortSignal): AsyncGenerator<IncomingEvent[]> {
    const { eventFrequencySeconds: freq, backfillSeconds, symbols } = this.config;
    const seed = this.#seed;
    if (seed?.pending) {
      // The rest of the tick the last run had partly committed, with its own time.
      const { tickMs, done } = seed.pending;
      seed.pending = null;
      const events = seed.sim.tick(tickMs);
      seed.tick!.done = done;
      if (done < events.length) {
        this.logger.info(`simulator: finishing the tick at ${tickMs} (${done} event(s) committed)`);
      }
      if (signal.aborted) return;
      const rest = events.slice(done).map((event) => {
        this.#count(event.ts_ms!);
        return this.#stamped(event);
      });
      if (rest.length) yield rest;
    }
    if (this.backfill) {
      const end = this.clock.now();
      const start = end - backfillSeconds * 1000;
      const total = this.#sim.profile === "seed"
        ? Math.floor(backfillSeconds / freq) * symbols.length
        : Math.round(backfillSeconds * expectedRate(this.#sim.profile, symbols));
      this.#status.state = "backfilling";
      this.logger.info(
        `backfill: ${backfillSeconds} s of simulated history, ${
          this.#sim.profile === "seed" ? "" : "about "
        }${total} events, as fast as possible`,
      );
      let n = 0, nextReport = 0.25;
      let chunk: IncomingEvent[] = [];
      for (const event of this.#sim.backfill(start, end)) {
        n++;
        this.#count(event.ts_ms!);
        chunk.push(this.#stamped(event));
        if (chunk.length >= BACKFILL_CHUNK) {
          if (signal.aborted) return;
          yield chunk;
          chunk = [];
        }
        // The seed's ticks are counted; other profiles' arrivals are random, so their share is of time.
        const done = this.#sim.profile === "seed"
          ? n / total
          : (event.ts_ms! - start) / (end - start);
        if (done >= nextReport) {
          this.logger.info(
            this.#sim.profile === "seed"
              ? `backfill: ${Math.round(done * 100)}% (${n}/${total} events)`
              : `backfill: ${Math.round(nextReport * 100)}% (${n} events)`,
          );
          nextReport += 0.25;
        }
      }
      if (signal.aborted) return;
      if (chunk.length) yield chunk;
    }
    this.#status.state = "live";
    this.logger.info(`simulator live: ${symbols.join(", ")}, ${this.#sim.describe()}`);
    if (this.#seedTicks) {
      for await (const tick of this.#seedTicks({ clock: this.clock, signal })) {
        const out: IncomingEvent[] = new Array(tick.length);
        for (let i = 0; i < tick.length; i++) {
          this.#count(tick[i].ts_ms!);
          out[i] = this.#stamped(tick[i]);
        }
        yield out;
      }
      return;
    }
    for await (const event of this.#sim.live({ clock: this.clock, signal })) {
      this.#count(event.ts_ms!);
      yield [this.#stamped(event)];
    }
  }

  #count(ts: number) {
    this.#status.events++;
    this.#status.lastEventAt = ts;
  }

  /**
   * The state after the last event yielded. Workers take the checkpoint the
   * batch's last event carries instead: the source may have read ahead.
   */
  checkpoint(): readonly [Deno.KvKey, unknown] {
    const tick = this.#seed?.tick;
    return [SIMULATOR_KEY, tick ? { ...tick } : this.#sim.toJSON()];
  }

  status(): SourceStatus {
    const profile = this.#sim.profile === "seed" ? "" : `, profile ${this.#sim.profile}`;
    return { ...this.#status, detail: `seed ${this.config.seed}${profile}` };
  }

  close(): Promise<void> {
    this.#status.state = "closed";
    return Promise.resolve();
  }
}

/** Binance's live trade stream. */
export class LiveBinanceSource implements MarketSource {
  readonly name = "binance";
  readonly stream = "binance";
  readonly #source: BinanceSource;
  #events = 0;
  #lastEventAt: number | null = null;

  constructor(config: Config, logger: Logger, readonly clock: Clock = systemClock) {
    this.#source = new BinanceSource({
      symbols: config.symbols,
      baseUrl: config.binanceWsUrl,
      kind: config.binanceStream,
      logger,
      maxClockSkewMs: config.maxClockSkewMs,
      now: () => clock.now(),
    });
  }

  async *events(signal: AbortSignal): AsyncGenerator<IncomingEvent> {
    for await (const event of this.#source.events(signal)) {
      this.#events++;
      this.#lastEventAt = event.ts_ms ?? event.timestamp * 1000;
      yield { event, receivedAt: this.clock.now() };
    }
  }

  checkpoint(): null {
    return null;
  }

  status(): SourceStatus {
    const b = this.#source.status();
    return {
      name: "binance",
      state: b.state === "connected"
        ? "connected"
        : b.state === "closed"
        ? "closed"
        : "reconnecting",
      events: this.#events,
      lastEventAt: this.#lastEventAt,
      detail: `${b.url} (${b.reconnects} reconnects, ${b.gaps} missing trades)`,
      binance: b,
    };
  }

  close(): Promise<void> {
    return this.#source.close();
  }
}

/**
 * A recorded file (JSONL of MarketEvents, Binance trades or aggTrades CSV, or
 * a zip of one) replayed at REPLAY_SPEED. Its offsets are record numbers, so
 * a restarted worker resumes the file where the last committed batch ended.
 */
export class RecordedSource implements MarketSource {
  readonly name = "replay";
  readonly stream: string;
  /**
   * At REPLAY_SPEED=max with TRAIN_SECONDS > 0: awaited with the last prefix
   * event's time before the first event past the prefix is yielded (the
   * embedded pipeline trains on the prefix there). Unset: no pause.
   */
  gate: ((lastPrefixTs: number) => Promise<void>) | null = null;
  #replay: ReplaySource | null = null;
  #events = 0;
  #lastEventAt: number | null = null;
  #ended = false;

  constructor(
    readonly config:
      & Pick<Config, "replayFile" | "replaySpeed" | "replaySymbol" | "symbols" | "maxClockSkewMs">
      & Partial<Pick<Config, "trainSeconds">>,
    readonly logger: Logger,
    readonly clock: Clock = systemClock,
  ) {
    if (!config.replayFile) throw new Error("REPLAY_FILE is required when DATA_SOURCE=replay");
    this.stream = `replay:${config.replayFile.replace(/^.*\//, "")}`;
  }

  async *events(signal: AbortSignal, startOffset: number): AsyncGenerator<IncomingEvent> {
    const replay = new ReplaySource({
      path: this.config.replayFile!,
      symbols: this.config.symbols,
      symbol: this.config.replaySymbol,
      speed: this.config.replaySpeed,
      startAt: startOffset,
      clock: this.clock,
      logger: this.logger,
      progressEveryMs: 2000,
      maxClockSkewMs: this.config.maxClockSkewMs,
      onProgress: (p) => this.logger.info(formatReplayProgress(p)),
    });
    this.#replay = replay;
    this.logger.info(
      `replay: ${this.config.replayFile} at speed ${this.config.replaySpeed}` +
        (startOffset ? `, resuming after record ${startOffset}` : ""),
    );
    const prefixMs = this.config.replaySpeed === "max" ? (this.config.trainSeconds ?? 0) * 1000 : 0;
    let firstTs: number | null = null;
    let lastTs = -Infinity;
    let gated = prefixMs === 0 || this.gate === null;
    for await (const { offset, event } of replay.events(signal)) {
      const ts = event.ts_ms ?? event.timestamp * 1000;
      firstTs ??= ts;
      if (!gated && ts >= firstTs + prefixMs) {
        gated = true;
        this.logger.info(
          `replay: the first ${
            prefixMs / 1000
          } s of event time are read; training on them before scoring the rest`,
        );
        await this.gate!(lastTs);
      }
      if (ts > lastTs) lastTs = ts;
      this.#events++;
      this.#lastEventAt = ts;
      yield { event, receivedAt: this.clock.now(), offset };
    }
    this.#ended = true;
  }

  checkpoint(): null {
    return null;
  }

  status(): SourceStatus {
    const p = this.#replay?.progress();
    const rejected = p?.rejected ?? 0;
    return {
      name: "replay",
      state: this.#ended ? "ended" : this.#replay ? "live" : "starting",
      events: this.#events,
      lastEventAt: this.#lastEventAt,
      detail: p
        ? `${this.config.replayFile}: ${formatReplayProgress(p)}${
          rejected ? ` (${rejected} rejected lines)` : ""
        }`
        : `${this.config.replayFile}`,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
