/**
 * Detection v2's features (DESIGN.md section 16): four robust z-scores that
 * describe the *trade*, not last minute's volatility. Pure: time comes from
 * the events.
 *
 * - `price_z`: the trade's ln price against the median of the last
 *   {@linkcode RobustOptions.shortMoments} market moments (a moment = all
 *   trades of one millisecond: hundreds of fills of one sweep are one market
 *   moment, and a median of moments cannot be dragged by them), scaled by a
 *   robust spread: the 90th percentile of past |deviations| ÷ 1.645 (the
 *   normal's σ), with a floor — the larger of `minRelSpread` and the symbol's
 *   observed tick ÷ price — so a flat market cannot turn one tick into 20σ.
 *   Comparing with a median, not with the previous trade, is what keeps the
 *   trade *after* a transient spike (its snap-back) from looking anomalous.
 * - `price_z_long`: the same against the median of the last
 *   `longSeconds` one-second closes: slow moves (a crash over seconds, a pump
 *   over minutes) and level shifts. Seconds without trades are skipped, so a
 *   thin pair's long horizon simply spans more time.
 * - `volume_z`: ln(volume) against the median of the last `volumeTrades` trades, scaled by IQR ÷ 1.349.
 * - `flow_z`: how heavy the recent order flow is: the median ln(volume) of
 *   the last `flowTrades` trades within `flowMs` (this one included, at
 *   least `minFlowTrades`) against volume_z's median, in standard errors of
 *   a median (1.2533 × spread ÷ √n). A burst of large orders (a whale
 *   working an order, a liquidation cascade) moves the median of many
 *   trades, which the noise of single sizes cannot: measured on the
 *   realistic profile, bursts reach 5.8–9.9 where ordinary seconds stay
 *   below 4 in 999 of 1 000 (docs/detection.md). One big trade moves a
 *   median of many by one rank (volume_z's job), and a thin pair's lone
 *   trades (fewer than `minFlowTrades` within `flowMs`) give 0.
 *
 * Medians of the short rings are recomputed only when a moment or a second
 * closes; the sliding sketches ({@linkcode SlidingQuantiles}) are O(log B).
 *
 * After a gap (no trade for `gapFactor` × the symbol's usual spacing, and at
 * least `minGapMs`) the reference rings restart and the symbol is warm again
 * only once it has `shortMoments` fresh moments: a price that wandered
 * during an outage is not an anomaly of the first trade after it.
 *
 * @module
 */
import { type Binning, SlidingQuantiles, type SlidingQuantilesState } from "./quantiles.ts";

/** The robust features of one trade (all finite; 0 where a channel is not ready). */
export interface RobustFeatures {
  price_z: number;
  price_z_long: number;
  volume_z: number;
  flow_z: number;
  /** false until the short price channel and the volume channel are ready */
  robust_ready: boolean;
}

/** The robust feature names, in the order models see them. */
export const ROBUST_FEATURE_NAMES = ["price_z", "price_z_long", "volume_z", "flow_z"] as const;

/** Knobs of the robust features (defaults in {@linkcode DEFAULT_ROBUST_OPTIONS}). */
export interface RobustOptions {
  /** moments in the short price reference (median of) */
  shortMoments: number;
  /** one-second closes in the long price reference */
  longSeconds: number;
  /** floor of the relative price spread (e.g. 2e-5 = 0.2 bp) */
  minRelSpread: number;
  /** floor of the ln-volume spread */
  minLogVolumeSpread: number;
  /** windows, in observations, of the spread and volume sketches */
  spreadMoments: number;
  spreadSeconds: number;
  volumeTrades: number;
  /** flow_z: the median of at most this many recent trades… */
  flowTrades: number;
  /** …of the last this many milliseconds… */
  flowMs: number;
  /** …and at least this many of them */
  minFlowTrades: number;
  /** a silence this many times the usual spacing restarts the references… */
  gapFactor: number;
  /** …and never less than this */
  minGapMs: number;
}

/** Defaults: measured with `deno task eval` (docs/detection.md). */
export const DEFAULT_ROBUST_OPTIONS: Readonly<RobustOptions> = Object.freeze({
  shortMoments: 5,
  longSeconds: 60,
  minRelSpread: 2e-5,
  minLogVolumeSpread: 0.05,
  spreadMoments: 300,
  spreadSeconds: 300,
  volumeTrades: 2000,
  flowTrades: 20,
  flowMs: 10_000,
  minFlowTrades: 3,
  gapFactor: 30,
  minGapMs: 60_000,
});

const DEV_BINS: Binning = { lo: -9, hi: 0, width: 0.01 }; // log10 |ln-price deviation|
const VOL_BINS: Binning = { lo: -28, hi: 28, width: 0.02 }; // ln volume
const NORMAL_Q90 = 1.6448536269514722;
const IQR_TO_SIGMA = 1.3489795003921634;
const MIN_DEV_OBS = 50;
const MIN_VOL_OBS = 100;
/** the standard error of a normal sample's median is this × σ ÷ √n */
const MEDIAN_SE = 1.2533141373155001;

/** Persisted state of one symbol's robust features (plain JSON, or with binary sketch rings). */
export interface RobustState {
  momentMs: number | null;
  momentPrice: number;
  shortRing: number[];
  second: number | null;
  secondClose: number;
  /** the last trades' times and ln volumes, interleaved (flow_z); absent in states before it */
  recent?: number[];
  longRing: number[];
  tick: number;
  spacingMs: number;
  dev: SlidingQuantilesState;
  longDev: SlidingQuantilesState;
  vol: SlidingQuantilesState;
}

/** A fixed-capacity ring of numbers, oldest dropped first. */
class Ring {
  readonly values: number[] = [];
  readonly #scratch: Float64Array;
  constructor(readonly capacity: number) {
    this.#scratch = new Float64Array(capacity);
  }
  push(x: number): void {
    this.values.push(x);
    if (this.values.length > this.capacity) this.values.shift();
  }
  median(): number {
    const n = this.values.length;
    if (n === 0) return NaN;
    // A typed-array sort of a reused buffer: no allocation per closed moment.
    const v = this.#scratch.subarray(0, n);
    for (let i = 0; i < n; i++) v[i] = this.values[i];
    return sortedMedian(v.sort(), n);
  }
}

/** The median of the first `n` values of a sorted array. */
function sortedMedian(w: Float64Array, n: number): number {
  return n % 2 ? w[(n - 1) >> 1] : 0.5 * (w[n / 2 - 1] + w[n / 2]);
}

const lnVolume = (v: number) => Math.log(Math.max(v, 1e-12));
const log10Abs = (d: number) => Math.log10(Math.max(Math.abs(d), 1e-12));

/**
 * One symbol's robust features, updated trade by trade.
 *
 * @example
 * ```ts
 * import { RobustSymbol } from "./robust.ts";
 * const s = new RobustSymbol();
 * let f;
 * for (let i = 0; i < 400; i++) f = s.update(100 + (i % 2) * 0.01, 1 + (i % 3) / 10, i * 200);
 * const spike = s.update(110, 1, 400 * 200);
 * console.log(f!.robust_ready, spike.price_z > 50); // true true
 * ```
 */
export class RobustSymbol {
  readonly o: Readonly<RobustOptions>;
  #momentMs: number | null = null;
  #momentPrice = 0;
  readonly #short: Ring;
  #shortRef = NaN;
  #second: number | null = null;
  #secondClose = 0;
  /** ring of the last `flowTrades` trades: times and ln volumes */
  readonly #recentTs: Float64Array;
  readonly #recentLv: Float64Array;
  #recentNext = 0;
  #recentCount = 0;
  readonly #flowScratch: Float64Array;
  /** the ring's ln volumes, sorted: the median when every remembered trade is in the window */
  readonly #recentSorted: Float64Array;
  /** the last {@linkcode RobustSymbol.#recentMedian} result */
  #flowMedian = NaN;
  readonly #long: Ring;
  #longRef = NaN;
  #tick = Infinity;
  #spacingMs = NaN;
  #dev: SlidingQuantiles;
  #longDev: SlidingQuantiles;
  #vol: SlidingQuantiles;
  #spread = NaN;
  #longSpread = NaN;

  constructor(options: Partial<RobustOptions> = {}) {
    this.o = { ...DEFAULT_ROBUST_OPTIONS, ...options };
    this.#short = new Ring(this.o.shortMoments);
    this.#long = new Ring(this.o.longSeconds);
    this.#dev = new SlidingQuantiles(DEV_BINS, this.o.spreadMoments);
    this.#longDev = new SlidingQuantiles(DEV_BINS, this.o.spreadSeconds);
    this.#vol = new SlidingQuantiles(VOL_BINS, this.o.volumeTrades);
    this.#recentTs = new Float64Array(this.o.flowTrades);
    this.#recentLv = new Float64Array(this.o.flowTrades);
    this.#flowScratch = new Float64Array(this.o.flowTrades);
    this.#recentSorted = new Float64Array(this.o.flowTrades);
  }

  /** The features of a trade at `price`, `volume`, `tsMs`, computed before it joins the state. */
  update(price: number, volume: number, tsMs: number): RobustFeatures {
    const lp = Math.log(price);
    if (this.#momentMs !== null && tsMs !== this.#momentMs) {
      const gap = tsMs - this.#momentMs;
      this.#closeMoment();
      this.#spacingMs = Number.isNaN(this.#spacingMs)
        ? Math.max(gap, 0)
        : 0.98 * this.#spacingMs + 0.02 * Math.max(gap, 0);
      if (gap > Math.max(this.o.minGapMs, this.o.gapFactor * this.#spacingMs)) this.#restart();
    }
    const sec = Math.floor(tsMs / 1000);
    if (this.#second !== null && sec !== this.#second) this.#closeSecond();
    this.#second = sec;
    if (this.#momentMs !== null) {
      const d = Math.abs(price - Math.exp(this.#momentPrice));
      if (d > 0 && d < this.#tick) this.#tick = d;
    }
    this.#momentMs = tsMs;
    this.#momentPrice = lp;
    this.#secondClose = lp;

    const floor = Math.max(
      this.o.minRelSpread,
      Number.isFinite(this.#tick) ? this.#tick / price : 0,
    );
    const shortReady = this.#short.values.length >= this.o.shortMoments &&
      this.#dev.seen >= MIN_DEV_OBS;
    const price_z = shortReady ? (lp - this.#shortRef) / Math.max(this.#spread, floor) : 0;
    const longReady = this.#long.values.length >= Math.min(20, this.o.longSeconds) &&
      this.#longDev.seen >= MIN_DEV_OBS;
    const price_z_long = longReady ? (lp - this.#longRef) / Math.max(this.#longSpread, floor) : 0;

    const lv = lnVolume(volume);
    this.#remember(tsMs, lv);
    let volume_z = 0;
    let flow_z = 0;
    const volReady = this.#vol.seen >= MIN_VOL_OBS;
    if (volReady) {
      const [med, spread] = medianSpread(this.#vol, this.o.minLogVolumeSpread);
      volume_z = (lv - med) / spread;
      const n = this.#recentMedian(tsMs);
      if (n >= this.o.minFlowTrades) {
        flow_z = (this.#flowMedian - med) / (MEDIAN_SE * spread / Math.sqrt(n));
      }
    }
    this.#vol.add(lv);
    return {
      price_z: finite(price_z),
      price_z_long: finite(price_z_long),
      volume_z: finite(volume_z),
      flow_z: finite(flow_z),
      robust_ready: shortReady && volReady,
    };
  }

  #closeMoment(): void {
    const lp = this.#momentPrice;
    if (this.#short.values.length >= this.o.shortMoments) {
      this.#dev.add(log10Abs(lp - this.#shortRef));
    }
    this.#short.push(lp);
    this.#shortRef = this.#short.median();
    this.#spread = Math.pow(10, this.#dev.quantile(0.9)) / NORMAL_Q90;
  }

  #closeSecond(): void {
    const lp = this.#secondClose;
    if (this.#long.values.length >= Math.min(20, this.o.longSeconds)) {
      this.#longDev.add(log10Abs(lp - this.#longRef));
    }
    this.#long.push(lp);
    this.#longRef = this.#long.median();
    this.#longSpread = Math.pow(10, this.#longDev.quantile(0.9)) / NORMAL_Q90;
  }

  #remember(tsMs: number, lv: number): void {
    const k = this.#recentNext;
    const sorted = this.#recentSorted;
    let n = this.#recentCount;
    if (n === this.o.flowTrades) {
      // drop the evicted value from the sorted copy
      let i = lowerBound(sorted, n, this.#recentLv[k]);
      for (; i < n - 1; i++) sorted[i] = sorted[i + 1];
      n--;
    }
    const j = lowerBound(sorted, n, lv);
    for (let i = n; i > j; i--) sorted[i] = sorted[i - 1];
    sorted[j] = lv;
    this.#recentTs[k] = tsMs;
    this.#recentLv[k] = lv;
    this.#recentNext = (k + 1) % this.o.flowTrades;
    if (this.#recentCount < this.o.flowTrades) this.#recentCount++;
  }

  /** Median ln volume of the remembered trades within `flowMs` of `tsMs` (into #flowMedian); their count. */
  #recentMedian(tsMs: number): number {
    const cap = this.o.flowTrades;
    const count = this.#recentCount;
    // a busy market: every remembered trade is in the window, the sorted copy has the median
    if (count === cap && this.#recentTs[this.#recentNext] > tsMs - this.o.flowMs) {
      this.#flowMedian = sortedMedian(this.#recentSorted, cap);
      return cap;
    }
    const v = this.#flowScratch;
    let n = 0;
    // newest first; stop at the first trade out of the window (the ring is in time order)
    for (let i = 1; i <= this.#recentCount; i++) {
      const k = (this.#recentNext - i + cap) % cap;
      if (this.#recentTs[k] <= tsMs - this.o.flowMs) break;
      v[n++] = this.#recentLv[k];
    }
    if (n < this.o.minFlowTrades) return n;
    this.#flowMedian = sortedMedian(v.subarray(0, n).sort(), n);
    return n;
  }

  #restart(): void {
    this.#short.values.length = 0;
    this.#long.values.length = 0;
    this.#shortRef = NaN;
    this.#longRef = NaN;
  }

  /**
   * The state as plain JSON; with `binary`, the sketches' rings are
   * `Uint16Array`s instead of base64 (for Deno KV, which stores typed arrays
   * compactly; {@linkcode RobustSymbol.fromJSON} reads both).
   */
  toJSON(opts: { binary?: boolean } = {}): RobustState {
    const q = (s: SlidingQuantiles) => opts.binary ? s.toBinary() : s.toJSON();
    return {
      momentMs: this.#momentMs,
      momentPrice: this.#momentPrice,
      shortRing: [...this.#short.values],
      second: this.#second,
      secondClose: this.#secondClose,
      recent: this.#recentPairs(),
      longRing: [...this.#long.values],
      tick: Number.isFinite(this.#tick) ? this.#tick : -1,
      spacingMs: Number.isNaN(this.#spacingMs) ? -1 : this.#spacingMs,
      dev: q(this.#dev),
      longDev: q(this.#longDev),
      vol: q(this.#vol),
    };
  }

  /** The remembered trades, oldest first, as [ts, lnV, ts, lnV, …]. */
  #recentPairs(): number[] {
    const out: number[] = [];
    const cap = this.o.flowTrades;
    for (let i = this.#recentCount; i >= 1; i--) {
      const k = (this.#recentNext - i + cap) % cap;
      out.push(this.#recentTs[k], this.#recentLv[k]);
    }
    return out;
  }

  /** Continues from a saved state (see {@linkcode RobustSymbol.toJSON}). */
  static fromJSON(s: RobustState, options: Partial<RobustOptions> = {}): RobustSymbol {
    const r = new RobustSymbol(options);
    r.#momentMs = s.momentMs;
    r.#momentPrice = s.momentPrice;
    for (const x of s.shortRing) r.#short.push(x);
    r.#shortRef = r.#short.median();
    r.#second = s.second;
    r.#secondClose = s.secondClose;
    const recent = s.recent ?? [];
    for (let i = 0; i + 1 < recent.length; i += 2) r.#remember(recent[i], recent[i + 1]);
    for (const x of s.longRing) r.#long.push(x);
    r.#longRef = r.#long.median();
    r.#tick = s.tick > 0 ? s.tick : Infinity;
    r.#spacingMs = s.spacingMs >= 0 ? s.spacingMs : NaN;
    r.#dev = SlidingQuantiles.fromJSON(DEV_BINS, r.o.spreadMoments, s.dev);
    r.#longDev = SlidingQuantiles.fromJSON(DEV_BINS, r.o.spreadSeconds, s.longDev);
    r.#vol = SlidingQuantiles.fromJSON(VOL_BINS, r.o.volumeTrades, s.vol);
    r.#spread = Math.pow(10, r.#dev.quantile(0.9)) / NORMAL_Q90;
    r.#longSpread = Math.pow(10, r.#longDev.quantile(0.9)) / NORMAL_Q90;
    return r;
  }
}

/** Median and IQR-based spread of a sketch, floored. */
function medianSpread(q: SlidingQuantiles, floor: number): [number, number] {
  return [q.quantile(0.5), Math.max((q.quantile(0.75) - q.quantile(0.25)) / IQR_TO_SIGMA, floor)];
}

/** First index in the sorted prefix `a[0..n)` whose value is ≥ x. */
function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m] < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}
