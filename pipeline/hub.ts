/**
 * In-process publish/subscribe of committed predictions (the SSE endpoint and
 * the dashboard subscribe). A slow subscriber never blocks the pipeline: each
 * gets the batches synchronously and must buffer or drop on its own.
 *
 * @module
 */
import type { Prediction } from "../lib/contracts.ts";
import type { IncidentChange } from "../model/incidents.ts";

/** A batch of predictions that is durable in KV. */
export interface PredictionBatch {
  /** the batch's page id (a cursor for resumption) */
  pageId: string;
  predictions: readonly Prediction[];
  /** each prediction's SSE cursor (store/kv.ts `predictionCursors`) */
  ids: readonly string[];
  /** incidents the batch opened, updated or closed (durable with it) */
  incidents?: readonly IncidentChange[];
}

/** Fan-out of prediction batches to subscribers. */
export class Hub {
  readonly #subscribers = new Set<(b: PredictionBatch) => void>();

  /**
   * Calls `fn` for every batch published from now on; returns the unsubscribe.
   *
   * @example
   * ```ts
   * import { Hub } from "./hub.ts";
   * const hub = new Hub();
   * const seen: number[] = [];
   * const stop = hub.subscribe((b) => seen.push(b.predictions.length));
   * hub.publish({ pageId: "p", predictions: [], ids: [] });
   * stop();
   * console.log(seen); // [0]
   * ```
   */
  subscribe(fn: (b: PredictionBatch) => void): () => void {
    this.#subscribers.add(fn);
    return () => this.#subscribers.delete(fn);
  }

  publish(batch: PredictionBatch): void {
    for (const fn of this.#subscribers) {
      try {
        fn(batch);
      } catch {
        // a broken subscriber must not stop the pipeline or the others
      }
    }
  }

  get size(): number {
    return this.#subscribers.size;
  }
}
