/**
 * The web role as a Deno Deploy app (DESIGN.md section 18): API, dashboard,
 * SSE and `/predict`, nothing else. What Deploy cannot host is left out:
 *
 * - no subprocess and no file writes: the island bundles are built ahead of
 *   time by `deno task build` (the deploy step) and served from the
 *   deployment ({@linkcode prebuiltIslands});
 * - KV is `Deno.openKv()` with no path on Deploy (the app's own database), or
 *   `KV_PATH` (a KV Connect URL, with DENO_KV_ACCESS_TOKEN) anywhere else;
 *   nothing uses KV queues, which KV Connect lacks;
 * - training: no Web Worker and no long-running timer, so a `Deno.cron`
 *   registered here ticks every minute and fits inline when a fit is due
 *   (pipeline/cron_trainer.ts);
 * - predictions made by workers elsewhere stream to `/events` from KV (the
 *   KV tail, pipeline/tail.ts).
 *
 * Sources and workers (a Kafka consumer, an outbound Binance WebSocket) must
 * stay up, which a Deploy isolate does not: they run as plain Deno processes
 * on the same KV and Kafka (docs/deploy.md). `deno task deploy:check` runs
 * this file under Deploy's constraints.
 *
 * @module
 */
import { ConfigError, parseConfig } from "./config.ts";
import { consoleLogger } from "./pipeline/log.ts";
import { retrainIfDue } from "./pipeline/cron_trainer.ts";
import { mountDashboard } from "./routes/dashboard.tsx";
import { prebuiltIslands } from "./scripts/build.ts";
import { Sentinel } from "./sentinel.ts";

/** True on Deno Deploy, which sets DENO_DEPLOYMENT_ID in every app. */
export const ON_DEPLOY = (Deno.env.get("DENO_DEPLOYMENT_ID") ?? "") !== "";

let config;
try {
  config = parseConfig(Deno.env.toObject());
} catch (e) {
  if (e instanceof ConfigError) console.error(e.message);
  throw e;
}
// On Deploy without KV_PATH: the app's own KV. Elsewhere KV_PATH as configured.
const kvPath = (Deno.env.get("KV_PATH") ?? "") === "" && ON_DEPLOY ? "" : config.kvPath;
const log = consoleLogger;

const started = Sentinel.start({ ...config, kvPath }, ["web"], {
  mountPages: (app, ctx) => mountDashboard(app, ctx, { build: prebuiltIslands }),
});

// Registered at module top level, before any await, as Deploy requires. Every
// minute is cheap (three KV reads); the tick fits only when one is due.
Deno.cron("sentinel retrain when due", "* * * * *", async () => {
  const s = await started;
  const id = await retrainIfDue(s.store, s.config, log("trainer")).catch((e) => {
    log("trainer").warn(`cron retrain failed: ${e instanceof Error ? e.message : e}`);
    return null;
  });
  if (id) log("trainer").info(`cron: model ${id} trained and activated`);
});

const sentinel = await started;
const stop = async () => {
  await sentinel.stop();
  Deno.exit(0);
};
// Signals exist locally (deploy:check); Deploy stops isolates itself.
if (!ON_DEPLOY) {
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
