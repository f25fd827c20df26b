/**
 * The prediction history: `GET /latest-predictions` (newest first, as JSON)
 * and `GET /export.csv` (the same records as CSV, streamed page by page from
 * KV so an export of the whole retention never sits in memory).
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Prediction as PredictionRecord } from "../../lib/contracts.ts";
import { API_SOURCE, type WebContext } from "../context.ts";
import { parseDuration } from "../../config.ts";
import { V1 } from "../../islands/shared/paths.ts";
import { ErrorBody, ExportQuery, LatestQuery, LatestResponse } from "../schemas.ts";

const latestRoute = createRoute({
  method: "get",
  path: V1.latestPredictions,
  summary: "The newest predictions",
  description: "Newest first from the KV history, optionally of one symbol; `limit` 1–500.",
  tags: ["v1"],
  request: { query: LatestQuery },
  responses: {
    200: {
      description: "predictions, newest first",
      content: { "application/json": { schema: LatestResponse } },
    },
    422: {
      description: "limit out of range or a malformed symbol",
      content: { "application/json": { schema: ErrorBody } },
    },
  },
});

const exportRoute = createRoute({
  method: "get",
  path: "/export.csv",
  summary: "Predictions as CSV",
  description:
    "Streams the history as CSV (header row first), newest page first, with the filters of " +
    "`/latest-predictions` and `anomalies_only`. Rows are written as KV pages are read.",
  tags: ["history"],
  request: { query: ExportQuery },
  responses: {
    200: {
      description: "CSV, one prediction per row",
      content: { "text/csv": { schema: { type: "string" } } },
    },
    422: {
      description: "a bad filter",
      content: { "application/json": { schema: ErrorBody } },
    },
  },
});

/** The CSV columns, in order. */
export const CSV_COLUMNS = [
  "ts_ms",
  "time",
  "symbol",
  "price",
  "volume",
  "z_score_price",
  "z_score_log_return",
  "z_score_volume",
  "rolling_price_std",
  "rolling_volume_std",
  "anomaly_score",
  "severity",
  "is_anomaly",
  "anomaly_type",
  "label",
  "model_id",
  "source",
  "trade_id",
] as const;

/**
 * One CSV cell. Text that a spreadsheet would run as a formula (starting
 * with `=`, `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV
 * injection list) gets a leading `'`, so it is shown, never evaluated.
 * Numbers are written as they are (a negative score stays a number).
 */
export function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return "";
  let s = String(v);
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  // RFC 4180: quote a field holding a separator, a quote or a line break; double its quotes.
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A time as ISO 8601, or null (an empty cell) when no `Date` can hold it. */
function isoOrNull(ms: number): string | null {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/**
 * One prediction as a CSV line (with its `\r\n`, as RFC 4180 has it).
 * Absent values (and a time no `Date` can hold) are empty cells; numbers are
 * written in full precision; text cells are neutralised ({@linkcode csvCell}).
 *
 * @example
 * ```ts ignore
 * csvLine(prediction); // "1710000000000,2024-03-09T16:00:00.000Z,BTC-USDT,43150.5,..."
 * ```
 */
export function csvLine(p: PredictionRecord): string {
  return [
    p.ts_ms,
    isoOrNull(p.ts_ms),
    p.symbol,
    p.price,
    p.volume,
    p.z_score_price,
    p.z_score_log_return,
    p.z_score_volume,
    p.rolling_price_std,
    p.rolling_volume_std,
    p.anomaly_score,
    p.severity,
    p.is_anomaly,
    p.anomaly_type,
    p.label,
    p.model_id,
    p.source,
    p.trade_id,
  ].map(csvCell).join(",") + "\r\n";
}

/**
 * A CSV byte stream over prediction pages: the header, then each page's
 * rows (newest first within a page when the pages come newest first), at
 * most `limit` rows. One page is read per pull, so memory stays at a page.
 */
export function csvStream(
  pages: AsyncGenerator<PredictionRecord[]>,
  opts: {
    limit: number;
    anomaliesOnly: boolean;
    newestFirst: boolean;
    /** rows to write (time range, source); default every row */
    keep?: (p: PredictionRecord) => boolean;
  },
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let left = opts.limit;
  let headerSent = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(enc.encode(CSV_COLUMNS.join(",") + "\r\n"));
        return;
      }
      while (left > 0) {
        const next = await pages.next();
        if (next.done) break;
        const page = opts.newestFirst ? next.value.slice().reverse() : next.value;
        let text = "";
        for (const p of page) {
          if (opts.anomaliesOnly && !p.is_anomaly) continue;
          if (opts.keep && !opts.keep(p)) continue;
          text += csvLine(p);
          if (--left === 0) break;
        }
        if (text) {
          controller.enqueue(enc.encode(text));
          return;
        }
      }
      controller.close();
      await pages.return(undefined);
    },
    async cancel() {
      await pages.return(undefined);
    },
  });
}

/** Registers `GET /latest-predictions` and `GET /export.csv`. */
export function predictionRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openapi(latestRoute, async (c) => {
    const q = c.req.valid("query");
    const predictions = await ctx.store.latestPredictions({ limit: q.limit, symbol: q.symbol });
    return c.json({ count: predictions.length, predictions }, 200);
  });

  app.openapi(exportRoute, (c) => {
    const q = c.req.valid("query");
    const fromMs = q.from ?? (q.since ? ctx.now() - parseDuration(q.since)! * 1000 : undefined);
    const toMs = q.to;
    const source = q.source;
    const keep = (p: PredictionRecord) =>
      (fromMs === undefined || p.ts_ms >= fromMs) && (toMs === undefined || p.ts_ms <= toMs) &&
      (source === undefined || (source === "api") === (p.source === API_SOURCE));
    const pages = ctx.store.predictionPages({ reverse: true, symbol: q.symbol, fromMs, toMs });
    const body = csvStream(pages, {
      limit: q.limit,
      anomaliesOnly: q.anomalies_only ?? false,
      newestFirst: true,
      keep,
    });
    const stamp = new Date(ctx.now()).toISOString().replace(/[:.]/g, "-");
    const name = `sentinel-predictions-${q.symbol ?? "all"}${
      q.anomalies_only ? "-anomalies" : ""
    }-${stamp}.csv`;
    return c.body(body, 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${name}"`,
      "Cache-Control": "no-store",
    });
  });
}
