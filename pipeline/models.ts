/**
 * Holds the active model for a scorer and swaps it without a restart when
 * `["model", "active"]` changes. `kv.watch` reports changes made by this
 * process at once; changes made by another process on the same local KV file
 * are not reported by Deno's SQLite backend (measured), so a poll of the
 * pointer's versionstamp backs the watch up.
 *
 * @module
 */
import { Scorer } from "../model/bundle.ts";
import { keys, type Store } from "../store/kv.ts";
import type { Logger } from "./log.ts";

/** The live model of a process. */
export class ModelHolder {
  #scorer: Scorer | null = null;
  #versionstamp: string | null = null;
  #loading: Promise<boolean> | null = null;
  #stop = new AbortController();
  readonly #listeners = new Set<(s: Scorer) => void>();

  constructor(
    readonly store: Store,
    readonly logger: Logger,
    readonly opts: { pollMs?: number } = {},
  ) {}

  /** The active scorer, or null while no model has been activated. */
  get current(): Scorer | null {
    return this.#scorer;
  }

  /** Calls `fn` after every swap. */
  onChange(fn: (s: Scorer) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Loads the active bundle if the pointer moved; true when a new model is live. */
  refresh(): Promise<boolean> {
    this.#loading ??= this.#refresh().finally(() => this.#loading = null);
    return this.#loading;
  }

  async #refresh(): Promise<boolean> {
    const a = await this.store.activeModel();
    if (!a || a.versionstamp === this.#versionstamp) return false;
    const t0 = performance.now();
    const bundle = await this.store.loadBundle(a.active.id, a.active.chunks);
    this.#scorer = Scorer.fromBundle(bundle);
    this.#versionstamp = a.versionstamp;
    this.logger.info(
      `model ${bundle.id} live (${bundle.params.n_estimators} trees, loaded in ${
        (performance.now() - t0).toFixed(0)
      } ms)`,
    );
    for (const fn of this.#listeners) fn(this.#scorer);
    return true;
  }

  /** Loads the current model, then follows changes until {@linkcode ModelHolder.stop}. */
  async start(): Promise<void> {
    await this.refresh();
    const signal = this.#stop.signal;
    const watch = this.store.kv.watch([keys.modelActive]);
    const reader = watch.getReader();
    signal.addEventListener("abort", () => reader.cancel().catch(() => {}), { once: true });
    (async () => {
      try {
        while (!signal.aborted) {
          const { done } = await reader.read();
          if (done) break;
          await this.refresh().catch((e) => this.logger.warn(`model reload failed: ${e}`));
        }
      } catch { /* cancelled */ }
    })();
    const pollMs = this.opts.pollMs ?? 2000;
    const timer = setInterval(() => {
      this.refresh().catch((e) => this.logger.warn(`model reload failed: ${e}`));
    }, pollMs);
    signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }

  stop(): void {
    this.#stop.abort();
  }
}
