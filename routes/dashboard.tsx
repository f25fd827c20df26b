/**
 * The dashboard (DESIGN.md section 10): server-rendered Preact pages on
 * the API's own server, their island bundles and the stylesheet.
 *
 * Pages load their data through the API in-process (components/page.ts) and
 * render to HTML with their islands' props beside them; the islands' bundles
 * are built at boot by scripts/build.ts when the sources changed (a content
 * hash; a no-op otherwise), and the first page request waits for that build.
 * If the build fails the pages are still served, without their interactive
 * parts, under a banner that says why.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { compress } from "hono/compress";
import { consoleLogger, type Logger } from "../pipeline/log.ts";
import { buildIslands, type BuildResult } from "../scripts/build.ts";
import { renderDocument } from "../components/html.ts";
import { Layout, LAYOUT_ISLANDS } from "../components/Layout.tsx";
import { type DashboardPage, pageContext } from "../components/page.ts";
import type { WebContext } from "./context.ts";
import { statusPage } from "./pages/status.tsx";
import { livePage } from "./pages/live.tsx";
import { analyticsPage } from "./pages/analytics.tsx";
import { manualPage } from "./pages/manual.tsx";
import { incidentPage, incidentsPage } from "./pages/incidents.tsx";
import { modelsPage } from "./pages/models.tsx";
import { apiDocsPage } from "./pages/api_docs.tsx";

/** The pages, in navigation order. */
// deno-lint-ignore no-explicit-any
export const PAGES: readonly DashboardPage<any>[] = [
  statusPage,
  livePage,
  incidentsPage,
  analyticsPage,
  manualPage,
  modelsPage,
  incidentPage,
  apiDocsPage,
];

/** Options of {@linkcode mountDashboard}. */
export interface DashboardOptions {
  /** where build problems and page failures are logged (default: stderr, component `web`) */
  logger?: Logger;
  /** how the island bundles are obtained (default: {@linkcode buildIslands}) */
  build?: () => Promise<BuildResult>;
}

const STATIC_DIR = new URL("../static/", import.meta.url);

/**
 * The pages' Content Security Policy: everything from this server, nothing
 * from anywhere else (no CDN, no external font can sneak in). Styles may be
 * inline because Plot writes its own `<style>` and `style` attributes.
 */
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'self'",
].join("; ");

const STATIC_TYPES: Record<string, string> = {
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
};

async function staticFile(
  c: Context,
  path: URL | string,
  cache: string,
): Promise<Response> {
  const ext = String(path).split(".").pop() ?? "";
  try {
    const body = await Deno.readFile(path);
    return c.body(body, 200, {
      "Content-Type": STATIC_TYPES[ext] ?? "application/octet-stream",
      "Cache-Control": cache,
      "X-Content-Type-Options": "nosniff",
    });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return c.json({ error: "not found", detail: `no static file ${c.req.path}` }, 404);
  }
}

function footer(ctx: WebContext): string {
  const c = ctx.config;
  const transport = c.kafkaBrokers
    ? `Kafka topic ${c.kafkaTopic}`
    : "embedded (in-process channel)";
  return `Sentinel · ${c.dataSource} source · ${
    c.symbols.join(", ")
  } · ${transport} · times in UTC`;
}

function errorPage(title: string, message: string): string {
  return renderDocument(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Sentinel`}</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/static/styles.css" />
      </head>
      <body>
        <main class="page">
          <h1 class="page-title">{title}</h1>
          <p class="notice bad">{message}</p>
          <p>
            <a href="/">System Status</a>
          </p>
        </main>
      </body>
    </html>,
  );
}

/**
 * Adds the dashboard's pages and static files to `app` and starts building
 * the island bundles (see the module doc). Pass it as `mountPages` to
 * `Sentinel.start`.
 *
 * @example
 * ```ts ignore
 * const sentinel = await Sentinel.start(config, roles, { mountPages: mountDashboard });
 * ```
 */
export function mountDashboard(
  app: OpenAPIHono,
  ctx: WebContext,
  opts: DashboardOptions = {},
): void {
  const logger = opts.logger ?? consoleLogger("web");
  const t0 = performance.now();
  const assets: Promise<BuildResult | Error> = (opts.build ?? buildIslands)().then(
    (r) => {
      if (r.built) {
        logger.info(
          `built ${r.islands.length} island bundle(s) in ${Math.round(performance.now() - t0)} ms`,
        );
      }
      return r;
    },
    (e) => {
      const err = e instanceof Error ? e : new Error(String(e));
      logger.warn(
        `dashboard bundles could not be built; pages run without scripts: ${err.message}`,
      );
      return err;
    },
  );

  // Plot and d3 are most of the bytes; gzip takes them from about 280 KB to under 100 KB.
  app.use("/static/*", compress());
  app.get("/static/build/:hash/:file", async (c) => {
    const { hash, file } = c.req.param();
    if (
      !/^[0-9a-f]{8,64}$/.test(hash) || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|json)$/.test(file)
    ) {
      return c.json({ error: "not found", detail: `no static file ${c.req.path}` }, 404);
    }
    const built = await assets;
    // This boot's build where the builder put it; an older one (a page rendered before a restart)
    // from static/build/, where older builds are kept.
    const path = built instanceof Error || built.hash !== hash
      ? new URL(`build/${hash}/${file}`, STATIC_DIR)
      : `${built.dir}/${file}`;
    return staticFile(c, path, "public, max-age=31536000, immutable");
  });
  app.get("/static/:file", (c) => {
    const file = c.req.param("file");
    if (!/^[A-Za-z0-9_-]+\.(css|svg)$/.test(file)) {
      return c.json({ error: "not found", detail: `no static file ${c.req.path}` }, 404);
    }
    return staticFile(c, new URL(file, STATIC_DIR), "no-cache");
  });

  // Browsers ask for /favicon.ico on pages without an icon link (Swagger UI's, the CSV).
  app.get(
    "/favicon.ico",
    (c) => staticFile(c, new URL("favicon.svg", STATIC_DIR), "public, max-age=86400"),
  );

  for (const page of PAGES) {
    app.get(page.mountedAt ?? page.path, async (c) => {
      const built = await assets;
      const url = new URL(c.req.url);
      let data;
      try {
        data = await page.load(pageContext(app, ctx, url));
      } catch (e) {
        logger.warn(`${page.path} could not load: ${e instanceof Error ? e.stack : e}`);
        return c.html(
          errorPage(page.title, "This page could not load its data; the cause is logged."),
          500,
        );
      }
      const scripts = built instanceof Error
        ? []
        : [...page.islands, ...LAYOUT_ISLANDS].map((name) => `${built.urlPath}/${name}.js`);
      const banner = built instanceof Error
        ? "The interactive parts of this page are unavailable: the browser bundles could not be " +
          "built (see the server log, or run `deno task build`)."
        : null;
      const html = renderDocument(
        <Layout
          title={page.title}
          path={page.nav ?? page.path}
          scripts={scripts}
          stylesheet="/static/styles.css"
          footer={footer(ctx)}
          banner={banner}
        >
          {page.render(data)}
        </Layout>,
      );
      return c.html(html, 200, {
        "Cache-Control": "no-store",
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
      });
    });
  }
}
