/**
 * The market history in KV: the raw tier's pages (a worker batch's rows and
 * predictions, `POST /predict`'s predictions, and the forms written by
 * earlier versions), their SSE cursors, and the long tier's per-second bars
 * (docs/decisions.md, "Compact batch pages and retention tiers").
 * {@linkcode Store} (store/kv.ts) extends {@linkcode History} with
 * everything else Sentinel keeps.
 *
 * @module
 */
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
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
import { keys } from "./keys.ts";

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

/** Retention of a {@linkcode Store}. */
export interface StoreOptions {
  /** RETENTION: the long tier (bars, incidents, reviews), ms */
  retentionMs: number;
  /** RETENTION_RAW: per-event rows and predictions, ms (default: `retentionMs`) */
  rawRetentionMs?: number;
}

/** Reads and writes of the market history (the base of {@linkcode Store}). */
export class History {
  /** How long bars, incidents, reviews and dead letters stay (RETENTION), in ms. */
  readonly retentionMs: number;
  /** How long raw rows and predictions stay (RETENTION_RAW), in ms; at most `retentionMs`. */
  readonly rawRetentionMs: number;

  constructor(readonly kv: Deno.Kv, opts: StoreOptions) {
    this.retentionMs = opts.retentionMs;
    this.rawRetentionMs = Math.min(opts.rawRetentionMs ?? opts.retentionMs, opts.retentionMs);
  }

  /** Self-contained prediction pages (predictions without their rows, e.g. `POST /predict`). */
  protected setPredictionPages(
    op: Deno.AtomicOperation,
    pageId: string,
    preds: readonly Prediction[],
  ) {
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
  protected setBatchPages(
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
   * other processes. Each comes with its KV versionstamp; a page for which
   * `unchanged(firstTs, pageId, versionstamp)` says true is not decoded or
   * yielded (the tail re-reads minutes of pages every few seconds).
   */
  async *predictionPagesFrom(
    fromTs: number,
    unchanged: (firstTs: number, pageId: string, versionstamp: string) => boolean = () => false,
  ): AsyncGenerator<
    {
      firstTs: number;
      pageId: string;
      versionstamp: string;
      predictions: Prediction[];
      ids: string[];
    }
  > {
    const selector = { prefix: keys.predPrefix, start: [...keys.predPrefix, fromTs] };
    const rowCache = new Map<string, Page | null>();
    for await (const e of this.kv.list<Stored>(selector)) {
      const firstTs = e.key[1] as number;
      const pageId = e.key[2] as string;
      if (unchanged(firstTs, pageId, e.versionstamp)) continue;
      const predictions = await this.#predictionsOf(e.value, rowCache);
      const ids = predictions.map((_, i) => formatCursor(firstTs, pageId, i));
      yield { firstTs, pageId, versionstamp: e.versionstamp, predictions, ids };
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
}
