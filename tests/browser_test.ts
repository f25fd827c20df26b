/// <reference lib="dom" />
/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core)
 * against a real Sentinel: simulated source, worker, trainer and web server
 * in this process, the pages mounted as `main.ts` mounts them, the island
 * bundles built the way the server builds them at boot.
 *
 * Runs when CHROMIUM_PATH is set (tests/suite_gate.ts). Screenshots go to
 * test-output/browser/; with UPDATE_SCREENSHOTS=1 the README's
 * docs/screenshots/*.png are refreshed too.
 */
import assert from "node:assert/strict";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { memoryLogger } from "../pipeline/log.ts";
import { Sentinel } from "../sentinel.ts";
import { mountDashboard } from "../routes/dashboard.tsx";
import { parseCsv } from "../islands/shared/csv.ts";
import { PRESETS } from "../islands/shared/presets.ts";
import { tempKvPath, testConfig, waitFor } from "./helpers.ts";
import {
  type ExpectedError,
  launchChromium,
  openPage,
  requireBrowser,
  screenshot,
  shownTimesText,
  TWELVE_HOUR,
  TWENTY_FOUR_HOUR,
  watchPage,
} from "./browser_helpers.ts";

const PAGES = [
  { path: "/", name: "status" },
  { path: "/live", name: "live" },
  { path: "/incidents", name: "incidents" },
  { path: "/analytics", name: "analytics" },
  { path: "/manual", name: "manual" },
  { path: "/models", name: "models" },
] as const;
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 375, height: 740 };

/**
 * A Sentinel with every role and the dashboard on a free port. `env` is
 * passed through the real configuration parser.
 */
async function startSentinel(env: Record<string, string>) {
  const kv = await tempKvPath();
  const quiet = memoryLogger();
  const sentinel = await Sentinel.start(
    testConfig({ KV_PATH: kv.path, ...env }),
    ["source", "worker", "trainer", "web"],
    {
      port: 0,
      hostname: "127.0.0.1",
      logger: () => memoryLogger(),
      reportEveryMs: 0,
      trainerPollMs: 100,
      modelPollMs: 100,
      mountPages: (app, ctx) => mountDashboard(app, ctx, { logger: quiet }),
    },
  );
  return {
    sentinel,
    base: `http://127.0.0.1:${sentinel.port}`,
    async stop() {
      await sentinel.stop();
      await kv.cleanup();
    },
  };
}

/** Runs `fn` on a fresh page; fails on any console error, exception or failed request. */
async function onPage(
  context: BrowserContext,
  url: string,
  fn: (page: Page) => Promise<void>,
  expected: ExpectedError[] = [],
): Promise<void> {
  const page = await context.newPage();
  const watch = watchPage(page, new URL(url).origin, expected);
  try {
    await openPage(page, url);
    await fn(page);
    watch.assertClean(`problems on ${url}`);
  } finally {
    watch.stop();
    await page.close();
  }
}

async function predict(base: string, body: Record<string, unknown>) {
  const res = await fetch(`${base}/predict`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return await res.json() as { id: string; is_anomaly: boolean };
}

const kpi = (page: Page, id: string) =>
  page.textContent(`[data-kpi="${id}"] .kpi-value`).then((t) =>
    Number((t ?? "").replace(/,/g, ""))
  );

if (requireBrowser()) {
  Deno.test({
    name: "browser: the dashboard against a running Sentinel",
    // playwright keeps its own pipes and timers to the browser process between steps.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      // Fast stream; the first model waits for the whole 120 s backfill (7 170 usable rows), so
      // it is trained on the same rows every run and the manual presets meet a known model.
      const srv = await startSentinel({
        EVENT_FREQUENCY_SECONDS: "0.05",
        BACKFILL_SECONDS: "120",
        MIN_TRAINING_ROWS: "7000",
        N_ESTIMATORS: "100",
        ANOMALY_PROBABILITY: "0.03",
      });
      let browser: Browser | null = null;
      try {
        browser = await launchChromium();
        const desktop = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true });
        await waitFor("the first model", async () => {
          const h = await (await fetch(`${srv.base}/health`)).json();
          return h.model_loaded === true;
        }, 30_000);
        // Some history for the charts and the analytics filters.
        await waitFor("predictions", async () => {
          const s = await (await fetch(`${srv.base}/stats`)).json();
          return s.total_predictions >= 300;
        }, 30_000);

        await t.step("status: every service card shows online, and the flow counts", async () => {
          await onPage(desktop, `${srv.base}/`, async (page) => {
            const expected = ["api", "kv", "scorer", "feature-worker", "trainer", "source"];
            await page.waitForFunction(
              (names) =>
                names.every((n) =>
                  document.querySelector(`[data-service="${n}"]`)?.getAttribute("data-status") ===
                    "online"
                ),
              expected,
            );
            const cards = await page.$$eval(
              "[data-service]",
              (els) =>
                els.map((e) => [e.getAttribute("data-service"), e.getAttribute("data-status")]),
            );
            for (const name of expected) {
              assert.deepEqual(cards.find((c) => c[0] === name), [name, "online"]);
            }
            // The flow's arrows carry counts; rates appear after the first refresh.
            await page.waitForFunction(() =>
              !document.querySelector('[data-arrow="events"]')?.textContent?.includes("measuring")
            );
            const events = await page.textContent('[data-arrow="events"]');
            assert.match(events ?? "", /events [\d,]+.*rate [\d.,]+\/s/);
            assert.ok(await page.$("[data-model] .kv-list"), "the active model's parameters");
            await screenshot(page, "status", "status");
          });
        });

        await t.step(
          "live: predictions arrive over SSE and an injected anomaly appears as an alert",
          async () => {
            await onPage(desktop, `${srv.base}/live`, async (page) => {
              await page.waitForSelector('[data-connection="live"]');
              const first = await kpi(page, "received");
              await page.waitForFunction(
                (n) =>
                  Number(
                    document.querySelector('[data-kpi="received"] .kpi-value')?.textContent
                      ?.replace(/,/g, ""),
                  ) > n + 20,
                first,
              );
              // The worker's events arrive on their own; this one is injected through the API.
              const crash = PRESETS.find((p) => p.id === "flash_crash")!;
              const r = await predict(srv.base, { symbol: "BTC-USDT", ...crash.features });
              assert.equal(r.is_anomaly, true);
              // Manual tests stay out of the live numbers and alerts until asked for.
              await page.check("[data-manual-toggle]");
              const alert = await page.waitForSelector(`[data-alert-id="${r.id}"]`);
              assert.match(await alert.textContent() ?? "", /BTC-USDT.*manual test/s);
              // The features that drove it, largest |z| first.
              const zs = await alert.$$eval(
                "[data-driver] .num",
                (els) => els.map((e) => Number(e.textContent!.replace(/[+σ]/g, ""))),
              );
              assert.equal(zs.length, 5);
              for (let i = 1; i < zs.length; i++) assert.ok(Math.abs(zs[i - 1]) >= Math.abs(zs[i]));
              assert.ok(await page.$('[data-chart="timeline"] svg'), "the timeline is drawn");
              await page.waitForTimeout(600); // one redraw of the timeline with the alert in it
              await screenshot(page, "live", "live");
              // Hidden again: the manual test leaves the alert list.
              await page.uncheck("[data-manual-toggle]");
              await page.waitForSelector(`[data-alert-id="${r.id}"]`, { state: "detached" });
            });
          },
        );

        await t.step(
          "analytics: the table filters and the CSV export matches the filter",
          async () => {
            // One certain anomaly of the filtered symbol, whatever the stream did.
            const crash = PRESETS.find((p) => p.id === "flash_crash")!;
            await predict(srv.base, { symbol: "ETH-USDT", ...crash.features });
            await onPage(desktop, `${srv.base}/analytics`, async (page) => {
              const symbols = await page.$$eval(
                "[data-row]",
                (rows) => [...new Set(rows.map((r) => r.getAttribute("data-symbol")))],
              );
              assert.ok(symbols.length > 1, `unfiltered rows hold several symbols: ${symbols}`);
              assert.ok(await page.$('[data-chart="correlation"] svg'), "the correlation matrix");
              await screenshot(page, "analytics", "analytics");

              await page.selectOption('select[name="symbol"]', "ETH-USDT");
              await page.check('input[name="anomalies_only"]');
              await page.waitForFunction(() => {
                const rows = [...document.querySelectorAll("[data-row]")];
                return rows.length > 0 &&
                  rows.every((r) =>
                    r.getAttribute("data-symbol") === "ETH-USDT" &&
                    r.getAttribute("data-anomaly") === "true"
                  );
              });
              assert.match(page.url(), /symbol=ETH-USDT/);
              assert.match(page.url(), /anomalies_only=true/);

              // Sorting: the score column, lowest (most anomalous) first on the second click.
              await page.click('th[data-sort="anomaly_score"]');
              await page.click('th[data-sort="anomaly_score"]');
              const scores = await page.$$eval(
                "[data-row]",
                (rows) => rows.map((r) => Number(r.getAttribute("data-score"))),
              );
              assert.deepEqual(scores, scores.slice().sort((a, b) => a - b));

              const href = await page.getAttribute("[data-export]", "href");
              assert.equal(href, "/export.csv?symbol=ETH-USDT&anomalies_only=true");
              const [download] = await Promise.all([
                page.waitForEvent("download"),
                page.click("[data-export]"),
              ]);
              const text = await Deno.readTextFile((await download.path())!);
              const [header, ...rows] = parseCsv(text).filter((r) => r.length > 1);
              const symbol = header.indexOf("symbol"), anomaly = header.indexOf("is_anomaly");
              assert.ok(symbol >= 0 && anomaly >= 0, `columns: ${header}`);
              assert.ok(rows.length >= 1);
              for (const r of rows) {
                assert.equal(r[symbol], "ETH-USDT");
                assert.equal(r[anomaly], "true");
              }
            });
          },
        );

        await t.step("manual: each preset produces its expected verdict", async () => {
          await onPage(desktop, `${srv.base}/manual`, async (page) => {
            for (const p of PRESETS) {
              await page.click(`[data-preset="${p.id}"]`);
              await page.waitForSelector("[data-verdict]", { state: "detached" });
              assert.equal(
                Number(await page.inputValue('input[data-feature="z_score_volume"]')),
                p.features.z_score_volume,
              );
              await page.click('[data-action="detect"]');
              const verdict = await page.waitForSelector("[data-verdict]");
              assert.equal(await verdict.getAttribute("data-verdict"), p.expected, p.label);
            }
            await page.click('[data-preset="flash_crash"]');
            await page.click('[data-action="detect"]');
            await page.waitForSelector('[data-verdict="anomaly"]');
            await screenshot(page, "manual", "manual");
          });
        });

        await t.step(
          "API docs: Swagger UI inside the site's layout, dark, with the way back",
          async () => {
            await onPage(desktop, `${srv.base}/docs`, async (page) => {
              await page.waitForSelector(".swagger-ui .info .title");
              assert.match(
                await page.textContent(".swagger-ui .info .title") ?? "",
                /Sentinel API/,
              );
              assert.ok(await page.$('.opblock-summary-path[data-path="/predict"]'));
              // The site's navigation, with API as the current page.
              const nav = await page.$$eval(
                ".topbar .nav a",
                (as) => as.map((a) => [a.getAttribute("href"), a.getAttribute("aria-current")]),
              );
              assert.deepEqual(
                nav.map((n) => n[0]),
                [
                  "/",
                  "/live",
                  "/incidents",
                  "/analytics",
                  "/manual",
                  "/models",
                  "/docs",
                ],
              );
              assert.deepEqual(nav.find((n) => n[0] === "/docs"), ["/docs", "page"]);
              // Dark: the page and Swagger UI's panels on the site's background, light text.
              const colors = await page.evaluate(() => {
                const bg = (sel: string) =>
                  getComputedStyle(document.querySelector(sel)!).backgroundColor;
                return {
                  html: bg("html"),
                  swagger: bg(".swagger-ui"),
                  text: getComputedStyle(document.querySelector(".swagger-ui .info .title")!).color,
                };
              });
              assert.equal(colors.html, "rgb(13, 17, 23)");
              assert.equal(
                colors.swagger,
                "rgba(0, 0, 0, 0)",
                "Swagger UI's own background is not painted",
              );
              const [r, g, b] = colors.text.match(/\d+/g)!.map(Number);
              assert.ok(r + g + b > 3 * 180, `title text ${colors.text} is light`);
              await screenshot(page, "docs", "docs");
              // The way back to the rest of the site.
              await Promise.all([
                page.waitForURL(`${srv.base}/`),
                page.click('.topbar .nav a[href="/"]'),
              ]);
            });
            // Non-browser clients still get the plain Swagger UI page (no layout).
            const plain = await (await fetch(`${srv.base}/docs`)).text();
            assert.match(plain, /SwaggerUIBundle/);
            assert.doesNotMatch(plain, /class="topbar"/);
          },
        );

        await t.step(
          "24-hour UTC: no 12-hour time on any page, axes and tooltips included",
          async () => {
            for (const { path } of PAGES) {
              await onPage(desktop, `${srv.base}${path}`, async (page) => {
                const text = await shownTimesText(page);
                assert.doesNotMatch(text, TWELVE_HOUR, path);
                // Times are there to check where the page always shows them (the incident pages are
                // checked in browser_incidents_test.ts, once incidents exist).
                if (["/", "/live", "/analytics"].includes(path)) {
                  assert.match(text, TWENTY_FOUR_HOUR, `${path} shows a time`);
                }
              });
            }
          },
        );

        await t.step("phone width: no page overflows 375 px", async () => {
          const phone = await browser!.newContext({ viewport: PHONE });
          try {
            for (const { path, name } of PAGES) {
              await onPage(phone, `${srv.base}${path}`, async (page) => {
                await page.waitForTimeout(300); // charts draw at the measured width
                const [scroll, inner] = await page.evaluate(
                  () => [document.documentElement.scrollWidth, innerWidth],
                );
                assert.ok(scroll <= inner, `${path}: ${scroll} px wide in a ${inner} px viewport`);
                await screenshot(page, `phone-${name}`);
              });
            }
          } finally {
            await phone.close();
          }
        });

        await t.step(
          "phone width 390 px: the training report's tables fit, nothing cut",
          async () => {
            const phone = await browser!.newContext({ viewport: { width: 390, height: 844 } });
            try {
              await onPage(phone, `${srv.base}/`, async (page) => {
                await page.waitForSelector("[data-model] .table");
                const tables = await page.$$eval(
                  "[data-model] .card table",
                  (els) =>
                    els.map((t) => {
                      const box = t.parentElement!.getBoundingClientRect();
                      const cells = [...t.querySelectorAll("th, td")].map((c) =>
                        c.getBoundingClientRect().right
                      );
                      return {
                        caption: t.querySelector("caption")?.textContent ??
                          t.querySelector("tr")?.textContent,
                        scroll: t.parentElement!.scrollWidth,
                        client: t.parentElement!.clientWidth,
                        right: Math.max(...cells),
                        boxRight: box.right,
                      };
                    }),
                );
                assert.ok(tables.length >= 3, `${tables.length} tables in the model panel`);
                for (const t of tables) {
                  assert.ok(t.scroll <= t.client, `${t.caption}: ${t.scroll} px in ${t.client} px`);
                  assert.ok(t.right <= t.boxRight + 0.5, `${t.caption}: a cell ends past its box`);
                  assert.ok(t.right <= 390, `${t.caption}: a cell ends at ${t.right} px`);
                }
                const [scroll, inner] = await page.evaluate(
                  () => [document.documentElement.scrollWidth, innerWidth],
                );
                assert.ok(scroll <= inner, `the page is ${scroll} px wide at ${inner} px`);
                await page.locator("[data-model] .card", { hasText: "Training report" })
                  .scrollIntoViewIfNeeded();
                await screenshot(page, "phone-390-training-report");
              });
            } finally {
              await phone.close();
            }
          },
        );
        await desktop.close();
      } finally {
        await browser?.close();
        await srv.stop();
      }
    },
  });

  Deno.test({
    name: "browser: before any model exists every page says what it waits for",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      // No backfill and an unreachable training threshold: no model, ever.
      const srv = await startSentinel({ MIN_TRAINING_ROWS: "1000000", BACKFILL_SECONDS: "0" });
      let browser: Browser | null = null;
      try {
        browser = await launchChromium();
        const context = await browser.newContext({ viewport: DESKTOP });
        await onPage(context, `${srv.base}/`, async (page) => {
          const text = await page.textContent('[data-model="none"]');
          assert.match(text ?? "", /first model/);
          assert.match(text ?? "", /1,000,000/);
          await screenshot(page, "waiting-status");
        });
        await onPage(context, `${srv.base}/live`, async (page) => {
          assert.match(
            await page.textContent("[data-waiting]") ?? "",
            /Waiting for the first model.*feature rows/,
          );
          assert.equal(await page.$('[data-chart="timeline"] svg'), null, "no empty chart");
          await screenshot(page, "waiting-live");
        });
        await onPage(context, `${srv.base}/analytics`, async (page) => {
          assert.match(await page.textContent(".chart-empty") ?? "", /No predictions yet/);
          await screenshot(page, "waiting-analytics");
        });
        await onPage(context, `${srv.base}/manual`, async (page) => {
          assert.match(await page.textContent("[data-no-model]") ?? "", /No model is active yet/);
          await page.click('[data-preset="price_spike"]');
          await page.click('[data-action="detect"]');
          // The API answers 503 until a model exists; the page says so instead of failing.
          await page.waitForFunction(() =>
            /nothing can be scored/.test(
              document.querySelector("[data-no-model]")?.textContent ?? "",
            )
          );
          assert.equal(await page.$("[data-verdict]"), null);
          await screenshot(page, "waiting-manual");
        }, [{ method: "POST", path: "/predict", status: 503 }]);
        await context.close();
      } finally {
        await browser?.close();
        await srv.stop();
      }
    },
  });
}
