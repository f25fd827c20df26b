/**
 * Every Deno KV key Sentinel uses, and the typed reads and writes over them
 * (DESIGN.md section 7). Nothing else in the code base builds a KV key.
 *
 * @module
 */
import type { Incident } from "../model/incidents.ts";
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import { type Bundle, decodeBundleChunks, encodeBundleChunks } from "../model/bundle.ts";
import {
  decodePredictions,
  decodeRows,
  decodeVerdicts,
  encodePredictions,
  encodeRows,
  encodeVerdicts,
  isVerdictPage,
  MAX_PAGE_RECORDS,
  type Page,
  type VerdictPage,
} from "./pages.ts";
import { packPage, pageOf } from "./packed.ts";
import { isBatchBytes, packBatch, unpackBatch } from "./compact.ts";
import { type SecondBar, unpackMinute } from "./bars.ts";
import { openKv } from "./open.ts";

/** A stored page: batch or packed bytes (now) or a page object (written before packing). */
type Stored = Page | VerdictPage | Uint8Array;

const PAGE = MAX_PAGE_RECORDS;

/**
 * The SSE cursors of a batch's predictions as {@linkcode Store.commitBatch}
 * pages them (all-symbol pages), in the batch's order.
 */
export function predictionCursors(pageId: string, preds: readonly Prediction[]): string[] {
  const out: string[] = new Array(preds.length);
  for (let i = 0; i < preds.length; i += PAGE) {
    const first = preds[i].ts_ms;
    for (let j = i; j < Math.min(i + PAGE, preds.length); j++) {
      out[j] = formatCursor(first, `${pageId}.${i}`, j - i);
    }
  }
  return out;
}

/**
 * The SSE cursors of a worker batch's predictions as
 * {@linkcode Store.commitBatch} pages them with `predictedRows` (batch pages
 * of at most {@linkcode MAX_PAGE_RECORDS} rows, each keyed by its first
 * row): `predictedRows[j]` is prediction j's index in `rows`.
 */
export function batchCursors(
  pageId: string,
  rows: readonly { ts_ms: number }[],
  predictedRows: readonly number[],
): string[] {
  const out: string[] = new Array(predictedRows.length);
  let page = -1, first = 0;
  for (let j = 0; j < predictedRows.length; j++) {
    const start = Math.floor(predictedRows[j] / PAGE) * PAGE;
    if (start !== page) [page, first] = [start, j];
    out[j] = formatCursor(rows[start].ts_ms, `${pageId}.${start}`, j - first);
  }
  return out;
}

function formatCursor(firstTs: number, pageId: string, index: number): string {
  return `${firstTs}~${pageId}~${index}`;
}

/** Parses a cursor from {@linkcode predictionCursors}; null when malformed. */
export function parseCursor(
  cursor: string,
): { firstTs: number; pageId: string; index: number } | null {
  const m = /^(\d+)~([^~]+)~(\d+)$/.exec(cursor);
  if (!m) return null;
  return { firstTs: Number(m[1]), pageId: m[2], index: Number(m[3]) };
}

/** The keys, in one place. */
export const keys = {
  /** A symbol's feature-window state, written with the offsets it covers. */
  state: (symbol: string) => ["state", symbol] as const,
  /** Next offset to read of a stream's partition (Kafka topic, or an embedded source). */
  offset: (stream: string, partition: number) => ["offsets", stream, partition] as const,
  /** A page of feature rows (all rows of a batch, warm-up included), for training. */
  rows: (firstTs: number, pageId: string) => ["rows", firstTs, pageId] as const,
  rowsPrefix: ["rows"] as const,
  /** A page of predictions (all symbols). */
  pred: (firstTs: number, pageId: string) => ["pred", firstTs, pageId] as const,
  predPrefix: ["pred"] as const,
  /**
   * A page of one symbol's predictions: written before predictions were
   * stored once (a copy of the `pred` pages, which readers filter by symbol
   * now); no longer written or read, left to expire.
   */
  predSym: (symbol: string, firstTs: number, pageId: string) =>
    ["pred_sym", symbol, firstTs, pageId] as const,
  predSymPrefix: (symbol: string) => ["pred_sym", symbol] as const,
  /** The active bundle's id and chunk count: one atomic set activates a model. */
  modelActive: ["model", "active"] as const,
  modelChunk: (id: string, i: number) => ["model", id, "chunk", i] as const,
  /** Listing of every stored bundle (metadata only). */
  modelIndex: (id: string) => ["models", id] as const,
  modelIndexPrefix: ["models"] as const,
  /** `Deno.KvU64` counters. */
  count: (...parts: string[]) => ["count", ...parts] as const,
  countPrefix: ["count"] as const,
  /** A source's own resumable state (e.g. the simulator's generator). */
  source: (name: string) => ["source", name] as const,
  /** Liveness of a role instance, with `expireIn`. */
  heartbeat: (role: string, instance: string) => ["heartbeat", role, instance] as const,
  heartbeatPrefix: ["heartbeat"] as const,
  /** Requests between processes, e.g. a retrain asked for by the API. */
  control: (name: string) => ["control", name] as const,
  /** An incident (open or closed), by start time; its id is `SYMBOL:start_ms`. */
  incident: (startMs: number, id: string) => ["incident", startMs, id] as const,
  incidentPrefix: ["incident"] as const,
  /** An incident notification waiting for delivery to one webhook receiver (pipeline/notifier.ts). */
  outbox: (id: string) => ["outbox", id] as const,
  outboxPrefix: ["outbox"] as const,
  /** A notification given up on after ALERT_WEBHOOK_MAX_ATTEMPTS, kept for the retention. */
  outboxDead: (id: string) => ["outbox_dead", id] as const,
  outboxDeadPrefix: ["outbox_dead"] as const,
  /** An analyst's review of an incident (acknowledged, true or false positive). */
  review: (incidentId: string) => ["review", incidentId] as const,
  /** A symbol muted until a time: its incidents send no webhook meanwhile. */
  mute: (symbol: string) => ["mute", symbol] as const,
  /** A symbol's minute of per-second bars (store/bars.ts), kept for the long retention. */
  bars: (symbol: string, minute: number) => ["bars", symbol, minute] as const,
  mutePrefix: ["mute"] as const,
};

/** An analyst's review of an incident. */
export interface IncidentReview {
  incident_id: string;
  acknowledged: boolean;
  verdict: "true_positive" | "false_positive" | null;
  note: string | null;
  updated_at: string;
}

/** A muted symbol. */
export interface Mute {
  symbol: string;
  until_ms: number;
  created_at: string;
}

/**
 * A notification in the webhook outbox: written in the atomic of the batch
 * that opened or closed the incident, deleted once a receiver took it.
 */
export interface OutboxEntry {
  /** `<incident id>|<kind>|<receiver index>`: a replayed batch rewrites, never duplicates */
  id: string;
  kind: "opened" | "closed";
  incident: Incident;
  /** index into ALERT_WEBHOOK_URL's list (the URL itself may hold a token: never stored) */
  target: number;
  created_ms: number;
  attempts: number;
  /** not before this time (epoch ms): backoff, or another sender's lease */
  next_ms: number;
  last_error: string | null;
}

/** How the webhook outbox stands, for System Status and `/metrics`. */
export interface OutboxStats {
  pending: number;
  /** pending entries that failed at least once */
  retrying: number;
  dead: number;
  delivered: number;
  failed_attempts: number;
  /** creation time of the oldest pending entry, or null */
  oldest_ms: number | null;
}

/** The active model pointer stored at `["model", "active"]`. */
export interface ActiveModel {
  id: string;
  chunks: number;
  activated_at: string;
}

/** What `["models", id]` holds: enough to list bundles without loading trees. */
export interface ModelIndexEntry {
  id: string;
  created_at: string;
  chunks: number;
  bytes: number;
  rows: number;
  symbols: string[];
  report_kind: string;
}

/** One batch's durable effects, committed in one atomic. */
export interface BatchCommit {
  stream: string;
  partition: number;
  /** the offset after the last record of the batch */
  nextOffset: number;
  /** a deterministic id for the batch's pages (same batch → same keys) */
  pageId: string;
  states: readonly (readonly [symbol: string, state: unknown])[];
  rows: readonly FeatureRow[];
  predictions: readonly Prediction[];
  /**
   * Each prediction's index in `rows` (it is that row's prediction): the
   * prediction pages then refer to the row pages instead of repeating the
   * features. Absent: self-contained prediction pages.
   */
  predictedRows?: readonly number[];
  /** `Deno.KvU64` increments */
  counters: readonly (readonly [key: readonly string[], n: number])[];
  /** extra sets in the same atomic (e.g. a source's state) */
  extra?: readonly (readonly [key: Deno.KvKey, value: unknown])[];
  /** minutes of per-second bars the batch changed: `[symbol, minute, packed bars]` */
  bars?: readonly (readonly [symbol: string, minute: number, bytes: Uint8Array])[];
  /** incidents opened, updated or closed by the batch (latest version of each) */
  incidents?: readonly Incident[];
  /** webhook notifications of the incidents the batch opened or closed */
  outbox?: readonly OutboxEntry[];
  /**
   * The versionstamp the offset key had when this writer took the partition
   * over (null: it did not exist). The commit fails with
   * {@linkcode PartitionLostError} if another writer committed since: a worker
   * that lost its partition in a rebalance can never overwrite the new owner's
   * state. Undefined: no check.
   */
  expectOffsetVersion?: string | null;
}

/** A batch commit found that another writer owns the partition now. */
export class PartitionLostError extends Error {
  constructor(stream: string, partition: number) {
    super(`partition ${stream}/${partition} was committed by another writer`);
    this.name = "PartitionLostError";
  }
}

/** Retention of a {@linkcode Store}. */
export interface StoreOptions {
  /** RETENTION: the long tier (bars, incidents, reviews), ms */
  retentionMs: number;
  /** RETENTION_RAW: per-event rows and predictions, ms (default: `retentionMs`) */
  rawRetentionMs?: number;
}

/** Typed access to Sentinel's KV. */
export class Store {
  /** How long bars, incidents, reviews and dead letters stay (RETENTION), in ms. */
  readonly retentionMs: number;
  /** How long raw rows and predictions stay (RETENTION_RAW), in ms; at most `retentionMs`. */
  readonly rawRetentionMs: number;

  constructor(readonly kv: Deno.Kv, opts: StoreOptions) {
    this.retentionMs = opts.retentionMs;
    this.rawRetentionMs = Math.min(opts.rawRetentionMs ?? opts.retentionMs, opts.retentionMs);
  }

  /**
   * Opens the KV at `path`: a file path (its folder is created), a KV Connect
   * URL (`http(s)://…`, with DENO_KV_ACCESS_TOKEN; nothing touches the local
   * disk), or `""` for the platform's default database (`Deno.openKv()` with
   * no path: the app's own KV on Deno Deploy). A damaged, foreign or
   * unwritable file throws `KvOpenError` (store/open.ts) with one line naming
   * the path and the cause.
   */
  static async open(path: string, opts: StoreOptions): Promise<Store> {
    if (path === "") return new Store(await Deno.openKv(), opts);
    return new Store(await openKv(path), opts);
  }

  close(): void {
    this.kv.close();
  }

  // ---- worker -----------------------------------------------------------

  /** The next offset to read, or null when the stream's partition was never committed. */
  async loadOffset(stream: string, partition: number): Promise<number | null> {
    return (await this.loadOffsetEntry(stream, partition)).offset;
  }

  /** The next offset and the versionstamp to fence commits with. */
  async loadOffsetEntry(
    stream: string,
    partition: number,
  ): Promise<{ offset: number | null; versionstamp: string | null }> {
    const r = await this.kv.get<number>(keys.offset(stream, partition));
    return { offset: r.value, versionstamp: r.versionstamp };
  }

  /** The saved feature states of `symbols` (absent ones omitted). */
  async loadStates(symbols: readonly string[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for (let i = 0; i < symbols.length; i += 10) {
      const part = symbols.slice(i, i + 10);
      const got = await this.kv.getMany(part.map((s) => keys.state(s)));
      got.forEach((r, j) => {
        if (r.value !== null) out.set(part[j], r.value);
      });
    }
    return out;
  }

  /**
   * Commits a batch: window states, the offset they cover, the row and
   * prediction pages and the counters, in one atomic. Either all of it is
   * durable or none of it is, which is what makes a restart exact.
   */
  async commitBatch(b: BatchCommit): Promise<string> {
    const op = this.kv.atomic();
    if (b.expectOffsetVersion !== undefined) {
      op.check({ key: keys.offset(b.stream, b.partition), versionstamp: b.expectOffsetVersion });
    }
    for (const [symbol, state] of b.states) op.set(keys.state(symbol), state);
    op.set(keys.offset(b.stream, b.partition), b.nextOffset);
    const expireIn = this.rawRetentionMs;
    if (b.predictedRows && b.predictedRows.length === b.predictions.length) {
      this.#setBatchPages(op, b.pageId, b.rows, b.predictions, b.predictedRows);
    } else {
      for (let i = 0; i < b.rows.length; i += PAGE) {
        const part = b.rows.slice(i, i + PAGE);
        op.set(keys.rows(part[0].ts_ms, `${b.pageId}.${i}`), packPage(encodeRows(part)), {
          expireIn,
        });
      }
      this.#setPredictionPages(op, b.pageId, b.predictions);
    }
    for (const [key, n] of b.counters) {
      if (n > 0) op.sum(keys.count(...key), BigInt(n));
    }
    for (const [key, value] of b.extra ?? []) op.set(key, value);
    for (const [symbol, minute, bytes] of b.bars ?? []) {
      op.set(keys.bars(symbol, minute), bytes, { expireIn: this.retentionMs });
    }
    for (const inc of b.incidents ?? []) {
      op.set(keys.incident(inc.start_ms, inc.id), inc, { expireIn: this.retentionMs });
    }
    for (const o of b.outbox ?? []) op.set(keys.outbox(o.id), o);
    const r = await op.commit();
    if (!r.ok) throw new PartitionLostError(b.stream, b.partition);
    return r.versionstamp;
  }

  /** Self-contained prediction pages (predictions without their rows, e.g. `POST /predict`). */
  #setPredictionPages(op: Deno.AtomicOperation, pageId: string, preds: readonly Prediction[]) {
    const expireIn = this.rawRetentionMs;
    for (let i = 0; i < preds.length; i += PAGE) {
      const part = preds.slice(i, i + PAGE);
      op.set(keys.pred(part[0].ts_ms, `${pageId}.${i}`), packPage(encodePredictions(part)), {
        expireIn,
      });
    }
  }

  /**
   * A worker batch's rows with their predictions: one compact value per
   * {@linkcode MAX_PAGE_RECORDS} rows (store/compact.ts), keyed by its first
   * row under `pred` (cursors: {@linkcode batchCursors}).
   */
  #setBatchPages(
    op: Deno.AtomicOperation,
    pageId: string,
    rows: readonly FeatureRow[],
    preds: readonly Prediction[],
    rowIdx: readonly number[],
  ) {
    const expireIn = this.rawRetentionMs;
    let j = 0;
    for (let i = 0; i < rows.length; i += PAGE) {
      const end = Math.min(i + PAGE, rows.length);
      const from = j;
      while (j < preds.length && rowIdx[j] < end) j++;
      const verdicts = j > from
        ? encodeVerdicts(preds.slice(from, j), rowIdx.slice(from, j).map((r) => r - i), [])
        : null;
      op.set(
        keys.pred(rows[i].ts_ms, `${pageId}.${i}`),
        packBatch(encodeRows(rows.slice(i, end)), verdicts),
        { expireIn },
      );
    }
  }

  /**
   * A prediction page's predictions: self-contained pages decode alone;
   * verdict pages are joined with their row pages (read once per batch
   * through `rowCache`). A page whose rows are gone (expired) gives none.
   */
  async #predictionsOf(
    stored: Stored,
    rowCache: Map<string, Page | null>,
  ): Promise<Prediction[]> {
    if (isBatchBytes(stored)) {
      const { rows, verdicts } = unpackBatch(stored);
      return verdicts ? decodeVerdicts(verdicts, [rows]) : [];
    }
    const value = pageOf(stored);
    if (!isVerdictPage(value)) return decodePredictions(value);
    const names = value.rk.map((k) => JSON.stringify(k));
    const missing = value.rk.filter((_, i) => !rowCache.has(names[i]));
    if (missing.length) {
      if (rowCache.size > 16) rowCache.clear();
      const got = await this.kv.getMany<Stored[]>(missing);
      for (const g of got) {
        rowCache.set(JSON.stringify(g.key), g.value === null ? null : pageOf(g.value) as Page);
      }
    }
    const pages: Page[] = [];
    for (const name of names) {
      const page = rowCache.get(name);
      if (!page) return [];
      pages.push(page);
    }
    return decodeVerdicts(value, pages);
  }

  /**
   * Adds predictions made outside the stream (`POST /predict`) to the
   * history, with their own counters (`api_pred`, `api_anomaly`: manual
   * tests stay out of the stream's totals and rates), in one atomic.
   * `pageId` must be unique.
   */
  async appendPredictions(preds: readonly Prediction[], pageId: string): Promise<void> {
    if (preds.length === 0) return;
    const op = this.kv.atomic();
    this.#setPredictionPages(op, pageId, preds);
    const perSymbol = new Map<string, [number, number]>();
    for (const p of preds) {
      const c = perSymbol.get(p.symbol) ?? [0, 0];
      c[0]++;
      if (p.is_anomaly) c[1]++;
      perSymbol.set(p.symbol, c);
    }
    for (const [sym, [n, a]] of perSymbol) {
      op.sum(keys.count("api_pred", sym), BigInt(n));
      if (a) op.sum(keys.count("api_anomaly", sym), BigInt(a));
    }
    if (!(await op.commit()).ok) throw new Error("KV commit failed");
  }

  /**
   * Predictions stored after `cursor` (exclusive; null: from the oldest kept),
   * in key order, each with its cursor: what an SSE client resumes from with
   * `Last-Event-ID`. Cursors name a page and a position in it, so they are
   * stable across restarts.
   */
  async *predictionsAfter(
    cursor: string | null,
    opts: { symbol?: string } = {},
  ): AsyncGenerator<{ id: string; prediction: Prediction }> {
    const prefix = keys.predPrefix;
    const at = cursor === null ? null : parseCursor(cursor);
    const selector: Deno.KvListSelector = at === null
      ? { prefix }
      : { prefix, start: [...prefix, at.firstTs, at.pageId] };
    const rowCache = new Map<string, Page | null>();
    for await (const e of this.kv.list<Stored>(selector)) {
      const firstTs = e.key[e.key.length - 2] as number;
      const pageId = e.key[e.key.length - 1] as string;
      const preds = await this.#predictionsOf(e.value, rowCache);
      const from = at && at.firstTs === firstTs && at.pageId === pageId ? at.index + 1 : 0;
      for (let i = from; i < preds.length; i++) {
        if (opts.symbol && preds[i].symbol !== opts.symbol) continue;
        yield { id: formatCursor(firstTs, pageId, i), prediction: preds[i] };
      }
    }
  }

  /**
   * All-symbol prediction pages whose first event is at or after `fromTs`, in
   * key order, each with its key's page id and its predictions' SSE cursors:
   * what a web process tails to stream predictions committed by workers in
   * other processes.
   */
  async *predictionPagesFrom(
    fromTs: number,
  ): AsyncGenerator<{ firstTs: number; pageId: string; predictions: Prediction[]; ids: string[] }> {
    const selector = { prefix: keys.predPrefix, start: [...keys.predPrefix, fromTs] };
    const rowCache = new Map<string, Page | null>();
    for await (const e of this.kv.list<Stored>(selector)) {
      const firstTs = e.key[1] as number;
      const pageId = e.key[2] as string;
      const predictions = await this.#predictionsOf(e.value, rowCache);
      const ids = predictions.map((_, i) => formatCursor(firstTs, pageId, i));
      yield { firstTs, pageId, predictions, ids };
    }
  }

  /** The first-event time of the newest all-symbol prediction page, or null. */
  async newestPredictionPageTs(): Promise<number | null> {
    for await (const e of this.kv.list({ prefix: keys.predPrefix }, { reverse: true, limit: 1 })) {
      return e.key[1] as number;
    }
    return null;
  }

  // ---- reads ------------------------------------------------------------

  /**
   * The newest predictions first, optionally of one symbol. Pages are keyed
   * by their first event's time, so a few extra pages are read and the
   * result is sorted by time.
   */
  async latestPredictions(opts: { limit: number; symbol?: string }): Promise<Prediction[]> {
    const prefix = keys.predPrefix;
    const out: Prediction[] = [];
    const rowCache = new Map<string, Page | null>();
    // Pages are keyed by their first event's time and overlap in time across
    // partitions: after reaching the limit, read two more pages, then sort.
    let extra = -1;
    for await (
      const e of this.kv.list<Stored>({ prefix }, { reverse: true, batchSize: 20 })
    ) {
      const preds = await this.#predictionsOf(e.value, rowCache);
      for (const p of preds) if (!opts.symbol || p.symbol === opts.symbol) out.push(p);
      if (extra >= 0) {
        if (++extra >= 2) break;
      } else if (out.length >= opts.limit) extra = 0;
    }
    out.sort((a, b) => b.ts_ms - a.ts_ms);
    return out.slice(0, opts.limit);
  }

  /**
   * Every stored prediction page by page (oldest first, or newest first with
   * `reverse`), optionally of one symbol and of pages that may hold
   * predictions between `fromMs` and `toMs` (read by key: pages are keyed by
   * their first event, so the read starts a minute early; callers filter
   * the predictions themselves): a stream for exports and checks that never
   * holds the whole history in memory.
   */
  async *predictionPages(
    opts: { symbol?: string; reverse?: boolean; fromMs?: number; toMs?: number } = {},
  ): AsyncGenerator<Prediction[]> {
    const prefix = keys.predPrefix;
    // A range that ends before it starts selects nothing (KV refuses an end key before the start).
    if (
      opts.fromMs !== undefined && opts.toMs !== undefined && opts.toMs + 1 <= opts.fromMs - 60_000
    ) return;
    const selector: Deno.KvListSelector = opts.fromMs === undefined && opts.toMs === undefined
      ? { prefix }
      : {
        start: [...prefix, Math.max(0, (opts.fromMs ?? 0) - 60_000)],
        end: [...prefix, (opts.toMs ?? Number.MAX_SAFE_INTEGER - 1) + 1],
      };
    const rowCache = new Map<string, Page | null>();
    const list = this.kv.list<Stored>(selector, { reverse: opts.reverse ?? false });
    for await (const e of list) {
      const preds = await this.#predictionsOf(e.value, rowCache);
      const mine = opts.symbol ? preds.filter((p) => p.symbol === opts.symbol) : preds;
      if (mine.length) yield mine;
    }
  }

  /**
   * One symbol's predictions with `fromMs ≤ ts_ms ≤ toMs`, oldest first, at
   * most `max` (pages are keyed by their first event, so the read starts a
   * minute early to catch a page that straddles `fromMs`).
   */
  async symbolPredictionsBetween(
    symbol: string,
    fromMs: number,
    toMs: number,
    max: number,
  ): Promise<Prediction[]> {
    const out: Prediction[] = [];
    const start = [...keys.predPrefix, Math.max(0, fromMs - 60_000)];
    const end = [...keys.predPrefix, toMs + 1];
    const rowCache = new Map<string, Page | null>();
    for await (const e of this.kv.list<Stored>({ start, end }, { batchSize: 20 })) {
      for (const p of await this.#predictionsOf(e.value, rowCache)) {
        if (p.symbol === symbol && p.ts_ms >= fromMs && p.ts_ms <= toMs) out.push(p);
      }
      if (out.length >= max) break;
    }
    out.sort((a, b) => a.ts_ms - b.ts_ms);
    return out.slice(0, max);
  }

  /**
   * Up to `maxRows` of the newest feature rows (all symbols), oldest first:
   * from the batch pages (under `pred`) and the row pages written before them.
   */
  async recentRows(maxRows: number): Promise<FeatureRow[]> {
    const pages: { key: Deno.KvKey; rows: FeatureRow[] }[] = [];
    for (const prefix of [keys.predPrefix, keys.rowsPrefix]) {
      let n = 0;
      for await (const e of this.kv.list<Stored>({ prefix }, { reverse: true, batchSize: 50 })) {
        let rows: FeatureRow[];
        if (isBatchBytes(e.value)) rows = decodeRows(unpackBatch(e.value).rows);
        else if (prefix === keys.rowsPrefix) rows = decodeRows(pageOf(e.value) as Page);
        else continue; // a prediction page without rows
        pages.push({ key: e.key, rows });
        n += rows.length;
        if (n >= maxRows) break;
      }
    }
    // Key order (first event's time, then page id), as one prefix would list them.
    pages.sort((a, b) => {
      const [ta, tb] = [a.key[1] as number, b.key[1] as number];
      const [ia, ib] = [String(a.key[2]), String(b.key[2])];
      return ta - tb || (ia < ib ? -1 : ia > ib ? 1 : 0);
    });
    const all = pages.flatMap((p) => p.rows);
    return all.slice(Math.max(0, all.length - maxRows));
  }

  /**
   * One symbol's per-second bars with `fromMs ≤ t ≤ toMs`, oldest first, at
   * most `max`: the long tier, there for the whole RETENTION whether or not
   * the raw predictions of those seconds still are.
   */
  async bars(symbol: string, fromMs: number, toMs: number, max: number): Promise<SecondBar[]> {
    const out: SecondBar[] = [];
    if (toMs < fromMs) return out;
    const start = keys.bars(symbol, Math.floor(fromMs / 60_000) * 60_000);
    const end = keys.bars(symbol, toMs + 1);
    for await (const e of this.kv.list<Uint8Array>({ start, end }, { batchSize: 100 })) {
      const m = unpackMinute(symbol, e.key[2] as number, e.value);
      for (const b of m.bars) {
        if (b.t < fromMs || b.t > toMs) continue;
        out.push(b);
        if (out.length >= max) return out;
      }
    }
    return out;
  }

  /**
   * Deletes the raw tier's pages (rows and predictions) whose first event is
   * more than RETENTION_RAW older than the newest page's: what users see of
   * raw history ends there at once, where KV's own expiry (lazy, by wall
   * time) would leave them readable for a while. Event time, not the clock,
   * so a replay of an old file keeps its last RETENTION_RAW. Returns how
   * many pages went.
   */
  async sweepRaw(): Promise<number> {
    const newest = await this.newestPredictionPageTs();
    if (newest === null) return 0;
    const cutoff = newest - this.rawRetentionMs;
    let deleted = 0;
    for (const prefix of [keys.predPrefix, keys.rowsPrefix]) {
      let batch: Deno.KvKey[] = [];
      const flush = async () => {
        const op = this.kv.atomic();
        for (const k of batch) op.delete(k);
        await op.commit();
        deleted += batch.length;
        batch = [];
      };
      const list = this.kv.list({ start: [...prefix], end: [...prefix, cutoff] }, {
        batchSize: 200,
      });
      for await (const e of list) {
        batch.push(e.key);
        if (batch.length === 100) await flush();
      }
      if (batch.length) await flush();
    }
    for await (const e of this.kv.list({ prefix: ["pred_sym"] })) {
      if ((e.key[2] as number) < cutoff) {
        await this.kv.delete(e.key);
        deleted++;
      }
    }
    return deleted;
  }

  /** Every counter, as `{"pred/BTC-USDT": 123, ...}` (key parts joined by `/`). */
  /**
   * Incidents newest first (by start time), filtered; `before` pages on: pass
   * the previous page's `next`.
   */
  async incidents(q: {
    symbol?: string;
    type?: string;
    status?: "open" | "closed";
    fromMs?: number;
    toMs?: number;
    limit: number;
    before?: { startMs: number; id: string } | null;
  }): Promise<{ incidents: Incident[]; next: { startMs: number; id: string } | null }> {
    const fromMs = q.fromMs ?? 0;
    // A cursor (or `to`) before `from` selects nothing (and KV refuses an end key before the start).
    if (q.before && q.before.startMs < fromMs) return { incidents: [], next: null };
    if (q.toMs !== undefined && q.toMs < fromMs) return { incidents: [], next: null };
    const start: Deno.KvKey = [...keys.incidentPrefix, fromMs];
    const end: Deno.KvKey = q.before
      ? keys.incident(q.before.startMs, q.before.id)
      : [...keys.incidentPrefix, (q.toMs ?? Number.MAX_SAFE_INTEGER) + 1];
    const out: Incident[] = [];
    let next: { startMs: number; id: string } | null = null;
    for await (
      const e of this.kv.list<Incident>({ start, end }, { reverse: true, batchSize: 200 })
    ) {
      const inc = e.value;
      if (q.toMs !== undefined && inc.start_ms > q.toMs) continue;
      if (q.symbol && inc.symbol !== q.symbol) continue;
      if (q.type && inc.type !== q.type) continue;
      if (q.status && inc.status !== q.status) continue;
      if (out.length === q.limit) {
        const last = out[out.length - 1];
        next = { startMs: last.start_ms, id: last.id };
        break;
      }
      out.push(inc);
    }
    return { incidents: out, next };
  }

  /** One incident by id (`SYMBOL:start_ms`), or null. */
  async incident(id: string): Promise<Incident | null> {
    const m = /^(.+):(\d{1,16})$/.exec(id);
    if (!m) return null;
    return (await this.kv.get<Incident>(keys.incident(Number(m[2]), id))).value;
  }

  async counters(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for await (const e of this.kv.list<Deno.KvU64>({ prefix: keys.countPrefix })) {
      out[e.key.slice(1).join("/")] = Number(e.value.value);
    }
    return out;
  }

  /** One counter's value (0 when never incremented). */
  async counter(...parts: string[]): Promise<number> {
    const r = await this.kv.get<Deno.KvU64>(keys.count(...parts));
    return r.value ? Number(r.value.value) : 0;
  }

  // ---- webhook outbox ---------------------------------------------------

  /** Up to `limit` outbox entries with their versionstamps, in key order. */
  async outboxEntries(
    limit: number,
  ): Promise<{ entry: OutboxEntry; versionstamp: string }[]> {
    const out = [];
    for await (const e of this.kv.list<OutboxEntry>({ prefix: keys.outboxPrefix }, { limit })) {
      out.push({ entry: e.value, versionstamp: e.versionstamp });
    }
    return out;
  }

  /**
   * Replaces an outbox entry if nobody changed it since `versionstamp` (a
   * lease, a retry schedule; `failed` counts a failed attempt): the new
   * versionstamp, or null when another sender changed it first.
   */
  async outboxUpdate(
    entry: OutboxEntry,
    versionstamp: string,
    failed = false,
  ): Promise<string | null> {
    const op = this.kv.atomic()
      .check({ key: keys.outbox(entry.id), versionstamp })
      .set(keys.outbox(entry.id), entry);
    if (failed) op.sum(keys.count("webhook", "failed"), 1n);
    const r = await op.commit();
    return r.ok ? r.versionstamp : null;
  }

  /** Removes a delivered entry and counts it (`muted`: dropped because its symbol is muted). */
  async outboxDelivered(entry: OutboxEntry, muted = false): Promise<void> {
    await this.kv.atomic()
      .delete(keys.outbox(entry.id))
      .sum(keys.count("webhook", muted ? "muted" : "delivered"), 1n)
      .commit();
  }

  /** Moves an entry to the dead letters (kept for the retention) and counts it. */
  async outboxDeadLetter(entry: OutboxEntry): Promise<void> {
    await this.kv.atomic()
      .delete(keys.outbox(entry.id))
      .set(keys.outboxDead(entry.id), entry, { expireIn: this.retentionMs })
      .sum(keys.count("webhook", "dead"), 1n)
      .sum(keys.count("webhook", "failed"), 1n)
      .commit();
  }

  /** Dead-lettered notifications, oldest key first. */
  async outboxDeadLetters(limit: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for await (
      const e of this.kv.list<OutboxEntry>({ prefix: keys.outboxDeadPrefix }, { limit })
    ) out.push(e.value);
    return out;
  }

  /** Counts of the outbox (pending entries are listed: the outbox is small by design). */
  async outboxStats(): Promise<OutboxStats> {
    let pending = 0, retrying = 0, dead = 0;
    let oldest: number | null = null;
    for await (const e of this.kv.list<OutboxEntry>({ prefix: keys.outboxPrefix })) {
      pending++;
      if (e.value.attempts > 0) retrying++;
      if (oldest === null || e.value.created_ms < oldest) oldest = e.value.created_ms;
    }
    for await (const _ of this.kv.list({ prefix: keys.outboxDeadPrefix })) dead++;
    return {
      pending,
      retrying,
      dead,
      delivered: await this.counter("webhook", "delivered"),
      failed_attempts: await this.counter("webhook", "failed"),
      oldest_ms: oldest,
    };
  }

  // ---- reviews and mutes ------------------------------------------------

  /** An incident's review, or null when nobody reviewed it. */
  async review(incidentId: string): Promise<IncidentReview | null> {
    return (await this.kv.get<IncidentReview>(keys.review(incidentId))).value;
  }

  /**
   * The reviews of `ids` that exist, by incident id. Reviews are few (an
   * analyst writes each), so one list of them all beats a read per id.
   */
  async reviewsOf(ids: readonly string[]): Promise<Record<string, IncidentReview>> {
    const want = new Set(ids);
    const out: Record<string, IncidentReview> = {};
    if (want.size === 0) return out;
    for await (const e of this.kv.list<IncidentReview>({ prefix: ["review"] })) {
      if (want.has(e.value.incident_id)) out[e.value.incident_id] = e.value;
    }
    return out;
  }

  /** Stores a review (kept for the retention, like incidents). */
  async setReview(r: IncidentReview): Promise<void> {
    await this.kv.set(keys.review(r.incident_id), r, { expireIn: this.retentionMs });
  }

  /** Mutes `symbol` until `untilMs` (the key expires then too). */
  async mute(m: Mute, nowMs: number): Promise<void> {
    await this.kv.set(keys.mute(m.symbol), m, { expireIn: Math.max(1000, m.until_ms - nowMs) });
  }

  /** Lifts a mute. */
  async unmute(symbol: string): Promise<void> {
    await this.kv.delete(keys.mute(symbol));
  }

  /** The mutes in force at `nowMs` (KV expiry is lazy: the time is checked). */
  async mutes(nowMs: number): Promise<Mute[]> {
    const out: Mute[] = [];
    for await (const e of this.kv.list<Mute>({ prefix: keys.mutePrefix })) {
      if (e.value.until_ms > nowMs) out.push(e.value);
    }
    return out;
  }

  // ---- models -----------------------------------------------------------

  /**
   * Writes a bundle's chunks and its index entry (not yet active). Chunks go
   * in atomics of at most 8 (an atomic is bounded in size); the bundle is not
   * visible to scorers until {@linkcode Store.activate}.
   */
  async saveBundle(bundle: Bundle): Promise<ModelIndexEntry> {
    const chunks = encodeBundleChunks(bundle);
    for (let i = 0; i < chunks.length; i += 8) {
      const op = this.kv.atomic();
      for (let j = i; j < Math.min(i + 8, chunks.length); j++) {
        op.set(keys.modelChunk(bundle.id, j), chunks[j]);
      }
      if (!(await op.commit()).ok) throw new Error(`could not write bundle ${bundle.id}`);
    }
    const entry: ModelIndexEntry = {
      id: bundle.id,
      created_at: bundle.created_at,
      chunks: chunks.length,
      bytes: chunks.reduce((a, c) => a + c.length, 0),
      rows: bundle.training.rows,
      symbols: bundle.training.symbols,
      report_kind: bundle.training.report.kind,
    };
    await this.kv.set(keys.modelIndex(bundle.id), entry);
    return entry;
  }

  /** Makes a saved bundle the live one: one atomic set. */
  async activate(id: string, activatedAt: string): Promise<ActiveModel> {
    const entry = await this.kv.get<ModelIndexEntry>(keys.modelIndex(id));
    if (!entry.value) throw new Error(`no bundle with id ${id}`);
    const active: ActiveModel = { id, chunks: entry.value.chunks, activated_at: activatedAt };
    await this.kv.set(keys.modelActive, active);
    return active;
  }

  /** The active pointer and its versionstamp, or null. */
  async activeModel(): Promise<{ active: ActiveModel; versionstamp: string } | null> {
    const r = await this.kv.get<ActiveModel>(keys.modelActive);
    return r.value && r.versionstamp ? { active: r.value, versionstamp: r.versionstamp } : null;
  }

  /** Reads and validates a stored bundle. */
  async loadBundle(id: string, chunks?: number): Promise<Bundle> {
    const n = chunks ?? (await this.kv.get<ModelIndexEntry>(keys.modelIndex(id))).value?.chunks;
    if (!n) throw new Error(`no bundle with id ${id}`);
    const parts: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const got = await this.kv.getMany<string[]>(
        Array.from({ length: Math.min(10, n - i) }, (_, j) => keys.modelChunk(id, i + j)),
      );
      for (const g of got) {
        if (g.value === null) throw new Error(`bundle ${id} is missing chunk ${String(g.key[3])}`);
        parts.push(g.value);
      }
    }
    return decodeBundleChunks(parts);
  }

  /** Every stored bundle's index entry, newest first. */
  async listModels(): Promise<ModelIndexEntry[]> {
    const out: ModelIndexEntry[] = [];
    for await (const e of this.kv.list<ModelIndexEntry>({ prefix: keys.modelIndexPrefix })) {
      out.push(e.value);
    }
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  // ---- sources, liveness, control ---------------------------------------

  async getSourceState<T>(name: string): Promise<T | null> {
    return (await this.kv.get<T>(keys.source(name))).value;
  }

  async heartbeat(role: string, instance: string, info: unknown, ttlMs: number): Promise<void> {
    await this.kv.set(keys.heartbeat(role, instance), info, { expireIn: ttlMs });
  }

  async heartbeats(): Promise<{ role: string; instance: string; info: unknown }[]> {
    const out = [];
    for await (const e of this.kv.list({ prefix: keys.heartbeatPrefix })) {
      out.push({ role: String(e.key[1]), instance: String(e.key[2]), info: e.value });
    }
    return out;
  }
}
