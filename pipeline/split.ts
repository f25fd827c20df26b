/**
 * Splits a batch so that no commit touches too many symbols. Deno KV refuses
 * an atomic over 800 KB, and every symbol a batch touches adds its checkpoint
 * (about 18 KB: the seed window's panes, detection v2's sketches, the
 * incident state) to the batch's one atomic beside ≈ 380 KB of row and
 * prediction pages. A batch of a market with many symbols (Binance's
 * hundreds) is therefore committed as consecutive sub-batches, each with the
 * offset of its own end and the source checkpoint of its own last event, so
 * exactly-once holds for each of them.
 *
 * @module
 */
import type { Batch } from "./processor.ts";

/** Symbols one commit may touch (8 × ~30 KB with Half-Space Trees' masses stays far below the limit). */
export const MAX_SYMBOLS_PER_COMMIT = 8;

/**
 * Consecutive sub-batches of `batch`, each touching at most `maxSymbols`
 * symbols. A batch within the limit comes back as is. Offsets: a sub-batch
 * ends where the next begins (its first event's offset, or the batch's first
 * offset plus the event's index when events carry none); the last ends at
 * the batch's `nextOffset`. Rejected records ride with the first sub-batch;
 * each sub-batch carries its last event's source checkpoint (the last one
 * also the batch's own `extra`).
 *
 * @example
 * ```ts
 * import { splitBySymbols } from "./split.ts";
 * const ev = (symbol: string) => ({
 *   event: { timestamp: 0, symbol, price: 1, volume: 1, log_return: 0, is_anomaly: false, anomaly_type: null },
 *   receivedAt: 0,
 * });
 * const parts = splitBySymbols({
 *   stream: "s", partition: 0, firstOffset: 10, nextOffset: 14,
 *   events: [ev("A-USDT"), ev("B-USDT"), ev("A-USDT"), ev("C-USDT")],
 * }, 2);
 * console.log(parts.map((p) => [p.firstOffset, p.nextOffset])); // [[10, 13], [13, 14]]
 * ```
 */
export function splitBySymbols(batch: Batch, maxSymbols = MAX_SYMBOLS_PER_COMMIT): Batch[] {
  const events = batch.events;
  const offsetOf = (i: number) => events[i].offset ?? batch.firstOffset + i;
  const starts: number[] = [0];
  let seen = new Set<string>();
  for (let i = 0; i < events.length; i++) {
    const s = events[i].event.symbol;
    if (!seen.has(s) && seen.size === maxSymbols) {
      starts.push(i);
      seen = new Set();
    }
    seen.add(s);
  }
  if (starts.length === 1) return [batch];
  return starts.map((start, k) => {
    const last = k === starts.length - 1;
    const end = last ? events.length : starts[k + 1];
    const lastEvent = events[end - 1];
    const extra = last ? batch.extra : lastEvent.checkpoint ? [lastEvent.checkpoint] : undefined;
    const part: Batch = {
      stream: batch.stream,
      partition: batch.partition,
      firstOffset: k === 0 ? batch.firstOffset : offsetOf(start),
      nextOffset: last ? batch.nextOffset : offsetOf(end),
      events: events.slice(start, end),
    };
    if (k === 0 && batch.rejected) part.rejected = batch.rejected;
    if (extra) part.extra = extra;
    return part;
  });
}
