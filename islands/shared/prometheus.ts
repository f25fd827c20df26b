/**
 * Reads the few numbers the dashboard needs from `GET /metrics` (Prometheus
 * text format 0.0.4): counter sums and histogram quantiles.
 *
 * @module
 */

/** One sample: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses exposition text into samples; comments and malformed lines are skipped.
 *
 * @example
 * ```ts
 * import { parseMetrics } from "./prometheus.ts";
 * const s = parseMetrics('# HELP x a\nx{a="1"} 2\ny 3.5\n');
 * console.log(s.length, s[0].labels.a, s[1].value); // 2 "1" 3.5
 * ```
 */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(LABEL)) {
      labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/**
 * The sum of a metric over every label set (0 when absent), optionally only
 * the samples whose labels match `where`.
 *
 * @example
 * ```ts
 * import { parseMetrics, sumMetric } from "./prometheus.ts";
 * const s = parseMetrics('p{symbol="A"} 2\np{symbol="B"} 3\n');
 * console.log(sumMetric(s, "p"), sumMetric(s, "p", { symbol: "B" })); // 5 3
 * ```
 */
export function sumMetric(
  samples: readonly Sample[],
  name: string,
  where: Record<string, string> = {},
): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).some(([k, v]) => s.labels[k] !== v)) continue;
    sum += s.value;
  }
  return sum;
}

/**
 * The q-quantile of a histogram (`<name>_bucket` series, all label sets
 * merged) by linear interpolation inside the bucket, as Prometheus'
 * `histogram_quantile` does; null when it holds no observations. A quantile
 * in the `+Inf` bucket is reported as the largest finite bound.
 *
 * @example
 * ```ts
 * import { histogramQuantile, parseMetrics } from "./prometheus.ts";
 * const s = parseMetrics('h_bucket{le="1"} 0\nh_bucket{le="2"} 10\nh_bucket{le="+Inf"} 10\n');
 * console.log(histogramQuantile(s, "h", 0.5)); // 1.5
 * ```
 */
export function histogramQuantile(
  samples: readonly Sample[],
  name: string,
  q: number,
): number | null {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0, prevCount = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      if (count === prevCount) return le;
      return prevLe + (le - prevLe) * ((rank - prevCount) / (count - prevCount));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
