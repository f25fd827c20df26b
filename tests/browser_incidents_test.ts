/// <reference lib="dom" />
/**
 * The analyst's pages in a real browser (Debian's Chromium through
 * playwright-core) against a real Sentinel on the seed stream: the incident
 * list with its filters in the URL and counts per type, one incident's page
 * with the price chart (line and candles), the band, the alerting trades,
 * volume, features and verdicts; no console error anywhere.
 *
 * Runs when CHROMIUM_PATH is set (tests/suite_gate.ts). With
 * UPDATE_SCREENSHOTS=1 docs/screenshots/incidents.png and incident.png are
 * refreshed.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { memoryLogger } from "../pipeline/log.ts";
import { Sentinel } from "../sentinel.ts";
import { mountDashboard } from "../routes/dashboard.tsx";
import type { Incident } from "../model/incidents.ts";
import { requireSuite } from "./suite_gate.ts";
import { tempKvPath, testConfig, waitFor } from "./helpers.ts";
import { launchChromium, openPage, screenshot, watchPage } from "./browser_helpers.ts";

const API_KEY = "browser-test-api-key-0123";
const HOW_TO = "apt-get install -y chromium, then set CHROMIUM_PATH=/usr/bin/chromium";

async function incidents(base: string, query = ""): Promise<Incident[]> {
  const res = await fetch(`${base}/incidents?limit=500${query}`);
  assert.equal(res.status, 200);
  return (await res.json()).incidents;
}

if (requireSuite("browser", "CHROMIUM_PATH", HOW_TO)) {
  Deno.test({
    name: "browser: the incident list and an incident's page",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const kv = await tempKvPath();
      const sentinel = await Sentinel.start(
        testConfig({
          KV_PATH: kv.path,
          EVENT_FREQUENCY_SECONDS: "0.05",
          BACKFILL_SECONDS: "60",
          MIN_TRAINING_ROWS: "3000",
          ANOMALY_PROBABILITY: "0.02",
          SENTINEL_API_KEY: API_KEY,
        }),
        ["source", "worker", "trainer", "web"],
        {
          port: 0,
          hostname: "127.0.0.1",
          logger: () => memoryLogger(),
          reportEveryMs: 0,
          trainerPollMs: 100,
          modelPollMs: 100,
          mountPages: (app, ctx) => mountDashboard(app, ctx, { logger: memoryLogger() }),
        },
      );
      const base = `http://127.0.0.1:${sentinel.port}`;
      let browser: Browser | null = null;
      const onPage = async (url: string, fn: (page: Page) => Promise<void>) => {
        const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
        const watch = watchPage(page, base);
        try {
          await openPage(page, url);
          await fn(page);
          watch.assertClean(`problems on ${url}`);
        } finally {
          watch.stop();
          await page.close();
        }
      };
      try {
        browser = await launchChromium();
        await waitFor("three closed incidents", async () => {
          return (await incidents(base, "&status=closed")).length >= 3;
        }, 60_000);

        let chosen: Incident | null = null;
        await t.step("the list: rows, counts per type, filters in the URL", async () => {
          await onPage(`${base}/incidents`, async (page) => {
            await page.waitForSelector("[data-incident]");
            const rows = await page.$$eval(
              "[data-incident]",
              (trs) => trs.map((tr) => tr.getAttribute("data-incident")!),
            );
            assert.ok(rows.length >= 3, `${rows.length} rows`);
            // The counts add up to the incidents listed (fewer than a page: every one is shown).
            const counts = await page.$$eval(
              "[data-count] .kpi-value",
              (els) => els.map((e) => Number((e.textContent ?? "").replace(/,/g, ""))),
            );
            assert.equal(counts.length, 5);
            const api = await incidents(base);
            // Incidents keep coming while the page is open: compare with what the API said around it.
            assert.ok(counts.reduce((a, b) => a + b, 0) <= api.length);
            assert.ok(counts.reduce((a, b) => a + b, 0) >= rows.length);
            await screenshot(page, "incidents", "incidents");

            // Filter by the type of a closed incident, through the form.
            chosen = api.find((i) => i.status === "closed")!;
            await page.selectOption('select[name="type"]', chosen.type);
            await page.selectOption('select[name="status"]', "closed");
            await Promise.all([page.waitForURL(/type=/), page.click("[data-filters] button")]);
            const url = new URL(page.url());
            assert.equal(url.searchParams.get("type"), chosen.type);
            assert.equal(url.searchParams.get("status"), "closed");
            const seen = await page.$$eval(
              "[data-incident]",
              (trs) =>
                trs.map((tr) => [tr.getAttribute("data-type"), tr.getAttribute("data-status")]),
            );
            assert.ok(seen.length >= 1);
            for (const [type, status] of seen) {
              assert.equal(type, chosen.type);
              assert.equal(status, "closed");
            }
          });
        });

        await t.step(
          "an incident's page: price with band and alerts, volume, features, verdicts",
          async () => {
            const inc = chosen!;
            await onPage(`${base}/incidents`, async (page) => {
              await page.waitForSelector(`[data-incident="${inc.id}"] a`);
              await Promise.all([
                page.waitForURL(/\/incidents\/.+/),
                page.click(`[data-incident="${inc.id}"] a`),
              ]);
            });
            await onPage(`${base}/incidents/${encodeURIComponent(inc.id)}`, async (page) => {
              await page.waitForSelector('[data-chart="price"] svg');
              assert.equal(
                await page.textContent('[data-fact="type"] .kpi-value'),
                inc.type.replace(/_/g, " "),
              );
              // The band (the anomaly red at low opacity) and at least one alerting trade as a dot.
              assert.ok(
                await page.$(
                  '[data-chart="price"] svg [fill="#f85149"][fill-opacity="0.12"], [data-chart="price"] svg g[fill="#f85149"][fill-opacity="0.12"]',
                ),
              );
              const dots = await page.$$('[data-chart="price"] svg g[fill="#f85149"] circle');
              assert.ok(dots.length >= 1, "alerting trades are marked");
              for (const id of ["volume", "features", "severity"]) {
                assert.ok(await page.$(`[data-chart="${id}"] svg`), `${id} chart drawn`);
              }
              // One verdict row per alert of the incident still kept.
              const verdicts = await page.$$("[data-verdicts] tbody tr");
              assert.equal(verdicts.length, inc.alerts);
              // Candles per second: the price is drawn as rules.
              await page.selectOption("[data-view]", "1s");
              await page.waitForFunction(() =>
                document.querySelectorAll('[data-chart="price"] svg line').length > 4
              );
              // Hovering the chart shows a tooltip with the values.
              const box = (await page.$('[data-chart="price"] svg'))!;
              const b = (await box.boundingBox())!;
              await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
              await page.waitForFunction(() =>
                /price/.test(
                  document.querySelector('[data-chart="price"] svg [aria-label="tip"]')
                    ?.textContent ?? "",
                )
              );
              // Review: the key is asked for once, then used for the session.
              await page.click('[data-act="ack"]');
              await page.fill('[data-key-form] input[name="api-key"]', API_KEY);
              await page.click('[data-key-form] button[type="submit"]');
              await page.waitForFunction(() =>
                /^Acknowledged/.test(
                  document.querySelector("[data-review-state]")?.textContent ?? "",
                )
              );
              await page.click('[data-act="false_positive"]');
              await page.waitForFunction(() =>
                /false positive/.test(
                  document.querySelector("[data-review-state]")?.textContent ?? "",
                )
              );
              assert.equal(await page.$("[data-key-form]"), null, "not asked twice");
              await page.click('[data-act="mute-15"]');
              await page.waitForSelector('[data-act="unmute"]');
              const stored = await (await fetch(
                `${base}/incidents/${encodeURIComponent(inc.id)}/review`,
              )).json();
              assert.equal(stored.acknowledged, true);
              assert.equal(stored.verdict, "false_positive");
              const mutes = (await (await fetch(`${base}/mutes`)).json()).mutes;
              assert.deepEqual(mutes.map((m: { symbol: string }) => m.symbol), [inc.symbol]);
              // The key lives in this tab's session storage only.
              const where = await page.evaluate(() => [
                sessionStorage.getItem("sentinel-api-key"),
                localStorage.length,
                document.cookie,
              ]);
              assert.deepEqual(where, [API_KEY, 0, ""]);
              await page.selectOption("[data-view]", "line");
              await page.mouse.move(b.x + b.width * 0.5, b.y + b.height * 0.4);
              await screenshot(page, "incident", "incident");
              // The list shows the review.
              await openPage(page, `${base}/incidents?status=closed&type=${inc.type}`);
              assert.equal(
                await page.getAttribute(`[data-incident="${inc.id}"] [data-review]`, "data-review"),
                "false_positive",
              );
            });
          },
        );
        await t.step(
          "the live page: a price chart per symbol with anomalies, incidents and tooltips",
          async () => {
            await onPage(`${base}/live`, async (page) => {
              await page.waitForFunction(() =>
                document.querySelectorAll('[data-chart="price"] svg[data-symbol]').length === 3
              );
              const symbols = await page.$$eval(
                '[data-chart="price"] svg[data-symbol]',
                (els) => els.map((e) => e.getAttribute("data-symbol")),
              );
              assert.deepEqual(symbols, ["BTC-USDT", "ETH-USDT", "BNB-USDT"]);
              // The score timeline stays, as the second view.
              assert.ok(await page.$('[data-chart="timeline"] svg'));
              const chart = (await page.$('[data-chart="price"] svg[data-symbol="BTC-USDT"]'))!;
              const b = (await chart.boundingBox())!;
              await page.mouse.move(b.x + b.width * 0.6, b.y + b.height / 2);
              await page.waitForFunction(() =>
                /BTC-USDT[\s\S]*price[\s\S]*severity/.test(
                  document.querySelector('[data-chart="price"] [aria-label="tip"]')?.textContent ??
                    "",
                )
              );
              // An incident that starts now shows up as a band once the page hears of it.
              await waitFor(
                "an anomaly or an incident band in view",
                () =>
                  page.evaluate(() =>
                    document.querySelectorAll(
                      '[data-chart="price"] g[fill="#f85149"] circle, [data-chart="price"] rect[fill="#f85149"], [data-chart="price"] g[fill="#f85149"] rect',
                    ).length > 0
                  ),
                30_000,
              );
              await screenshot(page, "live-price", "live-price");
            });
          },
        );
        await t.step(
          "the model registry: list with the key, retrain, activate an older model",
          async () => {
            await onPage(`${base}/models`, async (page) => {
              await page.click('[data-act="list"]');
              await page.fill('[data-key-form] input[name="api-key"]', API_KEY);
              await page.click('[data-key-form] button[type="submit"]');
              await page.waitForSelector('[data-models] tr[data-active="true"]');
              await page.click('[data-act="retrain"]');
              await page.waitForSelector("[data-registry-notice]");
              // The trainer fits and activates a second model; refresh until it is listed.
              await waitFor("a second model", async () => {
                await page.click('[data-act="list"]');
                await page.waitForTimeout(300);
                return (await page.$$("[data-models] tbody tr")).length >= 2;
              }, 60_000);
              const older = await page.getAttribute(
                '[data-models] tr[data-active="false"]',
                "data-model",
              );
              await page.click(`[data-models] tr[data-model="${older}"] [data-act="activate"]`);
              await page.waitForSelector(
                `[data-models] tr[data-model="${older}"][data-active="true"]`,
              );
              const info = await (await fetch(`${base}/api/v1/model-info`)).json();
              assert.equal(info.model_id, older);
              await screenshot(page, "models", "models");
            });
          },
        );
        await t.step(
          "analytics: a custom UTC range from the URL, then the last 15 minutes",
          async () => {
            await onPage(
              `${base}/analytics?from=2000-01-01T00:00Z&to=2000-01-01T01:00Z`,
              async (page) => {
                assert.equal(await page.inputValue('input[name="from"]'), "2000-01-01T00:00");
                assert.equal(await page.inputValue('input[name="to"]'), "2000-01-01T01:00");
                assert.match(await page.textContent("[data-summary]") ?? "", /^0 predictions/);
                assert.match(
                  await page.getAttribute("[data-export]", "href") ?? "",
                  /from=2000-01-01T00%3A00Z&to=2000-01-01T01%3A00Z/,
                );
                await page.selectOption('select[name="since"]', "15m");
                await page.waitForFunction(() =>
                  !/^0 predictions/.test(
                    document.querySelector("[data-summary]")?.textContent ?? "",
                  )
                );
                assert.match(page.url(), /since=15m/);
                assert.equal(await page.$('input[name="from"]'), null);
              },
            );
          },
        );
      } finally {
        await browser?.close();
        await sentinel.stop();
        await kv.cleanup();
      }
    },
  });
}
