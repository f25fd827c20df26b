/**
 * Sentinel's HTTP server (DESIGN.md section 9): the seed's endpoints, the
 * OpenAPI document generated from the zod schemas that validate requests,
 * Swagger UI, live events, the CSV export, Prometheus metrics and model
 * administration, on one Hono app. The dashboard mounts its pages on the same
 * app (`mount`).
 *
 * Errors are always JSON `{error, detail}`: 400 malformed JSON, 413 a body
 * over 64 KiB, 415 a body that is not JSON, 422 a request that fails its
 * schema (one entry per field), 404 / 405 an unknown route or method, and a
 * generic 500 (cause logged, never sent) for anything unexpected.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { swaggerUI } from "@hono/swagger-ui";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { consoleLogger, type Logger } from "../pipeline/log.ts";
import type { WebContext } from "./context.ts";
import { errorJson, validationHook } from "./api/errors.ts";
import { eventRoutes, SSE_DEFAULTS, type SseOptions } from "./api/events.ts";
import { healthRoutes } from "./api/health.ts";
import { ApiMetrics, httpMetrics, metricsRoutes } from "./api/metrics.ts";
import { modelRoutes } from "./api/models.ts";
import { predictRoutes } from "./api/predict.ts";
import { predictionRoutes } from "./api/predictions.ts";
import { incidentRoutes } from "./api/incidents.ts";
import { barRoutes } from "./api/bars.ts";
import { reviewRoutes } from "./api/reviews.ts";
import { seedRoutes } from "./api/seed.ts";
import { statsRoutes } from "./api/stats.ts";
import { statusRoutes } from "./api/status.ts";
import { webhookRoutes } from "./api/webhooks.ts";
import { docsHeaders, SWAGGER_ASSETS_BASE, swaggerAssets } from "./pages/docs.ts";

/** Largest request body accepted, bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Options of {@linkcode createApp}. */
export interface AppOptions {
  /** adds routes (the dashboard's pages) after the API's */
  mount?: (app: OpenAPIHono) => void;
  /** SSE knobs (tests shorten the heartbeat) */
  sse?: Partial<SseOptions>;
  /** where unexpected errors are logged (default: stderr, component `web`) */
  logger?: Logger;
  /** aborting closes every open event stream (server shutdown) */
  signal?: AbortSignal;
}

const DOC_INFO = {
  openapi: "3.0.3",
  info: {
    title: "Sentinel API",
    version: "1.0.0",
    description:
      "Real-time anomaly detection on crypto market streams: score feature vectors, read the " +
      "prediction history, follow predictions and alerts live, export CSV, watch the system, " +
      "administer models. Errors are JSON `{error, detail}`.",
  },
  tags: [
    { name: "seed", description: "the original project's endpoints, same shapes" },
    { name: "v1", description: "Sentinel's richer shapes (the dashboard reads these)" },
    { name: "live", description: "Server-Sent Events" },
    { name: "history", description: "exports" },
    { name: "operations", description: "metrics and documentation" },
    { name: "admin", description: "model administration (bearer SENTINEL_API_KEY)" },
  ],
};

const REASONS: Partial<Record<number, string>> = {
  400: "malformed request",
  405: "method not allowed",
  413: "payload too large",
  415: "unsupported media type",
};

function documentSelf(app: OpenAPIHono): void {
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    summary: "This OpenAPI document",
    tags: ["operations"],
    responses: {
      200: {
        description: "OpenAPI 3.0 document generated from the request and response schemas",
        content: { "application/json": { schema: { type: "object" } } },
      },
    },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/docs",
    summary: "Swagger UI over /openapi.json",
    tags: ["operations"],
    responses: {
      200: {
        description: "an HTML page",
        content: { "text/html": { schema: { type: "string" } } },
      },
    },
  });
}

/**
 * Refuses a body over `max` bytes with 413: by its Content-Length when it has
 * one, else by the bytes actually read (a chunked body is read up to `max + 1`
 * bytes, never further). Hono's `bodyLimit` would do, but it copies the
 * request with its `signal`, which makes Deno print a legacy-abort warning.
 */
function limitBody(max: number): MiddlewareHandler {
  const tooLarge = (c: Context) =>
    errorJson(c, 413, "payload too large", `the body exceeds ${max} bytes`);
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const declared = raw.headers.get("content-length");
    if (declared !== null && Number(declared) > max) return tooLarge(c);
    if (declared !== null) return next(); // Deno's server enforces Content-Length framing
    const reader = raw.body.getReader();
    const parts: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel().catch(() => {});
        return tooLarge(c);
      }
      parts.push(value);
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      body.set(p, at);
      at += p.byteLength;
    }
    c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body });
    return next();
  };
}

/**
 * Every response says `X-Content-Type-Options: nosniff`: JSON, CSV and text
 * are never sniffed into something a browser would run.
 */
const noSniff: MiddlewareHandler = async (c, next) => {
  await next();
  c.res.headers.set("X-Content-Type-Options", "nosniff");
};

/**
 * Paths both the API and a dashboard page answer (the page is mounted under
 * `/ui`); `/docs` is Swagger UI either way, inside the site's layout for a
 * browser.
 */
const SHARED_PATHS = /^\/(incidents(\/[^/]+)?|models|docs)$/;

/**
 * Content negotiation for {@linkcode SHARED_PATHS}: a GET whose `Accept`
 * asks for HTML (a browser navigating) is answered by the dashboard page
 * mounted at `/ui<path>`; every other request (curl, `fetch` with
 * `Accept: application/json`, no `Accept`) gets the API's JSON, so the API
 * contract is unchanged. Only when pages are mounted.
 */
function browserPages(app: () => OpenAPIHono): MiddlewareHandler {
  return (c, next) => {
    if (c.req.method !== "GET" || !SHARED_PATHS.test(c.req.path)) return next();
    const accept = c.req.header("accept") ?? "";
    if (!/\btext\/html\b/.test(accept) || /^application\/json/.test(accept)) return next();
    const url = new URL(c.req.url);
    url.pathname = `/ui${url.pathname}`;
    return Promise.resolve(app().fetch(new Request(url, c.req.raw), c.env));
  };
}

/** Methods no route serves and that `Request` itself refuses to carry (fetch spec). */
const FORBIDDEN_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);

/**
 * Answers TRACE, TRACK and CONNECT with 405 before anything touches the
 * request (copying such a request throws: "Method is forbidden").
 */
function refuseMethods(
  table: () => { method: string; pattern: RegExp }[],
): MiddlewareHandler {
  return (c, next) => {
    const method = c.req.method.toUpperCase();
    if (!FORBIDDEN_METHODS.has(method)) return next();
    const allowed = [
      ...new Set(table().filter((r) => r.pattern.test(c.req.path)).map((r) => r.method)),
    ];
    if (allowed.length) c.header("Allow", allowed.join(", "));
    return Promise.resolve(errorJson(c, 405, REASONS[405]!, `${method} is not served`));
  };
}

/** Method and pattern of every documented route, for 405s. */
function routeTable(app: OpenAPIHono): { method: string; pattern: RegExp }[] {
  const out = [];
  for (const d of app.openAPIRegistry.definitions) {
    if (d.type !== "route") continue;
    const re = d.route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+");
    out.push({ method: d.route.method.toUpperCase(), pattern: new RegExp(`^${re}$`) });
  }
  return out;
}

/**
 * The API as a Hono app over a running system. Nothing is started: serve it
 * with {@linkcode startWebServer} (or call `app.request` in a test).
 *
 * @example
 * ```ts ignore
 * const app = createApp(ctx, { mount: (app) => app.get("/", (c) => c.html("<h1>Sentinel</h1>")) });
 * const res = await app.request("/health");
 * ```
 */
export function createApp(ctx: WebContext, opts: AppOptions = {}): OpenAPIHono {
  const logger = opts.logger ?? consoleLogger("web");
  const api = new ApiMetrics();
  const sse: SseOptions = { ...SSE_DEFAULTS, ...opts.sse, signal: opts.signal };
  const app = new OpenAPIHono({ defaultHook: validationHook });
  let table: { method: string; pattern: RegExp }[] | null = null;

  app.use("*", httpMetrics(ctx));
  app.use("*", noSniff);
  app.use("*", refuseMethods(() => table ??= routeTable(app)));
  app.use("*", limitBody(MAX_BODY_BYTES));
  if (opts.mount) app.use("*", browserPages(() => app));

  healthRoutes(app, ctx);
  predictRoutes(app, ctx, api);
  seedRoutes(app, ctx, api);
  predictionRoutes(app, ctx);
  incidentRoutes(app, ctx);
  barRoutes(app, ctx);
  statsRoutes(app, ctx);
  statusRoutes(app, ctx, api);
  webhookRoutes(app, ctx);
  modelRoutes(app, ctx);
  reviewRoutes(app, ctx);
  eventRoutes(app, ctx, api, sse);
  metricsRoutes(app, ctx, api);
  documentSelf(app);

  // Generated once, on first request: the registry is complete by then.
  let doc: unknown = null;
  app.get("/openapi.json", (c) => c.json(doc ??= app.getOpenAPIDocument(DOC_INFO)));
  // Swagger UI's own files come from the swagger-ui-dist package, not a CDN.
  swaggerAssets(app);
  app.use("/docs", docsHeaders());
  app.get(
    "/docs",
    swaggerUI({ url: "/openapi.json", title: "Sentinel API", baseUrl: SWAGGER_ASSETS_BASE }),
  );

  opts.mount?.(app);

  app.notFound((c) => {
    table ??= routeTable(app);
    const allowed = table.filter((r) => r.pattern.test(c.req.path)).map((r) => r.method);
    if (allowed.length) {
      c.header("Allow", [...new Set(allowed)].join(", "));
      return errorJson(
        c,
        405,
        REASONS[405]!,
        `${c.req.method} ${c.req.path} is not served; use ${allowed.join(" or ")}`,
      );
    }
    return errorJson(c, 404, "not found", `no route ${c.req.method} ${c.req.path}; see /docs`);
  });

  app.onError((err, c: Context) => {
    if (err instanceof HTTPException) {
      const status = err.status as ContentfulStatusCode;
      if (status === 415) {
        return errorJson(c, 415, REASONS[415]!, "send the body as Content-Type: application/json");
      }
      if (status === 400 && /json/i.test(err.message)) {
        return errorJson(c, 400, "malformed JSON", "the body is not valid JSON");
      }
      return errorJson(c, status, REASONS[status] ?? "request failed", err.message || "");
    }
    logger.warn(
      `${c.req.method} ${c.req.path} failed: ${err instanceof Error ? err.stack : String(err)}`,
    );
    return errorJson(c, 500, "internal error", "the server could not answer; the cause is logged");
  });

  return app;
}

/** Options of {@linkcode startWebServer}. */
export interface WebServerOptions {
  /** 0 picks a free port (tests) */
  port: number;
  /** default: every interface */
  hostname?: string;
  /** aborting closes the event streams and shuts the server down */
  signal: AbortSignal;
  /** passed to {@linkcode createApp} */
  app?: Omit<AppOptions, "signal">;
}

/**
 * Serves {@linkcode createApp} with `Deno.serve`. Prints nothing; the caller
 * logs the address it answers (`hostname` is the address actually bound). `finished` resolves once the server has shut down after
 * `signal` aborted.
 *
 * @example
 * ```ts ignore
 * const ac = new AbortController();
 * const { port, finished } = await startWebServer(ctx, { port: 0, hostname: "127.0.0.1", signal: ac.signal });
 * ac.abort();
 * await finished;
 * ```
 */
export function startWebServer(
  ctx: WebContext,
  opts: WebServerOptions,
): Promise<{ port: number; hostname: string; finished: Promise<void> }> {
  const app = createApp(ctx, { ...opts.app, signal: opts.signal });
  try {
    // Binding is synchronous: a taken port throws here, and addr is known at once.
    const server = Deno.serve({
      port: opts.port,
      hostname: opts.hostname,
      signal: opts.signal,
      onListen: () => {},
    }, app.fetch);
    return Promise.resolve({
      port: server.addr.port,
      hostname: server.addr.hostname,
      finished: server.finished,
    });
  } catch (e) {
    return Promise.reject(e);
  }
}
