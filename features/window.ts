/**
 * Running statistics and the per-symbol ring of one-second panes behind
 * Sentinel's rolling window (DESIGN.md section 5).
 *
 * Each pane keeps count, mean and M2 (sum of squared deviations from the
 * mean) of three series, price, log-return and volume, updated with
 * Welford's algorithm. A window is the merge of its panes with Chan et al.'s
 * pairwise formula. Neither step subtracts two large sums, so the result stays
 * accurate at BTC prices with a variance a trillion times smaller than the
 * price squared, where the textbook Σx² − (Σx)²/n loses most of its digits.
 *
 * @module
 */
import { z } from "zod";

/**
 * Running statistics of one series: how many values, their mean, and M2, the
 * sum of squared deviations from that mean. Variance is `m2 / (count - 1)`.
 */
export interface Moments {
  /** Number of values seen. */
  count: number;
  /** Mean of the values (0 when `count` is 0). */
  mean: number;
  /** Sum of squared deviations from `mean` (0 when `count` < 2). */
  m2: number;
}

/**
 * The moments of no values at all.
 *
 * @example
 * ```ts
 * import { emptyMoments } from "./window.ts";
 * console.log(emptyMoments()); // { count: 0, mean: 0, m2: 0 }
 * ```
 */
export function emptyMoments(): Moments {
  return { count: 0, mean: 0, m2: 0 };
}

/**
 * The moments of `m`'s values plus `x` (Welford's update). Returns a new
 * record; `m` is left as it was.
 *
 * @example
 * ```ts
 * import { addValue, emptyMoments } from "./window.ts";
 * const m = [1, 2, 3, 4].reduce(addValue, emptyMoments());
 * console.log(m); // { count: 4, mean: 2.5, m2: 5 }
 * ```
 */
export function addValue(m: Moments, x: number): Moments {
  const count = m.count + 1;
  const delta = x - m.mean;
  const mean = m.mean + delta / count;
  return { count, mean, m2: m.m2 + delta * (x - mean) };
}

/**
 * The moments of the union of two disjoint sets of values (Chan, Golub and
 * LeVeque's pairwise formula): with n = na + nb and δ = mean_b − mean_a,
 * mean = mean_a + δ·nb/n and M2 = M2_a + M2_b + δ²·na·nb/n. An empty side
 * returns the other side unchanged, bit for bit.
 *
 * @example
 * ```ts
 * import { mergeMoments } from "./window.ts";
 * const a = { count: 2, mean: 1.5, m2: 0.5 }; // 1, 2
 * const b = { count: 2, mean: 3.5, m2: 0.5 }; // 3, 4
 * console.log(mergeMoments(a, b)); // { count: 4, mean: 2.5, m2: 5 }
 * ```
 */
export function mergeMoments(a: Moments, b: Moments): Moments {
  if (b.count === 0) return { count: a.count, mean: a.mean, m2: a.m2 };
  if (a.count === 0) return { count: b.count, mean: b.mean, m2: b.m2 };
  const out = emptyMoments();
  mergeInto(out, a.count, a.mean, a.m2, b.count, b.mean, b.m2);
  return out;
}

/**
 * Sample standard deviation (n − 1 denominator, as Spark's `stddev`); 0 when
 * fewer than two values.
 *
 * @example
 * ```ts
 * import { sampleStd } from "./window.ts";
 * console.log(sampleStd({ count: 4, mean: 2.5, m2: 5 })); // 1.2909944487358056 = √(5/3)
 * ```
 */
export function sampleStd(m: Moments): number {
  return m.count < 2 ? 0 : Math.sqrt(m.m2 / (m.count - 1));
}

/**
 * The statistics of one window: the number of events and the moments of
 * each series (every series' `count` equals `count`).
 */
export interface WindowMoments {
  /** Events in the window. */
  count: number;
  /** Moments of the events' prices. */
  price: Moments;
  /** Moments of the events' `log_return` fields. */
  logReturn: Moments;
  /** Moments of the events' volumes. */
  volume: Moments;
}

/**
 * One pane as stored in {@linkcode PaneRingState}:
 * `[second, count, price mean, price M2, log-return mean, log-return M2,
 * volume mean, volume M2]`.
 */
export type PaneRecord = [
  second: number,
  count: number,
  priceMean: number,
  priceM2: number,
  logReturnMean: number,
  logReturnM2: number,
  volumeMean: number,
  volumeM2: number,
];

/**
 * The JSON form of a {@linkcode PaneRing}: its width, the latest second it
 * has seen (null before the first event) and its non-empty panes, oldest
 * first. At 60 s and every pane non-empty this is at most about 9 KB of JSON
 * (60 panes × 8 numbers of up to ~19 characters); a symbol that trades less
 * than once a second stores proportionally less.
 */
export interface PaneRingState {
  /** Window width in seconds (= number of panes). */
  windowSeconds: number;
  /** Latest (clamped) second seen, or null before the first event. */
  lastSecond: number | null;
  /** Non-empty panes within the window, oldest first. */
  panes: PaneRecord[];
}

const finiteNumber = z.number().refine(Number.isFinite, { message: "must be finite" });
const nonNegative = finiteNumber.refine((x) => x >= 0, { message: "must not be negative" });

/** Schema of {@linkcode PaneRingState}; checks every pane lies inside the window. */
export const PaneRingState = z.object({
  windowSeconds: z.number().int().min(1),
  lastSecond: z.number().int().nullable(),
  panes: z.array(z.tuple([
    z.number().int(),
    z.number().int().min(1),
    finiteNumber,
    nonNegative,
    finiteNumber,
    nonNegative,
    finiteNumber,
    nonNegative,
  ])),
}).superRefine((s, ctx) => {
  if (s.lastSecond === null) {
    if (s.panes.length > 0) {
      ctx.addIssue({ code: "custom", path: ["panes"], message: "panes without a lastSecond" });
    }
    return;
  }
  let previous = -Infinity;
  for (const [i, pane] of s.panes.entries()) {
    const second = pane[0];
    if (second <= s.lastSecond - s.windowSeconds || second > s.lastSecond) {
      ctx.addIssue({
        code: "custom",
        path: ["panes", i, 0],
        message: `pane second ${second} outside the window ending at ${s.lastSecond}`,
      });
    }
    if (second <= previous) {
      ctx.addIssue({
        code: "custom",
        path: ["panes", i, 0],
        message: "pane seconds must be strictly increasing",
      });
    }
    previous = second;
  }
});

/**
 * A per-symbol ring of `windowSeconds` one-second panes.
 *
 * **Window definition (pane resolution).** For an event at time t ms, with
 * second S = ⌊t / 1000⌋, the window is every event of the symbol whose second
 * lies in [S − windowSeconds + 1, S] and that was processed *before* this
 * event. An event never dilutes its own z-score; earlier events of the same
 * second are included. Window edges therefore move in whole seconds: the
 * window spans between windowSeconds − 1 and windowSeconds seconds of time.
 *
 * **Late events.** An event whose second is earlier than the latest second
 * the ring has seen is processed as if it arrived at that latest second: its
 * time is clamped for window purposes, it is scored against the current
 * window and added to the current pane. Closed panes are never reopened, so
 * every update stays O(1) and a replay of the same sequence gives the same
 * numbers. (Kafka keeps per-symbol order; late trades are rare on Binance.)
 *
 * **Cost.** Panes live in typed arrays, one per field. The merge of the closed
 * panes (seconds S − W + 1 … S − 1) is cached and recomputed only when the
 * current second changes, at most once per second per symbol (O(W)); each
 * event then costs one merge per series with the current pane plus one
 * Welford update. A gap longer than the window clears every pane in O(W).
 *
 * @example
 * ```ts
 * import { PaneRing, sampleStd } from "./window.ts";
 * const ring = new PaneRing(60);
 * ring.advanceTo(1_000);
 * ring.add(100, 0, 1);
 * ring.advanceTo(2_500);
 * ring.add(102, 0.02, 3);
 * ring.advanceTo(3_000);
 * const w = ring.windowMoments();
 * console.log(w.count, w.price.mean, sampleStd(w.price)); // 2 101 1.4142135623730951
 * ```
 */
export class PaneRing {
  /** Window width in seconds (= number of panes). */
  readonly windowSeconds: number;
  #count: Float64Array;
  #priceMean: Float64Array;
  #priceM2: Float64Array;
  #logReturnMean: Float64Array;
  #logReturnM2: Float64Array;
  #volumeMean: Float64Array;
  #volumeM2: Float64Array;
  #lastSecond: number | null = null;
  #slot = 0;
  /** Merge of the closed panes of the current window, refreshed on each new second. */
  #closed: WindowMoments = emptyWindow();
  /** Reused result of {@linkcode PaneRing.windowMoments}. */
  #window: WindowMoments = emptyWindow();

  /** @param windowSeconds the window width, a positive integer (DESIGN.md WINDOW_SECONDS). */
  constructor(windowSeconds: number) {
    if (!Number.isInteger(windowSeconds) || windowSeconds < 1) {
      throw new RangeError(`windowSeconds must be a positive integer, got ${windowSeconds}`);
    }
    this.windowSeconds = windowSeconds;
    this.#count = new Float64Array(windowSeconds);
    this.#priceMean = new Float64Array(windowSeconds);
    this.#priceM2 = new Float64Array(windowSeconds);
    this.#logReturnMean = new Float64Array(windowSeconds);
    this.#logReturnM2 = new Float64Array(windowSeconds);
    this.#volumeMean = new Float64Array(windowSeconds);
    this.#volumeM2 = new Float64Array(windowSeconds);
  }

  /** Latest (clamped) second seen, or null before the first event. */
  get lastSecond(): number | null {
    return this.#lastSecond;
  }

  /**
   * Moves the ring to the second of `timeMs` and returns the second the next
   * {@linkcode PaneRing.add} will land in. A time earlier than the latest
   * second is clamped to it (late events, see the class notes).
   */
  advanceTo(timeMs: number): number {
    const second = Math.floor(timeMs / 1000);
    const last = this.#lastSecond;
    if (last === null) {
      this.#lastSecond = second;
      this.#slot = slotOf(second, this.windowSeconds);
      return second;
    }
    if (second <= last) return last;
    const w = this.windowSeconds;
    this.#lastSecond = second;
    this.#slot = slotOf(second, w);
    if (second - last >= w) {
      // Everything fell out of the window: clear all panes, nothing closed remains.
      this.#clearAll();
      resetWindow(this.#closed);
    } else {
      // Seconds last+1 … second reuse the slots of seconds that just left the window.
      for (let s = last + 1; s <= second; s++) this.#clearSlot(slotOf(s, w));
      this.#recomputeClosed();
    }
    return second;
  }

  /**
   * Statistics of the current window: every event added so far whose
   * (clamped) second lies in [lastSecond − windowSeconds + 1, lastSecond].
   * The returned object is reused by the next call: copy what you keep.
   */
  windowMoments(): Readonly<WindowMoments> {
    const out = this.#window;
    const closed = this.#closed;
    const i = this.#slot;
    const nb = this.#lastSecond === null ? 0 : this.#count[i];
    out.count = closed.count + nb;
    if (nb === 0) {
      copyMoments(out.price, closed.price);
      copyMoments(out.logReturn, closed.logReturn);
      copyMoments(out.volume, closed.volume);
      return out;
    }
    const na = closed.count;
    if (na === 0) {
      setMoments(out.price, nb, this.#priceMean[i], this.#priceM2[i]);
      setMoments(out.logReturn, nb, this.#logReturnMean[i], this.#logReturnM2[i]);
      setMoments(out.volume, nb, this.#volumeMean[i], this.#volumeM2[i]);
      return out;
    }
    const p = closed.price, r = closed.logReturn, v = closed.volume;
    mergeInto(out.price, na, p.mean, p.m2, nb, this.#priceMean[i], this.#priceM2[i]);
    mergeInto(out.logReturn, na, r.mean, r.m2, nb, this.#logReturnMean[i], this.#logReturnM2[i]);
    mergeInto(out.volume, na, v.mean, v.m2, nb, this.#volumeMean[i], this.#volumeM2[i]);
    return out;
  }

  /**
   * Adds one event to the current pane (the second of the last
   * {@linkcode PaneRing.advanceTo}) with Welford's update.
   */
  add(price: number, logReturn: number, volume: number): void {
    if (this.#lastSecond === null) {
      throw new Error("PaneRing.add before advanceTo: the ring does not know the time yet");
    }
    const i = this.#slot;
    const n = this.#count[i] + 1;
    this.#count[i] = n;
    let delta = price - this.#priceMean[i];
    let mean = this.#priceMean[i] + delta / n;
    this.#priceMean[i] = mean;
    this.#priceM2[i] += delta * (price - mean);
    delta = logReturn - this.#logReturnMean[i];
    mean = this.#logReturnMean[i] + delta / n;
    this.#logReturnMean[i] = mean;
    this.#logReturnM2[i] += delta * (logReturn - mean);
    delta = volume - this.#volumeMean[i];
    mean = this.#volumeMean[i] + delta / n;
    this.#volumeMean[i] = mean;
    this.#volumeM2[i] += delta * (volume - mean);
  }

  /** The ring as plain JSON (see {@linkcode PaneRingState}); numbers round-trip exactly. */
  toJSON(): PaneRingState {
    const last = this.#lastSecond;
    const panes: PaneRecord[] = [];
    if (last !== null) {
      for (let s = last - this.windowSeconds + 1; s <= last; s++) {
        const i = slotOf(s, this.windowSeconds);
        if (this.#count[i] === 0) continue;
        panes.push([
          s,
          this.#count[i],
          this.#priceMean[i],
          this.#priceM2[i],
          this.#logReturnMean[i],
          this.#logReturnM2[i],
          this.#volumeMean[i],
          this.#volumeM2[i],
        ]);
      }
    }
    return { windowSeconds: this.windowSeconds, lastSecond: last, panes };
  }

  /**
   * Rebuilds a ring from {@linkcode PaneRing.toJSON}'s output (validated;
   * throws a `z.ZodError` on a malformed state). The restored ring computes
   * bit-identical windows to the one that was saved.
   *
   * @example
   * ```ts
   * import { PaneRing } from "./window.ts";
   * const ring = new PaneRing(60);
   * ring.advanceTo(1_000);
   * ring.add(100, 0, 1);
   * const copy = PaneRing.fromJSON(JSON.parse(JSON.stringify(ring)));
   * console.log(copy.windowMoments().price.mean); // 100
   * ```
   */
  static fromJSON(state: unknown): PaneRing {
    const s = PaneRingState.parse(state);
    const ring = new PaneRing(s.windowSeconds);
    if (s.lastSecond === null) return ring;
    for (const p of s.panes) {
      const i = slotOf(p[0], s.windowSeconds);
      ring.#count[i] = p[1];
      ring.#priceMean[i] = p[2];
      ring.#priceM2[i] = p[3];
      ring.#logReturnMean[i] = p[4];
      ring.#logReturnM2[i] = p[5];
      ring.#volumeMean[i] = p[6];
      ring.#volumeM2[i] = p[7];
    }
    ring.#lastSecond = s.lastSecond;
    ring.#slot = slotOf(s.lastSecond, s.windowSeconds);
    // The cache is a pure function of the closed panes, which have not changed
    // since it was last computed: recomputing it yields the same bits.
    ring.#recomputeClosed();
    return ring;
  }

  /** Merges the closed panes, oldest first, into the cache (O(W), once per new second). */
  #recomputeClosed(): void {
    const acc = this.#closed;
    const last = this.#lastSecond;
    if (last === null) {
      resetWindow(acc);
      return;
    }
    const w = this.windowSeconds;
    const count = this.#count;
    const priceMean = this.#priceMean, priceM2 = this.#priceM2;
    const lrMean = this.#logReturnMean, lrM2 = this.#logReturnM2;
    const volMean = this.#volumeMean, volM2 = this.#volumeM2;
    // Locals, not the cache object, in the loop: this is the only O(W) step
    // on the hot path, and for a symbol trading less than once a second it
    // runs on every event. Same arithmetic as mergeInto, same order.
    let n = 0, pm = 0, pm2 = 0, rm = 0, rm2 = 0, vm = 0, vm2 = 0;
    let i = slotOf(last - w + 1, w);
    for (let k = 1; k < w; k++, i = i + 1 === w ? 0 : i + 1) {
      const nb = count[i];
      if (nb === 0) continue;
      if (n === 0) {
        n = nb;
        pm = priceMean[i], pm2 = priceM2[i];
        rm = lrMean[i], rm2 = lrM2[i];
        vm = volMean[i], vm2 = volM2[i];
        continue;
      }
      const na = n;
      n = na + nb;
      let delta = priceMean[i] - pm;
      pm = pm + (delta * nb) / n;
      pm2 = pm2 + priceM2[i] + (delta * delta * na * nb) / n;
      delta = lrMean[i] - rm;
      rm = rm + (delta * nb) / n;
      rm2 = rm2 + lrM2[i] + (delta * delta * na * nb) / n;
      delta = volMean[i] - vm;
      vm = vm + (delta * nb) / n;
      vm2 = vm2 + volM2[i] + (delta * delta * na * nb) / n;
    }
    acc.count = n;
    setMoments(acc.price, n, pm, pm2);
    setMoments(acc.logReturn, n, rm, rm2);
    setMoments(acc.volume, n, vm, vm2);
  }

  #clearSlot(i: number): void {
    this.#count[i] = 0;
    this.#priceMean[i] = 0;
    this.#priceM2[i] = 0;
    this.#logReturnMean[i] = 0;
    this.#logReturnM2[i] = 0;
    this.#volumeMean[i] = 0;
    this.#volumeM2[i] = 0;
  }

  #clearAll(): void {
    this.#count.fill(0);
    this.#priceMean.fill(0);
    this.#priceM2.fill(0);
    this.#logReturnMean.fill(0);
    this.#logReturnM2.fill(0);
    this.#volumeMean.fill(0);
    this.#volumeM2.fill(0);
  }
}

/** Chan et al.'s merge of two non-empty sides, written into `out` (may alias side a). */
function mergeInto(
  out: Moments,
  na: number,
  meanA: number,
  m2A: number,
  nb: number,
  meanB: number,
  m2B: number,
): void {
  const n = na + nb;
  const delta = meanB - meanA;
  out.count = n;
  out.mean = meanA + (delta * nb) / n;
  out.m2 = m2A + m2B + (delta * delta * na * nb) / n;
}

function setMoments(out: Moments, count: number, mean: number, m2: number): void {
  out.count = count;
  out.mean = mean;
  out.m2 = m2;
}

function copyMoments(out: Moments, from: Moments): void {
  out.count = from.count;
  out.mean = from.mean;
  out.m2 = from.m2;
}

function emptyWindow(): WindowMoments {
  return { count: 0, price: emptyMoments(), logReturn: emptyMoments(), volume: emptyMoments() };
}

function resetWindow(w: WindowMoments): void {
  w.count = 0;
  setMoments(w.price, 0, 0, 0);
  setMoments(w.logReturn, 0, 0, 0);
  setMoments(w.volume, 0, 0, 0);
}

/** Slot of a second; seconds are non-negative (Unix time) but stay safe if not. */
function slotOf(second: number, w: number): number {
  const i = second % w;
  return i < 0 ? i + w : i;
}

/**
 * Throws a `RangeError` unless `windowSeconds` is a positive integer and
 * `minWindowEvents` a non-negative one (the options every window type shares).
 *
 * @example
 * ```ts
 * import { checkWindowOptions } from "./window.ts";
 * checkWindowOptions({ windowSeconds: 60, minWindowEvents: 10 }); // fine
 * ```
 */
export function checkWindowOptions(o: { windowSeconds: number; minWindowEvents: number }): void {
  if (!Number.isInteger(o.windowSeconds) || o.windowSeconds < 1) {
    throw new RangeError(`windowSeconds must be a positive integer, got ${o.windowSeconds}`);
  }
  if (!Number.isInteger(o.minWindowEvents) || o.minWindowEvents < 0) {
    throw new RangeError(
      `minWindowEvents must be a non-negative integer, got ${o.minWindowEvents}`,
    );
  }
}
