/**
 * Starts the roles of one Sentinel process over one KV store: the source and
 * the worker (features, scoring, KV commits), the trainer, and — in the web
 * issue — the HTTP server. Embedded mode joins source and worker with an
 * in-process channel; Kafka mode puts the broker between them.
 *
 * @module
 */
import type { Incident } from "./model/incidents.ts";
import type { Role } from "./cli.ts";
import type { Config } from "./config.ts";
import type { Clock } from "./lib/clock.ts";
import { systemClock } from "./lib/clock.ts";
import { Store } from "./store/kv.ts";
import { type BatchOptions, sourceBatches } from "./pipeline/batcher.ts";
import { Hub } from "./pipeline/hub.ts";
import { consoleLogger, type Logger } from "./pipeline/log.ts";
import { PipelineMetrics } from "./pipeline/metrics.ts";
import { ModelHolder } from "./pipeline/models.ts";
import { Notifier, type NotifierOptions } from "./pipeline/notifier.ts";
import { Processor } from "./pipeline/processor.ts";
import { splitBySymbols } from "./pipeline/split.ts";
import {
  LiveBinanceSource,
  type MarketSource,
  RecordedSource,
  SimulatedSource,
} from "./pipeline/sources.ts";
import { Trainer } from "./pipeline/trainer.ts";
import { KvTail } from "./pipeline/tail.ts";
import { EventProducer, probeKafka } from "./ingest/kafka.ts";
import { startWebServer } from "./routes/app.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { KafkaView, WebContext } from "./routes/context.ts";
import {
  kafkaSettings,
  KafkaWorker,
  prepareTopics,
  runKafkaSource,
  startHeartbeat,
} from "./pipeline/kafka_roles.ts";

/** Knobs tests and benchmarks turn; production uses the defaults. */
export interface SentinelOptions {
  logger?: (component: string) => Logger;
  clock?: Clock;
  batch?: BatchOptions;
  trainerPollMs?: number;
  modelPollMs?: number;
  /** log a throughput line this often (0: never) */
  reportEveryMs?: number;
  /** how often a web-only process reads KV for predictions committed elsewhere, ms */
  tailPollMs?: number;
  /** HTTP port (default: PORT); 0 picks a free one */
  port?: number;
  hostname?: string;
  /** adds the dashboard's pages to the web app */
  mountPages?: (app: OpenAPIHono, ctx: WebContext) => void;
  /** Kafka consumer session timeout (tests shorten failover) */
  kafkaSessionTimeoutMs?: number;
  /** fit models in a Web Worker (default true) */
  trainInWorker?: boolean;
  /** a source built by the caller instead of the configured one */
  source?: MarketSource;
  /** webhook sender knobs (tests shorten the backoff) */
  notifier?: Partial<
    Pick<NotifierOptions, "pollMs" | "baseBackoffMs" | "maxBackoffMs" | "timeoutMs">
  >;
}

/**
 * The log line naming the address the server really listens on: a wildcard
 * bind (`0.0.0.0`, `::`) is reachable from other machines, and says so.
 *
 * @example
 * ```ts
 * import { listeningLine } from "./sentinel.ts";
 * console.log(listeningLine("127.0.0.1", 8000));
 * // "dashboard and API on http://127.0.0.1:8000 (this machine only; API docs at /docs)"
 * ```
 */
export function listeningLine(hostname: string, port: number): string {
  const wildcard = hostname === "0.0.0.0" || hostname === "::";
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  if (wildcard) {
    return `dashboard and API listening on ${host}:${port}, every interface ` +
      `(http://localhost:${port} here; HOST=127.0.0.1 for this machine only; API docs at /docs)`;
  }
  const local = /^(127\.|::1$|localhost$)/.test(hostname);
  return `dashboard and API on http://${host}:${port} (${
    local ? "this machine only; " : ""
  }API docs at /docs)`;
}

/** Thrown when the roles asked for cannot run with this configuration. */
export class RoleError extends Error {}

const quietLogger: Logger = { info() {}, warn() {} };

/** The roles' wiring in one process. */
export class Sentinel {
  readonly hub = new Hub();
  readonly metrics = new PipelineMetrics();
  readonly #stop = new AbortController();
  readonly #tasks: Promise<unknown>[] = [];
  source: MarketSource | null = null;
  processor: Processor | null = null;
  trainer: Trainer | null = null;
  producer: EventProducer | null = null;
  /** the HTTP port when the web role runs */
  port: number | null = null;
  kafkaWorker: KafkaWorker | null = null;
  /** the incident webhook sender (worker role with ALERT_WEBHOOK_URL) */
  notifier: Notifier | null = null;
  /** resolves when the source has ended and every batch is committed (a finite replay) */
  done: Promise<void> = Promise.resolve();
  readonly startedAt: number;

  private constructor(
    readonly config: Config,
    readonly roles: readonly Role[],
    readonly store: Store,
    readonly models: ModelHolder,
    readonly opts: SentinelOptions,
  ) {
    this.startedAt = (opts.clock ?? systemClock).now();
  }

  /** Opens the store and starts the roles. */
  static async start(
    config: Config,
    roles: readonly Role[],
    opts: SentinelOptions = {},
  ): Promise<Sentinel> {
    const log = opts.logger ?? consoleLogger;
    if (!config.kafkaBrokers && roles.includes("source") !== roles.includes("worker")) {
      throw new RoleError(
        "the source and worker roles run in separate processes only through Kafka: set " +
          "KAFKA_BROKERS, or run both roles (the default) in one process",
      );
    }
    let store: Store;
    try {
      store = await Store.open(config.kvPath, {
        retentionMs: config.retentionSeconds * 1000,
        rawRetentionMs: config.rawRetentionSeconds * 1000,
      });
    } catch (e) {
      if (!/^https?:\/\//.test(config.kvPath)) throw e;
      // A KV Connect server that refuses or does not answer: one line naming the settings.
      const why = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ");
      throw new RoleError(
        `cannot open the KV Connect database at KV_PATH=${config.kvPath} (check KV_PATH and ` +
          `DENO_KV_ACCESS_TOKEN): ${why}`,
      );
    }
    const models = new ModelHolder(store, log("model"), { pollMs: opts.modelPollMs });
    const s = new Sentinel(config, roles, store, models, opts);
    try {
      await s.#start(log);
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  async #start(log: (c: string) => Logger): Promise<void> {
    const { config, roles, store, opts } = this;
    const clock = opts.clock ?? systemClock;
    if (roles.includes("worker")) await this.models.start();
    if (roles.includes("trainer")) {
      this.trainer = new Trainer(store, log("trainer"), {
        minTrainingRows: config.minTrainingRows,
        maxWaitSeconds: config.maxWaitSeconds,
        retrainIntervalSeconds: config.retrainIntervalSeconds,
        nEstimators: config.nEstimators,
        contamination: config.contamination,
        seed: config.seed,
        detection: config.model === "iforest" ? null : {
          model: config.model,
          budget: config.alertBudget,
          gapMs: config.incidentGapSeconds * 1000,
        },
        pollMs: opts.trainerPollMs,
        useWorker: opts.trainInWorker,
      }, clock.now);
      this.trainer.start();
    }
    if (roles.includes("source") && roles.includes("worker") && !config.kafkaBrokers) {
      this.source = opts.source ?? await openSource(config, store, log("source"), clock);
      this.processor = this.#newProcessor(clock);
      if (this.source instanceof RecordedSource && this.trainer) {
        this.source.gate = (lastPrefixTs) => this.#trainOnPrefix(lastPrefixTs, clock);
      }
      this.done = this.#runEmbedded(this.source, this.processor, log("worker"));
      this.#tasks.push(this.done);
    } else if (config.kafkaBrokers && (roles.includes("source") || roles.includes("worker"))) {
      await prepareTopics(config, log("kafka"));
      if (roles.includes("worker")) {
        this.processor = this.#newProcessor(clock);
        this.kafkaWorker = new KafkaWorker(config, this.processor, log("worker"), {
          sessionTimeoutMs: opts.kafkaSessionTimeoutMs,
        });
        const run = this.kafkaWorker.run();
        this.#tasks.push(run);
        run.catch((e) => log("worker").warn(`Kafka worker stopped: ${e}`));
      }
      if (roles.includes("source")) {
        this.source = opts.source ?? await openSource(config, store, log("source"), clock);
        this.producer = new EventProducer(kafkaSettings(config, "source", log("kafka")));
        this.done = runKafkaSource(
          this.source,
          this.producer,
          store,
          this.#stop.signal,
          log("source"),
        );
        this.#tasks.push(this.done);
      }
    }
    // Only long-running roles beat; a web-only process (Deno Deploy: no sys access) does not.
    const instance = roles.some((r) => r !== "web") ? `${Deno.hostname()}:${Deno.pid}` : "";
    if (roles.includes("worker")) {
      startHeartbeat(store, "worker", instance, () => ({
        ...this.processor?.stats(),
        kafka: this.kafkaWorker?.consumer.status() ?? null,
      }), this.#stop.signal);
    }
    if (roles.includes("worker")) this.#sweepRaw(store, log("store"));
    if (roles.includes("worker") && config.alertWebhookUrls.length) {
      this.notifier = new Notifier({
        store,
        urls: config.alertWebhookUrls,
        secret: config.alertWebhookSecret,
        format: config.alertWebhookFormat,
        maxAttempts: config.alertWebhookMaxAttempts,
        logger: log("webhook"),
        ...opts.notifier,
      });
      this.notifier.start();
      log("webhook").info(
        `incident webhooks to ${config.alertWebhookUrls.length} receiver(s), ${config.alertWebhookFormat} format${
          config.alertWebhookSecret ? ", signed" : ""
        }`,
      );
    }
    if (roles.includes("source")) {
      startHeartbeat(store, "source", instance, () => ({
        ...this.source?.status(),
        kafka: this.producer?.status() ?? null,
      }), this.#stop.signal);
    }
    if (this.trainer) {
      startHeartbeat(store, "trainer", instance, () => this.trainer!.status(), this.#stop.signal);
    }
    if (roles.includes("web")) {
      if (!roles.includes("worker")) {
        await this.models.start();
        // Workers run elsewhere: stream their commits from KV into this hub (SSE).
        await new KvTail(store, this.hub, log("web"), { pollMs: opts.tailPollMs }).start(
          this.#stop.signal,
        );
      }
      const { port, hostname } = await startWebServer(this.webContext(), {
        port: opts.port ?? config.port,
        hostname: opts.hostname ?? config.host,
        signal: this.#stop.signal,
        app: {
          mount: opts.mountPages ? (app) => opts.mountPages!(app, this.webContext()) : undefined,
          logger: log("web"),
        },
      });
      this.port = port;
      log("web").info(listeningLine(hostname, port));
    }
    const every = opts.reportEveryMs ?? 10_000;
    if (every > 0 && roles.includes("worker")) this.#report(log("stats"), every);
    this.#logAlerts(log("alert"));
  }

  /**
   * A max-speed replay's prefix: once every prefix event is committed, train
   * on exactly those rows (a model fitted by the trainer's own schedule on
   * part of the prefix is replaced) and wait until that model is live, so no
   * later event is scored by a model that saw it, and none goes unscored.
   */
  async #trainOnPrefix(lastPrefixTs: number, clock: Clock): Promise<void> {
    const processor = this.processor!;
    while ((processor.stats().lastEventTs ?? -Infinity) < lastPrefixTs) {
      await clock.sleep(5, this.#stop.signal);
      if (this.#stop.signal.aborted) return;
    }
    let bundle = await this.trainer!.trainNow("replay prefix");
    if (bundle.training.to_ts < lastPrefixTs) {
      bundle = await this.trainer!.trainNow("replay prefix");
    }
    while (this.models.current?.id !== bundle.id && !this.#stop.signal.aborted) {
      await this.models.refresh();
      if (this.models.current?.id !== bundle.id) await clock.sleep(10, this.#stop.signal);
    }
  }

  #newProcessor(clock: Clock): Processor {
    return new Processor({
      store: this.store,
      windowSeconds: this.config.windowSeconds,
      minWindowEvents: this.config.minWindowEvents,
      winsorizeSigma: this.config.winsorizeSigma,
      incidentGapMs: this.config.incidentGapSeconds * 1000,
      incidentSettleMs: this.config.incidentSettleSeconds * 1000,
      model: () => this.models.current,
      hub: this.hub,
      metrics: this.metrics,
      now: clock.now,
      webhooks: this.config.alertWebhookUrls.length,
    });
  }

  async #runEmbedded(source: MarketSource, processor: Processor, logger: Logger): Promise<void> {
    const stream = source.stream;
    let offset = (await processor.claim(stream, 0)) ?? 0;
    logger.info(`worker: ${stream} from offset ${offset}`);
    const batchOpts = this.opts.batch ?? { maxSize: 1000, maxWaitMs: 10 };
    // Pipelined: batch N+1 is computed while batch N commits; commits stay in
    // order (N+1's offset and states are written only after N's), and a
    // failed commit drops the in-memory state N+1 advanced (Processor.commit).
    let committing: Promise<unknown> | null = null;
    try {
      for await (const items of sourceBatches(source, this.#stop.signal, offset, batchOpts)) {
        const first = items[0].offset ?? offset;
        const last = items[items.length - 1].offset;
        const next = last === undefined ? offset + items.length : last + 1;
        // The state after the batch's own last event, not after whatever the source read since.
        const cp = items[items.length - 1].checkpoint ?? source.checkpoint();
        // A batch touching many symbols commits as consecutive parts (KV's 800 KB atomic limit).
        const parts = splitBySymbols({
          stream,
          partition: 0,
          firstOffset: first,
          nextOffset: next,
          events: items,
          extra: cp ? [cp] : [],
        });
        for (const part of parts) {
          const prepared = await processor.prepare(part);
          if (committing) await committing;
          committing = processor.commit(prepared);
          // handled here so a failure while the next batch computes is not "unhandled"; awaited above
          committing.catch(() => {});
        }
        offset = next;
      }
      if (committing) await committing;
      logger.info(`worker: source ended at offset ${offset}`);
    } catch (e) {
      // A batch may still be committing (the error came from computing the next): let it land.
      if (committing) await committing.catch(() => {});
      logger.warn(`worker stopped: ${e instanceof Error ? e.stack : e}`);
      throw e;
    }
  }

  #report(logger: Logger, everyMs: number): void {
    let last = { events: 0, at: Date.now() };
    const timer = setInterval(() => {
      const m = this.metrics;
      const events = m.rows.total();
      const preds = m.predictions.total();
      const anomalies = m.anomalies.total();
      const now = Date.now();
      const rate = ((events - last.events) / ((now - last.at) / 1000)).toFixed(0);
      last = { events, at: now };
      const p50 = m.latency.quantile(0.5), p99 = m.latency.quantile(0.99);
      const ms = (x: number | null) => x === null ? "n/a" : `≤${(x * 1000).toFixed(1)} ms`;
      logger.info(
        `${events} events (${rate}/s), ${preds} predictions, ${anomalies} anomalies` +
          (preds ? ` (${((anomalies / preds) * 100).toFixed(2)}%)` : "") +
          `, latency p50 ${ms(p50)} p99 ${ms(p99)}, model ${this.models.current?.id ?? "none yet"}`,
      );
    }, everyMs);
    this.#stop.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }

  /**
   * One terminal line per incident opened and per incident closed, not one per
   * alert: a flash crash is one story, not fifty lines.
   */
  #logAlerts(logger: Logger): void {
    const unsubscribe = this.hub.subscribe((b) => {
      for (const c of b.incidents ?? []) {
        if (c.kind === "updated") continue;
        logger.info(describeIncident(c.kind, c.incident));
      }
    });
    this.#stop.signal.addEventListener("abort", unsubscribe, { once: true });
  }

  /** What the HTTP layer sees of this process. */
  webContext(): WebContext {
    const config = this.config;
    const kafka: KafkaView | null = config.kafkaBrokers
      ? {
        brokers: config.kafkaBrokers,
        topic: config.kafkaTopic,
        probe: () => probeKafka(kafkaSettings(config, "web", quietLogger)),
        producer: this.producer ? () => this.producer!.status() : undefined,
        consumer: this.kafkaWorker ? () => this.kafkaWorker!.consumer.status() : undefined,
      }
      : null;
    return {
      config,
      store: this.store,
      hub: this.hub,
      metrics: this.metrics,
      models: this.models,
      trainer: this.trainer,
      source: this.source,
      worker: this.processor,
      kafka,
      startedAt: this.startedAt,
      now: () => (this.opts.clock ?? systemClock).now(),
    };
  }

  /** Stops the roles: the source stops, the last batch is committed, KV is closed. */
  /**
   * Deletes raw pages past RETENTION_RAW every minute (store/kv.ts
   * `sweepRaw`): KV's own expiry is lazy and leaves them readable.
   */
  #sweepRaw(store: Store, logger: Logger): void {
    const timer = setInterval(() => {
      store.sweepRaw().then((n) => {
        if (n) logger.info(`raw tier: ${n} page(s) past RETENTION_RAW deleted`);
      }).catch((e) => logger.warn(`raw tier sweep: ${e}`));
    }, 60_000);
    this.#stop.signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }

  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#stop.abort();
    await this.kafkaWorker?.stop();
    await Promise.allSettled(this.#tasks);
    await this.producer?.close();
    await this.source?.close();
    await this.trainer?.stop();
    await this.notifier?.stop();
    this.models.stop();
    this.store.close();
  }
}

async function openSource(
  config: Config,
  store: Store,
  logger: Logger,
  clock: Clock,
): Promise<MarketSource> {
  switch (config.dataSource) {
    case "simulated":
      return await SimulatedSource.open(config, store, logger, clock);
    case "binance":
      return new LiveBinanceSource(config, logger, clock);
    case "replay":
      return new RecordedSource(config, logger, clock);
  }
}

function fmt(x: number | undefined): string {
  return x === undefined ? "?" : x.toPrecision(6);
}

/** One log line for an incident change. */
export function describeIncident(kind: "opened" | "closed", i: Incident): string {
  const move = i.ref_price > 0 ? (Math.log(i.peak_price / i.ref_price) * 1e4).toFixed(0) : "0";
  const drivers = Object.entries(i.drivers).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`)
    .join(", ");
  const at = new Date(i.start_ms).toISOString().slice(11, 23);
  if (kind === "opened") {
    return `incident ${i.id} opened: ${i.symbol} ${i.type} at ${at} UTC, price ${
      fmt(i.peak_price)
    } ` +
      `(${move} bp from ${fmt(i.ref_price)}), severity ${
        i.peak_severity.toFixed(2)
      }, driver ${drivers}`;
  }
  return `incident ${i.id} closed: ${i.symbol} ${i.type}, ${
    ((i.end_ms - i.start_ms) / 1000).toFixed(1)
  } s, ` +
    `${i.alerts} alert(s) over ${i.trades} trade(s), peak ${move} bp, severity ${
      i.peak_severity.toFixed(2)
    }, ${drivers}`;
}
