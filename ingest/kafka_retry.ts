/**
 * How the Kafka adapter waits out failures: the back-off of its own retry
 * loops, which errors are permanent (retrying cannot fix them) and which are
 * a rebalance, one-line descriptions of kafkajs' wrapped errors, and sleeps
 * that close()/stop() can cut short.
 *
 * @module
 */
import kafkajs from "kafkajs";
import { setupFailure } from "./kafka_client.ts";
import { KAFKA_DEFAULTS } from "./kafka_settings.ts";
import { oneLine } from "./kafka_records.ts";

// kafkajs spreads its error classes into module.exports, which Deno's CommonJS
// export detection cannot see as named exports: take it from the default export.
/** kafkajs' base error class (its `retriable` flag drives kafkajs' own retries). */
export const { KafkaJSError } = kafkajs;

/**
 * Delay before retry number `attempt` (0-based) of the adapter's own loop:
 * exponential from `initialMs`, capped at `maxMs`, times a jitter factor in
 * [0.8, 1.2) so that many clients do not retry in step.
 *
 * @example
 * ```ts
 * import { retryDelayMs } from "./kafka.ts";
 * console.log(retryDelayMs(3, 0.5)); // 200 * 2**3 = 1600
 * ```
 */
export function retryDelayMs(
  attempt: number,
  random01: number = Math.random(),
  backoff: { initialMs: number; maxMs: number } = KAFKA_DEFAULTS.backoff,
): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + 0.4 * random01));
}

/** One line describing any thrown value, with the root cause when kafkajs wrapped it. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return oneLine(String(e));
  const root = rootCause(e);
  // Protocol errors carry Kafka's error name (e.g. MESSAGE_TOO_LARGE): the searchable part.
  const type = (root as { type?: unknown }).type;
  const name = typeof type === "string" ? `${e.name} [${type}]` : e.name;
  const text = root !== e && root.message !== e.message
    ? `${name}: ${e.message} (cause: ${root.message})`
    : `${name}: ${e.message}`;
  return oneLine(text);
}

/** The innermost `cause` of an error (at most 10 levels down), or the error itself. */
export function rootCause(e: Error): Error {
  let root = e;
  for (let i = 0; i < 10 && root.cause instanceof Error; i++) root = root.cause;
  return root;
}

const PROGRAMMING_ERRORS = new Set(["TypeError", "RangeError", "ReferenceError", "SyntaxError"]);

/** kafkajs marks these non-retriable, yet they end when the broker comes back. */
const TRANSIENT_NON_RETRIABLE = new Set([
  "KafkaJSNumberOfRetriesExceeded",
  "KafkaJSTimeout",
  "KafkaJSLockTimeout",
]);

/**
 * Whether a produce error will not go away by waiting: the broker refused
 * the request itself (message too large, not authorized, producer fenced) or
 * our code is wrong. Connection losses, timeouts, missing leaders and
 * exhausted kafkajs retries over those are transient.
 */
export function isPermanent(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const root = rootCause(e);
  if (PROGRAMMING_ERRORS.has(root.name)) return true;
  if (setupFailure(e) !== null) return true; // wrong credentials or an untrusted certificate
  if (!(root instanceof KafkaJSError)) return false;
  return root.retriable === false && !TRANSIENT_NON_RETRIABLE.has(root.name);
}

const REBALANCE_TYPES = new Set([
  "REBALANCE_IN_PROGRESS",
  "NOT_COORDINATOR_FOR_GROUP",
  "ILLEGAL_GENERATION",
]);

/** Whether a kafkajs error says the group is rebalancing (the member must rejoin). */
export function isRebalancing(e: unknown): boolean {
  return REBALANCE_TYPES.has((e as { type?: string } | null)?.type ?? "");
}

/** Sleeps that close()/stop() can cut short. */
export class Sleeper {
  #wakers = new Set<() => void>();
  /** Resolves after `ms`, or at once when {@linkcode wakeAll} is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }
  /** Ends every pending sleep now. */
  wakeAll(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
