/**
 * What an analyst does with an incident (issue 13): acknowledge it, mark it
 * a true or a false positive (`POST /incidents/{id}/review`), and mute a
 * symbol for a while so its incidents send no webhook (`POST /mutes`,
 * `DELETE /mutes/{symbol}`). Writing needs the API key (SENTINEL_API_KEY as
 * a bearer token, like model administration); reading does not
 * (`GET /incidents/{id}/review`, `GET /mutes`). Reviews and mutes live in
 * KV, so every process sees them.
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { WebContext } from "../context.ts";
import { ErrorBody, SymbolParam } from "../schemas.ts";
import type { IncidentReview, Mute } from "../../store/kv.ts";
import { requireApiKey } from "./auth.ts";
import { BEARER_SCHEME } from "./models.ts";
import { errorJson } from "./errors.ts";

/** Longest mute, minutes (a day). */
export const MAX_MUTE_MINUTES = 1440;

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorBody } },
});
const adminErrors = {
  400: error("the body is not JSON"),
  401: error("missing or wrong bearer token"),
  403: error("SENTINEL_API_KEY is not configured"),
};

/** An incident's review. */
export const ReviewSchema = z.object({
  incident_id: z.string(),
  acknowledged: z.boolean(),
  verdict: z.enum(["true_positive", "false_positive"]).nullable(),
  note: z.string().nullable(),
  updated_at: z.string(),
}).meta({ id: "IncidentReview" });

const ReviewBody = z.object({
  acknowledged: z.boolean().optional(),
  verdict: z.enum(["true_positive", "false_positive", "none"]).optional().meta({
    description: "`none` clears the verdict",
  }),
  note: z.string().max(500, { message: "note must be at most 500 characters" }).optional(),
}).strict().meta({
  description: "fields to change; an empty body changes nothing and answers the review as it is",
});

/** A mute in force. */
export const MuteSchema = z.object({
  symbol: SymbolParam,
  until_ms: z.number().int(),
  created_at: z.string(),
}).meta({ id: "Mute" });

const MuteBody = z.object({
  symbol: SymbolParam,
  minutes: z.number({ error: "minutes must be an integer between 1 and 1440" }).int({
    message: "minutes must be an integer between 1 and 1440",
  }).min(1, { message: "minutes must be an integer between 1 and 1440" }).max(MAX_MUTE_MINUTES, {
    message: "minutes must be an integer between 1 and 1440",
  }),
}).strict();

const IdParam = z.object({
  id: z.string().max(200).meta({
    param: { name: "id", in: "path" },
    example: "BTC-USDT:1710000000123",
  }),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const getReview = createRoute({
  method: "get",
  path: "/incidents/{id}/review",
  summary: "An incident's review",
  tags: ["incidents"],
  request: { params: IdParam },
  responses: {
    200: json(ReviewSchema.nullable(), "the review, or null when nobody reviewed it"),
    404: error("no such incident"),
    422: error("a malformed id"),
  },
});

const postReview = createRoute({
  method: "post",
  path: "/incidents/{id}/review",
  summary: "Acknowledge an incident or mark it a true or false positive",
  tags: ["incidents"],
  security: [{ [BEARER_SCHEME]: [] }],
  request: {
    params: IdParam,
    body: { content: { "application/json": { schema: ReviewBody } }, required: true },
  },
  responses: {
    200: json(ReviewSchema, "the review as stored"),
    404: error("no such incident"),
    422: error("a bad field"),
    ...adminErrors,
  },
});

const listMutes = createRoute({
  method: "get",
  path: "/mutes",
  summary: "Symbols muted now",
  tags: ["incidents"],
  responses: { 200: json(z.object({ mutes: z.array(MuteSchema) }), "mutes in force") },
});

const postMute = createRoute({
  method: "post",
  path: "/mutes",
  summary: "Mute a symbol's incident webhooks for a while",
  description: "Incidents are still detected, stored and shown; their notifications are dropped " +
    "(counted as muted) until the mute ends.",
  tags: ["incidents"],
  security: [{ [BEARER_SCHEME]: [] }],
  request: { body: { content: { "application/json": { schema: MuteBody } }, required: true } },
  responses: { 200: json(MuteSchema, "the mute"), 422: error("a bad field"), ...adminErrors },
});

const deleteMute = createRoute({
  method: "delete",
  path: "/mutes/{symbol}",
  summary: "Lift a mute",
  tags: ["incidents"],
  security: [{ [BEARER_SCHEME]: [] }],
  request: {
    params: z.object({ symbol: SymbolParam.meta({ param: { name: "symbol", in: "path" } }) }),
  },
  responses: {
    200: json(
      z.object({ symbol: SymbolParam, muted: z.literal(false) }),
      "lifted (or was not muted)",
    ),
    422: error("a malformed symbol"),
    ...adminErrors,
  },
});

/** Registers the review and mute routes. */
export function reviewRoutes(app: OpenAPIHono, ctx: WebContext): void {
  const guard = requireApiKey(() => ctx.config.apiKey);

  app.openapi(getReview, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await ctx.store.incident(id))) {
      return errorJson(c, 404, "not found", `no incident ${id}`) as never;
    }
    return c.json(await ctx.store.review(id), 200);
  });

  app.on("POST", postReview.getRoutingPath(), guard);
  app.openapi(postReview, async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    if (!(await ctx.store.incident(id))) {
      return errorJson(c, 404, "not found", `no incident ${id}`) as never;
    }
    const old = await ctx.store.review(id);
    const review: IncidentReview = {
      incident_id: id,
      acknowledged: body.acknowledged ?? old?.acknowledged ?? false,
      verdict: body.verdict === undefined
        ? old?.verdict ?? null
        : body.verdict === "none"
        ? null
        : body.verdict,
      note: body.note ?? old?.note ?? null,
      updated_at: new Date(ctx.now()).toISOString(),
    };
    await ctx.store.setReview(review);
    return c.json(review, 200);
  });

  app.openapi(listMutes, async (c) => c.json({ mutes: await ctx.store.mutes(ctx.now()) }, 200));

  app.on("POST", postMute.getRoutingPath(), guard);
  app.openapi(postMute, async (c) => {
    const { symbol, minutes } = c.req.valid("json");
    const now = ctx.now();
    const mute: Mute = {
      symbol,
      until_ms: now + minutes * 60_000,
      created_at: new Date(now).toISOString(),
    };
    await ctx.store.mute(mute, now);
    return c.json(mute, 200);
  });

  app.on("DELETE", deleteMute.getRoutingPath(), guard);
  app.openapi(deleteMute, async (c) => {
    const { symbol } = c.req.valid("param");
    await ctx.store.unmute(symbol);
    return c.json({ symbol, muted: false as const }, 200);
  });
}
