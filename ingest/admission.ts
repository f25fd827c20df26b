/**
 * What an event must satisfy at the edge, beyond its schema, before it may
 * reach the feature windows, the counters, the metrics and the exports:
 *
 * - its time is near its source's clock (`MAX_CLOCK_SKEW`): one event stamped
 *   in the year 2255 would otherwise hold its symbol's window in the future
 *   (every later event is "late") and sit in the history for the whole
 *   retention period;
 * - its symbol is one of `SYMBOLS` (unless `UNCONFIGURED_SYMBOLS=accept`):
 *   a Kafka topic is shared, and an unknown symbol would open a window, a
 *   counter and metrics series nobody asked for.
 *
 * A refused event gets a one-line reason whose first word names the field
 * (`ts_ms: …`, `symbol: …`), which is how rejections are counted. Pure: the
 * clock is passed in.
 *
 * @module
 */
import { eventTimeMs, type MarketEvent } from "../lib/contracts.ts";

/** `MAX_CLOCK_SKEW`'s default, ms: generous for NTP-less hosts, far below any harm. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5 * 60_000;

/** Which side of the clock is checked: live sources both, streams that carry history only ahead. */
export type SkewDirection = "both" | "ahead";

const fmtSkew = (ms: number) => ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/**
 * Why an event time is too far from its source's clock, or null when it is
 * within `maxSkewMs` (on the checked side).
 *
 * @example
 * ```ts
 * import { clockSkewReason } from "./admission.ts";
 * console.log(clockSkewReason(9e15, 1_710_000_000_000, 300_000, "ahead"));
 * // "ts_ms: 9000000000000000 is 8998290000000000 ms ahead of the source's clock ..."
 * console.log(clockSkewReason(1_710_000_000_500, 1_710_000_000_000, 300_000, "both")); // null
 * ```
 */
export function clockSkewReason(
  tsMs: number,
  clockMs: number,
  maxSkewMs: number,
  direction: SkewDirection,
): string | null {
  const ahead = tsMs - clockMs;
  if (ahead > maxSkewMs) {
    return `ts_ms: ${tsMs} is ${ahead} ms ahead of the source's clock (${
      iso(clockMs)
    }); MAX_CLOCK_SKEW is ${fmtSkew(maxSkewMs)}`;
  }
  if (direction === "both" && -ahead > maxSkewMs) {
    return `ts_ms: ${tsMs} is ${-ahead} ms behind the source's clock (${
      iso(clockMs)
    }); MAX_CLOCK_SKEW is ${fmtSkew(maxSkewMs)}`;
  }
  return null;
}

/** What {@linkcode Admission} checks. */
export interface AdmissionPolicy {
  /** the configured symbols (`SYMBOLS`) */
  symbols: readonly string[];
  /** `UNCONFIGURED_SYMBOLS` */
  unconfiguredSymbols: "reject" | "accept";
  /** `MAX_CLOCK_SKEW`, ms */
  maxClockSkewMs: number;
  /** which side of the clock is checked */
  direction: SkewDirection;
}

/**
 * The edge checks of one source: symbol policy, then clock skew.
 *
 * @example
 * ```ts
 * import { Admission } from "./admission.ts";
 * const a = new Admission({
 *   symbols: ["BTC-USDT"], unconfiguredSymbols: "reject", maxClockSkewMs: 300_000, direction: "ahead",
 * });
 * const e = {
 *   timestamp: 1710000000, symbol: "XRP-USDT", price: 1, volume: 1, log_return: 0,
 *   is_anomaly: false, anomaly_type: null,
 * };
 * console.log(a.check(e, 1_710_000_000_000)); // "symbol: XRP-USDT is not in SYMBOLS (...)"
 * ```
 */
export class Admission {
  readonly #symbols: ReadonlySet<string>;
  readonly #list: string;

  constructor(readonly policy: AdmissionPolicy) {
    this.#symbols = new Set(policy.symbols);
    this.#list = policy.symbols.join(",");
  }

  /** Why `event` is refused at `clockMs`, or null when it is admitted. */
  check(event: MarketEvent, clockMs: number): string | null {
    if (this.policy.unconfiguredSymbols === "reject" && !this.#symbols.has(event.symbol)) {
      return `symbol: ${event.symbol} is not in SYMBOLS (${this.#list}); ` +
        `set UNCONFIGURED_SYMBOLS=accept to process it`;
    }
    return clockSkewReason(
      eventTimeMs(event),
      clockMs,
      this.policy.maxClockSkewMs,
      this.policy.direction,
    );
  }
}

/** Sources Sentinel itself produces; any other valid name is counted as `other`. */
export const KNOWN_SOURCES: readonly string[] = ["simulated", "binance", "replay", "api", "kafka"];

/**
 * The name a source is counted under in KV counters and metrics labels: one
 * of {@linkcode KNOWN_SOURCES}, `unknown` when the event has none, else
 * `other`. Keeps the series bounded whatever producers write (the event
 * itself keeps its validated name).
 *
 * @example
 * ```ts
 * import { sourceLabel } from "./admission.ts";
 * console.log(sourceLabel("binance"), sourceLabel("feed-7"), sourceLabel(undefined));
 * // "binance" "other" "unknown"
 * ```
 */
export function sourceLabel(source: string | undefined): string {
  if (source === undefined) return "unknown";
  return KNOWN_SOURCES.includes(source) ? source : "other";
}

/** What {@linkcode JumpFilter.push} decided. */
export interface JumpDecision<T> {
  /** items to pass on, in order */
  emit: T[];
  /** items refused, with the reason */
  rejected: { item: T; reason: string }[];
}

/**
 * A recorded stream judged against its own clock: an event more than
 * `maxJumpMs` ahead of the newest accepted time is held until the next event
 * says whether the stream really moved on (the next one is near it, or also
 * far ahead: both pass) or whether it was a lone outlier (the next one is
 * back near the old time: the outlier is refused). A genuine gap in a file
 * therefore loses nothing, and one bad line cannot hold every symbol's window
 * in the future for the rest of the file. `flush()` passes a held item on at
 * the end of the stream.
 *
 * @example
 * ```ts
 * import { JumpFilter } from "./admission.ts";
 * const f = new JumpFilter<string>(60_000);
 * f.push("a", 0);
 * console.log(f.push("bad", 9e12).emit.length); // 0: held
 * console.log(f.push("b", 1000).rejected[0].item); // "bad"
 * ```
 */
export class JumpFilter<T> {
  #last: number | null = null;
  #held: { item: T; t: number } | null = null;

  constructor(readonly maxJumpMs: number) {}

  /** Judges `item` with time `t` (ms). */
  push(item: T, t: number): JumpDecision<T> {
    const out: JumpDecision<T> = { emit: [], rejected: [] };
    const held = this.#held;
    if (held) {
      this.#held = null;
      const confirms = Math.abs(t - held.t) <= this.maxJumpMs ||
        t - (this.#last ?? t) > this.maxJumpMs;
      if (confirms) {
        out.emit.push(held.item);
        this.#last = held.t;
      } else {
        out.rejected.push({
          item: held.item,
          reason: `ts_ms: ${held.t} jumps ${held.t - this.#last!} ms ahead of the stream ` +
            `(${this.#last}) and the next event is back at ${t}; MAX_CLOCK_SKEW is ${
              fmtSkew(this.maxJumpMs)
            }`,
        });
      }
    }
    if (this.#last !== null && t - this.#last > this.maxJumpMs) {
      this.#held = { item, t };
      return out;
    }
    out.emit.push(item);
    this.#last = this.#last === null ? t : Math.max(this.#last, t);
    return out;
  }

  /** The held item, if any, at the end of the stream (nothing follows that could refute it). */
  flush(): T[] {
    const held = this.#held;
    this.#held = null;
    if (!held) return [];
    this.#last = held.t;
    return [held.item];
  }
}
