/**
 * What a dashboard page's loader gets: the running system and the HTTP API
 * called in-process (`app.request`: no socket, the same handlers, schemas and
 * answers the browser gets), so a page shows exactly what the API says.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { VNode } from "preact";
import type { WebContext } from "../routes/context.ts";
import type { ApiResult } from "../islands/shared/api.ts";

/** Everything a page loader may use. */
export interface PageContext {
  ctx: WebContext;
  url: URL;
  /** GET a JSON endpoint of this server */
  json<T>(path: string): Promise<ApiResult<T>>;
  /** GET a text endpoint of this server (CSV, metrics) */
  text(path: string): Promise<ApiResult<string>>;
}

async function call(app: OpenAPIHono, path: string): Promise<Response> {
  return await app.request(path);
}

async function failure(res: Response): Promise<{ error: string; detail: string }> {
  try {
    const b = await res.json() as { error?: unknown; detail?: unknown };
    return { error: String(b.error ?? res.statusText), detail: String(b.detail ?? "") };
  } catch {
    return { error: res.statusText || `status ${res.status}`, detail: "" };
  }
}

/**
 * A {@linkcode PageContext} over `app` for one request.
 *
 * @example
 * ```ts ignore
 * const pc = pageContext(app, ctx, new URL(c.req.url));
 * const status = await pc.json<SystemStatus>("/system-status");
 * ```
 */
export function pageContext(app: OpenAPIHono, ctx: WebContext, url: URL): PageContext {
  return {
    ctx,
    url,
    async json<T>(path: string): Promise<ApiResult<T>> {
      const res = await call(app, path);
      if (!res.ok) return { ok: false, status: res.status, ...(await failure(res)) };
      return { ok: true, value: await res.json() as T };
    },
    async text(path: string): Promise<ApiResult<string>> {
      const res = await call(app, path);
      if (!res.ok) return { ok: false, status: res.status, ...(await failure(res)) };
      return { ok: true, value: await res.text() };
    },
  };
}

/**
 * One dashboard page: where it lives, the islands it loads, how it gets its
 * data, and how it renders. routes/dashboard.tsx serves every page the same way.
 *
 * @example
 * ```tsx ignore
 * export const page: DashboardPage<{ n: number }> = {
 *   path: "/x", title: "X", islands: [], load: async () => ({ n: 1 }), render: (d) => <p>{d.n}</p>,
 * };
 * ```
 */
export interface DashboardPage<D> {
  /** the page's public path */
  path: string;
  /**
   * where the page is registered when that differs from `path` (a path the
   * API also answers: routes/app.ts sends browsers there)
   */
  mountedAt?: string;
  /** the navigation entry to highlight (default: `path`) */
  nav?: string;
  title: string;
  /** island names (files in islands/) whose bundles the page loads */
  islands: string[];
  load(pc: PageContext): Promise<D>;
  render(data: D): VNode;
}
