/**
 * Training where no long-running timer or Web Worker is allowed (Deno
 * Deploy, DESIGN.md section 18): a `Deno.cron` tick calls
 * {@linkcode retrainIfDue}, which reads from KV whether a fit is due (no
 * model yet and enough rows, a retrain asked through the API, or
 * RETRAIN_INTERVAL elapsed since the active model was activated), and if so
 * fits on the calling thread and activates the result. Everything it decides
 * on lives in KV, so a tick may land on any copy of the app, and an evicted
 * isolate loses nothing. The long-running {@linkcode Trainer} loop (trainer
 * role) applies the same rules with timers, plus drift checks.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { keys, type Store } from "../store/kv.ts";
import type { Logger } from "./log.ts";
import { Trainer } from "./trainer.ts";

/** What {@linkcode retrainDue} decides from. */
export interface DueInputs {
  /** the active model's activation time (ms), or null when none is active */
  activatedAtMs: number | null;
  /** the newest retrain request in KV, if any */
  request: { at: number; reason: string } | null;
  /** usable (non-warm-up) feature rows in KV */
  usableRows: number;
  minTrainingRows: number;
  /** RETRAIN_INTERVAL in seconds, null when off */
  intervalSeconds: number | null;
  now: number;
}

/**
 * Why a fit is due now, or null. Pure: the cron tick reads the inputs from KV.
 *
 * @example
 * ```ts
 * import { retrainDue } from "./cron_trainer.ts";
 * const why = retrainDue({
 *   activatedAtMs: 0, request: null, usableRows: 5000, minTrainingRows: 1000,
 *   intervalSeconds: 3600, now: 3_600_000,
 * });
 * console.log(why); // "scheduled"
 * ```
 */
export function retrainDue(i: DueInputs): string | null {
  if (i.activatedAtMs === null) {
    return i.usableRows >= i.minTrainingRows ? "first model" : null;
  }
  if (i.request && i.request.at > i.activatedAtMs) return `requested: ${i.request.reason}`;
  if (i.intervalSeconds !== null && i.now - i.activatedAtMs >= i.intervalSeconds * 1000) {
    return "scheduled";
  }
  return null;
}

/**
 * One cron tick: fits and activates a model when {@linkcode retrainDue} says
 * so, on the calling thread (no Web Worker). Returns the new model's id, or
 * null when nothing was due.
 */
export async function retrainIfDue(
  store: Store,
  config: Pick<
    Config,
    | "minTrainingRows"
    | "maxWaitSeconds"
    | "retrainIntervalSeconds"
    | "nEstimators"
    | "contamination"
    | "seed"
  >,
  logger: Logger,
  now: () => number = Date.now,
): Promise<string | null> {
  const trainer = new Trainer(store, logger, {
    minTrainingRows: config.minTrainingRows,
    maxWaitSeconds: config.maxWaitSeconds,
    retrainIntervalSeconds: config.retrainIntervalSeconds,
    nEstimators: config.nEstimators,
    contamination: config.contamination,
    seed: config.seed,
    useWorker: false,
  }, now);
  const [active, request, usableRows] = await Promise.all([
    store.activeModel(),
    store.kv.get<{ at: number; reason: string }>(keys.control("retrain")),
    trainer.usableRows(),
  ]);
  const activatedAt = active ? Date.parse(active.active.activated_at) : null;
  const why = retrainDue({
    activatedAtMs: activatedAt === null || Number.isNaN(activatedAt) ? null : activatedAt,
    request: request.value,
    usableRows,
    minTrainingRows: config.minTrainingRows,
    intervalSeconds: config.retrainIntervalSeconds,
    now: now(),
  });
  if (!why) return null;
  const bundle = await trainer.trainNow(`cron: ${why}`);
  return bundle.id;
}
