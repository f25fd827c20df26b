/**
 * Refreshes docs/screenshots/live-realistic.png: the live feed of a fresh
 * Sentinel on the default `realistic` simulator profile, as the README
 * shows it. Starts `main.ts` on a temporary KV and port, waits for the first
 * model and a minute of live trades, and photographs `/live` in Chromium
 * (CHROMIUM_PATH, as the browser suite).
 *
 *   CHROMIUM_PATH=/usr/bin/chromium deno run -P scripts/screenshot_realistic.ts
 *
 * @module
 */
import { launchChromium } from "../tests/browser_helpers.ts";

const PORT = Number(Deno.env.get("SCREENSHOT_PORT") ?? "8791");
const LIVE_SECONDS = Number(Deno.env.get("SCREENSHOT_LIVE_SECONDS") ?? "60");
const base = `http://127.0.0.1:${PORT}`;
const dir = await Deno.makeTempDir({ prefix: "sentinel-shot-" });
const root = new URL("..", import.meta.url);
const server = new Deno.Command(Deno.execPath(), {
  args: ["run", "-P", "main.ts"],
  cwd: root.pathname,
  env: { SIM_PROFILE: "realistic", KV_PATH: `${dir}/kv.sqlite`, PORT: String(PORT) },
  stdout: "inherit",
  stderr: "inherit",
}).spawn();

async function predictions(): Promise<number> {
  try {
    const r = await fetch(`${base}/latest-predictions?limit=5`);
    if (!r.ok) {
      await r.body?.cancel();
      return 0;
    }
    const body = await r.json();
    return Array.isArray(body) ? body.length : (body.predictions?.length ?? 0);
  } catch {
    return 0;
  }
}

try {
  const deadline = Date.now() + 180_000;
  while ((await predictions()) === 0) {
    if (Date.now() > deadline) throw new Error("no predictions after 3 minutes");
    await new Promise((r) => setTimeout(r, 1000));
  }
  console.error(`screenshot: model live; letting the feed run ${LIVE_SECONDS} s`);
  await new Promise((r) => setTimeout(r, LIVE_SECONDS * 1000));
  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } }))
      .newPage();
    await page.goto(`${base}/live`);
    await page.waitForSelector('[data-chart="timeline"] svg');
    await page.waitForTimeout(5000);
    const out = new URL("docs/screenshots/live-realistic.png", root);
    await Deno.writeFile(out, await page.screenshot());
    console.error(`screenshot: wrote ${out.pathname}`);
  } finally {
    await browser.close();
  }
} finally {
  server.kill("SIGINT");
  await server.status;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
