/// <reference lib="dom" />
/**
 * The live page when the market source dies (issue 13): with Binance as the
 * source (a local fake speaking Binance's frames), the page's stream pill
 * says "live" in green while trades flow; once Binance is gone the page is
 * still connected to Sentinel, but the pill must not stay a green "live":
 * it says the source is down, and a notice says why no new data arrives.
 *
 * Runs when CHROMIUM_PATH is set (tests/suite_gate.ts).
 */
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { memoryLogger } from "../pipeline/log.ts";
import { Sentinel } from "../sentinel.ts";
import { mountDashboard } from "../routes/dashboard.tsx";
import { tempKvPath, testConfig } from "./helpers.ts";
import { startFakeBinance } from "./fake_binance.ts";
import {
  launchChromium,
  openPage,
  requireBrowser,
  screenshot,
  watchPage,
} from "./browser_helpers.ts";

const GREEN = "rgb(63, 185, 80)";

if (requireBrowser()) {
  Deno.test({
    name: "browser: the live page says so when the Binance source is dead instead of a green live",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const fake = await startFakeBinance({ waitTimeoutMs: 20_000 });
      const kv = await tempKvPath();
      const sentinel = await Sentinel.start(
        testConfig({
          KV_PATH: kv.path,
          DATA_SOURCE: "binance",
          BINANCE_WS_URL: fake.url,
          SYMBOLS: "BTC-USDT",
        }),
        ["source", "worker", "web"],
        {
          port: 0,
          hostname: "127.0.0.1",
          logger: () => memoryLogger(),
          reportEveryMs: 0,
          mountPages: (app, ctx) => mountDashboard(app, ctx, { logger: memoryLogger() }),
        },
      );
      const base = `http://127.0.0.1:${sentinel.port}`;
      let browser: Browser | null = null;
      let price = 43_000;
      const trades = setInterval(() => {
        price += 0.5;
        fake.sendTrade({ symbol: "BTCUSDT", price, qty: 0.01 });
      }, 200);
      try {
        await fake.waitForConnections(1);
        browser = await launchChromium();
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        const watch = watchPage(page, base);
        const pill = '[data-connection="live"]';
        try {
          await openPage(page, `${base}/live`);
          await page.waitForSelector(pill);
          // Trades flow: a green "live", no warning.
          assert.equal(await page.getAttribute(pill, "data-source"), "online");
          assert.equal((await page.textContent(pill))?.trim(), "live");
          assert.equal(await page.$eval(pill, (e) => getComputedStyle(e).color), GREEN);
          assert.equal(await page.$("[data-source-down]"), null);

          // Binance goes away; the page stays connected to Sentinel.
          clearInterval(trades);
          await fake.close();
          await page.waitForSelector('[data-connection="live"]:not([data-source="online"])', {
            timeout: 20_000,
          });
          assert.match(
            await page.textContent(pill) ?? "",
            /^connected · source (degraded|offline)$/,
          );
          assert.notEqual(await page.$eval(pill, (e) => getComputedStyle(e).color), GREEN);
          assert.match(
            await page.textContent("[data-source-down]") ?? "",
            /No new market data: the Binance stream is (degraded|offline) \(.*reconnect/,
          );
          await screenshot(page, "live-source-down");
          watch.assertClean("problems on /live");
        } finally {
          watch.stop();
          await page.close();
        }
        // A page opened while the source is down says so from the start.
        const again = await browser.newPage();
        const watch2 = watchPage(again, base);
        try {
          await openPage(again, `${base}/live`);
          assert.ok(await again.$("[data-source-down]"), "the notice is in the first render");
          assert.notEqual(await again.getAttribute("[data-connection]", "data-source"), "online");
          watch2.assertClean("problems on /live, reopened");
        } finally {
          watch2.stop();
          await again.close();
        }
      } finally {
        clearInterval(trades);
        await browser?.close();
        await sentinel.stop();
        await fake.close().catch(() => {});
        await kv.cleanup();
      }
    },
  });
}
