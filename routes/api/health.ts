/**
 * `GET /health`: the seed's liveness answer. The server is up as soon as the
 * process starts; until a model is active it says `waiting_for_model`
 * (still 200: the process is healthy, it just cannot score yet).
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { WebContext } from "../context.ts";
import { HealthResponse } from "../schemas.ts";

const route = createRoute({
  method: "get",
  path: "/health",
  summary: "Liveness and model readiness",
  tags: ["seed"],
  responses: {
    200: {
      description: "the server is up",
      content: { "application/json": { schema: HealthResponse } },
    },
  },
});

/** Registers `GET /health`. */
export function healthRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openapi(route, (c) => {
    const model = ctx.models.current;
    const uptime_s = Math.round((ctx.now() - ctx.startedAt) / 100) / 10;
    return c.json(
      model
        ? { status: "ok" as const, model_loaded: true, model_id: model.id, uptime_s }
        : { status: "waiting_for_model" as const, model_loaded: false, uptime_s },
      200,
    );
  });
}
