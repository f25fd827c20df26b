/**
 * Heavy tail, or a few trades shifted above the body? (DESIGN.md section 16,
 * calibration.) The body fit of model/trade_tail.ts keeps an exponential
 * part when the upper percentiles sit above a Gaussian's. Two things put
 * them there: a genuine power-law size tail, and a training window's own
 * size anomalies — a few trades k times their usual size, i.e. a copy of
 * the body shifted by ln k — which lift every upper percentile by their
 * share. From the body alone the two look alike (measured: 0.33 % of trades
 * at +4.16 σ kept a spurious part in 18–29 of 100 samples, moving the alert
 * line from ~3.9 σ to 4.3–4.6 σ). The whole sample tells them apart: a
 * power-law tail decays exponentially past the body, shifted trades form a
 * bump of the body's own width.
 *
 * So the sample is binned (a tenth of σ wide) and three explanations are
 * fitted by maximum likelihood: the EMG alone, a Gaussian plus a shifted
 * copy of it on at most 2 % of the trades, and the EMG plus such a copy.
 * The one with the lowest negative log-likelihood plus half of the body
 * test's SIGNIFICANCE per parameter wins, and the alert line comes from its
 * body alone: the shifted trades are what the channel should catch.
 * Under shifted trades a mild tail (scale ≈ 0.35 σ) is told from a slightly
 * wider Gaussian about half the time; the Gaussian's line is then ~0.45 σ
 * below the tail's, the EMG's at it: on average 0.12 σ below, against
 * 0.36 σ above without this stage (measured in trade_tail_excess_test.ts).
 *
 * Pure: no clock, no I/O.
 *
 * @module
 */
import {
  type Emg,
  type EmgFit,
  fitEmg,
  lnSurvival,
  nelderMead,
  SIGNIFICANCE,
} from "./trade_tail.ts";

/** Largest share of the trades a shifted copy of the body may explain. */
export const MAX_SHIFTED_SHARE = 0.02;

/** What {@linkcode explainExcess} concludes. */
export interface ExcessFit {
  /** the body's distribution: the alert line is read from it */
  body: Emg;
  /** share of the trades in the shifted copy (0: none) */
  share: number;
  /** the copy's shift in units of the body's σ (0: none) */
  shift: number;
}

/** Bins of a sorted sample: upper edges (the last bin is open) and counts. */
function bin(sorted: ArrayLike<number>, width: number): { edges: number[]; counts: number[] } {
  const n = sorted.length;
  const lo = sorted[0];
  const hi = sorted[n - 1];
  // at most 4 000 bins, whatever the range
  const w = Math.max(width, (hi - lo) / 4000);
  const edges: number[] = [];
  for (let e = lo + w; e < hi; e += w) edges.push(e);
  const counts = new Array<number>(edges.length + 1).fill(0);
  let j = 0;
  for (let i = 0; i < n; i++) {
    while (j < edges.length && sorted[i] > edges[j]) j++;
    counts[j]++;
  }
  return { edges, counts };
}

/**
 * Chooses between the EMG `fit` (fitted on the body of `sorted`, ascending)
 * and the same with a shifted copy of the body on a small share of the
 * trades, or a Gaussian with that copy; see the module's text.
 *
 * @example
 * ```ts
 * import { explainExcess } from "./trade_tail_excess.ts";
 * import { Random } from "../lib/random.ts";
 * const r = new Random(3);
 * // Gaussian sizes with a ×8 trade (+4.16 σ) on one trade in 300
 * const xs = Array.from({ length: 18_000 }, (_, i) => r.normal() + (i % 300 === 0 ? 4.16 : 0));
 * const e = explainExcess(xs.sort((a, b) => a - b), { mu: -0.2, sigma: 0.95, scale: 0.25 });
 * console.log(e.body.scale < 0.1, Math.abs(e.shift - 4.16) < 0.5); // true true
 * ```
 */
export function explainExcess(
  sorted: ArrayLike<number>,
  fit: Emg,
  o: { censorAt?: number } = {},
): ExcessFit {
  const { edges, counts } = bin(sorted, 0.1 * fit.sigma);
  const censor = o.censorAt;
  // every bin's probability, given x ≤ censorAt when the sample is censored there
  const nll = (surv: (x: number) => number) => {
    const top = censor === undefined ? 0 : surv(censor);
    let l = 0;
    let prev = 1;
    for (let k = 0; k <= edges.length; k++) {
      const cur = k < edges.length ? surv(edges[k]) : top;
      if (counts[k] > 0) l -= counts[k] * Math.log(Math.max(prev - cur, 1e-300));
      prev = cur;
    }
    const n = sorted.length;
    return top > 0 ? l + n * Math.log(Math.max(1 - top, 1e-300)) : l;
  };
  const sf = (d: Emg) => (x: number) => Math.exp(lnSurvival(d, x));
  const shareOf = (t: number) => MAX_SHIFTED_SHARE / (1 + Math.exp(-t));
  const shiftOf = (t: number) => 1 + Math.exp(t);
  const emgOf = (t: readonly number[]): Emg => ({
    mu: t[0],
    sigma: Math.exp(t[1]),
    scale: t.length > 2 ? Math.exp(t[2]) : 0,
  });
  // body parameters first, then the copy's logit share and log(shift − 1)
  const withCopy = (nBody: 2 | 3) => (t: readonly number[]) => {
    const d = emgOf(t.slice(0, nBody));
    const eps = shareOf(t[nBody]);
    const body = sf(d);
    const copy = sf({ ...d, mu: d.mu + shiftOf(t[nBody + 1]) * d.sigma });
    return nll((x) => (1 - eps) * body(x) + eps * copy(x));
  };
  const copyFit = (x: readonly number[], nBody: 2 | 3): ExcessFit => ({
    body: emgOf(x.slice(0, nBody)),
    share: shareOf(x[nBody]),
    shift: shiftOf(x[nBody + 1]),
  });
  const start = [fit.mu, Math.log(fit.sigma), Math.log(Math.max(fit.scale, 0.01))];
  // log-likelihoods are compared to ~3: a thousandth is converged
  const tol = 1e-3;
  const emg = nelderMead((t) => nll(sf(emgOf(t))), start, 600, tol);
  // the Gaussian with a copy from three shifts; the EMG with a copy from the best of them
  let gaussCopy = { x: start, f: Infinity };
  for (const s of [2.5, 4, 6]) {
    const r = nelderMead(
      withCopy(2),
      [fit.mu + fit.scale, start[1], -2, Math.log(s - 1)],
      800,
      tol,
    );
    if (r.f < gaussCopy.f) gaussCopy = r;
  }
  const emgCopy = nelderMead(withCopy(3), [...emg.x, ...gaussCopy.x.slice(2)], 1500, tol);
  // a parameter must buy half of SIGNIFICANCE in log-likelihood (the body fit's test)
  const perParameter = 0.5 * SIGNIFICANCE;
  const candidates = [
    // the EMG alone keeps the body fit's parameters, which the tail cannot move
    { f: emg.f + 3 * perParameter, out: { body: fit, share: 0, shift: 0 } },
    { f: gaussCopy.f + 4 * perParameter, out: copyFit(gaussCopy.x, 2) },
    { f: emgCopy.f + 5 * perParameter, out: copyFit(emgCopy.x, 3) },
  ];
  candidates.sort((a, b) => a.f - b.f);
  return candidates[0].out;
}

/** A size tail fit: {@linkcode fitEmg}'s, its body separated from shifted trades. */
export interface SizeTailFit extends EmgFit {
  /** share of the training trades taken for a shifted copy of the body (0: none) */
  shifted: number;
}

/**
 * The size tail the calibration uses: {@linkcode fitEmg} on the body, and,
 * when that keeps an exponential part, {@linkcode explainExcess} on the whole
 * sample (a Gaussian fit has no excess to explain). `misfit` stays the body
 * fit's: whether the family fits the body at all. Null where fitEmg is.
 *
 * @example
 * ```ts
 * import { fitSizeTail } from "./trade_tail_excess.ts";
 * import { Random } from "../lib/random.ts";
 * const r = new Random(4);
 * // a power-law tail (lognormal × Pareto sizes) is kept
 * const xs = Array.from({ length: 18_000 }, () => r.normal() - 0.6 * Math.log(1 - r.float()));
 * console.log(Math.abs(fitSizeTail(xs)!.scale - 0.6) < 0.1); // true
 * ```
 */
export function fitSizeTail(
  sample: ArrayLike<number>,
  o: { censored?: boolean } = {},
): SizeTailFit | null {
  const f = fitEmg(sample);
  if (f === null || !(f.scale > 0)) return f === null ? null : { ...f, shifted: 0 };
  const sorted = Float64Array.from(sample).filter((x) => Number.isFinite(x)).sort();
  const e = explainExcess(sorted, f, o.censored ? { censorAt: sorted[sorted.length - 1] } : {});
  return { ...e.body, misfit: f.misfit, shifted: e.share };
}
