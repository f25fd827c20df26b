/**
 * Per-second bars: the long-horizon tier of the market history
 * (docs/decisions.md, "Retention tiers"). Raw rows and predictions stay for
 * `RETENTION_RAW` (RETENTION by default; e.g. an hour); what is kept for `RETENTION` is, per
 * symbol and second with trades, the price's open/high/low/close, the volume,
 * the trade count, the alerts and the highest severity, plus the incidents.
 * A symbol's minute of bars is one KV value (`["bars", symbol, minute]`),
 * rewritten by each batch that adds to it and checkpointed with the symbol's
 * state, so a replayed batch rewrites the same value (exactly once).
 *
 * @module
 */
import { Reader, readExact, writeExact, Writer } from "./compact.ts";

/** One second of one symbol's trades. */
export interface SecondBar {
  /** the second's start, epoch ms */
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  trades: number;
  /** trades the model flagged */
  anomalies: number;
  /** highest severity of the second's scored trades (0 when none was scored) */
  max_severity: number;
}

/** A symbol's bars of one minute, oldest second first. */
export interface MinuteBars {
  symbol: string;
  /** the minute's start, epoch ms */
  minute: number;
  bars: SecondBar[];
}

/** One trade as the bars see it. */
export interface BarTrade {
  ts_ms: number;
  price: number;
  volume: number;
  /** flagged by the model */
  alert: boolean;
  /** the prediction's severity (0 when the trade was not scored) */
  severity: number;
}

/**
 * Adds a trade to the symbol's open minute and returns it: the same object,
 * or a new minute when the trade starts one (the previous minute is then
 * complete). A trade older than the open minute returns null: it is left out
 * of the bars (trades of a symbol arrive in order from every source
 * Sentinel reads; the raw tier still has it).
 *
 * @example
 * ```ts
 * import { addTrade } from "./bars.ts";
 * const m = addTrade(undefined, "BTC-USDT", { ts_ms: 61_500, price: 10, volume: 2, alert: false, severity: 0.1 })!;
 * console.log(m.minute, m.bars[0].t, m.bars[0].close); // 60000 61000 10
 * ```
 */
export function addTrade(
  open: MinuteBars | undefined,
  symbol: string,
  trade: BarTrade,
): MinuteBars | null {
  const second = Math.floor(trade.ts_ms / 1000) * 1000;
  const minute = Math.floor(trade.ts_ms / 60_000) * 60_000;
  if (open && minute < open.minute) return null;
  const m = open && open.minute === minute ? open : { symbol, minute, bars: [] };
  let i = m.bars.length - 1;
  while (i >= 0 && m.bars[i].t > second) i--;
  const bar = i >= 0 && m.bars[i].t === second ? m.bars[i] : null;
  if (bar === null) {
    m.bars.splice(i + 1, 0, {
      t: second,
      open: trade.price,
      high: trade.price,
      low: trade.price,
      close: trade.price,
      volume: trade.volume,
      trades: 1,
      anomalies: trade.alert ? 1 : 0,
      max_severity: trade.severity,
    });
    return m;
  }
  bar.high = Math.max(bar.high, trade.price);
  bar.low = Math.min(bar.low, trade.price);
  bar.close = trade.price;
  bar.volume += trade.volume;
  bar.trades++;
  if (trade.alert) bar.anomalies++;
  bar.max_severity = Math.max(bar.max_severity, trade.severity);
  return m;
}

/**
 * Bars merged into bars of `seconds` seconds (60: one-minute bars), oldest
 * first: open of the first, close of the last, extremes and sums over all.
 */
export function rollUp(bars: readonly SecondBar[], seconds: number): SecondBar[] {
  const out: SecondBar[] = [];
  const span = seconds * 1000;
  for (const b of bars) {
    const t = Math.floor(b.t / span) * span;
    const last = out[out.length - 1];
    if (!last || last.t !== t) {
      out.push({ ...b, t });
      continue;
    }
    last.high = Math.max(last.high, b.high);
    last.low = Math.min(last.low, b.low);
    last.close = b.close;
    last.volume += b.volume;
    last.trades += b.trades;
    last.anomalies += b.anomalies;
    last.max_severity = Math.max(last.max_severity, b.max_severity);
  }
  return out;
}

const MAGIC = 0x4d; // "M"
const ZEROS = new Uint8Array(60);

/**
 * A minute of bars as bytes: prices and volumes exact (decimal varint steps,
 * or float64; store/compact.ts), counts as varints, severity as float32.
 */
export function packMinute(m: MinuteBars): Uint8Array {
  const w = new Writer();
  const n = m.bars.length;
  w.byte(MAGIC);
  w.varint(n);
  for (const b of m.bars) w.varint((b.t - m.minute) / 1000);
  const col = (f: (b: SecondBar) => number) => {
    const out = new Float64Array(n); // a loop: Float64Array.from with a map function is slow
    for (let i = 0; i < n; i++) out[i] = f(m.bars[i]);
    return out;
  };
  const prices: ((b: SecondBar) => number)[] = [
    (b) => b.open,
    (b) => b.high,
    (b) => b.low,
    (b) => b.close,
    (b) => b.volume,
  ];
  for (const f of prices) writeExact(w, col(f), ZEROS);
  for (const b of m.bars) w.varint(b.trades);
  for (const b of m.bars) w.varint(b.anomalies);
  w.f32s(col((b) => b.max_severity));
  return w.done();
}

/** {@linkcode packMinute}'s bytes back (the symbol and minute come from the key). */
export function unpackMinute(symbol: string, minute: number, bytes: Uint8Array): MinuteBars {
  const r = new Reader(bytes);
  if (r.byte() !== MAGIC) throw new TypeError("not a minute of bars");
  const n = r.varint();
  const t = Array.from({ length: n }, () => minute + r.varint() * 1000);
  const one = new Uint8Array(n); // one "symbol": steps run along the minute
  const [open, high, low, close, volume] = [0, 1, 2, 3, 4].map(() => readExact(r, n, one));
  const trades = Array.from({ length: n }, () => r.varint());
  const anomalies = Array.from({ length: n }, () => r.varint());
  const sev = r.f32s(n);
  const bars = t.map((t, i): SecondBar => ({
    t,
    open: open[i],
    high: high[i],
    low: low[i],
    close: close[i],
    volume: volume[i],
    trades: trades[i],
    anomalies: anomalies[i],
    max_severity: sev[i],
  }));
  return { symbol, minute, bars };
}
