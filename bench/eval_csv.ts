/**
 * Sentinel v2's verdicts as CSV files (`--predictions-out`, `--incidents-out`),
 * the columns docs/detection.md documents and bench/incident_types.ts reads
 * back: the lines, and the predictions file written as the test events pass.
 * The evaluation decides what goes in.
 *
 * @module
 */
import type { MarketEvent } from "../lib/contracts.ts";
import type { Incident } from "../model/incidents.ts";

/** Columns of `--predictions-out` (one line per test event, Sentinel v2's verdict). */
export const PREDICTION_COLUMNS = [
  "ts_ms",
  "time",
  "symbol",
  "price",
  "volume",
  "price_z",
  "price_z_long",
  "volume_z",
  "flow_z",
  "scored",
  "severity",
  "is_anomaly",
  "driver",
  "label",
  "anomaly_type",
  "episode_id",
] as const;

/** Columns of `--incidents-out` (one line per incident of Sentinel v2). */
export const INCIDENT_COLUMNS = [
  "id",
  "symbol",
  "type",
  "start_ms",
  "end_ms",
  "start",
  "end",
  "peak_ms",
  "peak_severity",
  "alerts",
  "trades",
  "ref_price",
  "peak_price",
  "last_price",
  "min_price",
  "max_price",
  "drivers",
] as const;

const csv = (v: unknown) => {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** One `--incidents-out` line. */
export function incidentCsvLine(i: Incident): string {
  return [
    i.id,
    i.symbol,
    i.type,
    i.start_ms,
    i.end_ms,
    new Date(i.start_ms).toISOString(),
    new Date(i.end_ms).toISOString(),
    i.peak_ms,
    i.peak_severity,
    i.alerts,
    i.trades,
    i.ref_price,
    i.peak_price,
    i.last_price,
    i.min_price,
    i.max_price,
    Object.entries(i.drivers).map(([k, n]) => `${k}:${n}`).join(" "),
  ].map(csv).join(",") + "\n";
}

/** One `--predictions-out` line. */
export function predictionCsvLine(
  e: MarketEvent,
  ts: number,
  f: {
    price_z: number;
    price_z_long: number;
    volume_z: number;
    flow_z: number;
    robust_ready: boolean;
  },
  v: { severity: number; alert: boolean; driverName: string },
): string {
  return [
    ts,
    new Date(ts).toISOString(),
    e.symbol,
    e.price,
    e.volume,
    f.price_z,
    f.price_z_long,
    f.volume_z,
    f.flow_z,
    f.robust_ready,
    f.robust_ready ? v.severity : "",
    v.alert,
    v.alert ? v.driverName : "",
    e.source === "simulated" ? e.is_anomaly : e.is_anomaly ? true : "",
    e.anomaly_type ?? "",
    e.episode_id ?? "",
  ].map(csv).join(",") + "\n";
}

/**
 * `--predictions-out`: the header, then one {@linkcode predictionCsvLine} per
 * test event, written in chunks of about 1 MiB so a day of events never sits
 * in memory.
 */
export class PredictionsFile {
  readonly #file: Deno.FsFile;
  readonly #enc = new TextEncoder();
  #buf = PREDICTION_COLUMNS.join(",") + "\n";

  /** Creates (or truncates) the file at `path`. */
  constructor(path: string) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
  }

  /** Appends one line; writes the buffer out once it passes 1 MiB. */
  add(line: string): void {
    this.#buf += line;
    if (this.#buf.length > 1 << 20) this.#flush();
  }

  /** Writes what is left and closes the file. */
  close(): void {
    this.#flush();
    this.#file.close();
  }

  #flush(): void {
    const bytes = this.#enc.encode(this.#buf);
    let off = 0;
    while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
    this.#buf = "";
  }
}
