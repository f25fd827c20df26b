/**
 * Shared test plumbing: temporary KV paths, a configuration for fast runs, a
 * clock that never sleeps, and polling until a condition holds.
 *
 * @module
 */
import { type Config, parseConfig } from "../config.ts";
import type { Clock } from "../lib/clock.ts";
import type { Prediction } from "../lib/contracts.ts";
import type { Store } from "../store/kv.ts";
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
