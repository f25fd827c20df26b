/// <reference lib="dom" />
/**
 * Plumbing for the browser suite: Debian's Chromium driven by
 * playwright-core (DESIGN.md section 14 flags), a watcher that records every
 * console error, uncaught exception and failed request of a page, and
 * screenshot paths.
 *
 * @module
 */
import fs from "node:fs";
import type { Browser, Page } from "playwright-core";
import { requireSuite } from "./suite_gate.ts";

/** Chromium's flags for CI (DESIGN.md section 14). */
/**
 * The browser suites' gate (tests/suite_gate.ts): true when CHROMIUM_PATH is
 * set; otherwise registers the ignored (or, under REQUIRE_ALL_SUITES=1,
 * failing) placeholder test with how to enable it.
 */
export function requireBrowser(): boolean {
  return requireSuite(
    "browser",
    "CHROMIUM_PATH",
    "apt-get install -y chromium, then set CHROMIUM_PATH=/usr/bin/chromium",
  );
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/**
 * playwright-core, loaded after one fix-up: when it loads it probes for WSL
 * with `fs.existsSync("/proc/sys/fs/binfmt_misc/WSLInterop")`, and Deno's
 * `existsSync` throws `NotCapable` for `/proc/sys` paths unless every
 * permission is granted, where Node's returns false (it never throws). The
 * shim makes it return false for exactly that error, so the suite runs with
 * the test permission set of deno.json instead of `--allow-all`.
 */
async function playwright(): Promise<typeof import("playwright-core")> {
  const existsSync = fs.existsSync;
  if (!(existsSync as { shimmed?: boolean }).shimmed) {
    const shim = (path: fs.PathLike) => {
      try {
        return existsSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable) return false;
        throw e;
      }
    };
    (fs as { existsSync: unknown }).existsSync = Object.assign(shim, { shimmed: true });
  }
  return await import("playwright-core");
}

/** Launches the Chromium at `CHROMIUM_PATH`. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await playwright();
  return await chromium.launch({
    executablePath: Deno.env.get("CHROMIUM_PATH"),
    args: CHROMIUM_ARGS,
  });
}

/** What went wrong on a page while it was watched. */
export interface PageWatch {
  readonly problems: string[];
  /** stops recording: what the browser does while the page is being closed is not the page's fault */
  stop(): void;
  /** throws with every problem recorded so far */
  assertClean(what: string): void;
}

/** An error answer the page is expected to get (e.g. 503 from `/predict` before any model). */
export interface ExpectedError {
  method: string;
  path: string;
  status: number;
}

/**
 * Records console errors, uncaught exceptions (`pageerror`), failed
 * requests (`requestfailed`, and responses with status ≥ 400) and requests
 * to any origin but `origin` of `page` until `stop()`.
 *
 * Two things are not problems, and only these: an error answer listed in
 * `expected` (with the console line Chromium logs for it, "Failed to load
 * resource: … status of 503", once per such answer); and anything after
 * `stop()`. The suite stops watching right before it closes a page, so a
 * connection the browser cuts because the page goes away (the live page's
 * event stream) is not counted, while one that fails during the page's
 * life is.
 */
export function watchPage(
  page: Page,
  origin: string,
  expected: ExpectedError[] = [],
): PageWatch {
  const problems: string[] = [];
  const consoleErrors: string[] = [];
  const excusedStatuses: number[] = [];
  let on = true;
  // Everything comes from this server: no CDN, no external font, no analytics.
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (on && url.protocol !== "data:" && url.origin !== origin) {
      problems.push(`request to another origin: ${r.url()}`);
    }
  });
  page.on("console", (m) => {
    if (on && m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => on && problems.push(`uncaught: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (on) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on("response", (r) => {
    if (!on || r.status() < 400) return;
    const path = new URL(r.url()).pathname;
    const method = r.request().method();
    if (expected.some((e) => e.method === method && e.path === path && e.status === r.status())) {
      excusedStatuses.push(r.status());
    } else problems.push(`HTTP ${r.status()}: ${method} ${r.url()}`);
  });
  // Chromium logs every error answer on the console too; an expected answer excuses its own line
  // (matched by status, one line per answer), nothing else.
  const all = () => {
    const left = excusedStatuses.slice();
    const errors = consoleErrors.filter((text) => {
      const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(text);
      const i = m ? left.indexOf(Number(m[1])) : -1;
      if (i < 0) return true;
      left.splice(i, 1);
      return false;
    });
    return [...problems, ...errors.map((e) => `console error: ${e}`)];
  };
  return {
    get problems() {
      return all();
    },
    stop() {
      on = false;
    },
    assertClean(what: string) {
      const p = all();
      if (p.length) throw new Error(`${what}:\n  ${p.join("\n  ")}`);
    },
  };
}

/** Loads `url` and waits until every island on it is hydrated. */
export async function openPage(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => {
    const islands = document.querySelectorAll("[data-island]");
    return islands.length > 0 &&
      [...islands].every((el) => el.hasAttribute("data-hydrated"));
  });
}

/** A 12-hour clock time (`3:04 PM`, `11am`): no page may show one. */
export const TWELVE_HOUR = /\b\d{1,2}(:\d\d)?(:\d\d)?\s?[AaPp]\.?[Mm]\b/;
/** A 24-hour `HH:MM`. */
export const TWENTY_FOUR_HOUR = /\b([01]\d|2[0-3]):[0-5]\d\b/;

/**
 * Every time a page shows once its charts are drawn: the body's text, the
 * charts' axis labels and tooltips (`svg text`, `svg title`) and `title`
 * attributes.
 */
export async function shownTimesText(page: Page): Promise<string> {
  await page.waitForTimeout(600); // charts drawn
  return await page.evaluate(() =>
    [
      document.body.innerText,
      ...[...document.querySelectorAll("svg text, svg title, [title]")].map((e) =>
        `${e.textContent ?? ""} ${e.getAttribute("title") ?? ""}`
      ),
    ].join("\n")
  );
}

/** Where the suite writes its screenshots (gitignored). */
export const OUTPUT_DIR = new URL("../test-output/browser/", import.meta.url).pathname;
/** Where the README's screenshots live; refreshed when `UPDATE_SCREENSHOTS=1`. */
export const DOCS_DIR = new URL("../docs/screenshots/", import.meta.url).pathname;

/**
 * Saves a screenshot of the viewport under the test output directory and,
 * when `docsName` is given and `UPDATE_SCREENSHOTS=1`, under
 * docs/screenshots/ too.
 */
export async function screenshot(page: Page, name: string, docsName?: string): Promise<void> {
  await Deno.mkdir(OUTPUT_DIR, { recursive: true });
  const png = await page.screenshot({ path: `${OUTPUT_DIR}${name}.png` });
  if (docsName && Deno.env.get("UPDATE_SCREENSHOTS") === "1") {
    await Deno.mkdir(DOCS_DIR, { recursive: true });
    await Deno.writeFile(`${DOCS_DIR}${docsName}.png`, png);
  }
}
