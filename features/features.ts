/**
 * `MarketEvent` → `FeatureRow`: per-symbol rolling windows and the seed's five
 * features (DESIGN.md section 5). Pure: time comes from the events, never
 * from a clock.
 *
 * @module
 */
import { z } from "zod";
import { eventTimeMs, type FeatureRow, type MarketEvent } from "../lib/contracts.ts";
import { checkWindowOptions, type Moments, PaneRing, PaneRingState, sampleStd } from "./window.ts";
import { type RobustState, RobustSymbol } from "./robust.ts";

/** Options of a {@linkcode FeatureEngine}, both required (config.ts owns the defaults). */
export interface FeatureEngineOptions {
  /** Window width in seconds (WINDOW_SECONDS, 60 by default in config). */
  windowSeconds: number;
  /** Rows whose window holds fewer events are flagged `warm_up` (MIN_WINDOW_EVENTS). */
  minWindowEvents: number;
  /**
   * WINSORIZE_SIGMA: when set, what an event adds to its window is clipped to
   * the window's mean ± k·std (once the window is past warm-up). The event's
   * own row is still computed from its raw values; only the window's memory
   * of an outlier is bounded, so one spike no longer inflates the statistics
   * the next minute is judged against (docs/evaluation.md). Null or absent:
   * DESIGN.md section 5 exactly.
   */
  winsorizeSigma?: number | null;
}

/**
 * One symbol's saved state, stored by a worker under KV key `["state", symbol]`:
 * the pane ring (width, latest second, non-empty panes; see `PaneRingState`)
 * plus the last price seen. At WINDOW_SECONDS = 60 it is at most about 9 KB of
 * JSON, far below Deno KV's 64 KiB value limit.
 */
export type FeatureState = PaneRingState & {
  /** Price of the last event processed for the symbol, null before the first. */
  lastPrice: number | null;
  /** detection v2's robust features (absent in states saved before them: they start fresh) */
  robust?: RobustState;
};

/** Schema of {@linkcode FeatureState}, used when state comes back from storage. */
export const FeatureState = PaneRingState.and(z.object({
  lastPrice: z.number().refine((p) => Number.isFinite(p) && p > 0, {
    message: "lastPrice must be a positive finite number",
  }).nullable(),
  robust: z.custom<RobustState>((v) =>
    typeof v === "object" && v !== null && Array.isArray((v as RobustState).shortRing)
  ).optional(),
}));

/** The whole engine as plain JSON: its options and every symbol's state. */
export interface FeatureEngineState {
  /** Format version, bumped on an incompatible change. */
  version: 1;
  /** Window width in seconds. */
  windowSeconds: number;
  /** Warm-up threshold. */
  minWindowEvents: number;
  /** Clipping of what enters the window (null: off). */
  winsorizeSigma?: number | null;
  /** Per-symbol state, keyed by symbol. */
  symbols: Record<string, FeatureState>;
}

const FeatureEngineStateSchema = z.object({
  version: z.literal(1),
  windowSeconds: z.number().int().min(1),
  minWindowEvents: z.number().int().min(0),
  winsorizeSigma: z.number().positive().nullable().optional(),
  symbols: z.record(z.string(), z.unknown()),
});

/** Per-symbol working state: the ring and the last price. */
class SymbolWindow {
  lastPrice: number | null = null;
  constructor(readonly ring: PaneRing, readonly robust: RobustSymbol) {}
}

/**
 * Turns market events into feature rows, one per event, as soon as the event
 * arrives (DESIGN.md section 5). For each event it computes the row from the
 * symbol's window *before* the event (see `PaneRing` for the exact window,
 * at one-second pane resolution, and the clamping of late events), then adds
 * the event to the window.
 *
 * - `z_score_x = (x − mean(x_W)) / std(x_W)` for price, the event's own
 *   `log_return` field, and volume; 0 when std is 0 or the window holds fewer
 *   than two events, never NaN or Infinity.
 * - `rolling_price_std = std(price_W) / mean(price_W)` and
 *   `rolling_volume_std = std(volume_W) / mean(volume_W)`: relative, so one
 *   model serves every symbol; 0 when the mean is 0 or n < 2.
 * - `window_count = n`, `warm_up = n < minWindowEvents`.
 *
 * Standard deviations are sample ones (n − 1, as Spark's `stddev`).
 *
 * @example
 * ```ts
 * import { FeatureEngine } from "./features.ts";
 * const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 2 });
 * const event = (price: number, s: number) => ({
 *   timestamp: s, symbol: "BTC-USDT", price, volume: 1, log_return: 0,
 *   is_anomaly: false, anomaly_type: null,
 * });
 * engine.update(event(100, 1));
 * engine.update(event(102, 2));
 * const row = engine.update(event(104, 3));
 * console.log(row.window_count, row.z_score_price); // 2 2.1213203435596424 = (104 − 101) / √2
 * ```
 */
export class FeatureEngine {
  /** Window width in seconds. */
  readonly windowSeconds: number;
  /** Warm-up threshold. */
  readonly minWindowEvents: number;
  /** Clipping of what enters the window, in window stds (null: off). */
  readonly winsorizeSigma: number | null;
  #symbols = new Map<string, SymbolWindow>();

  /** Throws a `RangeError` unless both options are non-negative integers (width ≥ 1). */
  constructor(options: FeatureEngineOptions) {
    const { windowSeconds, minWindowEvents } = options;
    checkWindowOptions(options);
    this.windowSeconds = windowSeconds;
    this.minWindowEvents = minWindowEvents;
    const k = options.winsorizeSigma ?? null;
    if (k !== null && !(k > 0)) throw new RangeError(`winsorizeSigma must be > 0, got ${k}`);
    this.winsorizeSigma = k;
  }

  /**
   * The row of one (already parsed) event, computed from the window before
   * it; then the event joins the window. O(1) amortized.
   */
  update(e: MarketEvent): FeatureRow {
    let sym = this.#symbols.get(e.symbol);
    if (sym === undefined) {
      sym = new SymbolWindow(new PaneRing(this.windowSeconds), new RobustSymbol());
      this.#symbols.set(e.symbol, sym);
    }
    const ts = eventTimeMs(e);
    const ring = sym.ring;
    ring.advanceTo(ts);
    const w = ring.windowMoments();
    const n = w.count;
    const row: FeatureRow = {
      symbol: e.symbol,
      ts_ms: ts,
      z_score_price: zScore(e.price, w.price),
      z_score_log_return: zScore(e.log_return, w.logReturn),
      z_score_volume: zScore(e.volume, w.volume),
      rolling_price_std: relativeStd(w.price),
      rolling_volume_std: relativeStd(w.volume),
      window_count: n,
      warm_up: n < this.minWindowEvents,
      price: e.price,
      volume: e.volume,
      is_anomaly: e.is_anomaly === true,
      anomaly_type: e.anomaly_type ?? null,
    };
    if (e.trade_id !== undefined) row.trade_id = e.trade_id;
    if (e.source !== undefined) row.source = e.source;
    const rf = sym.robust.update(e.price, e.volume, ts);
    row.price_z = rf.price_z;
    row.price_z_long = rf.price_z_long;
    row.volume_z = rf.volume_z;
    row.flow_z = rf.flow_z;
    row.robust_ready = rf.robust_ready;
    const k = this.winsorizeSigma;
    if (k !== null && n >= this.minWindowEvents) {
      // The row above saw the raw event; the window remembers it clipped.
      ring.add(
        clip(e.price, w.price, k),
        clip(e.log_return, w.logReturn, k),
        clip(e.volume, w.volume, k),
      );
    } else {
      ring.add(e.price, e.log_return, e.volume);
    }
    sym.lastPrice = e.price;
    return row;
  }

  /** Symbols seen so far, in order of first sight. */
  symbols(): string[] {
    return [...this.#symbols.keys()];
  }

  /**
   * One symbol's state as plain JSON, for a checkpoint under
   * `["state", symbol]`; undefined for a symbol never seen. With `binary`,
   * the robust sketches' rings are `Uint16Array`s rather than base64: what
   * the worker writes to Deno KV with every batch (a typed array is stored
   * as is, and base64 was most of a checkpoint's cost). Both forms restore.
   */
  symbolState(symbol: string, opts: { binary?: boolean } = {}): FeatureState | undefined {
    const sym = this.#symbols.get(symbol);
    if (sym === undefined) return undefined;
    return { ...sym.ring.toJSON(), lastPrice: sym.lastPrice, robust: sym.robust.toJSON(opts) };
  }

  /**
   * Replaces one symbol's state with a saved one. Throws a `z.ZodError` on a
   * malformed state and a `RangeError` when it was saved with another window
   * width (its panes would mean something else).
   */
  restoreSymbol(symbol: string, state: unknown): void {
    const s = FeatureState.parse(state);
    if (s.windowSeconds !== this.windowSeconds) {
      throw new RangeError(
        `state of ${symbol} has windowSeconds ${s.windowSeconds}, engine has ${this.windowSeconds}`,
      );
    }
    const sym = new SymbolWindow(
      PaneRing.fromJSON(s),
      s.robust ? RobustSymbol.fromJSON(s.robust) : new RobustSymbol(),
    );
    sym.lastPrice = s.lastPrice;
    this.#symbols.set(symbol, sym);
  }

  /** The whole engine as plain JSON (see {@linkcode FeatureEngineState}). */
  toJSON(): FeatureEngineState {
    const symbols: Record<string, FeatureState> = {};
    for (const symbol of this.#symbols.keys()) symbols[symbol] = this.symbolState(symbol)!;
    return {
      version: 1,
      windowSeconds: this.windowSeconds,
      minWindowEvents: this.minWindowEvents,
      winsorizeSigma: this.winsorizeSigma,
      symbols,
    };
  }

  /**
   * Rebuilds an engine from {@linkcode FeatureEngine.toJSON}'s output (also
   * after `JSON.stringify` / `JSON.parse`). The restored engine produces
   * bit-identical rows to one that never stopped.
   *
   * @example
   * ```ts
   * import { FeatureEngine } from "./features.ts";
   * const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
   * const copy = FeatureEngine.fromJSON(JSON.parse(JSON.stringify(engine)));
   * console.log(copy.windowSeconds); // 60
   * ```
   */
  static fromJSON(state: unknown): FeatureEngine {
    const s = FeatureEngineStateSchema.parse(state);
    const engine = new FeatureEngine(s);
    for (const [symbol, symbolState] of Object.entries(s.symbols)) {
      engine.restoreSymbol(symbol, symbolState);
    }
    return engine;
  }
}

/** `x` clipped to the window's mean ± k·std; unchanged while the std is 0 or undefined. */
function clip(x: number, m: Moments, k: number): number {
  const std = sampleStd(m);
  if (!(std > 0)) return x;
  return Math.min(m.mean + k * std, Math.max(m.mean - k * std, x));
}

/** (x − mean) / std, 0 when the std is 0 or undefined (n < 2); never NaN or ±Infinity. */
function zScore(x: number, m: Moments): number {
  const n = m.count;
  if (n < 2) return 0;
  const std = Math.sqrt(m.m2 / (n - 1));
  if (!(std > 0)) return 0;
  const z = (x - m.mean) / std;
  // Only a floating overflow on absurd inputs could get here; keep the row valid.
  return Number.isFinite(z) ? z : 0;
}

/** std / mean, 0 when n < 2 or the mean is not positive (e.g. an all-zero volume window). */
function relativeStd(m: Moments): number {
  const n = m.count;
  if (n < 2 || !(m.mean > 0)) return 0;
  const r = Math.sqrt(m.m2 / (n - 1)) / m.mean;
  return Number.isFinite(r) ? r : 0;
}
