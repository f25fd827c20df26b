/**
 * Incident webhooks, delivered at least once. The worker writes one outbox
 * entry per incident opened or closed and per receiver (ALERT_WEBHOOK_URL)
 * in the same KV atomic as the batch that opened or closed it
 * ({@linkcode outboxEntries}, pipeline/processor.ts), so a notification can
 * neither be lost by a crash between the commit and the send nor invented
 * for an incident that was never committed. A sender loop
 * ({@linkcode Notifier}) posts them in key order, deletes what a receiver
 * acknowledged with 2xx, retries the rest with exponential backoff and moves
 * an entry to the dead letters after ALERT_WEBHOOK_MAX_ATTEMPTS.
 *
 * Several senders (workers) may share one KV: an entry is leased with a
 * versionstamp check before it is sent, so two processes do not post the
 * same entry at once. A sender killed after the receiver answered but before
 * the delete sends that entry again after the lease: receivers deduplicate
 * by the `X-Sentinel-Delivery` header (at least once, not exactly once).
 *
 * @module
 */
import type { Incident, IncidentChange } from "../model/incidents.ts";
import type { OutboxEntry, Store } from "../store/kv.ts";
import type { Logger } from "./log.ts";

/** The body shapes a receiver can ask for (ALERT_WEBHOOK_FORMAT). */
export type WebhookFormat = "json" | "slack";

/**
 * The outbox entries of a batch's incident changes: one per incident opened
 * or closed (updates are not notified) and receiver. Ids sort as the events
 * happened (opened at the start, closed at the last alert, opened first on a
 * tie) and are deterministic, so a batch replayed after a crash rewrites the
 * same keys.
 *
 * @example
 * ```ts ignore
 * const entries = outboxEntries(result.incidents, 2, Date.now()); // two receivers
 * ```
 */
export function outboxEntries(
  changes: readonly IncidentChange[],
  receivers: number,
  nowMs: number,
): OutboxEntry[] {
  const out: OutboxEntry[] = [];
  if (receivers <= 0) return out;
  for (const c of changes) {
    if (c.kind === "updated") continue;
    const at = c.kind === "opened" ? c.incident.start_ms : c.incident.end_ms;
    const rank = c.kind === "opened" ? 1 : 2;
    for (let target = 0; target < receivers; target++) {
      out.push({
        id: `${String(at).padStart(15, "0")}.${rank}|${c.incident.id}|${c.kind}|${target}`,
        kind: c.kind,
        incident: c.incident,
        target,
        created_ms: nowMs,
        attempts: 0,
        next_ms: 0,
        last_error: null,
      });
    }
  }
  return out;
}

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)} %`;
const utc = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";

/** One sentence about an incident change, for chat receivers. */
export function incidentSummary(kind: "opened" | "closed", i: Incident): string {
  const move = i.ref_price > 0
    ? ` (${pct(i.peak_price / i.ref_price - 1)} from ${i.ref_price})`
    : "";
  const drivers = Object.entries(i.drivers).sort((a, b) => b[1] - a[1]).map(([k]) => k).join(", ");
  const head = `Incident ${kind}: ${i.symbol} ${i.type.replace(/_/g, " ")}`;
  const body = `peak ${i.peak_price}${move}, severity ${i.peak_severity.toFixed(2)}, ` +
    `${i.alerts} alert(s)${drivers ? ` driven by ${drivers}` : ""}`;
  const when = kind === "opened"
    ? `started ${utc(i.start_ms)}`
    : `${utc(i.start_ms)} to ${utc(i.end_ms)} (${((i.end_ms - i.start_ms) / 1000).toFixed(1)} s)`;
  return `${head}; ${body}; ${when}`;
}

/**
 * The request body for `entry` in `format`: Sentinel's event
 * (`{event, delivery_id, incident}`), or Slack's incoming-webhook message
 * (`{text, blocks}`, https://api.slack.com/messaging/webhooks).
 *
 * @example
 * ```ts ignore
 * JSON.parse(webhookBody(entry, "json")).event; // "incident.opened"
 * ```
 */
export function webhookBody(entry: OutboxEntry, format: WebhookFormat): string {
  const i = entry.incident;
  if (format === "slack") {
    const text = incidentSummary(entry.kind, i);
    return JSON.stringify({
      text,
      blocks: [
        {
          type: "section",
          text: {
            type: "mrkdwn",
            text: `*${entry.kind === "opened" ? ":rotating_light:" : ":white_check_mark:"} ${
              text.split("; ")[0]
            }*\n${text.split("; ").slice(1).join("\n")}`,
          },
        },
        {
          type: "context",
          elements: [{ type: "mrkdwn", text: `incident \`${i.id}\` · model \`${i.model_id}\`` }],
        },
      ],
    });
  }
  return JSON.stringify({ event: `incident.${entry.kind}`, delivery_id: entry.id, incident: i });
}

/**
 * The `X-Sentinel-Signature` value of `body`: `sha256=` and the hex
 * HMAC-SHA256 of the exact bytes sent, keyed with ALERT_WEBHOOK_SECRET.
 *
 * @example
 * ```ts ignore
 * await signature("a-long-shared-secret", "{}"); // "sha256=…64 hex digits…"
 * ```
 */
export async function signature(secret: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(body)));
  return `sha256=${Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * The wait before attempt `attempts + 1`: `baseMs` doubling per failed
 * attempt, at most `maxMs`.
 *
 * @example
 * ```ts
 * import { backoffMs } from "./notifier.ts";
 * console.log(backoffMs(1, 1000, 300_000), backoffMs(4, 1000, 300_000), backoffMs(30, 1000, 300_000)); // 1000 8000 300000
 * ```
 */
export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

/** Options of a {@linkcode Notifier}. */
export interface NotifierOptions {
  store: Store;
  /** ALERT_WEBHOOK_URL, in order: entries name receivers by index */
  urls: readonly string[];
  secret: string | null;
  format: WebhookFormat;
  maxAttempts: number;
  logger: Logger;
  /** how often the outbox is read, ms (default 250) */
  pollMs?: number;
  /** first retry delay, ms (default 1000) */
  baseBackoffMs?: number;
  /** longest retry delay, ms (default 300 000) */
  maxBackoffMs?: number;
  /** a receiver's time to answer, ms (default 10 000) */
  timeoutMs?: number;
  now?: () => number;
}

/** Sends the outbox's notifications until stopped. */
export class Notifier {
  readonly #o: Required<Omit<NotifierOptions, "secret">> & { secret: string | null };
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(o: NotifierOptions) {
    this.#o = {
      pollMs: 250,
      baseBackoffMs: 1000,
      maxBackoffMs: 300_000,
      timeoutMs: 10_000,
      now: Date.now,
      ...o,
    };
  }

  /** Starts the loop (a pass every `pollMs`). */
  start(): void {
    const loop = async () => {
      if (this.#stopped) return;
      this.#running = this.tick().then(() => {}, (e) => {
        this.#o.logger.warn(`webhook outbox: ${e instanceof Error ? e.message : e}`);
      });
      await this.#running;
      if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.pollMs);
    };
    this.#timer = setTimeout(loop, 0);
  }

  /** Stops the loop after the pass in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#running;
  }

  /**
   * One pass over the due entries, in key order: returns how many were
   * delivered. Each receiver gets its entries in order: after one fails or
   * waits for its retry, the receiver's later entries wait behind it.
   */
  async tick(): Promise<number> {
    const { store, now } = this.#o;
    const down = new Set<number>();
    let delivered = 0;
    const muted = new Set((await store.mutes(Date.now())).map((m) => m.symbol));
    for (const { entry, versionstamp } of await store.outboxEntries(200)) {
      if (this.#stopped) break;
      if (down.has(entry.target)) continue;
      if (entry.next_ms > now()) {
        // Waiting (backoff or another sender's lease): the receiver's later entries wait behind it.
        down.add(entry.target);
        continue;
      }
      if (muted.has(entry.incident.symbol)) {
        // An analyst muted the symbol: its notifications are dropped (counted), not queued.
        await store.outboxDelivered(entry, true);
        continue;
      }
      const url = this.#o.urls[entry.target];
      if (url === undefined) {
        // The receiver was removed from ALERT_WEBHOOK_URL since: nobody to deliver to.
        await store.outboxDeadLetter({ ...entry, last_error: "receiver no longer configured" });
        continue;
      }
      // Lease: other senders skip it until the lease runs out.
      const lease = { ...entry, next_ms: now() + this.#o.timeoutMs + 5000 };
      const leased = await store.outboxUpdate(lease, versionstamp);
      if (leased === null) continue;
      const error = await this.#send(url, entry);
      if (error === null) {
        await store.outboxDelivered(entry);
        delivered++;
        continue;
      }
      down.add(entry.target);
      const attempts = entry.attempts + 1;
      const failed = { ...entry, attempts, last_error: error };
      if (attempts >= this.#o.maxAttempts) {
        await store.outboxDeadLetter(failed);
        this.#o.logger.warn(
          `webhook ${entry.kind} of incident ${entry.incident.id} to receiver ${
            entry.target + 1
          } dead-lettered after ${attempts} attempts: ${error}`,
        );
      } else {
        const wait = backoffMs(attempts, this.#o.baseBackoffMs, this.#o.maxBackoffMs);
        await store.outboxUpdate({ ...failed, next_ms: now() + wait }, leased, true);
      }
    }
    return delivered;
  }

  /** Posts one entry; null on a 2xx answer, else why not (never the URL: it may hold a token). */
  async #send(url: string, entry: OutboxEntry): Promise<string | null> {
    const body = webhookBody(entry, this.#o.format);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "Sentinel-Webhook/1",
      "x-sentinel-event": `incident.${entry.kind}`,
      "x-sentinel-delivery": entry.id,
    };
    if (this.#o.secret) headers["x-sentinel-signature"] = await signature(this.#o.secret, body);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      await res.body?.cancel();
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (e) {
      const name = e instanceof Error ? e.name : "Error";
      return name === "TimeoutError"
        ? `no answer within ${this.#o.timeoutMs} ms`
        : `${name}: ${e instanceof Error ? e.message.replace(url, "<url>") : e}`;
    }
  }
}
