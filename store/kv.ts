/**
 * Typed reads and writes over Sentinel's Deno KV (DESIGN.md section 7): the
 * worker's atomic batch commits, incidents, the webhook outbox, reviews,
 * mutes, models, heartbeats. The keys are in store/keys.ts; the market
 * history's pages and bars in store/history.ts, which {@linkcode Store}
 * extends.
 *
 * @module
 */
import type { Incident } from "../model/incidents.ts";
import type { Prediction } from "../lib/contracts.ts";
import { type Bundle, decodeBundleChunks, encodeBundleChunks } from "../model/bundle.ts";
import { encodeRows, MAX_PAGE_RECORDS as PAGE } from "./pages.ts";
import { packPage } from "./packed.ts";
import { History, type StoreOptions } from "./history.ts";
import { keys } from "./keys.ts";
import { openKv } from "./open.ts";

import { type BatchCommit, PartitionLostError, type StagedBatch } from "./batch_commit.ts";

export { keys } from "./keys.ts";
export { type BatchCommit, PartitionLostError, type StagedBatch } from "./batch_commit.ts";
export { batchCursors, parseCursor, predictionCursors, type StoreOptions } from "./history.ts";

/** An analyst's review of an incident. */
export interface IncidentReview {
  incident_id: string;
  acknowledged: boolean;
  verdict: "true_positive" | "false_positive" | null;
  note: string | null;
  updated_at: string;
}

/** A muted symbol. */
export interface Mute {
  symbol: string;
  until_ms: number;
  created_at: string;
}

/**
 * A notification in the webhook outbox: written in the atomic of the batch
 * that opened or closed the incident, deleted once a receiver took it.
 */
export interface OutboxEntry {
  /** `<incident id>|<kind>|<receiver index>`: a replayed batch rewrites, never duplicates */
  id: string;
  kind: "opened" | "closed";
  incident: Incident;
  /** index into ALERT_WEBHOOK_URL's list (the URL itself may hold a token: never stored) */
  target: number;
  created_ms: number;
  attempts: number;
  /** not before this time (epoch ms): backoff, or another sender's lease */
  next_ms: number;
  last_error: string | null;
}

/** How the webhook outbox stands, for System Status and `/metrics`. */
export interface OutboxStats {
  pending: number;
  /** pending entries that failed at least once */
  retrying: number;
  dead: number;
  delivered: number;
  failed_attempts: number;
  /** creation time of the oldest pending entry, or null */
  oldest_ms: number | null;
}

/** The active model pointer stored at `["model", "active"]`. */
export interface ActiveModel {
  id: string;
  chunks: number;
  activated_at: string;
}

/** What `["models", id]` holds: enough to list bundles without loading trees. */
export interface ModelIndexEntry {
  id: string;
  created_at: string;
  chunks: number;
  bytes: number;
  rows: number;
  symbols: string[];
  report_kind: string;
}

/** Typed access to Sentinel's KV. */
export class Store extends History {
  /**
   * Opens the KV at `path`: a file path (its folder is created), a KV Connect
   * URL (`http(s)://…`, with DENO_KV_ACCESS_TOKEN; nothing touches the local
   * disk), or `""` for the platform's default database (`Deno.openKv()` with
   * no path: the app's own KV on Deno Deploy). A damaged, foreign or
   * unwritable file throws `KvOpenError` (store/open.ts) with one line naming
   * the path and the cause.
   */
  static async open(path: string, opts: StoreOptions): Promise<Store> {
    if (path === "") return new Store(await Deno.openKv(), opts);
    return new Store(await openKv(path), opts);
  }

  close(): void {
    this.kv.close();
  }

  // ---- worker -----------------------------------------------------------

  /** The next offset to read, or null when the stream's partition was never committed. */
  async loadOffset(stream: string, partition: number): Promise<number | null> {
    return (await this.loadOffsetEntry(stream, partition)).offset;
  }

  /** The next offset and the versionstamp to fence commits with. */
  async loadOffsetEntry(
    stream: string,
    partition: number,
  ): Promise<{ offset: number | null; versionstamp: string | null }> {
    const r = await this.kv.get<number>(keys.offset(stream, partition));
    return { offset: r.value, versionstamp: r.versionstamp };
  }

  /** The saved feature states of `symbols` (absent ones omitted). */
  async loadStates(symbols: readonly string[]): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for (let i = 0; i < symbols.length; i += 10) {
      const part = symbols.slice(i, i + 10);
      const got = await this.kv.getMany(part.map((s) => keys.state(s)));
      got.forEach((r, j) => {
        if (r.value !== null) out.set(part[j], r.value);
      });
    }
    return out;
  }

  /**
   * Commits a batch: window states, the offset they cover, the row and
   * prediction pages and the counters, in one atomic. Either all of it is
   * durable or none of it is, which is what makes a restart exact.
   */
  commitBatch(b: BatchCommit): Promise<string> {
    return this.commitStaged(this.stageBatch(b), b.expectOffsetVersion);
  }

  /**
   * {@linkcode Store.commitBatch}'s atomic built but not committed: pages
   * packed, values serialized. The worker stages batch N+1 while batch N
   * commits; the fence, which needs N's versionstamp, is added by
   * {@linkcode Store.commitStaged}. Commit a staged batch at most once.
   */
  stageBatch(b: Omit<BatchCommit, "expectOffsetVersion">): StagedBatch {
    const op = this.kv.atomic();
    for (const [symbol, state] of b.states) op.set(keys.state(symbol), state);
    op.set(keys.offset(b.stream, b.partition), b.nextOffset);
    const expireIn = this.rawRetentionMs;
    if (b.predictedRows && b.predictedRows.length === b.predictions.length) {
      this.setBatchPages(op, b.pageId, b.rows, b.predictions, b.predictedRows);
    } else {
      for (let i = 0; i < b.rows.length; i += PAGE) {
        const part = b.rows.slice(i, i + PAGE);
        op.set(keys.rows(part[0].ts_ms, `${b.pageId}.${i}`), packPage(encodeRows(part)), {
          expireIn,
        });
      }
      this.setPredictionPages(op, b.pageId, b.predictions);
    }
    for (const [key, n] of b.counters) {
      if (n > 0) op.sum(keys.count(...key), BigInt(n));
    }
    for (const [key, value] of b.extra ?? []) op.set(key, value);
    for (const [symbol, minute, bytes] of b.bars ?? []) {
      op.set(keys.bars(symbol, minute), bytes, { expireIn: this.retentionMs });
    }
    for (const inc of b.incidents ?? []) {
      op.set(keys.incident(inc.start_ms, inc.id), inc, { expireIn: this.retentionMs });
    }
    for (const o of b.outbox ?? []) op.set(keys.outbox(o.id), o);
    return { op, stream: b.stream, partition: b.partition };
  }

  /**
   * Commits a {@linkcode Store.stageBatch} result, fenced by the offset key's
   * versionstamp when `expectOffsetVersion` is given (see
   * {@linkcode BatchCommit.expectOffsetVersion}); resolves to the commit's
   * versionstamp.
   */
  async commitStaged(s: StagedBatch, expectOffsetVersion?: string | null): Promise<string> {
    if (expectOffsetVersion !== undefined) {
      s.op.check({ key: keys.offset(s.stream, s.partition), versionstamp: expectOffsetVersion });
    }
    const r = await s.op.commit();
    if (!r.ok) throw new PartitionLostError(s.stream, s.partition);
    return r.versionstamp;
  }

  /**
   * Adds predictions made outside the stream (`POST /predict`) to the
   * history, with their own counters (`api_pred`, `api_anomaly`: manual
   * tests stay out of the stream's totals and rates), in one atomic.
   * `pageId` must be unique.
   */
  async appendPredictions(preds: readonly Prediction[], pageId: string): Promise<void> {
    if (preds.length === 0) return;
    const op = this.kv.atomic();
    this.setPredictionPages(op, pageId, preds);
    const perSymbol = new Map<string, [number, number]>();
    for (const p of preds) {
      const c = perSymbol.get(p.symbol) ?? [0, 0];
      c[0]++;
      if (p.is_anomaly) c[1]++;
      perSymbol.set(p.symbol, c);
    }
    for (const [sym, [n, a]] of perSymbol) {
      op.sum(keys.count("api_pred", sym), BigInt(n));
      if (a) op.sum(keys.count("api_anomaly", sym), BigInt(a));
    }
    if (!(await op.commit()).ok) throw new Error("KV commit failed");
  }

  /**
   * Incidents newest first (by start time), filtered; `before` pages on: pass
   * the previous page's `next`.
   */
  async incidents(q: {
    symbol?: string;
    type?: string;
    status?: "open" | "closed";
    fromMs?: number;
    toMs?: number;
    limit: number;
    before?: { startMs: number; id: string } | null;
  }): Promise<{ incidents: Incident[]; next: { startMs: number; id: string } | null }> {
    const fromMs = q.fromMs ?? 0;
    // A cursor (or `to`) before `from` selects nothing (and KV refuses an end key before the start).
    if (q.before && q.before.startMs < fromMs) return { incidents: [], next: null };
    if (q.toMs !== undefined && q.toMs < fromMs) return { incidents: [], next: null };
    const start: Deno.KvKey = [...keys.incidentPrefix, fromMs];
    const end: Deno.KvKey = q.before
      ? keys.incident(q.before.startMs, q.before.id)
      : [...keys.incidentPrefix, (q.toMs ?? Number.MAX_SAFE_INTEGER) + 1];
    const out: Incident[] = [];
    let next: { startMs: number; id: string } | null = null;
    for await (
      const e of this.kv.list<Incident>({ start, end }, { reverse: true, batchSize: 200 })
    ) {
      const inc = e.value;
      if (q.toMs !== undefined && inc.start_ms > q.toMs) continue;
      if (q.symbol && inc.symbol !== q.symbol) continue;
      if (q.type && inc.type !== q.type) continue;
      if (q.status && inc.status !== q.status) continue;
      if (out.length === q.limit) {
        const last = out[out.length - 1];
        next = { startMs: last.start_ms, id: last.id };
        break;
      }
      out.push(inc);
    }
    return { incidents: out, next };
  }

  /** One incident by id (`SYMBOL:start_ms`), or null. */
  async incident(id: string): Promise<Incident | null> {
    const m = /^(.+):(\d{1,16})$/.exec(id);
    if (!m) return null;
    return (await this.kv.get<Incident>(keys.incident(Number(m[2]), id))).value;
  }

  /** Every counter, as `{"pred/BTC-USDT": 123, ...}` (key parts joined by `/`). */
  async counters(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for await (const e of this.kv.list<Deno.KvU64>({ prefix: keys.countPrefix })) {
      out[e.key.slice(1).join("/")] = Number(e.value.value);
    }
    return out;
  }

  /** One counter's value (0 when never incremented). */
  async counter(...parts: string[]): Promise<number> {
    const r = await this.kv.get<Deno.KvU64>(keys.count(...parts));
    return r.value ? Number(r.value.value) : 0;
  }

  // ---- webhook outbox ---------------------------------------------------

  /** Up to `limit` outbox entries with their versionstamps, in key order. */
  async outboxEntries(
    limit: number,
  ): Promise<{ entry: OutboxEntry; versionstamp: string }[]> {
    const out = [];
    for await (const e of this.kv.list<OutboxEntry>({ prefix: keys.outboxPrefix }, { limit })) {
      out.push({ entry: e.value, versionstamp: e.versionstamp });
    }
    return out;
  }

  /**
   * Replaces an outbox entry if nobody changed it since `versionstamp` (a
   * lease, a retry schedule; `failed` counts a failed attempt): the new
   * versionstamp, or null when another sender changed it first.
   */
  async outboxUpdate(
    entry: OutboxEntry,
    versionstamp: string,
    failed = false,
  ): Promise<string | null> {
    const op = this.kv.atomic()
      .check({ key: keys.outbox(entry.id), versionstamp })
      .set(keys.outbox(entry.id), entry);
    if (failed) op.sum(keys.count("webhook", "failed"), 1n);
    const r = await op.commit();
    return r.ok ? r.versionstamp : null;
  }

  /** Removes a delivered entry and counts it (`muted`: dropped because its symbol is muted). */
  async outboxDelivered(entry: OutboxEntry, muted = false): Promise<void> {
    await this.kv.atomic()
      .delete(keys.outbox(entry.id))
      .sum(keys.count("webhook", muted ? "muted" : "delivered"), 1n)
      .commit();
  }

  /** Moves an entry to the dead letters (kept for the retention) and counts it. */
  async outboxDeadLetter(entry: OutboxEntry): Promise<void> {
    await this.kv.atomic()
      .delete(keys.outbox(entry.id))
      .set(keys.outboxDead(entry.id), entry, { expireIn: this.retentionMs })
      .sum(keys.count("webhook", "dead"), 1n)
      .sum(keys.count("webhook", "failed"), 1n)
      .commit();
  }

  /** Dead-lettered notifications, oldest key first. */
  async outboxDeadLetters(limit: number): Promise<OutboxEntry[]> {
    const out: OutboxEntry[] = [];
    for await (
      const e of this.kv.list<OutboxEntry>({ prefix: keys.outboxDeadPrefix }, { limit })
    ) out.push(e.value);
    return out;
  }

  /** Counts of the outbox (pending entries are listed: the outbox is small by design). */
  async outboxStats(): Promise<OutboxStats> {
    let pending = 0, retrying = 0, dead = 0;
    let oldest: number | null = null;
    for await (const e of this.kv.list<OutboxEntry>({ prefix: keys.outboxPrefix })) {
      pending++;
      if (e.value.attempts > 0) retrying++;
      if (oldest === null || e.value.created_ms < oldest) oldest = e.value.created_ms;
    }
    for await (const _ of this.kv.list({ prefix: keys.outboxDeadPrefix })) dead++;
    return {
      pending,
      retrying,
      dead,
      delivered: await this.counter("webhook", "delivered"),
      failed_attempts: await this.counter("webhook", "failed"),
      oldest_ms: oldest,
    };
  }

  // ---- reviews and mutes ------------------------------------------------

  /** An incident's review, or null when nobody reviewed it. */
  async review(incidentId: string): Promise<IncidentReview | null> {
    return (await this.kv.get<IncidentReview>(keys.review(incidentId))).value;
  }

  /**
   * The reviews of `ids` that exist, by incident id. Reviews are few (an
   * analyst writes each), so one list of them all beats a read per id.
   */
  async reviewsOf(ids: readonly string[]): Promise<Record<string, IncidentReview>> {
    const want = new Set(ids);
    const out: Record<string, IncidentReview> = {};
    if (want.size === 0) return out;
    for await (const e of this.kv.list<IncidentReview>({ prefix: ["review"] })) {
      if (want.has(e.value.incident_id)) out[e.value.incident_id] = e.value;
    }
    return out;
  }

  /** Stores a review (kept for the retention, like incidents). */
  async setReview(r: IncidentReview): Promise<void> {
    await this.kv.set(keys.review(r.incident_id), r, { expireIn: this.retentionMs });
  }

  /** Mutes `symbol` until `untilMs` (the key expires then too). */
  async mute(m: Mute, nowMs: number): Promise<void> {
    await this.kv.set(keys.mute(m.symbol), m, { expireIn: Math.max(1000, m.until_ms - nowMs) });
  }

  /** Lifts a mute. */
  async unmute(symbol: string): Promise<void> {
    await this.kv.delete(keys.mute(symbol));
  }

  /** The mutes in force at `nowMs` (KV expiry is lazy: the time is checked). */
  async mutes(nowMs: number): Promise<Mute[]> {
    const out: Mute[] = [];
    for await (const e of this.kv.list<Mute>({ prefix: keys.mutePrefix })) {
      if (e.value.until_ms > nowMs) out.push(e.value);
    }
    return out;
  }

  // ---- models -----------------------------------------------------------

  /**
   * Writes a bundle's chunks and its index entry (not yet active). Chunks go
   * in atomics of at most 8 (an atomic is bounded in size); the bundle is not
   * visible to scorers until {@linkcode Store.activate}.
   */
  async saveBundle(bundle: Bundle): Promise<ModelIndexEntry> {
    const chunks = encodeBundleChunks(bundle);
    for (let i = 0; i < chunks.length; i += 8) {
      const op = this.kv.atomic();
      for (let j = i; j < Math.min(i + 8, chunks.length); j++) {
        op.set(keys.modelChunk(bundle.id, j), chunks[j]);
      }
      if (!(await op.commit()).ok) throw new Error(`could not write bundle ${bundle.id}`);
    }
    const entry: ModelIndexEntry = {
      id: bundle.id,
      created_at: bundle.created_at,
      chunks: chunks.length,
      bytes: chunks.reduce((a, c) => a + c.length, 0),
      rows: bundle.training.rows,
      symbols: bundle.training.symbols,
      report_kind: bundle.training.report.kind,
    };
    await this.kv.set(keys.modelIndex(bundle.id), entry);
    return entry;
  }

  /** Makes a saved bundle the live one: one atomic set. */
  async activate(id: string, activatedAt: string): Promise<ActiveModel> {
    const entry = await this.kv.get<ModelIndexEntry>(keys.modelIndex(id));
    if (!entry.value) throw new Error(`no bundle with id ${id}`);
    const active: ActiveModel = { id, chunks: entry.value.chunks, activated_at: activatedAt };
    await this.kv.set(keys.modelActive, active);
    return active;
  }

  /** The active pointer and its versionstamp, or null. */
  async activeModel(): Promise<{ active: ActiveModel; versionstamp: string } | null> {
    const r = await this.kv.get<ActiveModel>(keys.modelActive);
    return r.value && r.versionstamp ? { active: r.value, versionstamp: r.versionstamp } : null;
  }

  /** Reads and validates a stored bundle. */
  async loadBundle(id: string, chunks?: number): Promise<Bundle> {
    const n = chunks ?? (await this.kv.get<ModelIndexEntry>(keys.modelIndex(id))).value?.chunks;
    if (!n) throw new Error(`no bundle with id ${id}`);
    const parts: string[] = [];
    for (let i = 0; i < n; i += 10) {
      const got = await this.kv.getMany<string[]>(
        Array.from({ length: Math.min(10, n - i) }, (_, j) => keys.modelChunk(id, i + j)),
      );
      for (const g of got) {
        if (g.value === null) throw new Error(`bundle ${id} is missing chunk ${String(g.key[3])}`);
        parts.push(g.value);
      }
    }
    return decodeBundleChunks(parts);
  }

  /** Every stored bundle's index entry, newest first. */
  async listModels(): Promise<ModelIndexEntry[]> {
    const out: ModelIndexEntry[] = [];
    for await (const e of this.kv.list<ModelIndexEntry>({ prefix: keys.modelIndexPrefix })) {
      out.push(e.value);
    }
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  // ---- sources, liveness, control ---------------------------------------

  async getSourceState<T>(name: string): Promise<T | null> {
    return (await this.kv.get<T>(keys.source(name))).value;
  }

  async heartbeat(role: string, instance: string, info: unknown, ttlMs: number): Promise<void> {
    await this.kv.set(keys.heartbeat(role, instance), info, { expireIn: ttlMs });
  }

  async heartbeats(): Promise<{ role: string; instance: string; info: unknown }[]> {
    const out = [];
    for await (const e of this.kv.list({ prefix: keys.heartbeatPrefix })) {
      out.push({ role: String(e.key[1]), instance: String(e.key[2]), info: e.value });
    }
    return out;
  }
}
