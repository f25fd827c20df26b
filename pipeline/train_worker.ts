/**
 * A Web Worker that fits a bundle off the main thread, so a retrain on tens
 * of thousands of rows never stalls the live pipeline (the fit itself is the
 * pure `trainBundle` of model/train.ts).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import type { FeatureRow } from "../lib/contracts.ts";
import { trainBundle, type TrainOptions } from "../model/train.ts";

self.onmessage = (e: MessageEvent<{ rows: FeatureRow[]; opts: TrainOptions }>) => {
  try {
    const bundle = trainBundle(e.data.rows, e.data.opts);
    self.postMessage({ ok: true, bundle });
  } catch (err) {
    self.postMessage({ ok: false, error: err instanceof Error ? err.message : String(err) });
  }
};
