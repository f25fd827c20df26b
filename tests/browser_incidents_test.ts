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
import { tempKvPath, testConfig, waitFor } from "./helpers.ts";
import {
  launchChromium,
  openPage,
  requireBrowser,
  screenshot,
  shownTimesText,
  TWELVE_HOUR,
  TWENTY_FOUR_HOUR,
  watchPage,
} from "./browser_helpers.ts";

const API_KEY = "browser-test-api-key-0123";

async function incidents(base: string, query = ""): Promise<Incident[]> {
  const res = await fetch(`${base}/incidents?limit=500${query}`);
  assert.equal(res.status, 200);
  return (await res.json()).incidents;
}

if (requireBrowser()) {
  Deno.test({
    name: "browser: the incident list and an incident's page",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const kv = await tempKvPath();
      // A webhook receiver that takes BTC-USDT's notifications and fails every other (HTTP 500).
      const received = { ok: 0, failed: 0 };
      const receiver = Deno.serve(
        { port: 0, hostname: "127.0.0.1", onListen: () => {} },
        async (req) => {
          const body = await req.json();
          if (body.incident.symbol === "BTC-USDT") {
            received.ok++;
            return new Response("ok");
          }
          received.failed++;
          return new Response("no", { status: 500 });
        },
      );
      const sentinel = await Sentinel.start(
        testConfig({
          KV_PATH: kv.path,
          EVENT_FREQUENCY_SECONDS: "0.05",
          BACKFILL_SECONDS: "60",
          MIN_TRAINING_ROWS: "3000",
          ANOMALY_PROBABILITY: "0.02",
          SENTINEL_API_KEY: API_KEY,
          ALERT_WEBHOOK_URL: `http://127.0.0.1:${receiver.addr.port}/hook`,
          ALERT_WEBHOOK_MAX_ATTEMPTS: "1",
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
        await t.step("24-hour UTC on the incident pages, axes and tooltips included", async () => {
          const inc = chosen!;
          for (
            const url of [`${base}/incidents`, `${base}/incidents/${encodeURIComponent(inc.id)}`]
          ) {
            await onPage(url, async (page) => {
              const text = await shownTimesText(page);
              assert.doesNotMatch(text, TWELVE_HOUR, url);
              assert.match(text, TWENTY_FOUR_HOUR, `${url} shows times`);
            });
          }
        });
        await t.step(
          "alerts: opt in, a notification per incident opened, the count in the tab title until incidents are viewed",
          async () => {
            const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
            await context.grantPermissions(["notifications"], { origin: base });
            // Chromium shows nothing headless: record what the page asks it to show.
            await context.addInitScript(() => {
              const Real = Notification;
              const shown: { title: string; body: string; tag: string }[] = [];
              const g = globalThis as unknown as Record<string, unknown>;
              g.__shown = shown;
              class Recorded extends Real {
                constructor(title: string, opts?: NotificationOptions) {
                  super(title, opts);
                  shown.push({ title, body: opts?.body ?? "", tag: opts?.tag ?? "" });
                  g.__last = this;
                }
              }
              Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
              Object.defineProperty(Recorded, "requestPermission", {
                value: () => Real.requestPermission(),
              });
              g.Notification = Recorded;
            });
            // Analytics, not the live feed: this page is navigated away from, which would cut the
            // feed's event stream mid-flight (a failed request for the watcher).
            const page = await context.newPage();
            const watch = watchPage(page, base);
            const toggle = "[data-alerts-toggle]";
            // Before this page navigates on: what it still loads (its icon) would be cut mid-flight.
            const settle = () => page.waitForLoadState("networkidle");
            try {
              await openPage(page, `${base}/analytics`);
              assert.equal(await page.getAttribute(toggle, "data-alerts-toggle"), "off");
              assert.equal(await page.title(), "Analytics · Sentinel");
              await page.click(toggle);
              await page.waitForSelector('[data-alerts-toggle="on"]');
              const optedIn = await page.evaluate(() =>
                JSON.parse(localStorage.getItem("sentinel-alerts")!)
              );
              assert.equal(optedIn.on, true);
              // The stream keeps opening incidents: each new one is notified once.
              await page.waitForFunction(
                () => (globalThis as unknown as { __shown: unknown[] }).__shown.length >= 1,
                null,
                {
                  timeout: 60_000,
                },
              );
              const shown = await page.evaluate(() =>
                (globalThis as unknown as {
                  __shown: { title: string; body: string; tag: string }[];
                })
                  .__shown
              );
              const all = await incidents(base);
              for (const n of shown) {
                const inc = all.find((i) => i.id === n.tag);
                assert.ok(inc, `notified ${n.tag}, an incident the API lists`);
                assert.ok(
                  inc.start_ms > optedIn.notified_ms,
                  "only incidents opened after opting in",
                );
                assert.equal(n.title, `${inc.symbol}: ${inc.type.replace(/_/g, " ")}`);
                assert.match(n.body, /at ([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC, severity \d\.\d\d/);
              }
              assert.equal(new Set(shown.map((n) => n.tag)).size, shown.length, "each once");
              // The tab title counts them, and so does the toggle.
              await page.waitForFunction(() =>
                /^\(\d+\) Analytics · Sentinel$/.test(document.title)
              );
              const count = Number(/^\((\d+)\)/.exec(await page.title())![1]);
              assert.ok(count >= 1);
              assert.equal(Number(await page.getAttribute(toggle, "data-unread")), count);
              const unread = (await incidents(base)).filter((i) => i.start_ms > optedIn.seen_ms);
              assert.ok(
                count <= unread.length,
                `${count} counted, ${unread.length} new in the API`,
              );
              // Viewing the incidents marks them seen (for every tab) and clears the count.
              const newest = Math.max(
                ...shown.map((n) => all.find((i) => i.id === n.tag)!.start_ms),
              );
              await settle();
              await openPage(page, `${base}/incidents`);
              await page.waitForFunction(
                (t) => JSON.parse(localStorage.getItem("sentinel-alerts")!).seen_ms >= t,
                newest,
              );
              assert.equal(await page.title(), "Incidents · Sentinel");
              assert.equal(await page.getAttribute(toggle, "data-unread"), "0");
              // A click on a notification opens its incident.
              await settle();
              await openPage(page, `${base}/analytics`);
              await page.waitForFunction(
                () => (globalThis as unknown as { __shown: unknown[] }).__shown.length >= 1,
                null,
                {
                  timeout: 60_000,
                },
              );
              await settle();
              const tag = await page.evaluate(() => {
                const last = (globalThis as unknown as { __last: Notification }).__last;
                last.onclick?.(new Event("click"));
                return last.tag;
              });
              await page.waitForURL(`${base}/incidents/${encodeURIComponent(tag)}`);
              // Off again: no count, nothing stored as on.
              await settle();
              await openPage(page, `${base}/analytics`);
              await page.click(toggle);
              await page.waitForSelector('[data-alerts-toggle="off"]');
              assert.equal(await page.title(), "Analytics · Sentinel");
              assert.equal(
                await page.evaluate(() => JSON.parse(localStorage.getItem("sentinel-alerts")!).on),
                false,
              );
              watch.assertClean("problems with alerts on");
            } finally {
              watch.stop();
              await context.close();
            }
            // Notifications refused: the tab title still counts.
            const blocked = await browser!.newContext();
            try {
              const page2 = await blocked.newPage();
              await openPage(page2, `${base}/analytics`);
              await page2.evaluate(() => Notification.permission).then((p) =>
                assert.notEqual(p, "granted")
              );
              await page2.click(toggle);
              await page2.waitForSelector('[data-alerts-toggle="title-only"]', { timeout: 20_000 });
              await page2.waitForFunction(() => /^\(\d+\) /.test(document.title), null, {
                timeout: 60_000,
              });
            } finally {
              await blocked.close();
            }
          },
        );
        await t.step(
          "System Status: webhook delivery counts and the dead letters with their reason",
          async () => {
            await waitFor("a delivered and a dead-lettered notification", async () => {
              const w = await (await fetch(`${base}/api/v1/webhooks`)).json();
              return w.stats.delivered >= 1 && w.stats.dead_lettered >= 1;
            }, 60_000);
            await onPage(`${base}/`, async (page) => {
              await page.waitForSelector("[data-webhooks] [data-dead-letter]");
              const view = await page.evaluate(() => {
                const n = (id: string) =>
                  Number(
                    document.querySelector(`[data-webhook-count="${id}"] .kpi-value`)!.textContent!
                      .replace(/,/g, ""),
                  );
                return {
                  delivered: n("delivered"),
                  dead: n("dead"),
                  queued: n("queued"),
                  rows: [...document.querySelectorAll("[data-dead-letter]")].map((tr) => ({
                    incident: tr.querySelector("a")!.textContent!,
                    reason: tr.querySelector("[data-reason]")!.textContent!,
                  })),
                };
              });
              assert.ok(view.delivered >= 1 && view.dead >= 1, JSON.stringify(view));
              assert.equal(view.rows.length, Math.min(view.dead, 50));
              for (const r of view.rows) {
                // Only other symbols than BTC-USDT fail at the receiver, with HTTP 500.
                assert.doesNotMatch(r.incident, /^BTC-USDT /);
                assert.equal(r.reason, "HTTP 500");
              }
              // What the receiver saw: every delivery it took, every failure it answered.
              assert.ok(
                received.ok >= view.delivered,
                `${received.ok} taken, ${view.delivered} shown`,
              );
              assert.ok(
                received.failed >= view.dead,
                `${received.failed} failed, ${view.dead} shown`,
              );
              await page.locator("[data-webhooks]").scrollIntoViewIfNeeded();
              await page.evaluate(() =>
                document.getElementById("webhooks-h")!.scrollIntoView({ block: "start" })
              );
              await screenshot(page, "status-webhooks", "status-webhooks");
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
              `${base}/analytics?from=2000-01-01T00:00Z&to=2000-01-01T13:00Z`,
              async (page) => {
                // 24-hour UTC text, whatever the browser's locale (a datetime-local field said "01:00 PM").
                assert.equal(await page.inputValue('input[name="from"]'), "2000-01-01 00:00");
                assert.equal(await page.inputValue('input[name="to"]'), "2000-01-01 13:00");
                assert.equal(await page.getAttribute('input[name="to"]', "type"), "text");
                assert.match(await page.textContent("[data-summary]") ?? "", /^0 predictions/);
                assert.match(
                  await page.getAttribute("[data-export]", "href") ?? "",
                  /from=2000-01-01T00%3A00Z&to=2000-01-01T13%3A00Z/,
                );
                // Typing a 24-hour time applies it; a 12-hour one is refused and marked.
                await page.fill('input[name="to"]', "2000-01-01 23:30");
                await page.press('input[name="to"]', "Enter");
                await page.waitForURL(/to=2000-01-01T23%3A30Z/);
                await page.fill('input[name="to"]', "2000-01-01 11:30 PM");
                await page.press('input[name="to"]', "Enter");
                await page.waitForSelector('input[name="to"][aria-invalid="true"]');
                assert.match(page.url(), /to=2000-01-01T23%3A30Z/);
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
        await receiver.shutdown();
        await kv.cleanup();
      }
    },
  });
}
