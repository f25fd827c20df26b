/**
 * The incident pages' logic, apart from their markup: the list's filters as
 * they travel in the URL (so a filtered list can be bookmarked and shared),
 * the API query they make, counts per type, and what an incident was in a
 * few numbers (move from the reference price, duration). Pure and shared by
 * the server render and the browser.
 *
 * @module
 */
import type { Incident } from "../../model/incidents.ts";

export type { Incident };

/** The incident types, in the order the page shows them (model/incidents.ts). */
export const TYPES = [
  "spike",
  "crash",
  "level_shift",
  "volume_burst",
  "volatility_regime",
] as const;

/** Time ranges offered, by the query value, newest incidents within that span. */
export const RANGES = [
  { value: "15m", label: "15 min", ms: 15 * 60_000 },
  { value: "1h", label: "1 hour", ms: 3_600_000 },
  { value: "6h", label: "6 hours", ms: 6 * 3_600_000 },
  { value: "24h", label: "24 hours", ms: 24 * 3_600_000 },
  { value: "all", label: "all kept", ms: null },
] as const;

/** The list page's filters. */
export interface IncidentFilters {
  symbol: string | null;
  type: string | null;
  status: "open" | "closed" | null;
  /** one of {@linkcode RANGES}' values */
  range: string;
}

/**
 * Reads the filters from a page URL's query; unknown values fall back to
 * "all" rather than failing, since a URL may be hand-edited.
 *
 * @example
 * ```ts
 * import { parseIncidentFilters } from "./incidents.ts";
 * const f = parseIncidentFilters(new URLSearchParams("type=crash&range=1h"), ["BTC-USDT"]);
 * console.log(f.type, f.range, f.symbol); // "crash" "1h" null
 * ```
 */
export function parseIncidentFilters(
  q: URLSearchParams,
  symbols: readonly string[],
): IncidentFilters {
  const symbol = q.get("symbol");
  const type = q.get("type");
  const status = q.get("status");
  const range = q.get("range");
  return {
    symbol: symbol && symbols.includes(symbol) ? symbol : null,
    type: type && (TYPES as readonly string[]).includes(type) ? type : null,
    status: status === "open" || status === "closed" ? status : null,
    range: RANGES.some((r) => r.value === range) ? range! : "all",
  };
}

/**
 * The page URL's query for `f` (defaults omitted).
 *
 * @example
 * ```ts
 * import { incidentPageQuery } from "./incidents.ts";
 * console.log(incidentPageQuery({ symbol: null, type: "spike", status: null, range: "all" })); // "type=spike"
 * ```
 */
export function incidentPageQuery(f: IncidentFilters): string {
  const q = new URLSearchParams();
  if (f.symbol) q.set("symbol", f.symbol);
  if (f.type) q.set("type", f.type);
  if (f.status) q.set("status", f.status);
  if (f.range !== "all") q.set("range", f.range);
  return q.toString();
}

/**
 * The `GET /incidents` query for `f` at time `nowMs`: the range becomes
 * `from`. `withType` false leaves the type out (to count every type).
 *
 * @example
 * ```ts
 * import { incidentApiQuery } from "./incidents.ts";
 * const f = { symbol: "BTC-USDT", type: null, status: "open" as const, range: "15m" };
 * console.log(incidentApiQuery(f, 1_000_000, 500)); // "symbol=BTC-USDT&status=open&from=100000&limit=500"
 * ```
 */
export function incidentApiQuery(
  f: IncidentFilters,
  nowMs: number,
  limit: number,
  withType = true,
): string {
  const q = new URLSearchParams();
  if (f.symbol) q.set("symbol", f.symbol);
  if (withType && f.type) q.set("type", f.type);
  if (f.status) q.set("status", f.status);
  const ms = RANGES.find((r) => r.value === f.range)?.ms ?? null;
  if (ms !== null) q.set("from", String(Math.max(0, nowMs - ms)));
  q.set("limit", String(limit));
  return q.toString();
}

/**
 * How many incidents of each type, every type present (zero when none).
 *
 * @example
 * ```ts
 * import { countByType } from "./incidents.ts";
 * console.log(countByType([{ type: "spike" }, { type: "spike" }]).spike); // 2
 * ```
 */
export function countByType(list: readonly { type: string }[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(TYPES.map((t) => [t, 0]));
  for (const i of list) out[i.type] = (out[i.type] ?? 0) + 1;
  return out;
}

/** A readable label of a type (`level_shift` → `level shift`). */
export function typeLabel(type: string): string {
  return type.replace(/_/g, " ");
}

/**
 * The signed move from the reference price to the peak price, as a share
 * (0.1 = +10 %); null without a reference.
 *
 * @example
 * ```ts
 * import { peakMove } from "./incidents.ts";
 * console.log(peakMove({ ref_price: 100, peak_price: 90 })); // -0.1
 * ```
 */
export function peakMove(i: { ref_price: number; peak_price: number }): number | null {
  if (!(i.ref_price > 0)) return null;
  return i.peak_price / i.ref_price - 1;
}

/**
 * How long an incident lasted in seconds: first to last alert, and for an
 * open one up to `nowMs` at least.
 *
 * @example
 * ```ts
 * import { incidentSeconds } from "./incidents.ts";
 * console.log(incidentSeconds({ start_ms: 1000, end_ms: 4000, status: "closed" }, 0)); // 3
 * ```
 */
export function incidentSeconds(
  i: { start_ms: number; end_ms: number; status: string },
  nowMs: number,
): number {
  const end = i.status === "open" ? Math.max(i.end_ms, nowMs) : i.end_ms;
  return Math.max(0, (end - i.start_ms) / 1000);
}

/**
 * The dominant driver of an incident (most alerts), or null.
 *
 * @example
 * ```ts
 * import { mainDriver } from "./incidents.ts";
 * console.log(mainDriver({ price_z: 3, volume_z: 1 })); // "price_z"
 * ```
 */
export function mainDriver(drivers: Record<string, number>): string | null {
  let best: string | null = null;
  for (const [k, v] of Object.entries(drivers)) {
    if (best === null || v > drivers[best]) best = k;
  }
  return best;
}

/** One time bucket of trades: open, high, low, close and the volume traded. */
export interface Candle {
  /** bucket start (epoch ms) */
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
}

/**
 * Trades in buckets of `bucketMs` (UTC-aligned), oldest first: candles for
 * the price chart and sums for the volume bars. Trades without a price are
 * skipped; a missing volume counts as 0.
 *
 * @example
 * ```ts
 * import { candles } from "./incidents.ts";
 * const c = candles([{ ts_ms: 100, price: 5, volume: 1 }, { ts_ms: 900, price: 7, volume: 2 },
 *   { ts_ms: 1200, price: 6 }], 1000);
 * console.log(c.length, c[0].high, c[0].volume, c[1].open); // 2 7 3 6
 * ```
 */
export function candles(
  trades: readonly { ts_ms: number; price?: number; volume?: number }[],
  bucketMs: number,
): Candle[] {
  const out: Candle[] = [];
  const sorted = trades.filter((t) => t.price !== undefined && Number.isFinite(t.price))
    .slice().sort((a, b) => a.ts_ms - b.ts_ms);
  let cur: Candle | null = null;
  for (const tr of sorted) {
    const t = Math.floor(tr.ts_ms / bucketMs) * bucketMs;
    const p = tr.price!;
    if (!cur || cur.t !== t) {
      cur = { t, open: p, high: p, low: p, close: p, volume: 0, trades: 0 };
      out.push(cur);
    }
    if (p > cur.high) cur.high = p;
    if (p < cur.low) cur.low = p;
    cur.close = p;
    cur.volume += tr.volume ?? 0;
    cur.trades++;
  }
  return out;
}
