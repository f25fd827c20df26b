/**
 * The Analytics page's filters and their two spellings: the page's own
 * query string (bookmarkable) and `/export.csv`'s (the same names:
 * `symbol`, `anomalies_only`, `limit`).
 *
 * @module
 */

/** The page's filters. */
export interface AnalyticsFilters {
  /** "" for every symbol */
  symbol: string;
  anomaliesOnly: boolean;
  /** sample size: how many of the newest matching predictions */
  limit: number;
  /** only the last span of time: one of {@linkcode SINCE} ("" for all kept, "custom": from/to) */
  since: string;
  /** with `since: "custom"`: UTC start and end as `YYYY-MM-DDTHH:MM` ("" for open) */
  from?: string;
  to?: string;
}

const MINUTE = /^\d{4}-\d\d-\d\dT\d\d:\d\d$/;

/**
 * What the user typed in a custom range's field, as the filters keep it
 * (`YYYY-MM-DDTHH:MM`, UTC): a 24-hour `YYYY-MM-DD HH:MM` (or with a `T`),
 * "" for an open end, null for anything else (no such minute, 12-hour text).
 * The fields are plain text because a `datetime-local` input shows the
 * browser's locale, "01:00 PM" in en-US.
 *
 * @example
 * ```ts
 * import { minuteInput } from "./filters.ts";
 * console.log(minuteInput(" 2026-12-04 18:05 "), minuteInput(""), minuteInput("2026-02-30 10:00")); // "2026-12-04T18:05" "" null
 * ```
 */
export function minuteInput(text: string): string | null {
  const t = text.trim();
  if (t === "") return "";
  const m = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d)$/.exec(t);
  if (!m) return null;
  const v = `${m[1]}T${m[2]}`;
  const d = new Date(`${v}:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 16) === v ? v : null;
}

/** A kept minute (`YYYY-MM-DDTHH:MM`) as its field shows it: `YYYY-MM-DD HH:MM`. */
export function minuteText(v: string | undefined): string {
  return (v ?? "").replace("T", " ");
}

/** The time ranges offered, as `/export.csv`'s `since`. */
export const SINCE = [
  { value: "15m", label: "last 15 min" },
  { value: "1h", label: "last hour" },
  { value: "6h", label: "last 6 hours" },
  { value: "24h", label: "last 24 hours" },
] as const;

/**
 * The query string for `f`; `limit` is left out when `withLimit` is false
 * (the export then takes the server's default: every matching row up to
 * 100 000).
 *
 * @example
 * ```ts
 * import { filterQuery } from "./filters.ts";
 * console.log(filterQuery({ symbol: "BTC-USDT", anomaliesOnly: true, limit: 500, since: "" }, false));
 * // "symbol=BTC-USDT&anomalies_only=true"
 * ```
 */
export function filterQuery(f: AnalyticsFilters, withLimit: boolean): string {
  const q = new URLSearchParams();
  if (f.symbol) q.set("symbol", f.symbol);
  if (f.anomaliesOnly) q.set("anomalies_only", "true");
  if (f.since === "custom") {
    // UTC: the API reads the Z; the page's inputs show UTC too.
    if (f.from) q.set("from", `${f.from}Z`);
    if (f.to) q.set("to", `${f.to}Z`);
  } else if (f.since) q.set("since", f.since);
  if (withLimit) q.set("limit", String(f.limit));
  return q.toString();
}

/**
 * Filters from a query string: an unknown symbol or sample size falls back
 * to "all" or the first size offered rather than failing the page.
 *
 * @example
 * ```ts
 * import { parseFilters } from "./filters.ts";
 * const f = parseFilters(new URLSearchParams("symbol=ETH-USDT&anomalies_only=1"), ["ETH-USDT"], [500]);
 * console.log(f); // { since: "", symbol: "ETH-USDT", anomaliesOnly: true, limit: 500 }
 * ```
 */
export function parseFilters(
  q: URLSearchParams,
  symbols: readonly string[],
  limits: readonly number[],
): AnalyticsFilters {
  const symbol = q.get("symbol") ?? "";
  const limit = Number(q.get("limit"));
  const flag = q.get("anomalies_only");
  const since = q.get("since") ?? "";
  const minute = (name: string) => {
    const v = (q.get(name) ?? "").replace(/Z$/, "");
    return MINUTE.test(v) ? v : "";
  };
  const from = minute("from"), to = minute("to");
  if (from || to) {
    return {
      since: "custom",
      from,
      to,
      symbol: symbols.includes(q.get("symbol") ?? "") ? q.get("symbol")! : "",
      anomaliesOnly: flag === "true" || flag === "1",
      limit: limits.includes(limit) ? limit : limits[0],
    };
  }
  return {
    since: SINCE.some((s) => s.value === since) ? since : "",
    symbol: symbols.includes(symbol) ? symbol : "",
    anomaliesOnly: flag === "true" || flag === "1",
    limit: limits.includes(limit) ? limit : limits[0],
  };
}
