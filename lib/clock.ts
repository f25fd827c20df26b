/**
 * Time as a dependency: sources, the trainer and tests take a {@linkcode Clock}
 * so that tests and benchmarks control time instead of sleeping.
 *
 * @module
 */

/** A clock and a sleep, injectable so tests and benchmarks control time. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects).
 *
 * @example
 * ```ts
 * import { sleep } from "./clock.ts";
 * const ac = new AbortController();
 * ac.abort();
 * await sleep(60_000, ac.signal); // returns at once
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const id = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", done);
      clearTimeout(id);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The wall clock. */
export const systemClock: Clock = { now: () => Date.now(), sleep };
