/**
 * Streams predictions committed by other processes into this process's hub.
 * A web-only process (roles in separate processes, e.g. with Kafka) has no
 * worker of its own, so its `/events` would only see `/predict` results; the
 * tail polls KV's prediction pages and publishes each new page once.
 *
 * Pages are keyed by their first event's time, and workers of different
 * partitions can commit a page whose key sorts before one already seen, so
 * every poll re-reads a look-back span and remembers how much of each page it
 * published: a page may grow after it was first read (a worker appends live
 * traffic's small batches to an open page, pipeline/processor.ts), and only
 * its new predictions are published then.
 *
 * The short look-back covers partitions that commit at about the same event
 * time. A worker that takes over a dead worker's partitions re-processes
 * their backlog from the last committed offset: pages whose keys can sit
 * minutes of event time behind everything else (a replay at full speed, or
 * a live takeover after a session timeout). So every `deepEveryMs` a poll
 * looks back `deepLookbackMs` instead, and publishes what it finds for the
 * first time, late (measured: tests/kv_connect_test.ts, where a killed
 * worker's backlog was a third of the stream and never reached SSE).
 *
 * Incidents are tailed the same way: those that started in the last
 * `incidentLookbackMs` are re-read each poll, and each change (new, grown,
 * closed) is published once as an `IncidentChange`, so a web-only process's
 * `/events` carries `event: incident` too.
 *
 * @module
 */
import { sleep } from "../lib/clock.ts";
import type { Store } from "../store/kv.ts";
import type { Hub } from "./hub.ts";
import type { Incident, IncidentChange } from "../model/incidents.ts";
import type { Logger } from "./log.ts";

/** Options of {@linkcode KvTail}. */
export interface KvTailOptions {
  /** how often KV is read, ms (default 250) */
  pollMs?: number;
  /** how far before the newest page seen each poll looks again, ms (default 10 000) */
  lookbackMs?: number;
  /** incidents that started this long before the newest page are re-read for changes, ms (default 600 000) */
  incidentLookbackMs?: number;
  /** every this many ms of polling… (default 5 000) */
  deepEveryMs?: number;
  /** …a poll looks this far back instead, ms (default 300 000); pages are remembered this long */
  deepLookbackMs?: number;
}

const signature = (i: Incident) => `${i.status}|${i.alerts}|${i.peak_severity}|${i.type}`;

/** Polls KV for prediction pages and publishes the new ones to a hub. */
export class KvTail {
  /** page key → [first event's time, predictions published, the version read] */
  readonly #seen = new Map<string, [number, number, string]>();
  /** incident id → [start_ms, signature] */
  readonly #incidents = new Map<string, [number, string]>();
  #since = 0;
  #lastDeep = 0;

  constructor(
    readonly store: Store,
    readonly hub: Hub,
    readonly logger: Logger,
    readonly opts: KvTailOptions = {},
  ) {}

  /** Starts after what KV already holds (history is SSE's `Last-Event-ID` replay). */
  async start(signal: AbortSignal): Promise<void> {
    this.#since = (await this.store.newestPredictionPageTs()) ?? 0;
    // everything a deep poll will read is history: marked, not published
    await this.poll(false, true);
    this.#lastDeep = performance.now();
    (async () => {
      while (!signal.aborted) {
        await sleep(this.opts.pollMs ?? 250, signal);
        if (signal.aborted) break;
        const now = performance.now();
        const deep = now - this.#lastDeep >= (this.opts.deepEveryMs ?? 5_000);
        if (deep) this.#lastDeep = now;
        await this.poll(true, deep).catch((e) => this.logger.warn(`prediction tail: ${e}`));
      }
    })();
  }

  /**
   * One read: publishes pages not seen before (or only marks them, with
   * `publish` false); `deep` looks back `deepLookbackMs` instead of `lookbackMs`.
   */
  async poll(publish = true, deep = false): Promise<number> {
    const deepLookback = this.opts.deepLookbackMs ?? 300_000;
    const lookback = deep ? deepLookback : this.opts.lookbackMs ?? 10_000;
    const from = Math.max(0, this.#since - lookback);
    let published = 0;
    // a page read before and not rewritten since is skipped without being decoded
    const unchanged = (ts: number, pageId: string, version: string) =>
      this.#seen.get(`${ts}~${pageId}`)?.[2] === version;
    for await (const page of this.store.predictionPagesFrom(from, unchanged)) {
      const key = `${page.firstTs}~${page.pageId}`;
      const done = this.#seen.get(key)?.[1] ?? 0;
      this.#seen.set(key, [
        page.firstTs,
        Math.max(done, page.predictions.length),
        page.versionstamp,
      ]);
      if (done > 0 && page.predictions.length <= done) continue;
      if (page.firstTs > this.#since) this.#since = page.firstTs;
      if (!publish || page.predictions.length === done) continue;
      this.hub.publish({
        pageId: page.pageId,
        predictions: page.predictions.slice(done),
        ids: page.ids.slice(done),
      });
      published++;
    }
    // remembered as long as a deep poll can read them again, so it publishes nothing twice
    const forget = Math.max(0, this.#since - deepLookback);
    for (const [key, [ts]] of this.#seen) if (ts < forget) this.#seen.delete(key);
    published += await this.#pollIncidents(publish);
    return published;
  }

  async #pollIncidents(publish: boolean): Promise<number> {
    const from = Math.max(0, this.#since - (this.opts.incidentLookbackMs ?? 600_000));
    const { incidents } = await this.store.incidents({ fromMs: from, limit: 500 });
    const changes: IncidentChange[] = [];
    for (const inc of incidents.reverse()) {
      const sig = signature(inc);
      const was = this.#incidents.get(inc.id);
      if (was?.[1] === sig) continue;
      this.#incidents.set(inc.id, [inc.start_ms, sig]);
      const kind = inc.status === "closed" ? "closed" : was ? "updated" : "opened";
      changes.push({ kind, incident: inc });
    }
    for (const [id, [start]] of this.#incidents) if (start < from) this.#incidents.delete(id);
    if (!publish || changes.length === 0) return 0;
    this.hub.publish({ pageId: "", predictions: [], ids: [], incidents: changes });
    return changes.length;
  }
}
