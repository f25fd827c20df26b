/**
 * Number and time formatting shared by the server render and the browser, so
 * that both produce the same text (hydration compares them). Times are UTC:
 * the server's and the browser's time zones may differ.
 *
 * @module
 */

/**
 * An integer with thousands separators.
 *
 * @example
 * ```ts
 * import { fmtInt } from "./format.ts";
 * console.log(fmtInt(12345)); // "12,345"
 * ```
 */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const s = Math.round(Math.abs(n)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${s}` : s;
}

/**
 * A number with `digits` decimals, or `–` when missing.
 *
 * @example
 * ```ts
 * import { fmtNum } from "./format.ts";
 * console.log(fmtNum(0.12345, 3)); // "0.123"
 * ```
 */
export function fmtNum(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/**
 * A share as a percentage.
 *
 * @example
 * ```ts
 * import { fmtPct } from "./format.ts";
 * console.log(fmtPct(0.0123)); // "1.23 %"
 * ```
 */
export function fmtPct(x: number | null | undefined, digits = 2): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  return `${(x * 100).toFixed(digits)} %`;
}

/**
 * A price or volume with about six significant digits and separators.
 *
 * @example
 * ```ts
 * import { fmtPrice } from "./format.ts";
 * console.log(fmtPrice(43150.52341)); // "43,150.5"
 * ```
 */
export function fmtPrice(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const abs = Math.abs(x);
  const decimals = abs >= 1e5 ? 0 : abs >= 1e4 ? 1 : abs >= 1e3 ? 2 : abs >= 1 ? 3 : 5;
  const [int, frac] = abs.toFixed(decimals).split(".");
  const s = fmtInt(Number(int)) + (frac ? `.${frac}` : "");
  return x < 0 ? `-${s}` : s;
}

/**
 * A rate per second.
 *
 * @example
 * ```ts
 * import { fmtRate } from "./format.ts";
 * console.log(fmtRate(14.96)); // "15.0/s"
 * ```
 */
export function fmtRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "–/s";
  return perSecond >= 100 ? `${fmtInt(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

/**
 * Milliseconds, readable.
 *
 * @example
 * ```ts
 * import { fmtMs } from "./format.ts";
 * console.log(fmtMs(0.8912), fmtMs(12.4), fmtMs(2500)); // "0.89 ms" "12 ms" "2.5 s"
 * ```
 */
export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(2)} ms`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * The UTC time of day of a millisecond timestamp.
 *
 * @example
 * ```ts
 * import { fmtTime } from "./format.ts";
 * console.log(fmtTime(Date.UTC(2024, 2, 9, 16, 0, 5, 120))); // "16:00:05.120"
 * ```
 */
export function fmtTime(ms: number, withMs = true): string {
  const d = new Date(ms);
  const base = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return withMs ? `${base}.${pad(d.getUTCMilliseconds(), 3)}` : base;
}

/**
 * A UTC date and time, to the second.
 *
 * @example
 * ```ts
 * import { fmtDateTime } from "./format.ts";
 * console.log(fmtDateTime(Date.UTC(2024, 2, 9, 16, 0, 5))); // "2024-03-09 16:00:05 UTC"
 * ```
 */
export function fmtDateTime(ms: number | string): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return "–";
  return `${d.toISOString().slice(0, 10)} ${fmtTime(d.getTime(), false)} UTC`;
}

/**
 * A duration in seconds, as the largest two units.
 *
 * @example
 * ```ts
 * import { fmtDuration } from "./format.ts";
 * console.log(fmtDuration(3725)); // "1 h 2 min"
 * ```
 */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/**
 * A time axis' tick format in 24-hour UTC (Plot's default would print
 * "03 PM" and local-looking labels): `HH:MM:SS`, or `MM-DD HH:MM` when the
 * axis spans more than 20 hours.
 *
 * @example
 * ```ts
 * import { utcTickFormat } from "./format.ts";
 * const t = new Date(Date.UTC(2024, 2, 9, 16, 0, 5));
 * console.log(utcTickFormat(60_000)(t), utcTickFormat(2 * 86_400_000)(t)); // "16:00:05" "03-09 16:00"
 * ```
 */
export function utcTickFormat(spanMs: number): (d: Date) => string {
  if (spanMs > 20 * 3_600_000) {
    return (d) => `${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 16)}`;
  }
  return (d) => fmtTime(d.getTime(), false);
}
