/**
 * Swagger UI's files served from the `swagger-ui-dist` npm package, so that
 * `/docs` loads nothing from a CDN. `@hono/swagger-ui` renders the page; its
 * `baseUrl` option points it here.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { compress } from "hono/compress";
// The package's index loads Swagger UI's whole bundle into the heap (~12 MB in every process,
// measured): only the path helper is needed here.
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";

/** The `baseUrl` to give `swaggerUI()`: it appends `/swagger-ui-dist/<file>`. */
export const SWAGGER_ASSETS_BASE = "/docs/assets";

/** The files the page loads, with their content types. */
const FILES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
};

/**
 * Registers `GET /docs/assets/swagger-ui-dist/{file}` for Swagger UI's
 * stylesheet and bundle (read once, then kept in memory).
 *
 * @example
 * ```ts ignore
 * swaggerAssets(app);
 * app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: SWAGGER_ASSETS_BASE }));
 * ```
 */
export function swaggerAssets(app: OpenAPIHono): void {
  const cache = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
  // The bundle is 1.7 MB; gzipped, about a third.
  app.use(`${SWAGGER_ASSETS_BASE}/*`, compress());
  app.get(`${SWAGGER_ASSETS_BASE}/swagger-ui-dist/:file`, async (c) => {
    const file = c.req.param("file");
    const type = FILES[file];
    if (!type) return c.json({ error: "not found", detail: `no asset ${file}` }, 404);
    let body = cache.get(file);
    if (!body) {
      body = Deno.readFile(`${getAbsoluteFSPath()}/${file}`);
      cache.set(file, body);
      body.catch(() => cache.delete(file));
    }
    return c.body(await body, 200, {
      "Content-Type": type,
      "Cache-Control": "public, max-age=86400",
      "X-Content-Type-Options": "nosniff",
    });
  });
}

/** The Content Security Policy of `/docs` without its script hashes (see {@linkcode docsCsp}). */
const DOCS_CSP_BASE = [
  "default-src 'self'",
  "connect-src 'self'",
  // Swagger UI sets inline styles and shows its logo as a data: image.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
];

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(d)));
}

/**
 * The CSP of a Swagger UI page: scripts only from this server, plus the
 * page's own inline start-up script by its SHA-256 (so no `'unsafe-inline'`).
 */
export async function docsCsp(html: string): Promise<string> {
  const hashes: string[] = [];
  for (const m of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
    hashes.push(`'sha256-${await sha256(m[1])}'`);
  }
  return [...DOCS_CSP_BASE, `script-src 'self' ${hashes.join(" ")}`.trim()].join("; ");
}

/**
 * Middleware for `/docs`: adds the page's CSP ({@linkcode docsCsp}, computed
 * once: the page never changes) and `X-Content-Type-Options: nosniff`.
 */
export function docsHeaders(): MiddlewareHandler {
  let csp: Promise<string> | null = null;
  return async (c, next) => {
    await next();
    if (c.res.status !== 200) return;
    csp ??= c.res.clone().text().then(docsCsp);
    c.res.headers.set("Content-Security-Policy", await csp);
  };
}
