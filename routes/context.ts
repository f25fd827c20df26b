/**
 * What the HTTP layer needs from the running system. `pipeline/app.ts`'s
 * `Sentinel` provides it; tests may build one over a temporary KV.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Prediction } from "../lib/contracts.ts";
import type { Hub } from "../pipeline/hub.ts";
import type { PipelineMetrics } from "../pipeline/metrics.ts";
import type { ModelHolder } from "../pipeline/models.ts";
import type { ProcessorStats } from "../pipeline/processor.ts";
import type { SourceStatus } from "../pipeline/sources.ts";
import type { Trainer } from "../pipeline/trainer.ts";
import type { Store } from "../store/kv.ts";

/** Kafka as the web role sees it (null in embedded mode). */
export interface KafkaView {
  brokers: string[];
  topic: string;
  /** a metadata round trip; throws when the broker cannot be reached */
  probe(): Promise<{ latencyMs: number; brokers: number; partitions: number }>;
  /** the producer's state when this process runs the source role */
  producer?: () => { state: string; sent: number; lastError: string | null };
  /** the consumer's state when this process runs the worker role */
  consumer?: () => {
    state: string;
    assigned: number[];
    lastError: string | null;
    /** per owned partition: high watermark − next offset after the last batch */
    lag?: Record<number, number>;
  };
}

/** Everything a route handler may use. */
export interface WebContext {
  config: Config;
  store: Store;
  /** live predictions (SSE) */
  hub: Hub;
  /** this process's metrics (`/metrics`, HTTP request counts) */
  metrics: PipelineMetrics;
  /** the active model (`/predict`, `/model-info`) */
  models: ModelHolder;
  /** null when the trainer role runs in another process (then retrain is requested through KV) */
  trainer: Trainer | null;
  /** null when the source role runs elsewhere */
  source: { status(): SourceStatus } | null;
  /** null when the worker role runs elsewhere */
  worker: { stats(): ProcessorStats } | null;
  kafka: KafkaView | null;
  startedAt: number;
  now(): number;
}

/** Marks predictions made by `POST /predict` (they join the history with this source). */
export { API_SOURCE } from "../islands/shared/api.ts";

/** Convenience type for route modules. */
export type { Prediction };
