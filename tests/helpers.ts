/**
 * Shared test plumbing: temporary KV paths, a configuration for fast runs, a
 * clock that never sleeps, and polling until a condition holds.
 *
 * @module
 */
import { type Config, parseConfig } from "../config.ts";
import type { Clock } from "../lib/clock.ts";
import type { FeatureRow, Prediction } from "../lib/contracts.ts";
import { type Store, Store as StoreClass } from "../store/kv.ts";
import type { Bundle } from "../model/bundle.ts";
import { trainBundle } from "../model/train.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { Hub } from "../pipeline/hub.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { PipelineMetrics } from "../pipeline/metrics.ts";
import { ModelHolder } from "../pipeline/models.ts";
import type { WebContext } from "../routes/context.ts";

/** A fresh directory for a test's KV file; removed by the returned cleanup. */
export async function tempKvPath(): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-test-" });
  return {
    path: `${dir}/kv.sqlite`,
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** The default configuration with overrides, as env strings (through the real parser). */
export function testConfig(env: Record<string, string>): Config {
  return parseConfig({
    // The tests' expectations (rates, labelled shares) are the seed stream's.
    SIM_PROFILE: "seed",
    RETRAIN_INTERVAL: "off",
    N_ESTIMATORS: "100",
    BACKFILL_SECONDS: "0",
    ...env,
  });
}

/**
 * A clock whose sleeps return at once and move time forward: a live source
 * driven by it runs as fast as the pipeline takes events, with timestamps
 * exactly as a real-time run would have them.
 */
export function fastClock(startMs = 1_710_000_000_000): Clock & { t: number } {
  const c = {
    t: startMs,
    now: () => c.t,
    sleep: (ms: number) => {
      c.t += ms;
      // The worker awaits a KV commit per batch, which lets timers (trainer,
      // model poll) run; the sleep itself need not yield a macrotask.
      return Promise.resolve();
    },
  };
  return c;
}

/** Polls `cond` every 20 ms until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The fields a worker's batch page stores as float32 (store/compact.ts): the
 * derived features, the score and the severity. Inputs (times, prices,
 * volumes, trade ids, counts, labels, verdicts) come back exactly.
 */
export const STORED_AS_FLOAT32 = [
  "z_score_price",
  "z_score_log_return",
  "z_score_volume",
  "rolling_price_std",
  "rolling_volume_std",
  "price_z",
  "price_z_long",
  "volume_z",
  "flow_z",
  "anomaly_score",
  "severity",
] as const;

/**
 * A row or prediction as KV gives it back after the worker stored it: its
 * {@linkcode STORED_AS_FLOAT32} fields rounded to float32 (relative error at
 * most 2⁻²⁴; docs/decisions.md, "Compact batch pages"), everything else as is.
 */
export function asStored<T extends FeatureRow | Prediction>(x: T): T {
  const out = { ...x } as Record<string, unknown>;
  for (const k of STORED_AS_FLOAT32) {
    if (typeof out[k] === "number") out[k] = Math.fround(out[k] as number);
  }
  return out as T;
}

/** Every prediction in the store, oldest page first. */
export async function allPredictions(store: Store): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for await (const page of store.predictionPages()) out.push(...page);
  return out;
}

/**
 * A web context over `store` with nothing running in-process (no source,
 * worker or trainer): what a web-only process sees. Fields can be overridden.
 */
export function testWebContext(
  store: Store,
  config: Config,
  overrides: Partial<WebContext> = {},
): WebContext {
  return {
    config,
    store,
    hub: new Hub(),
    metrics: new PipelineMetrics(),
    models: new ModelHolder(store, memoryLogger()),
    trainer: null,
    source: null,
    worker: null,
    kafka: null,
    startedAt: Date.now(),
    now: () => Date.now(),
    ...overrides,
  };
}

/**
 * A bundle trained on a seeded simulated stream (windows 60 s, warm-up 10,
 * one event per symbol every 200 ms for `seconds`), for tests that need a
 * real model active before the first event.
 */
export function simulatedBundle(o: {
  id: string;
  seed: number;
  seconds: number;
  nEstimators: number;
  symbols?: readonly string[];
}): Bundle {
  const symbols = o.symbols ?? ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
  const sim = new Simulator({ symbols, seed: o.seed, anomalyProbability: 0.01 });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: o.seconds * 1000 })]
    .map((e) => engine.update(e));
  return trainBundle(rows, {
    id: o.id,
    createdAt: "2026-01-01T00:00:00Z",
    nEstimators: o.nEstimators,
  });
}

/** Stores `bundle` in the KV file at `path` and activates it. */
export async function activateIn(path: string, bundle: Bundle): Promise<void> {
  const store = await StoreClass.open(path, { retentionMs: 86_400_000 });
  try {
    await store.saveBundle(bundle);
    await store.activate(bundle.id, "2026-01-01T00:00:00Z");
  } finally {
    store.close();
  }
}

/**
 * The environment for a child `deno` process started with `clearEnv: true`:
 * only what Deno needs to run (PATH, HOME, its cache) and NO_COLOR. Tests
 * that start `main.ts` pass their settings on top, so that whatever the test
 * run exports (CI exports KAFKA_BROKERS) cannot change the child's mode.
 */
export function childEnv(): Record<string, string> {
  const out: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
