/**
 * Every Deno KV key Sentinel uses (DESIGN.md section 7). Nothing else in the
 * code base builds a KV key; store/kv.ts and store/history.ts read and write
 * them.
 *
 * @module
 */

/** The keys, in one place. */
export const keys = {
  /** A symbol's feature-window state, written with the offsets it covers. */
  state: (symbol: string) => ["state", symbol] as const,
  /** Next offset to read of a stream's partition (Kafka topic, or an embedded source). */
  offset: (stream: string, partition: number) => ["offsets", stream, partition] as const,
  /** A page of feature rows (all rows of a batch, warm-up included), for training. */
  rows: (firstTs: number, pageId: string) => ["rows", firstTs, pageId] as const,
  rowsPrefix: ["rows"] as const,
  /** A page of predictions (all symbols). */
  pred: (firstTs: number, pageId: string) => ["pred", firstTs, pageId] as const,
  predPrefix: ["pred"] as const,
  /**
   * A page of one symbol's predictions: written before predictions were
   * stored once (a copy of the `pred` pages, which readers filter by symbol
   * now); no longer written or read, left to expire.
   */
  predSym: (symbol: string, firstTs: number, pageId: string) =>
    ["pred_sym", symbol, firstTs, pageId] as const,
  predSymPrefix: (symbol: string) => ["pred_sym", symbol] as const,
  /** The active bundle's id and chunk count: one atomic set activates a model. */
  modelActive: ["model", "active"] as const,
  modelChunk: (id: string, i: number) => ["model", id, "chunk", i] as const,
  /** Listing of every stored bundle (metadata only). */
  modelIndex: (id: string) => ["models", id] as const,
  modelIndexPrefix: ["models"] as const,
  /** `Deno.KvU64` counters. */
  count: (...parts: string[]) => ["count", ...parts] as const,
  countPrefix: ["count"] as const,
  /** A source's own resumable state (e.g. the simulator's generator). */
  source: (name: string) => ["source", name] as const,
  /** Liveness of a role instance, with `expireIn`. */
  heartbeat: (role: string, instance: string) => ["heartbeat", role, instance] as const,
  heartbeatPrefix: ["heartbeat"] as const,
  /** Requests between processes, e.g. a retrain asked for by the API. */
  control: (name: string) => ["control", name] as const,
  /** An incident (open or closed), by start time; its id is `SYMBOL:start_ms`. */
  incident: (startMs: number, id: string) => ["incident", startMs, id] as const,
  incidentPrefix: ["incident"] as const,
  /** An incident notification waiting for delivery to one webhook receiver (pipeline/notifier.ts). */
  outbox: (id: string) => ["outbox", id] as const,
  outboxPrefix: ["outbox"] as const,
  /** A notification given up on after ALERT_WEBHOOK_MAX_ATTEMPTS, kept for the retention. */
  outboxDead: (id: string) => ["outbox_dead", id] as const,
  outboxDeadPrefix: ["outbox_dead"] as const,
  /** An analyst's review of an incident (acknowledged, true or false positive). */
  review: (incidentId: string) => ["review", incidentId] as const,
  /** A symbol muted until a time: its incidents send no webhook meanwhile. */
  mute: (symbol: string) => ["mute", symbol] as const,
  /** A symbol's minute of per-second bars (store/bars.ts), kept for the long retention. */
  bars: (symbol: string, minute: number) => ["bars", symbol, minute] as const,
  mutePrefix: ["mute"] as const,
};
