/**
 * The worker's per-second bars (store/bars.ts): each symbol's open minute,
 * advanced batch by batch, the minutes a batch changed packed for its
 * commit, and the open minute as the symbol's checkpoint holds it. Apart
 * from the processor so that file stays about batches.
 *
 * @module
 */
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import {
  addTrade,
  type BarTrade,
  type MinuteBars,
  packMinute,
  unpackMinute,
} from "../store/bars.ts";

/** A minute of one symbol's bars, packed: `[symbol, minute start (ms), bytes]`. */
export type PackedMinute = [string, number, Uint8Array];

/** Each symbol's open minute of bars. */
export class BatchBars {
  readonly #open = new Map<string, MinuteBars>();

  /** Forgets every symbol's open minute (the processor's state was dropped). */
  clear(): void {
    this.#open.clear();
  }

  /** Restores a symbol's open minute from its checkpoint. */
  restore(symbol: string, minute: number, bytes: Uint8Array): void {
    this.#open.set(symbol, unpackMinute(symbol, minute, bytes));
  }

  /**
   * Adds the batch's trades to their symbols' bars; returns every minute the
   * batch changed, packed now (a later batch goes on changing the open
   * minute while this one commits).
   */
  add(
    rows: readonly FeatureRow[],
    predictions: readonly Prediction[],
    scored: readonly number[],
  ): PackedMinute[] {
    const changed = new Map<string, MinuteBars>();
    // one trade object for the batch: addTrade copies what it keeps
    const trade: BarTrade = { ts_ms: 0, price: 0, volume: 0, alert: false, severity: 0 };
    let j = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const p = scored[j] === i ? predictions[j++] : null;
      trade.ts_ms = r.ts_ms;
      trade.price = r.price;
      trade.volume = r.volume;
      trade.alert = p?.is_anomaly ?? false;
      trade.severity = p?.severity ?? 0;
      const m = addTrade(this.#open.get(r.symbol), r.symbol, trade);
      if (m === null) continue;
      this.#open.set(r.symbol, m);
      changed.set(`${r.symbol}\u0000${m.minute}`, m);
    }
    return [...changed.values()].map((m) => [m.symbol, m.minute, packMinute(m)]);
  }

  /**
   * The symbol's open minute for its checkpoint (undefined: none yet);
   * `packed`: what {@linkcode BatchBars.add} just returned, so the open
   * minute is not packed twice.
   */
  checkpoint(
    symbol: string,
    packed: readonly PackedMinute[],
  ): { minute: number; bytes: Uint8Array } | undefined {
    const bars = this.#open.get(symbol);
    if (!bars) return undefined;
    const same = packed.find(([s, minute]) => s === symbol && minute === bars.minute);
    return { minute: bars.minute, bytes: same ? same[2] : packMinute(bars) };
  }
}
