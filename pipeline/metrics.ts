/**
 * In-process metrics in Prometheus' model: counters and histograms with
 * labels, rendered as the text exposition format for `GET /metrics`.
 *
 * @module
 */

type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return names.map((n) => `${n}="${escapeLabel(labels[n])}"`).join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A monotonically increasing count, per label set. */
export class Counter {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, n = 1): void {
    const k = labelKey(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + n);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels)) ?? 0;
  }

  /** The sum over every label set. */
  total(): number {
    let t = 0;
    for (const v of this.#values.values()) t += v;
    return t;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.#values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

/** A distribution in cumulative buckets (upper bounds), per label set. */
export class Histogram {
  readonly #series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const k = labelKey(labels);
    let s = this.#series.get(k);
    if (!s) {
      this.#series.set(k, s = { counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 });
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** The q-quantile estimated from the buckets (upper bound of the bucket that holds it). */
  quantile(q: number, labels: Labels = {}): number | null {
    const s = this.#series.get(labelKey(labels));
    if (!s || s.count === 0) return null;
    const rank = q * s.count;
    for (let i = 0; i < this.buckets.length; i++) if (s.counts[i] >= rank) return this.buckets[i];
    return Infinity;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.#series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`)
      );
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

/** Latency buckets in seconds, 0.5 ms … 10 s. */
export const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The pipeline's metrics (one registry per process). */
export class PipelineMetrics {
  readonly eventsIn = new Counter(
    "sentinel_events_received_total",
    "Market events received, by source",
  );
  readonly eventsRejected = new Counter(
    "sentinel_events_rejected_total",
    "Market events rejected by the schema, by source and reason",
  );
  readonly rows = new Counter("sentinel_feature_rows_total", "Feature rows computed");
  readonly warmup = new Counter(
    "sentinel_warmup_rows_total",
    "Rows not scored: window still warming up",
  );
  readonly unscored = new Counter(
    "sentinel_unscored_rows_total",
    "Rows not scored: no active model",
  );
  readonly predictions = new Counter("sentinel_predictions_total", "Predictions, by symbol");
  readonly anomalies = new Counter(
    "sentinel_anomalies_total",
    "Predicted anomalies, by symbol and labelled type (none when unlabelled or not a labelled anomaly)",
  );
  readonly batches = new Counter("sentinel_batches_committed_total", "Batches committed to KV");
  readonly latency = new Histogram(
    "sentinel_event_to_prediction_seconds",
    "From the event's arrival in Sentinel to its prediction being durable in KV",
    LATENCY_BUCKETS,
  );
  readonly commitSeconds = new Histogram(
    "sentinel_kv_commit_seconds",
    "Duration of one batch's KV atomic commit",
    LATENCY_BUCKETS,
  );
  readonly http = new Counter("sentinel_http_requests_total", "HTTP requests, by route and status");
  readonly httpSeconds = new Histogram(
    "sentinel_http_request_seconds",
    "HTTP request duration, by route",
    LATENCY_BUCKETS,
  );
  /** exact event-to-prediction latencies in ms, kept only when a benchmark asks (null: off) */
  latencySamples: number[] | null = null;
  /** gauges set by whoever knows them */
  readonly gauges = new Map<string, { help: string; value: number }>();

  setGauge(name: string, help: string, value: number): void {
    this.gauges.set(name, { help, value });
  }

  render(): string {
    const parts = [
      this.eventsIn,
      this.eventsRejected,
      this.rows,
      this.warmup,
      this.unscored,
      this.predictions,
      this.anomalies,
      this.batches,
      this.latency,
      this.commitSeconds,
      this.http,
      this.httpSeconds,
    ].map((m) => m.render());
    for (const [name, g] of this.gauges) {
      parts.push(`# HELP ${name} ${g.help}\n# TYPE ${name} gauge\n${name} ${g.value}`);
    }
    return parts.join("\n") + "\n";
  }
}
