/**
 * Small statistics for the charts: mean, Pearson correlation, a correlation
 * matrix in the long form Plot's `cell` mark takes, and a moving rate.
 *
 * @module
 */

/**
 * Arithmetic mean; NaN for no values.
 *
 * @example
 * ```ts
 * import { mean } from "./stats.ts";
 * console.log(mean([1, 2, 6])); // 3
 * ```
 */
export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return xs.length ? s / xs.length : NaN;
}

/**
 * Pearson's correlation of two equally long series (two-pass, so large
 * offsets such as BTC prices do not cancel digits); NaN when either is
 * constant or shorter than 2.
 *
 * @example
 * ```ts
 * import { pearson } from "./stats.ts";
 * console.log(pearson([1, 2, 3], [2, 4, 6]), pearson([1, 2, 3], [3, 2, 1])); // 1 -1
 * ```
 */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return NaN;
  const mx = mean(xs.slice(0, n)), my = mean(ys.slice(0, n));
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i] - mx, dy = ys[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** One cell of a correlation matrix. */
export interface CorrelationCell {
  x: string;
  y: string;
  r: number;
}

/**
 * Every pair's correlation (both orders and the diagonal), for a heatmap.
 *
 * @example
 * ```ts
 * import { correlationMatrix } from "./stats.ts";
 * const m = correlationMatrix([{ a: 1, b: 2 }, { a: 2, b: 1 }, { a: 3, b: 0 }], ["a", "b"]);
 * console.log(m.length, m.find((c) => c.x === "a" && c.y === "b")?.r); // 4 -1
 * ```
 */
export function correlationMatrix<K extends string>(
  rows: readonly Readonly<Record<K, number>>[],
  keys: readonly K[],
): CorrelationCell[] {
  const cols = keys.map((k) => rows.map((r) => r[k]));
  const out: CorrelationCell[] = [];
  for (let i = 0; i < keys.length; i++) {
    for (let j = 0; j < keys.length; j++) {
      out.push({ x: keys[j], y: keys[i], r: i === j ? 1 : pearson(cols[i], cols[j]) });
    }
  }
  return out;
}

/**
 * Events per second over the span of `timestampsMs` (ascending or not); null
 * for fewer than two distinct times.
 *
 * @example
 * ```ts
 * import { ratePerSecond } from "./stats.ts";
 * console.log(ratePerSecond([0, 500, 1000])); // 2
 * ```
 */
export function ratePerSecond(timestampsMs: readonly number[]): number | null {
  if (timestampsMs.length < 2) return null;
  let lo = Infinity, hi = -Infinity;
  for (const t of timestampsMs) {
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return hi > lo ? (timestampsMs.length - 1) / ((hi - lo) / 1000) : null;
}

/**
 * A series id per point that changes wherever a symbol's points are more
 * than `maxGapMs` apart (or the symbol changes), so that a line drawn per id
 * breaks at the gap instead of bridging an outage with a straight segment.
 * Points must be in time order within each symbol.
 *
 * @example
 * ```ts
 * import { gapSegments } from "./stats.ts";
 * const pts = [{ symbol: "A", ts_ms: 0 }, { symbol: "A", ts_ms: 100 }, { symbol: "A", ts_ms: 9000 }];
 * console.log(gapSegments(pts, 1000)); // ["A#0", "A#0", "A#1"]
 * ```
 */
export function gapSegments(
  points: readonly { symbol: string; ts_ms: number }[],
  maxGapMs: number,
): string[] {
  const last = new Map<string, { ts: number; seg: number }>();
  return points.map((p) => {
    const prev = last.get(p.symbol);
    const seg = prev === undefined ? 0 : p.ts_ms - prev.ts > maxGapMs ? prev.seg + 1 : prev.seg;
    last.set(p.symbol, { ts: p.ts_ms, seg });
    return `${p.symbol}#${seg}`;
  });
}
