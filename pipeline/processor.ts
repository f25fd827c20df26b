/**
 * The heart of the worker: a batch of market events becomes feature rows,
 * the rows are scored with the active model, and everything the batch
 * changed (window states, the offset it covers, row and prediction pages,
 * counters) is committed to KV in one atomic. Only then are the predictions
 * published. A batch is therefore either wholly durable or not at all, which
 * is what lets a worker killed at any point resume exactly.
 *
 * Scoring happens here, in the worker, rather than behind a KV queue: the
 * local queue adds 50–85 ms per hop (measured; docs/decisions.md).
 *
 * @module
 */
import type { FeatureRow, MarketEvent, Prediction } from "../lib/contracts.ts";
import { FeatureEngine } from "../features/features.ts";
import { sourceLabel } from "../ingest/admission.ts";
import type { Scorer } from "../model/bundle.ts";
import { predictRows } from "../model/predict.ts";
import { SymbolScorer, type SymbolScorerState } from "../model/detector.ts";
import {
  type Incident,
  type IncidentChange,
  type IncidentSymbolState,
  IncidentTracker,
} from "../model/incidents.ts";
import { type BatchCommit, batchCursors, type StagedBatch, type Store } from "../store/kv.ts";
import { BatchBars, type PackedMinute } from "./batch_bars.ts";
import { MAX_PAGE_RECORDS } from "../store/pages.ts";
import type { Hub } from "./hub.ts";
import { outboxEntries } from "./notifier.ts";
import type { PipelineMetrics } from "./metrics.ts";

/** An event and when Sentinel received it (epoch ms), for latency. */
export interface IncomingEvent {
  event: MarketEvent;
  receivedAt: number;
  /** the record's offset in a replayable stream (a file, a Kafka partition) */
  offset?: number;
  /**
   * The source's state right after this event (a KV set): committed with the
   * batch that ends at this event, so a restart resumes exactly after it.
   */
  checkpoint?: readonly [Deno.KvKey, unknown];
}

/** One batch of one stream partition. */
export interface Batch {
  /** `embedded` or the Kafka topic */
  stream: string;
  partition: number;
  /** offset of the batch's first record */
  firstOffset: number;
  /** offset after the batch's last record (records may include rejected ones) */
  nextOffset: number;
  events: readonly IncomingEvent[];
  /** rejected records of the batch, by source and reason (counted, never lost silently) */
  rejected?: readonly { source: string; reason: string }[];
  /** extra KV sets to commit with the batch (e.g. the simulator's state) */
  extra?: readonly (readonly [Deno.KvKey, unknown])[];
}

/** What a processed batch produced. */
export interface BatchResult {
  rows: FeatureRow[];
  predictions: Prediction[];
  /** incidents the batch opened, updated or closed, in order */
  incidents: IncidentChange[];
}

/**
 * What a symbol's `["state", symbol]` value holds besides the feature
 * window: the scores stage (HST masses) and the incident state machine.
 */
interface DetectState {
  scorer?: SymbolScorerState;
  incident?: IncidentSymbolState;
  /** the symbol's open minute of per-second bars (store/bars.ts) */
  bars?: { minute: number; bytes: Uint8Array };
}

/**
 * A batch computed by {@linkcode Processor.prepare} and not yet committed:
 * what {@linkcode Processor.commit} writes, counts and publishes.
 */
export interface PreparedBatch {
  /** the processor's state epoch it was prepared in */
  readonly epoch: number;
  readonly batch: Batch;
  /** the atomic to commit, but for the fence (read at commit time) */
  readonly commit: Omit<BatchCommit, "expectOffsetVersion">;
  /** `commit` built into a KV atomic already (pages packed), while the batch before commits */
  readonly staged: StagedBatch;
  readonly result: BatchResult;
  /** index in `batch.events` of each prediction */
  readonly predictedIdx: readonly number[];
  /** the batch's predictions' SSE cursors (where its page puts them) */
  readonly ids: readonly string[];
  readonly warmup: number;
  /** whether a model was active */
  readonly scored: boolean;
  readonly bySource: ReadonlyMap<string, number>;
  readonly perSymbol: ReadonlyMap<string, { pred: number; anomaly: number }>;
}

/**
 * Batches with fewer rows than this share a page, filled up to this many
 * rows (a full page: 400 rows gave 66 KV bytes/event live against 73 with
 * 128, for more bytes rewritten per commit; see `Processor.#pageOf`).
 */
export const OPEN_PAGE_ROWS = MAX_PAGE_RECORDS;
/** Most event time between an open page's first row and any row appended to it, ms. */
export const OPEN_PAGE_SPAN_MS = 5_000;

/** A page being filled by consecutive small batches of one partition. */
interface OpenPage {
  pageId: string;
  rows: FeatureRow[];
  predictions: Prediction[];
  predictedRows: number[];
  /** the offset after its last batch */
  nextOffset: number;
}

/** Options of a {@linkcode Processor}. */
export interface ProcessorOptions {
  store: Store;
  windowSeconds: number;
  minWindowEvents: number;
  /** WINSORIZE_SIGMA (null or absent: off) */
  winsorizeSigma?: number | null;
  /** INCIDENT_GAP_SECONDS in ms (default 5 s) */
  incidentGapMs?: number;
  /** INCIDENT_SETTLE_SECONDS in ms (default model/incidents.ts's DEFAULT_SETTLE_MS) */
  incidentSettleMs?: number;
  /** the active model, or null before the first one */
  model: () => Scorer | null;
  hub?: Hub;
  metrics?: PipelineMetrics;
  now?: () => number;
  /** webhook receivers (ALERT_WEBHOOK_URL): incidents opened or closed go to the outbox */
  webhooks?: number;
}

/** What `/system-status` shows of a worker. */
export interface ProcessorStats {
  batches: number;
  events: number;
  predictions: number;
  /** when the last batch was committed (epoch ms) */
  lastCommitAt: number | null;
  /** event time of the newest event processed */
  lastEventTs: number | null;
  /** commit time minus receive time of the last batch's newest event, ms */
  lastLatencyMs: number | null;
}

/** Features → scores → one KV atomic → publish. */
export class Processor {
  #engine: FeatureEngine;
  readonly #scorers = new Map<string, SymbolScorer>();
  readonly #tracker: IncidentTracker;
  /** each partition's open page: small batches append to it (see #pageOf) */
  readonly #open = new Map<string, OpenPage>();
  /** each symbol's open minute of per-second bars */
  readonly #bars = new BatchBars();
  #stats: ProcessorStats = {
    batches: 0,
    events: 0,
    predictions: 0,
    lastCommitAt: null,
    lastEventTs: null,
    lastLatencyMs: null,
  };
  readonly #loaded = new Set<string>();
  readonly #versions = new Map<string, string | null>();
  readonly #o: ProcessorOptions;
  readonly #now: () => number;
  /** bumped whenever in-memory state is dropped: batches prepared before cannot commit */
  #epoch = 0;

  constructor(o: ProcessorOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#engine = new FeatureEngine(o);
    this.#tracker = new IncidentTracker({
      gapMs: o.incidentGapMs ?? 5000,
      settleMs: o.incidentSettleMs,
    });
  }

  stats(): ProcessorStats {
    return { ...this.#stats };
  }

  /** Forgets every symbol's in-memory state (after a Kafka rebalance): it is reloaded from KV. */
  reset(): void {
    this.#forgetStates();
    this.#versions.clear();
  }

  /** Drops the symbols' in-memory state and invalidates every prepared batch. */
  #forgetStates(): void {
    this.#epoch++;
    this.#engine = new FeatureEngine(this.#o);
    this.#scorers.clear();
    this.#tracker.clear();
    this.#bars.clear();
    this.#open.clear();
    this.#loaded.clear();
  }

  /**
   * Takes a partition over: returns the offset to resume from (null: never
   * committed) and remembers the offset key's version, so that this
   * processor's commits fail if another writer commits the partition later.
   */
  async claim(stream: string, partition: number): Promise<number | null> {
    const e = await this.#o.store.loadOffsetEntry(stream, partition);
    this.#versions.set(`${stream}\u0000${partition}`, e.versionstamp);
    return e.offset;
  }

  async #ensureLoaded(events: readonly IncomingEvent[]): Promise<void> {
    const missing = new Set<string>();
    for (const { event } of events) if (!this.#loaded.has(event.symbol)) missing.add(event.symbol);
    if (missing.size === 0) return;
    const states = await this.#o.store.loadStates([...missing]);
    for (const s of missing) {
      const st = states.get(s);
      if (st !== undefined) {
        this.#engine.restoreSymbol(s, st);
        const d = (st as { detect?: DetectState }).detect;
        if (d?.scorer?.hst) {
          const m = this.#o.model()?.detection?.model;
          if (m && m !== "robust") this.#scorers.set(s, new SymbolScorer(m, d.scorer));
        }
        this.#tracker.restoreSymbol(s, d?.incident);
        if (d?.bars) this.#bars.restore(s, d.bars.minute, d.bars.bytes);
      }
      this.#loaded.add(s);
    }
  }

  /** Processes one batch; resolves when it is durable and published. */
  async process(batch: Batch): Promise<BatchResult> {
    return await this.commit(await this.prepare(batch));
  }

  /**
   * The compute half of {@linkcode Processor.process}: features, scores,
   * incidents and the batch's commit (window states as they stand after this
   * batch), with the in-memory state advanced past it. Nothing is durable
   * yet: pass the result to {@linkcode Processor.commit}, in the order the
   * batches were prepared. The caller may prepare batch N+1 while batch N
   * commits (the embedded worker does); if a commit fails, the in-memory
   * state (which may already include later batches) is dropped and reloaded
   * from KV, and batches prepared before the failure can no longer commit.
   */
  async prepare(batch: Batch): Promise<PreparedBatch> {
    const epoch = this.#epoch;
    await this.#ensureLoaded(batch.events);
    if (epoch !== this.#epoch) throw new Error("the processor was reset while loading states");
    const n = batch.events.length;
    const rows: FeatureRow[] = new Array(n);
    const touched = new Set<string>();
    const bySource = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const e = batch.events[i].event;
      rows[i] = this.#engine.update(e);
      touched.add(e.symbol);
      const src = sourceLabel(e.source); // bounded: a producer's names cannot grow the series
      bySource.set(src, (bySource.get(src) ?? 0) + 1);
    }
    const scorer = this.#o.model();
    const { predictions, scored: predictedIdx, warmup } = predictRows(rows, scorer, this.#scorers);
    const changes = scorer ? this.#incidents(rows, predictions, predictedIdx) : [];
    const bars = this.#bars.add(rows, predictions, predictedIdx);
    const latest = new Map<string, Incident>();
    for (const c of changes) {
      latest.set(c.incident.id, c.incident);
      // an incident closed by time changes its symbol's state even without a trade in the batch
      touched.add(c.incident.symbol);
    }

    const counters: [string[], number][] = [
      [["rows"], n],
      [["warmup"], warmup],
      [["unscored"], scorer ? 0 : n - warmup],
    ];
    for (const [src, k] of bySource) counters.push([["events", src], k]);
    const rejectedBySource = new Map<string, number>();
    for (const r of batch.rejected ?? []) {
      rejectedBySource.set(r.source, (rejectedBySource.get(r.source) ?? 0) + 1);
    }
    for (const [src, k] of rejectedBySource) counters.push([["rejected", src], k]);
    const perSymbol = new Map<string, { pred: number; anomaly: number }>();
    for (const p of predictions) {
      let c = perSymbol.get(p.symbol);
      if (!c) perSymbol.set(p.symbol, c = { pred: 0, anomaly: 0 });
      c.pred++;
      if (p.is_anomaly) c.anomaly++;
    }
    for (const [s, c] of perSymbol) {
      counters.push([["pred", s], c.pred], [["anomaly", s], c.anomaly]);
    }
    const page = this.#pageOf(batch, rows, predictions, predictedIdx);
    const commit: Omit<BatchCommit, "expectOffsetVersion"> = {
      stream: batch.stream,
      partition: batch.partition,
      nextOffset: batch.nextOffset,
      pageId: page.pageId,
      states: [...touched].map((s) => [s, this.#symbolState(s, bars)] as const),
      incidents: [...latest.values()],
      outbox: outboxEntries(changes, this.#o.webhooks ?? 0, this.#now()),
      rows: page.rows,
      predictions: page.predictions,
      predictedRows: page.predictedRows,
      bars,
      counters,
      extra: batch.extra,
    };
    return {
      epoch,
      batch,
      commit,
      staged: this.#o.store.stageBatch(commit),
      result: { rows, predictions, incidents: changes },
      predictedIdx,
      ids: batchCursors(page.pageId, page.rows, page.predictedRows).slice(page.skip),
      warmup,
      scored: scorer !== null,
      bySource,
      perSymbol,
    };
  }

  /**
   * The durable half of {@linkcode Processor.process}: commits a prepared
   * batch in one atomic (fenced by the partition's offset version as it is
   * now, after the batches committed before it), then counts and publishes.
   */
  async commit(p: PreparedBatch): Promise<BatchResult> {
    const { store, metrics } = this.#o;
    if (p.epoch !== this.#epoch) {
      throw new Error("batch prepared before a reset or a failed commit: it cannot commit");
    }
    const { batch, result: { rows, predictions, incidents: changes }, predictedIdx, warmup } = p;
    const { bySource, perSymbol } = p;
    const n = batch.events.length;
    const t0 = performance.now();
    const fence = `${batch.stream}\u0000${batch.partition}`;
    let versionstamp: string;
    try {
      versionstamp = await store.commitStaged(p.staged, this.#versions.get(fence));
    } catch (e) {
      // The in-memory state may include batches prepared after this one: drop it.
      this.#forgetStates();
      throw e;
    }
    if (this.#versions.has(fence)) this.#versions.set(fence, versionstamp);
    const committedAt = this.#now();
    if (n > 0) {
      const last = batch.events[n - 1];
      this.#stats = {
        batches: this.#stats.batches + 1,
        events: this.#stats.events + n,
        predictions: this.#stats.predictions + predictions.length,
        lastCommitAt: committedAt,
        lastEventTs: rows[n - 1].ts_ms,
        lastLatencyMs: committedAt - last.receivedAt,
      };
    }
    if (metrics) {
      metrics.commitSeconds.observe((performance.now() - t0) / 1000);
      metrics.batches.inc();
      for (const [src, k] of bySource) metrics.eventsIn.inc({ source: src }, k);
      for (const r of batch.rejected ?? []) {
        metrics.eventsRejected.inc({ source: r.source, reason: r.reason.split(":")[0] });
      }
      metrics.rows.inc({}, n);
      metrics.warmup.inc({}, warmup);
      if (!p.scored) metrics.unscored.inc({}, n - warmup);
      for (const [s, c] of perSymbol) metrics.predictions.inc({ symbol: s }, c.pred);
      for (let j = 0; j < predictions.length; j++) {
        const pr = predictions[j];
        if (pr.is_anomaly) {
          metrics.anomalies.inc({ symbol: pr.symbol, type: pr.anomaly_type ?? "none" });
        }
        const ms = Math.max(0, committedAt - batch.events[predictedIdx[j]].receivedAt);
        metrics.latency.observe(ms / 1000);
        metrics.latencySamples?.push(ms);
      }
    }
    if (predictions.length || changes.length) {
      this.#o.hub?.publish({
        pageId: p.commit.pageId,
        predictions,
        ids: p.ids,
        incidents: changes,
      });
    }
    return p.result;
  }

  /**
   * Feeds the batch to the incident state machine: every row (scored or not,
   * so trades and prices between alerts count), then closes the incidents
   * whose quiet gap the batch's newest event has passed.
   */
  #incidents(
    rows: readonly FeatureRow[],
    predictions: readonly Prediction[],
    scored: readonly number[],
  ): IncidentChange[] {
    const out: IncidentChange[] = [];
    let j = 0;
    let newest = -Infinity;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (r.ts_ms > newest) newest = r.ts_ms;
      const p = scored[j] === i ? predictions[j++] : null;
      out.push(...this.#tracker.observe({
        symbol: r.symbol,
        ts_ms: r.ts_ms,
        price: r.price,
        alert: p?.is_anomaly ?? false,
        severity: p?.severity ?? 0,
        driver: p?.driver ?? "forest",
        price_z: p?.price_z ?? p?.z_score_price ?? 0,
        model_id: p?.model_id ?? "",
      }));
    }
    if (newest > -Infinity) out.push(...this.#tracker.advance(newest));
    return out;
  }

  /**
   * The page a batch's rows and predictions go to. A batch of at least
   * {@linkcode OPEN_PAGE_ROWS} rows has pages of its own. A smaller one (live
   * traffic: a few events a batch) is appended to its partition's open page
   * when that page holds the batch just before it, has room, and spans at
   * most {@linkcode OPEN_PAGE_SPAN_MS} of event time: the commit rewrites the
   * page under its first batch's key with every row so far, so a page's KV
   * entry and header are paid once per ~{@linkcode OPEN_PAGE_ROWS} events,
   * not once per batch (docs/decisions.md, "Open pages"). `skip`: the
   * page's predictions before this batch's.
   */
  #pageOf(
    batch: Batch,
    rows: FeatureRow[],
    predictions: Prediction[],
    predictedIdx: number[],
  ): OpenPage & { skip: number } {
    const part = `${batch.stream}\u0000${batch.partition}`;
    const own: OpenPage = {
      pageId: `${batch.stream}.${batch.partition}.${batch.firstOffset}`,
      rows,
      predictions,
      predictedRows: predictedIdx,
      nextOffset: batch.nextOffset,
    };
    const open = this.#open.get(part);
    const fits = (p: OpenPage) =>
      p.nextOffset === batch.firstOffset && p.rows.length + rows.length <= OPEN_PAGE_ROWS &&
      rows.every((r) => Math.abs(r.ts_ms - p.rows[0].ts_ms) <= OPEN_PAGE_SPAN_MS);
    if (rows.length >= OPEN_PAGE_ROWS || rows.length === 0) {
      this.#open.delete(part);
      return { ...own, skip: 0 };
    }
    if (!open || !fits(open)) {
      this.#open.set(part, own);
      return { ...own, skip: 0 };
    }
    const n = open.rows.length;
    const grown: OpenPage = {
      pageId: open.pageId,
      rows: [...open.rows, ...rows],
      predictions: [...open.predictions, ...predictions],
      predictedRows: [...open.predictedRows, ...predictedIdx.map((i) => i + n)],
      nextOffset: batch.nextOffset,
    };
    this.#open.set(part, grown);
    return { ...grown, skip: open.predictions.length };
  }

  /**
   * A symbol's checkpoint: its feature window plus the detection stages'
   * state. `packed`: the minutes the batch's bars just packed.
   */
  #symbolState(symbol: string, packed: readonly PackedMinute[]): unknown {
    const detect: DetectState = { incident: this.#tracker.symbolState(symbol) };
    const bars = this.#bars.checkpoint(symbol, packed);
    if (bars) detect.bars = bars;
    const sc = this.#scorers.get(symbol);
    if (sc && sc.model !== "robust") detect.scorer = sc.toJSON();
    return { ...this.#engine.symbolState(symbol, { binary: true }), detect };
  }
}
