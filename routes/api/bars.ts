/**
 * `GET /api/v1/bars`: a symbol's market history as bars from the long tier
 * (store/bars.ts): per second, or rolled up per minute, over any range
 * within RETENTION, including ranges whose raw predictions are past
 * RETENTION_RAW (docs/decisions.md, "Retention tiers").
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { API_V1 } from "../../islands/shared/paths.ts";
import { rollUp } from "../../store/bars.ts";
import type { WebContext } from "../context.ts";
import { SecondBarSchema } from "./incidents.ts";
import { ErrorBody, SymbolParam, timeParam } from "../schemas.ts";

/** Most bars one request returns. */
export const MAX_BARS = 10_000;

const BarsQuery = z.object({
  symbol: SymbolParam,
  from: timeParam("from"),
  to: timeParam("to"),
  bar: z.enum(["1s", "1m"], { error: "bar must be 1s or 1m" }).default("1m"),
  limit: z.coerce.number({ error: `limit must be an integer between 1 and ${MAX_BARS}` })
    .int({ message: `limit must be an integer between 1 and ${MAX_BARS}` })
    .min(1, { message: `limit must be an integer between 1 and ${MAX_BARS}` })
    .max(MAX_BARS, { message: `limit must be an integer between 1 and ${MAX_BARS}` })
    .default(1440),
});

const BarsResponse = z.object({
  symbol: SymbolParam,
  bar: z.enum(["1s", "1m"]),
  count: z.number().int(),
  bars: z.array(SecondBarSchema).meta({ description: "oldest first; `t` is the bar's start" }),
}).meta({ id: "Bars" });

const route = createRoute({
  method: "get",
  path: `${API_V1}/bars`,
  summary: "A symbol's price, volume and alerts as 1 s or 1 min bars (long tier)",
  description:
    "Open, high, low, close, volume, trades, alerts and the highest severity per bar, kept for " +
    "RETENTION (raw predictions only for RETENTION_RAW). Default range: the last 24 hours.",
  tags: ["v1"],
  request: { query: BarsQuery },
  responses: {
    200: { description: "bars", content: { "application/json": { schema: BarsResponse } } },
    422: { description: "a bad query", content: { "application/json": { schema: ErrorBody } } },
  },
});

/** Registers `GET /api/v1/bars`. */
export function barRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const to = q.to ?? ctx.now();
    const from = q.from ?? to - 86_400_000;
    // Enough seconds for `limit` bars of the asked size (a minute holds at most 60).
    const seconds = await ctx.store.bars(
      q.symbol,
      from,
      to,
      q.bar === "1s" ? q.limit : q.limit * 60,
    );
    const bars = (q.bar === "1m" ? rollUp(seconds, 60) : seconds).slice(0, q.limit);
    return c.json({ symbol: q.symbol, bar: q.bar, count: bars.length, bars }, 200);
  });
}
