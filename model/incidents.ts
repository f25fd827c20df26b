/**
 * Incidents (DESIGN.md section 16): one market event makes one incident, not
 * fifty alerts. A small state machine per symbol: an alert opens an
 * incident; alerts within `gapMs` of the previous one extend it; the first
 * trade (or clock advance) more than `gapMs` after its last alert closes it.
 * At close the incident is typed by the shape of the move:
 *
 * - `volume_burst`: driven by the volume channels, the price hardly moved;
 * - `volatility_regime`: price alerts in both directions *and* the price
 *   swung both ways from where it was before the first alert (each side at
 *   least half the larger). Alerts alone are not enough: after a spike the
 *   short reference catches up with it, so the reversion itself alerts
 *   downwards (measured on the realistic profile: 32 of 44 price spikes,
 *   13 of 15 flash crashes and 5 of 6 level shifts were typed a volatility
 *   regime that way);
 * - `level_shift`: the price stayed at least 70 % of the way to its peak;
 * - `spike` (up) / `crash` (down): the move reverted.
 *
 * While open the type is provisional (the direction of the move so far).
 *
 * **Settling.** A level shift and a crash look alike when the alerts stop: a
 * flash crash falls for seconds and recovers over a minute or two, so at the
 * gap the price still sits near the bottom (measured on the realistic
 * profile: 7 of 15 flash crashes were typed a level shift that way). An
 * incident that would close as a level shift therefore stays open, without
 * counting more trades, for up to `settleMs` after its last alert while the
 * tracker watches the price: it closes as a spike or crash as soon as the
 * price gives back more than 30 % of the move, and as a level shift when the
 * settle time runs out. An alert in that time extends it: a crash's recovery
 * alerts too (the references lag behind it), and used to open incidents of
 * its own, typed level shifts upwards.
 *
 * Pure: time comes from the events; ids are `SYMBOL:start_ms`, so a replay
 * yields the same incidents.
 *
 * @module
 */

/** The shapes an incident is typed as. */
export const INCIDENT_TYPES = [
  "spike",
  "crash",
  "level_shift",
  "volume_burst",
  "volatility_regime",
] as const;
/** One of {@linkcode INCIDENT_TYPES}. */
export type IncidentType = typeof INCIDENT_TYPES[number];

/** An incident, open or closed. */
export interface Incident {
  id: string;
  symbol: string;
  status: "open" | "closed";
  type: IncidentType;
  start_ms: number;
  /** time of the last alert */
  end_ms: number;
  peak_ms: number;
  peak_severity: number;
  /** alerts per driving channel */
  drivers: Record<string, number>;
  alerts: number;
  /** trades of the symbol within `gapMs` after each alert, from the first (not while settling) */
  trades: number;
  /** last price before the first alert */
  ref_price: number;
  peak_price: number;
  last_price: number;
  min_price: number;
  max_price: number;
  model_id: string;
}

/** One scored trade, as the tracker needs it. */
export interface ScoredTrade {
  symbol: string;
  ts_ms: number;
  price: number;
  alert: boolean;
  severity: number;
  /** the channel that drove the verdict (e.g. `price_z`, `volume_z`) */
  driver: string;
  /** signed short-horizon price z (for the direction of price alerts) */
  price_z: number;
  model_id: string;
}

/** A change to report (KV, SSE, webhooks, the terminal). */
export interface IncidentChange {
  kind: "opened" | "updated" | "closed";
  incident: Incident;
}

interface Open {
  inc: Incident;
  up: number;
  down: number;
  /** trades since the last alert (absent in states saved before settling: none) */
  quiet?: number;
}

/** One symbol's persisted part. */
export interface IncidentSymbolState {
  open?: { inc: Incident; up: number; down: number; quiet?: number };
  lastPrice?: number;
}

/** Persisted state (plain JSON). */
export interface IncidentTrackerState {
  open: Record<string, { inc: Incident; up: number; down: number; quiet?: number }>;
  lastPrice: Record<string, number>;
}

const VOLUME_DRIVERS = new Set(["volume_z", "flow_z"]);

/**
 * Default settle time, ms: a simulated flash crash recovers over 30–90 s
 * (ingest/episodes.ts), and by a minute after its last alert it has given
 * back well over 30 % of the fall.
 */
export const DEFAULT_SETTLE_MS = 60_000;

/**
 * A settling incident that has seen no trade since its last alert waits for
 * one up to this many settle times: on a thin pair (a trade every 30 s or
 * more) the settle time often passes with no price to judge by, and every
 * spike then closed as a level shift.
 */
export const SETTLE_WAIT_FACTOR = 10;

/**
 * Groups alerts into incidents.
 *
 * @example
 * ```ts
 * import { IncidentTracker } from "./incidents.ts";
 * const t = new IncidentTracker({ gapMs: 5000 });
 * const trade = (ts_ms: number, price: number, alert: boolean) => ({
 *   symbol: "BTC-USDT", ts_ms, price, alert, severity: alert ? 0.9 : 0.1,
 *   driver: "price_z", price_z: alert ? 20 : 0, model_id: "m",
 * });
 * t.observe(trade(0, 100, false));
 * t.observe(trade(1000, 110, true));   // opens
 * t.observe(trade(2000, 109, true));   // extends
 * const [closed] = t.observe(trade(9000, 100, false)).filter((c) => c.kind === "closed");
 * console.log(closed.incident.alerts, closed.incident.type); // 2 "spike"
 * ```
 */
export class IncidentTracker {
  readonly gapMs: number;
  /** how long after its last alert an incident that looks like a level shift waits for a reversion */
  readonly settleMs: number;
  readonly #settles: boolean;
  #open = new Map<string, Open>();
  #lastPrice = new Map<string, number>();

  /**
   * @param o.gapMs alerts closer than this are one incident (INCIDENT_GAP_SECONDS)
   * @param o.settleMs at most this long after its last alert a would-be level
   *   shift waits for the price to revert (INCIDENT_SETTLE_SECONDS; default
   *   {@linkcode DEFAULT_SETTLE_MS}; 0 or anything up to `gapMs`: no settling)
   */
  constructor(o: { gapMs: number; settleMs?: number }) {
    if (!(o.gapMs > 0)) throw new RangeError(`gapMs must be > 0, got ${o.gapMs}`);
    const settle = o.settleMs ?? DEFAULT_SETTLE_MS;
    if (!(settle >= 0)) throw new RangeError(`settleMs must be >= 0, got ${o.settleMs}`);
    this.gapMs = o.gapMs;
    this.settleMs = Math.max(settle, o.gapMs);
    this.#settles = settle > o.gapMs;
  }

  /** Incidents open now. */
  open(): Incident[] {
    return [...this.#open.values()].map((o) => ({ ...o.inc }));
  }

  /** Feeds one scored trade; returns what changed. */
  observe(t: ScoredTrade): IncidentChange[] {
    const out: IncidentChange[] = [];
    const o = this.#open.get(t.symbol);
    if (o && t.ts_ms - o.inc.end_ms > this.gapMs) {
      if (!this.#settling(o, t.ts_ms)) {
        out.push(this.#close(t.symbol, o));
      } else if (!t.alert) {
        // Past the gap, waiting to tell a level shift from a crash: only the price is watched.
        o.inc.last_price = t.price;
        o.quiet = (o.quiet ?? 0) + 1;
        if (typeOf(o, true) !== "level_shift" || t.ts_ms - o.inc.end_ms > this.settleMs) {
          out.push(this.#close(t.symbol, o));
        }
        this.#lastPrice.set(t.symbol, t.price);
        return out;
      }
      // An alert while settling: the move has not settled, the incident goes on.
    }
    const cur = this.#open.get(t.symbol);
    if (t.alert) {
      if (!cur) {
        const ref = this.#lastPrice.get(t.symbol) ?? t.price;
        const inc: Incident = {
          id: `${t.symbol}:${t.ts_ms}`,
          symbol: t.symbol,
          status: "open",
          type: "spike",
          start_ms: t.ts_ms,
          end_ms: t.ts_ms,
          peak_ms: t.ts_ms,
          peak_severity: t.severity,
          drivers: { [t.driver]: 1 },
          alerts: 1,
          trades: 1,
          ref_price: ref,
          peak_price: t.price,
          last_price: t.price,
          min_price: t.price,
          max_price: t.price,
          model_id: t.model_id,
        };
        const n: Open = { inc, up: 0, down: 0 };
        this.#count(n, t);
        inc.type = typeOf(n, false);
        this.#open.set(t.symbol, n);
        out.push({ kind: "opened", incident: { ...inc, drivers: { ...inc.drivers } } });
      } else {
        const inc = cur.inc;
        const before = inc.type;
        const grew = t.severity > inc.peak_severity;
        inc.end_ms = t.ts_ms;
        cur.quiet = 0;
        inc.alerts++;
        inc.trades++;
        inc.drivers[t.driver] = (inc.drivers[t.driver] ?? 0) + 1;
        this.#extend(inc, t.price);
        if (grew) {
          inc.peak_severity = t.severity;
          inc.peak_ms = t.ts_ms;
        }
        this.#count(cur, t);
        if (
          Math.abs(Math.log(t.price / inc.ref_price)) >
            Math.abs(Math.log(inc.peak_price / inc.ref_price))
        ) {
          inc.peak_price = t.price;
        }
        inc.type = typeOf(cur, false);
        if (grew || inc.type !== before) {
          out.push({ kind: "updated", incident: { ...inc, drivers: { ...inc.drivers } } });
        }
      }
    } else if (cur) {
      cur.quiet = (cur.quiet ?? 0) + 1;
      cur.inc.trades++;
      this.#extend(cur.inc, t.price);
    }
    this.#lastPrice.set(t.symbol, t.price);
    return out;
  }

  /** Closes every incident whose last alert is more than `gapMs` before `nowMs`, unless it is settling. */
  advance(nowMs: number): IncidentChange[] {
    const out: IncidentChange[] = [];
    for (const [symbol, o] of this.#open) {
      if (nowMs - o.inc.end_ms > this.gapMs && !this.#settling(o, nowMs)) {
        out.push(this.#close(symbol, o));
      }
    }
    return out;
  }

  /**
   * Past the gap, an incident that would close as a level shift keeps waiting:
   * within the settle time, or longer (up to {@linkcode SETTLE_WAIT_FACTOR}
   * settle times) while no trade since its last alert has shown where the
   * price went.
   */
  #settling(o: Open, nowMs: number): boolean {
    if (!this.#settles || typeOf(o, true) !== "level_shift") return false;
    const quiet = nowMs - o.inc.end_ms;
    return quiet <= this.settleMs ||
      (!((o.quiet ?? 0) > 0) && quiet <= this.settleMs * SETTLE_WAIT_FACTOR);
  }

  #extend(inc: Incident, price: number): void {
    inc.last_price = price;
    if (price < inc.min_price) inc.min_price = price;
    if (price > inc.max_price) inc.max_price = price;
  }

  #count(o: Open, t: ScoredTrade): void {
    if (VOLUME_DRIVERS.has(t.driver)) return;
    if (t.price_z > 0) o.up++;
    else if (t.price_z < 0) o.down++;
  }

  #close(symbol: string, o: Open): IncidentChange {
    this.#open.delete(symbol);
    o.inc.status = "closed";
    o.inc.type = typeOf(o, true);
    return { kind: "closed", incident: { ...o.inc, drivers: { ...o.inc.drivers } } };
  }

  /** One symbol's part of the state (checkpointed with the symbol's features). */
  symbolState(symbol: string): IncidentSymbolState {
    const o = this.#open.get(symbol);
    const lastPrice = this.#lastPrice.get(symbol);
    const out: IncidentSymbolState = {};
    if (o) {
      out.open = {
        inc: { ...o.inc, drivers: { ...o.inc.drivers } },
        up: o.up,
        down: o.down,
        quiet: o.quiet ?? 0,
      };
    }
    if (lastPrice !== undefined) out.lastPrice = lastPrice;
    return out;
  }

  /** Replaces one symbol's part of the state with a saved one. */
  restoreSymbol(symbol: string, s: IncidentSymbolState | undefined): void {
    this.#open.delete(symbol);
    this.#lastPrice.delete(symbol);
    if (s?.open) this.#open.set(symbol, { ...s.open, inc: { ...s.open.inc } });
    if (s?.lastPrice !== undefined) this.#lastPrice.set(symbol, s.lastPrice);
  }

  /** Forgets every symbol (a worker that lost its partitions reloads them from KV). */
  clear(): void {
    this.#open.clear();
    this.#lastPrice.clear();
  }

  /** The tracker as plain JSON. */
  toJSON(): IncidentTrackerState {
    return {
      open: Object.fromEntries(
        [...this.#open].map((
          [s, o],
        ) => [s, { inc: o.inc, up: o.up, down: o.down, quiet: o.quiet ?? 0 }]),
      ),
      lastPrice: Object.fromEntries(this.#lastPrice),
    };
  }

  /** A tracker continuing from {@linkcode IncidentTracker.toJSON}'s output. */
  static fromJSON(
    o: { gapMs: number; settleMs?: number },
    s: IncidentTrackerState,
  ): IncidentTracker {
    const t = new IncidentTracker(o);
    for (const [sym, v] of Object.entries(s.open ?? {})) {
      t.#open.set(sym, { ...v, inc: { ...v.inc } });
    }
    for (const [sym, p] of Object.entries(s.lastPrice ?? {})) t.#lastPrice.set(sym, p);
    return t;
  }
}

function typeOf(o: Open, final: boolean): IncidentType {
  const inc = o.inc;
  const priceAlerts = o.up + o.down;
  const volumeAlerts = inc.alerts - priceAlerts;
  if (priceAlerts === 0 && volumeAlerts > 0) return "volume_burst";
  // excursions from the price before the first alert
  const upward = Math.max(0, Math.log(inc.max_price / inc.ref_price));
  const downward = Math.max(0, Math.log(inc.ref_price / inc.min_price));
  const twoSided = Math.min(upward, downward) >= 0.5 * Math.max(upward, downward);
  if (o.up >= 2 && o.down >= 2 && twoSided) return "volatility_regime";
  const move = upward >= downward ? upward : -downward;
  if (final && move !== 0) {
    const after = Math.log(inc.last_price / inc.ref_price);
    if (after / move >= 0.7) return "level_shift";
  }
  return move >= 0 ? "spike" : "crash";
}
