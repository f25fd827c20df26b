/**
 * Streams predictions committed by other processes into this process's hub.
 * A web-only process (roles in separate processes, e.g. with Kafka) has no
 * worker of its own, so its `/events` would only see `/predict` results; the
 * tail polls KV's prediction pages and publishes each new page once.
 *
 * Pages are keyed by their first event's time, and workers of different
 * partitions can commit a page whose key sorts before one already seen, so
 * every poll re-reads a look-back span and remembers which pages it published.
 *
 * @module
 */
import { sleep } from "../lib/clock.ts";
import type { Store } from "../store/kv.ts";
import type { Hub } from "./hub.ts";
import type { Logger } from "./log.ts";

/** Options of {@linkcode KvTail}. */
export interface KvTailOptions {
  /** how often KV is read, ms (default 250) */
  pollMs?: number;
  /** how far before the newest page seen each poll looks again, ms (default 10 000) */
  lookbackMs?: number;
}

/** Polls KV for prediction pages and publishes the new ones to a hub. */
export class KvTail {
  readonly #seen = new Map<string, number>();
  #since = 0;

  constructor(
    readonly store: Store,
    readonly hub: Hub,
    readonly logger: Logger,
    readonly opts: KvTailOptions = {},
  ) {}

  /** Starts after what KV already holds (history is SSE's `Last-Event-ID` replay). */
  async start(signal: AbortSignal): Promise<void> {
    this.#since = (await this.store.newestPredictionPageTs()) ?? 0;
    await this.poll(false);
    (async () => {
      while (!signal.aborted) {
        await sleep(this.opts.pollMs ?? 250, signal);
        if (signal.aborted) break;
        await this.poll(true).catch((e) => this.logger.warn(`prediction tail: ${e}`));
      }
    })();
  }

  /** One read: publishes pages not seen before (or only marks them, with `publish` false). */
  async poll(publish = true): Promise<number> {
    const lookback = this.opts.lookbackMs ?? 10_000;
    const from = Math.max(0, this.#since - lookback);
    let published = 0;
    for await (const page of this.store.predictionPagesFrom(from)) {
      const key = `${page.firstTs}~${page.pageId}`;
      if (this.#seen.has(key)) continue;
      this.#seen.set(key, page.firstTs);
      if (page.firstTs > this.#since) this.#since = page.firstTs;
      if (!publish) continue;
      this.hub.publish({ pageId: page.pageId, predictions: page.predictions, ids: page.ids });
      published++;
    }
    for (const [key, ts] of this.#seen) if (ts < from) this.#seen.delete(key);
    return published;
  }
}
