/**
 * The API with the dashboard's pages mounted over a temporary KV, without
 * building island bundles: for tests of what the server renders and answers
 * (not what a browser runs).
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { memoryLogger } from "../pipeline/log.ts";
import { ModelHolder } from "../pipeline/models.ts";
import { createApp } from "../routes/app.ts";
import { mountDashboard } from "../routes/dashboard.tsx";
import { Store } from "../store/kv.ts";
import { tempKvPath, testConfig, testWebContext } from "./helpers.ts";

/** What {@linkcode withDashboardApp} hands its body. */
export interface DashboardApp {
  app: OpenAPIHono;
  store: Store;
  /** what the server logged (unexpected errors are `WARN … failed: …`) */
  logs: string[];
}

/**
 * Runs `fn` with the API and the pages over a fresh KV (no model, nothing in
 * the process but the web role), then closes and removes everything.
 */
export async function withDashboardApp(fn: (a: DashboardApp) => Promise<void>): Promise<void> {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 86_400_000 });
  const models = new ModelHolder(store, memoryLogger());
  const ctx = testWebContext(store, testConfig({ KV_PATH: path }), { models });
  const logs: string[] = [];
  const app = createApp(ctx, {
    logger: memoryLogger(logs),
    mount: (app) =>
      mountDashboard(app, ctx, {
        logger: memoryLogger(),
        build: () =>
          Promise.resolve({
            hash: "0",
            dir: "/nonexistent",
            urlPath: "/static/build/0",
            islands: ["Analytics", "LiveFeed", "ManualTest", "StatusBoard"],
            built: false,
            ms: 0,
          }),
      }),
  });
  try {
    await fn({ app, store, logs });
  } finally {
    models.stop();
    store.close();
    await cleanup();
  }
}
