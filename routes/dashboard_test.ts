/**
 * The dashboard's server side without a browser: every page renders with its
 * island and bundle, the security headers, static files and their guards,
 * and the banner when the bundles could not be built. The store is empty and
 * no model exists, so this is also the waiting state as HTML.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../pipeline/log.ts";
import { ModelHolder } from "../pipeline/models.ts";
import { Store } from "../store/kv.ts";
import { tempKvPath, testConfig, testWebContext } from "../tests/helpers.ts";
import type { BuildResult } from "../scripts/build.ts";
import { createApp } from "./app.ts";
import { CSP, mountDashboard, PAGES } from "./dashboard.tsx";

const BUILT: BuildResult = {
  hash: "0123456789abcdef",
  dir: "/nonexistent",
  urlPath: "/static/build/0123456789abcdef",
  islands: ["Analytics", "LiveFeed", "ManualTest", "StatusBoard"],
  built: false,
  ms: 0,
};

async function withApp(
  build: () => Promise<BuildResult>,
  fn: (request: (path: string) => Promise<Response>, log: string[]) => Promise<void>,
) {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 3_600_000 });
  const models = new ModelHolder(store, memoryLogger());
  const ctx = testWebContext(store, testConfig({ KV_PATH: path }), { models });
  const log: string[] = [];
  const app = createApp(ctx, {
    logger: memoryLogger(),
    mount: (app) => mountDashboard(app, ctx, { logger: memoryLogger(log), build }),
  });
  try {
    await fn((p) => Promise.resolve(app.request(p)), log);
  } finally {
    models.stop();
    store.close();
    await cleanup();
  }
}

Deno.test("every page renders its island, loads its bundle and sends the CSP", async () => {
  await withApp(() => Promise.resolve(BUILT), async (request) => {
    for (const page of PAGES) {
      const res = await request(page.path);
      assert.equal(res.status, 200, page.path);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.equal(res.headers.get("content-security-policy"), CSP);
      const html = await res.text();
      assert.ok(html.startsWith("<!DOCTYPE html>"));
      for (const island of page.islands) {
        assert.ok(html.includes(`data-island="${island}"`), `${page.path} holds ${island}`);
        assert.ok(
          html.includes(`<script type="module" src="${BUILT.urlPath}/${island}.js">`),
          `${page.path} loads ${island}.js`,
        );
      }
      assert.match(html, new RegExp(`<a href="${page.path}" aria-current="page">`));
      // Nothing from another origin.
      assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    }
  });
});

Deno.test("before any model the pages say so in their HTML", async () => {
  await withApp(() => Promise.resolve(BUILT), async (request) => {
    const status = await (await request("/")).text();
    assert.match(status, /No model yet/);
    const manual = await (await request("/manual")).text();
    assert.match(manual, /No model is active yet/);
    const analytics = await (await request("/analytics")).text();
    assert.match(analytics, /No predictions yet/);
  });
});

Deno.test("analytics takes its filters from the URL and puts them on the export link", async () => {
  await withApp(() => Promise.resolve(BUILT), async (request) => {
    const html = await (await request("/analytics?symbol=ETH-USDT&anomalies_only=true")).text();
    assert.match(html, /href="\/export.csv\?symbol=ETH-USDT&amp;anomalies_only=true"/);
    assert.match(html, /<option (selected value="ETH-USDT"|value="ETH-USDT" selected)/);
  });
});

Deno.test("static files are served, and nothing outside static/", async () => {
  await withApp(() => Promise.resolve(BUILT), async (request) => {
    const css = await request("/static/styles.css");
    assert.equal(css.status, 200);
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    assert.match(await css.text(), /--bg:/);
    const icon = await request("/favicon.ico");
    assert.equal(icon.headers.get("content-type"), "image/svg+xml");
    await icon.body?.cancel();
    for (
      const bad of [
        "/static/deno.json",
        "/static/..%2Fdeno.json",
        "/static/build/0123456789abcdef/..%2F..%2Fdeno.json",
        "/static/build/not-a-hash/x.js",
        "/static/build/0123456789abcdef/missing.js",
      ]
    ) {
      const res = await request(bad);
      assert.equal(res.status, 404, bad);
      await res.body?.cancel();
    }
  });
});

Deno.test("when the bundles cannot be built the pages still render, with a banner", async () => {
  await withApp(() => Promise.reject(new Error("no esbuild here")), async (request, log) => {
    const html = await (await request("/live")).text();
    assert.match(html, /role="alert"/);
    assert.match(html, /could not be built/);
    assert.doesNotMatch(html, /<script type="module"/);
    assert.ok(log.some((l) => l.includes("no esbuild here")), log.join("\n"));
  });
});
