/**
 * Incidents (detection v2, DESIGN.md section 16): `GET /incidents` lists
 * them (newest first, filtered by symbol, type, status and time, paged by an
 * opaque cursor) and `GET /incidents/{id}` returns one with the symbol's
 * scored trades from a minute before it to a minute after, so an analyst
 * sees what happened around the alert, not only the alert.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { INCIDENT_TYPES } from "../../model/incidents.ts";
import type { WebContext } from "../context.ts";
import { errorJson } from "./errors.ts";
import { ReviewSchema } from "./reviews.ts";
import { ErrorBody, Prediction, SymbolParam, timeParam as time } from "../schemas.ts";

/** Trades shown around an incident, before its start and after its end. */
export const CONTEXT_MS = 60_000;
/** Most trades `GET /incidents/{id}` returns. */
export const MAX_TRADES = 5000;

/** One second of a symbol's trades (store/bars.ts `SecondBar`). */
export const SecondBarSchema = z.object({
  t: z.number().int().meta({ description: "the second's start, epoch ms" }),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  volume: z.number(),
  trades: z.number().int(),
  anomalies: z.number().int().meta({ description: "trades the model flagged" }),
  max_severity: z.number(),
}).meta({ id: "SecondBar" });

/** An incident (model/incidents.ts `Incident`). */
export const IncidentSchema = z.object({
  id: z.string().meta({ example: "BTC-USDT:1710000000123" }),
  symbol: SymbolParam,
  status: z.enum(["open", "closed"]),
  type: z.enum(INCIDENT_TYPES),
  start_ms: z.number().int(),
  end_ms: z.number().int().meta({ description: "time of the last alert" }),
  peak_ms: z.number().int(),
  peak_severity: z.number().meta({
    description: "calibrated severity in [0, 1]; 0.5 is the alert line",
  }),
  drivers: z.record(z.string(), z.number().int()).meta({
    description: "alerts per driving channel",
  }),
  alerts: z.number().int(),
  trades: z.number().int(),
  ref_price: z.number().meta({ description: "last price before the first alert" }),
  peak_price: z.number(),
  last_price: z.number(),
  min_price: z.number(),
  max_price: z.number(),
  model_id: z.string(),
}).meta({ id: "Incident" });

const ListQuery = z.object({
  symbol: SymbolParam.optional(),
  type: z.enum(INCIDENT_TYPES).optional(),
  status: z.enum(["open", "closed"]).optional(),
  from: time("from"),
  to: time("to"),
  limit: z.coerce.number({ error: "limit must be an integer between 1 and 500" }).int({
    message: "limit must be an integer between 1 and 500",
  }).min(1, { message: "limit must be an integer between 1 and 500" }).max(500, {
    message: "limit must be an integer between 1 and 500",
  }).default(50),
  cursor: z.string().max(200).regex(/^\d{1,16}~[A-Za-z0-9:-]{1,150}$/, {
    message: "cursor is the next_cursor of a previous page",
  })
    .optional(),
});

const ListResponse = z.object({
  count: z.number().int(),
  incidents: z.array(IncidentSchema),
  next_cursor: z.string().nullable().meta({
    description: "pass as `cursor` for the next (older) page",
  }),
  reviews: z.record(z.string(), ReviewSchema).meta({
    description: "the analysts' reviews of the listed incidents that have one, by incident id",
  }),
}).meta({ id: "Incidents" });

const OneResponse = z.object({
  incident: IncidentSchema,
  context_ms: z.number().int(),
  trades: z.array(Prediction).meta({
    description:
      "the symbol's scored trades from context_ms before the start to context_ms after the end (raw tier: empty once older than RETENTION_RAW)",
  }),
  bars: z.array(SecondBarSchema).meta({
    description:
      "the same span as per-second bars (long tier: kept for RETENTION, after the trades are gone)",
  }),
}).meta({ id: "IncidentDetail" });

const listRoute = createRoute({
  method: "get",
  path: "/incidents",
  summary: "Incidents, newest first",
  description:
    "One market event makes one incident: consecutive alerts of a symbol within INCIDENT_GAP_SECONDS, " +
    "typed by the shape of the move (a would-be level shift stays open up to INCIDENT_SETTLE_SECONDS " +
    "while the price may still revert). Filter by symbol, type, status and start time; page with `cursor`.",
  tags: ["incidents"],
  request: { query: ListQuery },
  responses: {
    200: { description: "incidents", content: { "application/json": { schema: ListResponse } } },
    422: { description: "a bad filter", content: { "application/json": { schema: ErrorBody } } },
  },
});

const oneRoute = createRoute({
  method: "get",
  path: "/incidents/{id}",
  summary: "One incident with the trades around it",
  tags: ["incidents"],
  request: {
    params: z.object({
      id: z.string().max(200).meta({
        param: { name: "id", in: "path" },
        example: "BTC-USDT:1710000000123",
      }),
    }),
  },
  responses: {
    200: { description: "the incident", content: { "application/json": { schema: OneResponse } } },
    404: {
      description: "no such incident",
      content: { "application/json": { schema: ErrorBody } },
    },
    422: {
      description: "a malformed id",
      content: { "application/json": { schema: ErrorBody } },
    },
  },
});

/** Registers `GET /incidents` and `GET /incidents/{id}`. */
export function incidentRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid("query");
    let before = null;
    if (q.cursor) {
      const [ms, ...rest] = q.cursor.split("~");
      before = { startMs: Number(ms), id: rest.join("~") };
    }
    const { incidents, next } = await ctx.store.incidents({
      symbol: q.symbol,
      type: q.type,
      status: q.status,
      fromMs: q.from,
      toMs: q.to,
      limit: q.limit,
      before,
    });
    return c.json({
      count: incidents.length,
      incidents,
      next_cursor: next ? `${next.startMs}~${next.id}` : null,
      reviews: await ctx.store.reviewsOf(incidents.map((i) => i.id)),
    }, 200);
  });

  app.openapi(oneRoute, async (c) => {
    const { id } = c.req.valid("param");
    const incident = await ctx.store.incident(id);
    if (!incident) return errorJson(c, 404, "not found", `no incident ${id}`) as never;
    const trades = await ctx.store.symbolPredictionsBetween(
      incident.symbol,
      incident.start_ms - CONTEXT_MS,
      incident.end_ms + CONTEXT_MS,
      MAX_TRADES,
    );
    const bars = await ctx.store.bars(
      incident.symbol,
      incident.start_ms - CONTEXT_MS,
      incident.end_ms + CONTEXT_MS,
      MAX_TRADES,
    );
    return c.json({ incident, context_ms: CONTEXT_MS, trades, bars }, 200);
  });
}
