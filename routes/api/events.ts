/**
 * `GET /events`: Server-Sent Events of committed predictions.
 *
 * - `event: prediction` for every prediction (data: the Prediction JSON,
 *   `id:` its cursor, see `predictionCursors` in store/kv.ts); an anomaly is
 *   followed, in the same write, by `event: alert` with the same data and the
 *   same id, so resuming from that id skips both and never replays one
 *   without the other.
 * - `event: incident` (data: `{kind, incident}`, kind opened | updated |
 *   closed) when an incident changes; live only, no id.
 * - `?symbol=` keeps one market; `: heartbeat` comments keep proxies and
 *   clients from timing out an idle stream.
 * - Resumption: with `Last-Event-ID` (or `?lastEventId=`) the stream first
 *   replays what KV holds after that cursor, then continues live with no gap
 *   and no duplicate: it subscribes to the hub *before* reading KV, buffers
 *   live predictions while replaying, and drains the buffer afterwards,
 *   skipping ids the replay already sent.
 * - A slow client never slows the pipeline: the hub hands batches over
 *   synchronously, the stream queues them, and a client more than
 *   `maxQueuedBytes` behind (or more than `maxPending` predictions behind
 *   during a replay) is disconnected and counted in
 *   `sentinel_sse_dropped_clients_total`; its EventSource reconnects and
 *   resumes from its last id.
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Prediction } from "../../lib/contracts.ts";
import { parseCursor } from "../../store/kv.ts";
import { API_SOURCE, type WebContext } from "../context.ts";
import { ErrorBody, EventsHeaders, EventsQuery } from "../schemas.ts";
import type { ApiMetrics } from "./metrics.ts";

/** Knobs of the SSE endpoint; {@linkcode SSE_DEFAULTS} spells out the defaults. */
export interface SseOptions {
  /** ms between heartbeat comments */
  heartbeatMs: number;
  /** bytes a client may lag behind (queued in the response) before it is dropped */
  maxQueuedBytes: number;
  /** live predictions buffered while a resumption replays before the client is dropped */
  maxPending: number;
  /** the reconnection delay suggested to EventSource (`retry:`), ms */
  retryMs: number;
  /** aborting closes every open stream (server shutdown) */
  signal?: AbortSignal;
}

/** The defaults: a heartbeat every 15 s, 1 MiB or 10 000 predictions of lag, retry after 2 s. */
export const SSE_DEFAULTS: SseOptions = {
  heartbeatMs: 15_000,
  maxQueuedBytes: 1 << 20,
  maxPending: 10_000,
  retryMs: 2000,
};

// Bytes the response may hold before the replay waits for the client.
const HIGH_WATER = 64 * 1024;
// Replayed events are written in chunks of about this many characters.
const REPLAY_CHUNK = 16 * 1024;
// How long after the newest replayed page a page's publish may still arrive:
// the embedded worker publishes right after its commit, but a web-only
// process's KV tail publishes pages committed out of key order (a worker
// re-processing a killed worker's backlog) up to its deep look-back later,
// 5 minutes of event time (pipeline/tail.ts). Twice that, to be safe.
const LATE_PUBLISH_MS = 600_000;

/**
 * The text of one prediction's events: `prediction`, then `alert` when it is
 * an anomaly of the stream (a manual test from `POST /predict` is never an
 * alert), both with `id`.
 *
 * @example
 * ```ts ignore
 * sseFrames("1710000000000~embedded.0.0.0~3", prediction);
 * // "event: prediction\nid: 1710000000000~embedded.0.0.0~3\ndata: {...}\n\n"
 * ```
 */
export function sseFrames(id: string, p: Prediction): string {
  const data = JSON.stringify(p);
  const one = `id: ${id}\ndata: ${data}\n\n`;
  const alert = p.is_anomaly && p.source !== API_SOURCE;
  return `event: prediction\n${one}` + (alert ? `event: alert\n${one}` : "");
}

/** A set that forgets its oldest entries beyond `capacity`. */
/**
 * What a resumption replayed, by page: a page's cursor prefix
 * (`firstTs~pageId`) → one past the highest index sent. A live batch's
 * prediction is a repeat when its page's entry covers its index: a page
 * committed before the replay read it and published after (by the embedded
 * worker a moment later, by a web-only process's KV tail up to minutes
 * later) is not sent twice, and a page that grew since (an open page) sends
 * only its new predictions. Pages more than {@linkcode LATE_PUBLISH_MS} of
 * event time older than the newest replayed one are forgotten: nothing
 * publishes them any more. (It replaced a set of the last 8 192 replayed ids,
 * which a late tail publish outran: tests/kv_connect_test.ts saw a prediction
 * twice on one connection.)
 */
class ReplayedPages {
  readonly #upTo = new Map<string, { firstTs: number; next: number }>();
  #newest = -Infinity;
  #added = 0;

  add(id: string): void {
    const c = parseCursor(id);
    if (!c) return;
    const key = `${c.firstTs}~${c.pageId}`;
    const e = this.#upTo.get(key);
    if (!e) this.#upTo.set(key, { firstTs: c.firstTs, next: c.index + 1 });
    else if (c.index + 1 > e.next) e.next = c.index + 1;
    if (c.firstTs > this.#newest) this.#newest = c.firstTs;
    if (++this.#added % 4096 === 0) this.#prune();
  }

  has(id: string): boolean {
    if (this.#upTo.size === 0) return false;
    const c = parseCursor(id);
    if (!c) return false;
    const e = this.#upTo.get(`${c.firstTs}~${c.pageId}`);
    return e !== undefined && c.index < e.next;
  }

  #prune(): void {
    const before = this.#newest - LATE_PUBLISH_MS;
    for (const [key, e] of this.#upTo) if (e.firstTs < before) this.#upTo.delete(key);
  }
}

/**
 * One client's event stream (see the module doc for the protocol). `cursor`
 * null: live only.
 */
export function eventStream(
  ctx: WebContext,
  api: ApiMetrics,
  o: SseOptions,
  req: { symbol?: string; cursor: string | null },
): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let replaying = req.cursor !== null;
  const pending: { id: string; p: Prediction }[] = [];
  const pendingIds = new Set<string>();
  const replayedPending = new Set<string>();
  const recent = new ReplayedPages();
  let wake: (() => void) | null = null;
  let unsubscribe = () => {};
  let heartbeat: ReturnType<typeof setInterval> | undefined;

  const cleanup = (): boolean => {
    if (closed) return false;
    closed = true;
    unsubscribe();
    clearInterval(heartbeat);
    o.signal?.removeEventListener("abort", finish);
    api.sseClients--;
    wake?.();
    return true;
  };
  const drop = (reason: string) => {
    if (!cleanup()) return;
    api.sseDropped.inc({ reason });
    // error(), not close(): the queued backlog is discarded rather than delivered.
    ctrl.error(new Error(`SSE client dropped: ${reason}`));
  };
  function finish() {
    if (cleanup()) ctrl.close();
  }
  const write = (text: string) => {
    if (closed) return;
    ctrl.enqueue(enc.encode(text));
    if ((ctrl.desiredSize ?? 0) < -o.maxQueuedBytes) drop("slow_client");
  };
  const room = (): Promise<void> =>
    closed || (ctrl.desiredSize ?? 1) > 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => wake = resolve);
  const frames = (id: string, p: Prediction) => {
    api.sseSent.inc({ event: "prediction" });
    if (p.is_anomaly && p.source !== API_SOURCE) api.sseSent.inc({ event: "alert" });
    return sseFrames(id, p);
  };

  async function replay(cursor: string) {
    try {
      // The all-symbol pages: their cursors are the ids live events carry.
      let text = "";
      for await (const { id, prediction } of ctx.store.predictionsAfter(cursor)) {
        if (closed) return;
        if (req.symbol && prediction.symbol !== req.symbol) continue;
        if (pendingIds.has(id)) replayedPending.add(id);
        recent.add(id);
        text += frames(id, prediction);
        if (text.length >= REPLAY_CHUNK) {
          write(text);
          text = "";
          await room();
        }
      }
      if (text) write(text);
      // Live batches that arrived meanwhile, minus what the replay already sent. New ones keep
      // queueing behind them until the buffer is empty, so the order holds.
      while (!closed && pending.length) {
        let chunk = "";
        for (const { id, p } of pending.splice(0, 256)) {
          pendingIds.delete(id);
          if (!replayedPending.has(id)) chunk += frames(id, p);
        }
        if (chunk) write(chunk);
        await room();
      }
      replaying = false;
      replayedPending.clear();
    } catch {
      drop("replay_failed");
    }
  }

  return new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      api.sseClients++;
      // Subscribe before anything is read from KV: nothing committed from now on can be missed.
      unsubscribe = ctx.hub.subscribe((batch) => {
        if (closed) return;
        let text = "";
        for (let i = 0; i < batch.predictions.length; i++) {
          const p = batch.predictions[i];
          if (req.symbol && p.symbol !== req.symbol) continue;
          const id = batch.ids[i];
          if (recent.has(id)) continue;
          if (replaying) {
            pending.push({ id, p });
            pendingIds.add(id);
            if (pending.length > o.maxPending) return drop("replay_overflow");
          } else text += frames(id, p);
        }
        // Incidents are live-only (no cursor): they go out as they happen, even during a replay.
        for (const ch of batch.incidents ?? []) {
          if (req.symbol && ch.incident.symbol !== req.symbol) continue;
          api.sseSent.inc({ event: "incident" });
          text += `event: incident\ndata: ${
            JSON.stringify({ kind: ch.kind, incident: ch.incident })
          }\n\n`;
        }
        if (text) write(text);
      });
      heartbeat = setInterval(
        () => write(`: heartbeat ${new Date(ctx.now()).toISOString()}\n\n`),
        o.heartbeatMs,
      );
      if (o.signal?.aborted) return finish();
      o.signal?.addEventListener("abort", finish, { once: true });
      write(`retry: ${o.retryMs}\n: connected\n\n`);
      if (req.cursor !== null) replay(req.cursor);
    },
    pull() {
      const w = wake;
      wake = null;
      w?.();
    },
    cancel() {
      cleanup();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: HIGH_WATER }));
}

const route = createRoute({
  method: "get",
  path: "/events",
  summary: "Live predictions and alerts (Server-Sent Events)",
  description:
    "`event: prediction` for every committed prediction (data: Prediction JSON, `id`: its " +
    "cursor); `event: alert` right after each anomaly's prediction, same data and id (not for " +
    '`POST /predict` manual tests, `source: "api"`); ' +
    "`event: incident` when an incident opens, grows or closes (data: `{kind, incident}`, no id: live only). " +
    "`: heartbeat` comments every 15 s. Send `Last-Event-ID` (EventSource does on reconnect) " +
    "or `?lastEventId=` to replay from KV what was committed after that id, then continue live " +
    "without gaps or duplicates. A client too far behind is disconnected.",
  tags: ["live"],
  request: { query: EventsQuery, headers: EventsHeaders },
  responses: {
    200: {
      description: "an event stream",
      content: { "text/event-stream": { schema: { type: "string" } } },
    },
    422: {
      description: "a malformed symbol or event id",
      content: { "application/json": { schema: ErrorBody } },
    },
  },
});

/** Registers `GET /events`. */
export function eventRoutes(
  app: OpenAPIHono,
  ctx: WebContext,
  api: ApiMetrics,
  opts: SseOptions,
): void {
  app.openapi(route, (c) => {
    const q = c.req.valid("query");
    const h = c.req.valid("header");
    // The header wins: EventSource sends it on reconnect, newer than the URL's.
    const cursor = h["last-event-id"] || q.lastEventId || null;
    if (cursor !== null && parseCursor(cursor) === null) {
      return c.json({
        error: "validation failed",
        detail: [{ field: "Last-Event-ID", message: "not an event id of this server" }],
      }, 422);
    }
    const body = eventStream(ctx, api, opts, { symbol: q.symbol, cursor });
    return c.body(body, 200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-cache, no-transform",
      "X-Accel-Buffering": "no",
    });
  });
}
