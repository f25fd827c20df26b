/**
 * Reads `GET /export.csv` (RFC 4180: a header row, fields quoted when they
 * hold a comma, a quote or a line break) into records, so the Analytics page
 * shows exactly the rows its export link downloads.
 *
 * @module
 */

/**
 * Splits CSV text into rows of fields.
 *
 * @example
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * console.log(parseCsv('a,b\n1,"x,""y"""\n')); // [["a","b"],["1",'x,"y"']]
 * ```
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
    i++;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** One exported prediction, typed. */
export interface ExportRow {
  ts_ms: number;
  symbol: string;
  price: number | null;
  volume: number | null;
  z_score_price: number;
  z_score_log_return: number;
  z_score_volume: number;
  rolling_price_std: number;
  rolling_volume_std: number;
  anomaly_score: number;
  severity: number;
  is_anomaly: boolean;
  anomaly_type: string | null;
  label: boolean | null;
  model_id: string;
  source: string | null;
}

const num = (s: string | undefined) => s === undefined || s === "" ? null : Number(s);
const bool = (s: string | undefined) => s === "true" ? true : s === "false" ? false : null;

/**
 * The records of an export, by header name (columns it does not know are
 * ignored, so the export may grow).
 *
 * @example
 * ```ts
 * import { parseExport } from "./csv.ts";
 * const rows = parseExport("ts_ms,symbol,anomaly_score,is_anomaly\n5,BTC-USDT,-0.1,true\n");
 * console.log(rows[0].symbol, rows[0].is_anomaly); // "BTC-USDT" true
 * ```
 */
export function parseExport(text: string): ExportRow[] {
  const [header, ...body] = parseCsv(text);
  if (!header) return [];
  const at = new Map(header.map((h, i) => [h, i]));
  const get = (r: string[], k: string) => {
    const i = at.get(k);
    return i === undefined ? undefined : r[i];
  };
  const out: ExportRow[] = [];
  for (const r of body) {
    if (r.length === 1 && r[0] === "") continue;
    out.push({
      ts_ms: Number(get(r, "ts_ms")),
      symbol: get(r, "symbol") ?? "",
      price: num(get(r, "price")),
      volume: num(get(r, "volume")),
      z_score_price: Number(get(r, "z_score_price")),
      z_score_log_return: Number(get(r, "z_score_log_return")),
      z_score_volume: Number(get(r, "z_score_volume")),
      rolling_price_std: Number(get(r, "rolling_price_std")),
      rolling_volume_std: Number(get(r, "rolling_volume_std")),
      anomaly_score: Number(get(r, "anomaly_score")),
      severity: Number(get(r, "severity")),
      is_anomaly: get(r, "is_anomaly") === "true",
      anomaly_type: get(r, "anomaly_type") || null,
      label: bool(get(r, "label")),
      model_id: get(r, "model_id") ?? "",
      source: get(r, "source") || null,
    });
  }
  return out;
}
