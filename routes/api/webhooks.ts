/**
 * `GET /api/v1/webhooks`: how incident webhook delivery stands, for System
 * Status: the outbox's counts (queued, retrying, delivered, dead-lettered,
 * failed attempts) and the dead-lettered notifications with the reason each
 * was given up on. Read from KV (store/kv.ts `outboxStats`,
 * `outboxDeadLetters`), so any process shows what the workers' senders did.
 * Receivers are named by their place in ALERT_WEBHOOK_URL, never by URL (a
 * webhook URL often holds a token).
 *
 * @module
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { OutboxEntry } from "../../store/kv.ts";
import type { WebContext } from "../context.ts";
import { V1 } from "../../islands/shared/paths.ts";

/** Dead letters listed, newest first (they are kept for RETENTION). */
export const DEAD_LETTERS_SHOWN = 50;
/** Dead letters read to find the newest (KV lists them oldest first). */
const DEAD_LETTERS_READ = 1000;

/** One dead-lettered notification. */
export const DeadLetter = z.object({
  id: z.string().meta({ description: "the delivery id (`X-Sentinel-Delivery`)" }),
  kind: z.enum(["opened", "closed"]),
  incident_id: z.string(),
  symbol: z.string(),
  type: z.string().meta({ description: "the incident's type" }),
  receiver: z.number().int().meta({
    description: "1-based place of the receiver in ALERT_WEBHOOK_URL",
  }),
  attempts: z.number().int(),
  reason: z.string().meta({ description: "the last failure (an HTTP status, a timeout, …)" }),
  created_at: z.string().meta({ description: "when the notification was queued (ISO-8601)" }),
}).meta({ id: "DeadLetter" });

/** `GET /api/v1/webhooks`. */
export const WebhookStatus = z.object({
  receivers: z.number().int().meta({ description: "URLs in ALERT_WEBHOOK_URL (0: webhooks off)" }),
  format: z.enum(["json", "slack"]),
  max_attempts: z.number().int(),
  stats: z.object({
    queued: z.number().int().meta({ description: "waiting in the outbox, retries included" }),
    retrying: z.number().int().meta({ description: "queued ones that failed at least once" }),
    delivered: z.number().int(),
    dead_lettered: z.number().int(),
    failed_attempts: z.number().int(),
    oldest_queued_at: z.string().nullable(),
  }).nullable().meta({ description: "null when the outbox could not be read" }),
  dead_letters: z.array(DeadLetter).meta({
    description: `the newest ${DEAD_LETTERS_SHOWN} dead-lettered notifications, newest first`,
  }),
}).meta({ id: "WebhookStatus" });
/** `GET /api/v1/webhooks`. */
export type WebhookStatus = z.infer<typeof WebhookStatus>;

const iso = (ms: number) => {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
};

/** A stored dead letter as the API shows it. */
export function deadLetter(e: OutboxEntry): z.infer<typeof DeadLetter> {
  return {
    id: e.id,
    kind: e.kind,
    incident_id: e.incident.id,
    symbol: e.incident.symbol,
    type: e.incident.type,
    receiver: e.target + 1,
    attempts: e.attempts,
    reason: e.last_error ?? "unknown",
    created_at: iso(e.created_ms),
  };
}

const route = createRoute({
  method: "get",
  path: V1.webhooks,
  summary: "Incident webhook delivery: counts and dead letters",
  description:
    "The outbox of incident notifications (ALERT_WEBHOOK_URL): queued, retrying, delivered and " +
    "dead-lettered counts, and the newest dead-lettered notifications with their reason.",
  tags: ["v1"],
  responses: {
    200: {
      description: "delivery status",
      content: { "application/json": { schema: WebhookStatus } },
    },
  },
});

/** Registers `GET /api/v1/webhooks`. */
export function webhookRoutes(app: OpenAPIHono, ctx: WebContext): void {
  app.openapi(route, async (c) => {
    const cfg = ctx.config;
    const [st, dead] = await Promise.all([
      ctx.store.outboxStats().catch(() => null),
      ctx.store.outboxDeadLetters(DEAD_LETTERS_READ).catch(() => []),
    ]);
    return c.json({
      receivers: cfg.alertWebhookUrls.length,
      format: cfg.alertWebhookFormat,
      max_attempts: cfg.alertWebhookMaxAttempts,
      stats: st
        ? {
          queued: st.pending,
          retrying: st.retrying,
          delivered: st.delivered,
          dead_lettered: st.dead,
          failed_attempts: st.failed_attempts,
          oldest_queued_at: st.oldest_ms === null ? null : iso(st.oldest_ms),
        }
        : null,
      dead_letters: dead.slice(-DEAD_LETTERS_SHOWN).reverse().map(deadLetter),
    }, 200);
  });
}
