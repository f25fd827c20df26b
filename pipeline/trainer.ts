/**
 * The trainer (DESIGN.md section 8): waits for enough feature rows, fits the
 * scaler and forest off the main thread, stores the bundle in chunks and
 * activates it atomically; then retrains on a schedule and on request.
 *
 * @module
 */
import type { FeatureRow } from "../lib/contracts.ts";
import { sleep } from "../lib/clock.ts";
import type { Bundle } from "../model/bundle.ts";
import { trainBundle, type TrainOptions } from "../model/train.ts";
import { detectDrift, type DriftReport } from "../model/drift.ts";
import { keys, type Store } from "../store/kv.ts";
import type { Logger } from "./log.ts";

/** Settings of a {@linkcode Trainer} (from config.ts). */
export interface TrainerOptions {
  minTrainingRows: number;
  maxWaitSeconds: number;
  /** seconds between scheduled retrains, null for none */
  retrainIntervalSeconds: number | null;
  nEstimators: number;
  contamination: number | "auto";
  seed: number;
  /** detection v2 (MODEL, ALERT_BUDGET); null: the forest's own verdicts (MODEL=iforest) */
  detection?: TrainOptions["detection"] | null;
  /** newest rows a fit uses at most */
  maxRows?: number;
  /** fit in a Web Worker (default true); false fits on the calling thread */
  useWorker?: boolean;
  /** how often the readiness and control keys are polled, ms */
  pollMs?: number;
  /** how often live rows are compared with the active model's training distribution, ms (0: never; default 60 000) */
  driftCheckMs?: number;
  /** no drift retrain sooner than this after the last fit, ms (default 600 000) */
  minDriftRetrainGapMs?: number;
}

/** What `/system-status` shows of the trainer. */
export interface TrainerStatus {
  state: "waiting" | "training" | "idle" | "failed" | "stopped";
  detail: string;
  lastRunAt: number | null;
  nextRunAt: number | null;
  lastModelId: string | null;
  lastDurationMs: number | null;
  runs: number;
  /** the last drift check's one-line verdict */
  drift: string | null;
}

/** Fits and activates models. */
export class Trainer {
  readonly #o: TrainerOptions;
  readonly #stop = new AbortController();
  #status: TrainerStatus = {
    state: "waiting",
    detail: "not started",
    lastRunAt: null,
    nextRunAt: null,
    lastModelId: null,
    lastDurationMs: null,
    runs: 0,
    drift: null,
  };
  #driftScaler: { id: string; mean: number[]; scale: number[] } | null = null;
  #lastDriftCheck = 0;
  #running: Promise<Bundle> | null = null;
  #loop: Promise<void> | null = null;

  constructor(
    readonly store: Store,
    readonly logger: Logger,
    o: TrainerOptions,
    readonly now: () => number = Date.now,
  ) {
    this.#o = o;
  }

  status(): TrainerStatus {
    return { ...this.#status };
  }

  /**
   * Rows a first model can use, from the KV counters: every row for
   * detection v2 (its features have their own readiness, and a thin pair's
   * rows never leave the seed window's warm-up), the non-warm-up rows for the
   * forest alone (MODEL=iforest).
   */
  async usableRows(): Promise<number> {
    const [rows, warm] = await Promise.all([
      this.store.counter("rows"),
      this.store.counter("warmup"),
    ]);
    return this.#o.detection ? rows : rows - warm;
  }

  /** Trains on the newest rows and activates the result; concurrent calls share one run. */
  trainNow(reason: string): Promise<Bundle> {
    this.#running ??= this.#train(reason).finally(() => this.#running = null);
    return this.#running;
  }

  async #train(reason: string): Promise<Bundle> {
    const t0 = this.now();
    this.#status = { ...this.#status, state: "training", detail: `training (${reason})` };
    try {
      const rows = await this.store.recentRows(this.#o.maxRows ?? 50_000);
      const usable = rows.filter((r) => !r.warm_up);
      this.logger.info(`training on ${usable.length} rows (${reason})`);
      const createdAt = new Date(t0).toISOString();
      const opts: TrainOptions = {
        id: `m-${t0}`,
        createdAt,
        nEstimators: this.#o.nEstimators,
        contamination: this.#o.contamination,
        seed: this.#o.seed,
      };
      if (this.#o.detection) opts.detection = this.#o.detection;
      // Detection v2 calibrates on every row in time order (its own warm-up
      // is the robust features' readiness); the forest drops warm-up rows itself.
      const fitRows = opts.detection ? rows : usable;
      const bundle = this.#o.useWorker === false
        ? trainBundle(fitRows, opts)
        : await fitInWorker(fitRows, opts);
      await this.store.saveBundle(bundle);
      await this.store.activate(bundle.id, new Date(this.now()).toISOString());
      const ms = this.now() - t0;
      this.logger.info(`model ${bundle.id} trained in ${ms} ms and activated: ${summary(bundle)}`);
      this.#status = {
        ...this.#status,
        state: "idle",
        detail: `last model ${bundle.id}`,
        lastRunAt: t0,
        lastModelId: bundle.id,
        lastDurationMs: ms,
        runs: this.#status.runs + 1,
        nextRunAt: this.#o.retrainIntervalSeconds === null
          ? null
          : this.now() + this.#o.retrainIntervalSeconds * 1000,
      };
      return bundle;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.logger.warn(`training failed: ${msg}`);
      this.#status = { ...this.#status, state: "failed", detail: msg, lastRunAt: t0 };
      throw e;
    }
  }

  /**
   * Compares the newest rows with the active model's training distribution
   * (its scaler) and records the verdict in the status.
   */
  async checkDrift(): Promise<DriftReport | null> {
    const active = await this.store.activeModel();
    if (!active) return null;
    if (this.#driftScaler?.id !== active.active.id) {
      const b = await this.store.loadBundle(active.active.id, active.active.chunks);
      this.#driftScaler = { id: b.id, mean: b.scaler.mean, scale: b.scaler.scale };
    }
    const report = detectDrift(await this.store.recentRows(5000), this.#driftScaler);
    this.#status = { ...this.#status, drift: report.summary };
    return report;
  }

  /** Asks the trainer (possibly in another process) to retrain soon. */
  static async requestRetrain(store: Store, reason: string, at: number): Promise<void> {
    await store.kv.set(keys.control("retrain"), { reason, at });
  }

  /**
   * Runs until {@linkcode Trainer.stop}: the first fit once MIN_TRAINING_ROWS
   * exist (unless a model is already active), then every RETRAIN_INTERVAL and
   * whenever a retrain is requested.
   */
  start(): void {
    this.#loop = this.#run().catch((e) => {
      this.logger.warn(`trainer stopped: ${e instanceof Error ? e.message : e}`);
      this.#status = { ...this.#status, state: "failed", detail: String(e) };
    });
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    const pollMs = this.#o.pollMs ?? 1000;
    const started = this.now();
    let said = false;
    let lastRequest =
      (await this.store.kv.get<{ at: number }>(keys.control("retrain"))).value?.at ??
        0;
    const active = await this.store.activeModel();
    if (active) {
      this.#status = {
        ...this.#status,
        state: "idle",
        detail: `model ${active.active.id} already active`,
        lastModelId: active.active.id,
        nextRunAt: this.#o.retrainIntervalSeconds === null
          ? null
          : this.now() + this.#o.retrainIntervalSeconds * 1000,
      };
    } else {
      this.#status = {
        ...this.#status,
        state: "waiting",
        detail: `waiting for ${this.#o.minTrainingRows} feature rows`,
      };
      while (!signal.aborted) {
        const have = await this.usableRows();
        if (have >= this.#o.minTrainingRows) break;
        const waited = (this.now() - started) / 1000;
        if (waited < this.#o.maxWaitSeconds) {
          this.#status.detail = `waiting for ${this.#o.minTrainingRows} feature rows, have ${have}`;
        } else {
          const why = have === 0
            ? "no feature rows have arrived: is the source producing events?"
            : `only ${have} usable rows after ${Math.round(waited)} s ` +
              `(MIN_TRAINING_ROWS=${this.#o.minTrainingRows}); lower it or wait for more events`;
          this.#status = { ...this.#status, state: "failed", detail: `cannot train: ${why}` };
          if (!said) this.logger.warn(`cannot train yet: ${why}`);
          said = true;
        }
        await sleep(pollMs, signal);
      }
      if (signal.aborted) return;
      await this.trainNow("first model").catch(() => {});
    }
    while (!signal.aborted) {
      await sleep(pollMs, signal);
      if (signal.aborted) break;
      const req = (await this.store.kv.get<{ at: number; reason: string }>(keys.control("retrain")))
        .value;
      if (req && req.at > lastRequest) {
        lastRequest = req.at;
        await this.trainNow(`requested: ${req.reason}`).catch(() => {});
        continue;
      }
      const next = this.#status.nextRunAt;
      if (next !== null && this.now() >= next) {
        await this.trainNow("scheduled").catch(() => {});
        continue;
      }
      const every = this.#o.driftCheckMs ?? 60_000;
      if (every > 0 && this.now() - this.#lastDriftCheck >= every) {
        this.#lastDriftCheck = this.now();
        const report = await this.checkDrift().catch((e) => {
          this.logger.warn(`drift check failed: ${e}`);
          return null;
        });
        const gap = this.#o.minDriftRetrainGapMs ?? 600_000;
        const sinceFit = this.now() - (this.#status.lastRunAt ?? 0);
        if (report?.drifted && sinceFit >= gap) {
          this.logger.info(`feature ${report.summary}: retraining`);
          await this.trainNow(`drift: ${report.summary}`).catch(() => {});
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    await this.#running?.catch(() => {});
    this.#status = { ...this.#status, state: "stopped" };
  }
}

function summary(b: Bundle): string {
  const r = b.training.report;
  const f = (x: number | null) => x === null ? "n/a" : x.toFixed(3);
  const forest = r.kind === "holdout"
    ? `${b.training.rows} rows; the forest (POST /predict${
      b.detection ? "" : ", live verdicts"
    }): holdout precision ${f(r.holdout.anomaly.precision)} recall ${
      f(r.holdout.anomaly.recall)
    } F1 ${f(r.holdout.anomaly.f1)} ROC-AUC ${f(r.holdout.roc_auc)}`
    : `${b.training.rows} rows (unlabelled); the forest's flagged share ${
      r.train_scores.flagged_share.toFixed(4)
    }`;
  if (!b.detection) return forest;
  const d = b.detection;
  const symbols = Object.values(d.calibration.symbols);
  const pooled = symbols.filter((s) => s.pooled).length;
  return `detection v2 (MODEL=${d.model}) calibrated for ${symbols.length} symbol(s) to ` +
    `${d.budget} false incident(s) per symbol-hour` +
    (pooled ? ` (${pooled} on pooled tails: too few training seconds of their own)` : "") +
    `; ${forest}`;
}

function fitInWorker(rows: FeatureRow[], opts: TrainOptions): Promise<Bundle> {
  const worker = new Worker(new URL("./train_worker.ts", import.meta.url), { type: "module" });
  return new Promise<Bundle>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ok: boolean; bundle?: Bundle; error?: string }>) => {
      worker.terminate();
      if (e.data.ok) resolve(e.data.bundle!);
      else reject(new Error(e.data.error));
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      reject(new Error(e.message));
    };
    worker.postMessage({ rows, opts });
  });
}
