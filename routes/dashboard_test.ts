/**
 * The dashboard's server side without a browser: every page renders with its
 * island and bundle, the security headers, static files and their guards,
 * and the banner when the bundles could not be built. The store is empty and
 * no model exists, so this is also the waiting state as HTML.
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../pipeline/log.ts";
import { ModelHolder } from "../pipeline/models.ts";
import { keys, Store } from "../store/kv.ts";
import type { Incident } from "../model/incidents.ts";
import { tempKvPath, testConfig, testWebContext } from "../tests/helpers.ts";
import type { BuildResult } from "../scripts/build.ts";
import { createApp } from "./app.ts";
import { CSP, mountDashboard, PAGES } from "./dashboard.tsx";

const BUILT: BuildResult = {
  hash: "0123456789abcdef",
  dir: "/nonexistent",
  urlPath: "/static/build/0123456789abcdef",
  islands: [
    "Analytics",
    "ApiDocs",
    "IncidentAlerts",
    "IncidentView",
    "Incidents",
    "LiveFeed",
    "ManualTest",
    "ModelRegistry",
    "StatusBoard",
  ],
  built: false,
  ms: 0,
};

async function withApp(
  build: () => Promise<BuildResult>,
  fn: (
    request: (path: string, init?: RequestInit) => Promise<Response>,
    log: string[],
    store: Store,
  ) => Promise<void>,
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
    // As a browser navigating asks (the incident pages share their paths with the API).
    const html = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    await fn((p, init) => Promise.resolve(app.request(p, { headers: html, ...init })), log, store);
  } finally {
    models.stop();
    store.close();
    await cleanup();
  }
}

Deno.test("every page renders its island, loads its bundle and sends the CSP", async () => {
  await withApp(() => Promise.resolve(BUILT), async (request) => {
    for (const page of PAGES.filter((p) => !p.path.includes(":"))) {
      const res = await request(page.path);
      assert.equal(res.status, 200, page.path);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.equal(res.headers.get("content-security-policy"), CSP);
      const html = await res.text();
      assert.ok(html.startsWith("<!DOCTYPE html>"));
      // Every page carries the topbar's incident alerts besides its own islands.
      for (const island of [...page.islands, "IncidentAlerts"]) {
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

Deno.test("incident pages: a browser gets the page, an API client the JSON, at the same path", async () => {
  await withApp(() => Promise.resolve(BUILT), async (request, _log, store) => {
    const inc: Incident = {
      id: "ETH-USDT:1710000000000",
      symbol: "ETH-USDT",
      status: "closed",
      type: "crash",
      start_ms: 1710000000000,
      end_ms: 1710000002000,
      peak_ms: 1710000001000,
      peak_severity: 0.93,
      drivers: { price_z: 3 },
      alerts: 3,
      trades: 9,
      ref_price: 2000,
      peak_price: 1800,
      last_price: 1900,
      min_price: 1800,
      max_price: 2001,
      model_id: "m1",
    };
    await store.kv.set(keys.incident(inc.start_ms, inc.id), inc);
    const list = await request("/incidents?type=crash");
    assert.match(list.headers.get("content-type") ?? "", /^text\/html/);
    const html = await list.text();
    assert.match(html, /data-island="Incidents"/);
    assert.match(html, /<a href="\/incidents" aria-current="page">/);
    assert.ok(html.includes(`data-incident="${inc.id}"`));
    // The type filter came from the URL and is selected.
    assert.match(html, /<option value="crash" selected>crash<\/option>/);
    // Without an HTML Accept header the same path is the API.
    const json = await request("/incidents?type=crash", { headers: {} });
    assert.match(json.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal((await json.json()).incidents[0].id, inc.id);
    const apiFetch = await request("/incidents", { headers: { accept: "application/json" } });
    assert.match(apiFetch.headers.get("content-type") ?? "", /^application\/json/);

    const one = await request(`/incidents/${encodeURIComponent(inc.id)}`);
    assert.equal(one.status, 200);
    const page = await one.text();
    assert.match(page, /data-island="IncidentView"/);
    assert.match(page, /data-fact="type"/);
    assert.match(page, />crash</);
    // -10 % from the reference price to the peak.
    assert.match(page, /-10\.00 %/);
    const missing = await request("/incidents/ETH-USDT:1");
    assert.equal(missing.status, 200);
    assert.match(await missing.text(), /data-missing/);
    assert.equal((await request("/incidents/ETH-USDT:1", { headers: {} })).status, 404);
    // Not an incident id at all: the page says so too (the API answers 422).
    const bad = await request("/incidents/not-an-id");
    assert.equal(bad.status, 200);
    assert.match(await bad.text(), /data-missing/);
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
