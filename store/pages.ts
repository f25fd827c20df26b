/**
 * Columnar pages: how batches of feature rows and predictions are stored in
 * Deno KV. One KV value holds a whole batch as typed arrays (≈ 100 bytes a
 * record instead of ≈ 290 for an array of objects), so the worker writes a
 * few values per batch rather than one per event (docs/decisions.md,
 * "Storage in pages").
 *
 * @module
 */
import {
  ANOMALY_TYPES,
  type AnomalyType,
  type FeatureRow,
  type Prediction,
} from "../lib/contracts.ts";

/** Most records one page may hold; keeps a page well under KV's 64 KiB value limit. */
export const MAX_PAGE_RECORDS = 400;

/** A batch of records as columns. Strings are indices into `dict`. */
export interface Page {
  v: 1;
  n: number;
  dict: string[];
  sym: Uint16Array;
  /** source name index, 0xffff when absent */
  src: Uint16Array;
  ts: Float64Array;
  price: Float64Array;
  volume: Float64Array;
  /** the five features, row after row */
  f: Float64Array;
  /** NaN when absent */
  trade: Float64Array;
  /**
   * bit 0 warm_up, bit 1 labelled anomaly, bits 2–3 and 6 anomaly type (index in ANOMALY_TYPES + 1,
   * 0 none; bit 6 is the code's high bit, so pages written before the simulator v2 types still
   * decode), bit 4 label known, bit 5 predicted anomaly, bit 7 robust_ready
   */
  flags: Uint8Array;
  /** detection v2's robust features (price_z, price_z_long, volume_z, flow_z) row after row; absent in older pages */
  rf?: Float64Array;
  /** predictions: the verdict's driving channel (dict index, 0xffff when absent) */
  drv?: Uint16Array;
  /** rows only */
  wc?: Uint32Array;
  /** predictions only */
  score?: Float64Array;
  severity?: Float64Array;
  model?: Uint16Array;
}

const NONE = 0xffff;

class Dict {
  readonly list: string[] = [];
  readonly #index = new Map<string, number>();
  of(s: string): number {
    let i = this.#index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.#index.set(s, i);
    }
    return i;
  }
}

/** The type's bits in a flags byte: code bits 0–1 at bits 2–3, code bit 2 at bit 6 (7 codes). */
function typeBits(t: AnomalyType | null | undefined): number {
  const code = t ? ANOMALY_TYPES.indexOf(t) + 1 : 0;
  return ((code & 3) << 2) | ((code & 4) << 4);
}

function typeOf(flags: number): AnomalyType | null {
  const code = ((flags >> 2) & 3) | ((flags >> 4) & 4);
  return code === 0 ? null : ANOMALY_TYPES[code - 1];
}

type Common =
  & Pick<
    FeatureRow,
    | "symbol"
    | "ts_ms"
    | "z_score_price"
    | "z_score_log_return"
    | "z_score_volume"
    | "rolling_price_std"
    | "rolling_volume_std"
    | "trade_id"
    | "source"
  >
  & { price?: number; volume?: number }
  & Partial<Pick<FeatureRow, "price_z" | "price_z_long" | "volume_z" | "flow_z" | "robust_ready">>;

function encodeCommon(records: readonly Common[]): { page: Page; dict: Dict } {
  const n = records.length;
  if (n > MAX_PAGE_RECORDS) {
    throw new RangeError(`a page holds at most ${MAX_PAGE_RECORDS} records`);
  }
  const dict = new Dict();
  const page: Page = {
    v: 1,
    n,
    dict: dict.list,
    sym: new Uint16Array(n),
    src: new Uint16Array(n),
    ts: new Float64Array(n),
    price: new Float64Array(n),
    volume: new Float64Array(n),
    f: new Float64Array(n * 5),
    trade: new Float64Array(n),
    flags: new Uint8Array(n),
  };
  if (records.some((r) => r.robust_ready !== undefined)) page.rf = new Float64Array(n * 4);
  for (let i = 0; i < n; i++) {
    const r = records[i];
    page.sym[i] = dict.of(r.symbol);
    page.src[i] = r.source === undefined ? NONE : dict.of(r.source);
    page.ts[i] = r.ts_ms;
    page.price[i] = r.price ?? NaN;
    page.volume[i] = r.volume ?? NaN;
    const o = i * 5;
    page.f[o] = r.z_score_price;
    page.f[o + 1] = r.z_score_log_return;
    page.f[o + 2] = r.z_score_volume;
    page.f[o + 3] = r.rolling_price_std;
    page.f[o + 4] = r.rolling_volume_std;
    page.trade[i] = r.trade_id ?? NaN;
    if (page.rf) {
      const q = i * 4;
      page.rf[q] = r.price_z ?? 0;
      page.rf[q + 1] = r.price_z_long ?? 0;
      page.rf[q + 2] = r.volume_z ?? 0;
      page.rf[q + 3] = r.flow_z ?? 0;
    }
  }
  return { page, dict };
}

function decodeCommon(p: Page, i: number, robust = true): Common {
  const o = i * 5;
  const c: Common = {
    symbol: p.dict[p.sym[i]],
    ts_ms: p.ts[i],
    z_score_price: p.f[o],
    z_score_log_return: p.f[o + 1],
    z_score_volume: p.f[o + 2],
    rolling_price_std: p.f[o + 3],
    rolling_volume_std: p.f[o + 4],
  };
  if (!Number.isNaN(p.price[i])) c.price = p.price[i];
  if (!Number.isNaN(p.volume[i])) c.volume = p.volume[i];
  if (!Number.isNaN(p.trade[i])) c.trade_id = p.trade[i];
  if (p.src[i] !== NONE) c.source = p.dict[p.src[i]];
  if (p.rf && robust) {
    const q = i * 4;
    c.price_z = p.rf[q];
    c.price_z_long = p.rf[q + 1];
    c.volume_z = p.rf[q + 2];
    c.flow_z = p.rf[q + 3];
    c.robust_ready = (p.flags[i] & 128) !== 0;
  }
  return c;
}

/**
 * Feature rows → one page.
 *
 * @example
 * ```ts
 * import { decodeRows, encodeRows } from "./pages.ts";
 * const page = encodeRows([]);
 * console.log(decodeRows(page).length); // 0
 * ```
 */
export function encodeRows(rows: readonly FeatureRow[]): Page {
  const { page } = encodeCommon(rows);
  page.wc = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    page.wc[i] = r.window_count;
    page.flags[i] = (r.warm_up ? 1 : 0) | (r.is_anomaly ? 2 : 0) | typeBits(r.anomaly_type) |
      (r.robust_ready ? 128 : 0);
  }
  return page;
}

/** One page → feature rows, equal to what {@linkcode encodeRows} was given. */
export function decodeRows(p: Page): FeatureRow[] {
  if (!p.wc) throw new TypeError("not a page of feature rows");
  const out: FeatureRow[] = new Array(p.n);
  for (let i = 0; i < p.n; i++) {
    const c = decodeCommon(p, i);
    const flags = p.flags[i];
    out[i] = {
      ...c,
      price: c.price!,
      volume: c.volume!,
      window_count: p.wc[i],
      warm_up: (flags & 1) !== 0,
      is_anomaly: (flags & 2) !== 0,
      anomaly_type: typeOf(flags),
    };
  }
  return out;
}

/** Predictions → one page. */
export function encodePredictions(preds: readonly Prediction[]): Page {
  const { page, dict } = encodeCommon(preds);
  const n = preds.length;
  page.score = new Float64Array(n);
  page.severity = new Float64Array(n);
  page.model = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const p = preds[i];
    page.score[i] = p.anomaly_score;
    page.severity[i] = p.severity;
    page.model[i] = dict.of(p.model_id);
    setVerdict(page, i, p, dict);
  }
  return page;
}

/** A prediction's flags (label, type, verdict, readiness) and driver into row `i` of a page. */
function setVerdict(
  page: { flags: Uint8Array; drv?: Uint16Array },
  i: number,
  p: Prediction,
  dict: Dict,
): void {
  page.flags[i] = (p.label ? 2 : 0) | typeBits(p.anomaly_type) |
    (p.label === null ? 0 : 16) | (p.is_anomaly ? 32 : 0) | (p.robust_ready ? 128 : 0);
  if (p.driver !== undefined) {
    page.drv ??= new Uint16Array(page.flags.length).fill(NONE);
    page.drv[i] = dict.of(p.driver);
  }
}

/** One page → predictions, equal to what {@linkcode encodePredictions} was given. */
export function decodePredictions(p: Page): Prediction[] {
  if (!p.score || !p.severity || !p.model) throw new TypeError("not a page of predictions");
  const out: Prediction[] = new Array(p.n);
  for (let i = 0; i < p.n; i++) {
    const flags = p.flags[i];
    out[i] = {
      ...decodeCommon(p, i),
      anomaly_score: p.score[i],
      severity: p.severity[i],
      is_anomaly: (flags & 32) !== 0,
      anomaly_type: typeOf(flags),
      model_id: p.dict[p.model[i]],
      label: (flags & 16) === 0 ? null : (flags & 2) !== 0,
    };
    if (p.drv && p.drv[i] !== NONE) out[i].driver = p.dict[p.drv[i]];
  }
  return out;
}

/**
 * A page of the worker's predictions that stores only what a prediction
 * adds to its feature row (score, severity, model, driver, verdict flags)
 * and where that row is: the row pages of the same batch (written in the
 * same atomic, with the same expiry). The features, prices and times are
 * written once, in the row page, instead of three times (row page, page by
 * time, page by symbol): ~23 bytes a prediction here instead of ~130
 * (docs/decisions.md, "Storage: predictions written once").
 */
export interface VerdictPage {
  v: 2;
  n: number;
  dict: string[];
  /** the KV keys of the row pages holding the predictions' rows, in order */
  rk: Deno.KvKey[];
  /** each prediction's row: its index in the `rk` pages' rows, concatenated */
  ri: Uint16Array;
  score: Float64Array;
  severity: Float64Array;
  model: Uint16Array;
  /** the verdict's driving channel (dict index, 0xffff when absent) */
  drv?: Uint16Array;
  /** as {@linkcode Page.flags} for predictions */
  flags: Uint8Array;
  /** whether the predictions carry detection v2's robust features */
  robust: boolean;
}

/** Whether a prediction page's value is a {@linkcode VerdictPage}. */
export function isVerdictPage(p: Page | VerdictPage): p is VerdictPage {
  return p.v === 2;
}

/**
 * Predictions → a verdict page over row pages: `rowIndex[i]` is the index of
 * prediction i's row in the rows of the pages `rowKeys` names, concatenated.
 * Each prediction must be its row's prediction (same symbol, time, features).
 */
export function encodeVerdicts(
  preds: readonly Prediction[],
  rowIndex: readonly number[],
  rowKeys: Deno.KvKey[],
): VerdictPage {
  const n = preds.length;
  if (n > MAX_PAGE_RECORDS) {
    throw new RangeError(`a page holds at most ${MAX_PAGE_RECORDS} records`);
  }
  const dict = new Dict();
  const page: VerdictPage = {
    v: 2,
    n,
    dict: dict.list,
    rk: rowKeys,
    ri: new Uint16Array(n),
    score: new Float64Array(n),
    severity: new Float64Array(n),
    model: new Uint16Array(n),
    flags: new Uint8Array(n),
    robust: preds.some((p) => p.robust_ready !== undefined),
  };
  for (let i = 0; i < n; i++) {
    const p = preds[i];
    page.ri[i] = rowIndex[i];
    page.score[i] = p.anomaly_score;
    page.severity[i] = p.severity;
    page.model[i] = dict.of(p.model_id);
    setVerdict(page, i, p, dict);
  }
  return page;
}

/**
 * A verdict page and its row pages (the values of `p.rk`, in order) →
 * predictions, equal to what {@linkcode encodeVerdicts} was given.
 */
export function decodeVerdicts(p: VerdictPage, rowPages: readonly Page[]): Prediction[] {
  const out: Prediction[] = new Array(p.n);
  for (let i = 0; i < p.n; i++) {
    let r = p.ri[i];
    let k = 0;
    while (k < rowPages.length - 1 && r >= rowPages[k].n) r -= rowPages[k++].n;
    const flags = p.flags[i];
    out[i] = {
      ...decodeCommon(rowPages[k], r, p.robust),
      anomaly_score: p.score[i],
      severity: p.severity[i],
      is_anomaly: (flags & 32) !== 0,
      anomaly_type: typeOf(flags),
      model_id: p.dict[p.model[i]],
      label: (flags & 16) === 0 ? null : (flags & 2) !== 0,
    };
    if (p.robust) out[i].robust_ready = (flags & 128) !== 0;
    if (p.drv && p.drv[i] !== NONE) out[i].driver = p.dict[p.drv[i]];
  }
  return out;
}
