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
  openSimulation,
  type Simulation,
  type SimulationState,
} from "../ingest/simulate.ts";
import { formatReplayProgress, ReplaySource } from "../ingest/replay.ts";
import { keys, type Store } from "../store/kv.ts";
import type { Logger } from "./log.ts";
import type { IncomingEvent } from "./processor.ts";

/** A source of market events for the worker (embedded) or the Kafka producer. */
export interface MarketSource {
  readonly name: "simulated" | "binance" | "replay";
  /** the stream its offsets are saved under (`["offsets", stream, 0]` in embedded mode) */
  readonly stream: string;
  /** Events until `signal` aborts or the source ends. `startOffset` is the resume point of replayable sources. */
  events(signal: AbortSignal, startOffset: number): AsyncIterable<IncomingEvent>;
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

/** The seeded simulator (SIM_PROFILE): a backfill of simulated history, then live events. */
export class SimulatedSource implements MarketSource {
  readonly name = "simulated";
  readonly stream = "simulated";
  #sim: Simulation;
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
    >,
    saved: SimulationState | null,
    readonly backfill: boolean,
    readonly logger: Logger,
    readonly clock: Clock = systemClock,
  ) {
    const { simulation, note } = openSimulation({
      profile: config.simProfile,
      symbols: config.symbols,
      seed: config.seed,
      anomalyProbability: config.anomalyProbability,
      frequencySeconds: config.eventFrequencySeconds,
      episodes: { weights: config.simEpisodeWeights, magnitude: config.simEpisodeMagnitude },
      startMs: clock.now() - (backfill ? config.backfillSeconds * 1000 : 0),
    }, saved);
    if (note) logger.warn(`simulator: ${note}`);
    this.#sim = simulation;
  }

  /** Loads the simulator's saved state (if any) so a restart continues the same market. */
  static async open(
    config: Config,
    store: Store,
    logger: Logger,
    clock: Clock = systemClock,
  ): Promise<SimulatedSource> {
    const saved = await store.getSourceState<SimulationState>("simulator");
    const active = await store.activeModel();
    if (saved) logger.info("simulator: continuing the saved market");
    return new SimulatedSource(config, saved, !active && config.backfillSeconds > 0, logger, clock);
  }

  async *events(signal: AbortSignal): AsyncGenerator<IncomingEvent> {
    const { eventFrequencySeconds: freq, backfillSeconds, symbols } = this.config;
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
      for (const event of this.#sim.backfill(start, end)) {
        if (signal.aborted) return;
        n++;
        this.#count(event.ts_ms!);
        yield { event, receivedAt: this.clock.now() };
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
    }
    this.#status.state = "live";
    this.logger.info(`simulator live: ${symbols.join(", ")}, ${this.#sim.describe()}`);
    for await (const event of this.#sim.live({ clock: this.clock, signal })) {
      this.#count(event.ts_ms!);
      yield { event, receivedAt: this.clock.now() };
    }
  }

  #count(ts: number) {
    this.#status.events++;
    this.#status.lastEventAt = ts;
  }

  checkpoint(): readonly [Deno.KvKey, unknown] {
    return [keys.source("simulator"), this.#sim.toJSON()];
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
      & Pick<Config, "replayFile" | "replaySpeed" | "replaySymbol" | "symbols">
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
