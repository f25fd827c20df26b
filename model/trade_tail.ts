/**
 * The trade-size tail (DESIGN.md section 16, calibration): a per-trade
 * distribution family for the robust z of ln(volume), fitted on the *body*
 * of an unlabelled training window and extrapolated to the alert threshold.
 *
 * Why a family, and why this one. Trade sizes are a lognormal body with a
 * power-law tail (a Pareto tail in size is an exponential tail in ln size),
 * so ln(size) is a Gaussian plus an independent exponential: the
 * exponentially modified Gaussian (EMG) with parameters μ, σ and the
 * exponential's mean `scale` (0: no power-law tail, a plain lognormal). The
 * quantile fit reads the 5th–97.5th percentiles only: the body, which a
 * training window's own size anomalies (a ×8 trade in 0.3 % of trades, the
 * seed stream) barely move, while they fill the very tail a purely empirical
 * fit extrapolates from: that fit took the anomalies for a heavy tail and
 * put the threshold beyond them (measured: 0 % of the seed stream's volume
 * spikes). The shape of the body says how heavy the tail is: a lognormal
 * market gets a Gaussian tail, a power-law one its exponential.
 *
 * Pure: no clock, no I/O.
 *
 * @module
 */
import { z } from "zod";

/** An exponentially modified Gaussian: X = μ + σ·N(0, 1) + Exp(mean `scale`). */
export const Emg = z.object({
  mu: z.number(),
  sigma: z.number().positive(),
  /** mean of the exponential part (0: Gaussian) */
  scale: z.number().nonnegative(),
});
/** An exponentially modified Gaussian. */
export type Emg = z.infer<typeof Emg>;

/** The percentiles the body fit matches. */
export const FIT_PROBABILITIES = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975] as const;

/**
 * ln erfc(x), accurate in relative terms far into the tail (Numerical
 * Recipes' `erfcc`, fractional error below 1.2e-7 for every x ≥ 0, in log
 * form so that erfc(40) ≈ 1e-697 does not underflow).
 */
export function lnErfc(x: number): number {
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const l = Math.log(t) - a * a - 1.26551223 +
    t * (1.00002368 +
        t * (0.37409196 +
            t * (0.09678418 +
                t * (-0.18628806 +
                    t * (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return x >= 0 ? l : Math.log(2 - Math.exp(l));
}

const LN_HALF = Math.log(0.5);
/** ln P(N(0,1) ≤ u). */
const lnPhi = (u: number) => LN_HALF + lnErfc(-u / Math.SQRT2);
/** ln P(N(0,1) > u). */
const lnQ = (u: number) => LN_HALF + lnErfc(u / Math.SQRT2);

/**
 * ln P(X > x) for an EMG: Q(u) + e^(−λ(x−μ) + λ²σ²/2)·Φ(u − λσ) with
 * u = (x − μ)/σ and λ = 1/scale, summed in log space.
 *
 * @example
 * ```ts
 * import { lnSurvival } from "./trade_tail.ts";
 * // a plain Gaussian: P(X > 1.96) ≈ 0.025
 * console.log(Math.exp(lnSurvival({ mu: 0, sigma: 1, scale: 0 }, 1.96)).toFixed(3)); // "0.025"
 * ```
 */
export function lnSurvival(d: Emg, x: number): number {
  const u = (x - d.mu) / d.sigma;
  const a = lnQ(u);
  if (!(d.scale > 1e-9)) return a;
  const lam = 1 / d.scale;
  const b = -lam * (x - d.mu) + 0.5 * lam * lam * d.sigma * d.sigma + lnPhi(u - lam * d.sigma);
  const m = Math.max(a, b);
  return m + Math.log(Math.exp(a - m) + Math.exp(b - m));
}

/** The x with ln P(X > x) = `lnP` (bisection; P must be below ½). */
export function survivalQuantile(d: Emg, lnP: number): number {
  let lo = d.mu - 10 * d.sigma;
  let hi = d.mu + 10 * d.sigma + 800 * d.scale;
  while (lnSurvival(d, hi) > lnP) hi += hi - lo;
  for (let i = 0; i < 100 && hi - lo > 1e-9; i++) {
    const m = 0.5 * (lo + hi);
    if (lnSurvival(d, m) > lnP) lo = m;
    else hi = m;
  }
  return 0.5 * (lo + hi);
}

/** What {@linkcode fitEmg} returns: the distribution and how far its CDF misses the data. */
export interface EmgFit extends Emg {
  /** largest |F(q_k) − p_k| over the fitted percentiles (0.01: one point of probability) */
  misfit: number;
}

/**
 * Fits an EMG to a sample by its 5th–97.5th percentiles (least squares on
 * the logit of the CDF at each percentile, Nelder–Mead from four starts).
 * Returns null for fewer than 200 values or a degenerate body (the quartiles
 * equal: sizes on a few round lots), where no family should be trusted.
 *
 * @example
 * ```ts
 * import { fitEmg } from "./trade_tail.ts";
 * import { Random } from "../lib/random.ts";
 * const r = new Random(1);
 * const xs = Array.from({ length: 50_000 }, () => r.normal() - 0.6 * Math.log(1 - r.float()));
 * const f = fitEmg(xs)!;
 * console.log(Math.abs(f.scale - 0.6) < 0.1, Math.abs(f.sigma - 1) < 0.1); // true true
 * ```
 */
export function fitEmg(sample: ArrayLike<number>): EmgFit | null {
  const s = Float64Array.from(sample).filter((x) => Number.isFinite(x)).sort();
  const n = s.length;
  if (n < 200) return null;
  const q = FIT_PROBABILITIES.map((p) => s[Math.floor(p * (n - 1))]);
  if (!(q[4] > q[2])) return null;
  const logit = (p: number) => Math.log(p / (1 - p));
  const cdfAt = (d: Emg, k: number) =>
    Math.min(1 - 1e-12, Math.max(1e-12, -Math.expm1(lnSurvival(d, q[k]))));
  const of = (th: readonly number[]): Emg => ({
    mu: th[0],
    sigma: Math.exp(th[1]),
    scale: th.length > 2 ? Math.exp(th[2]) : 0,
  });
  // χ²-like: each percentile's logit residual over its sampling variance 1/(n·p·(1 − p))
  const loss = (th: readonly number[]) => {
    const d = of(th);
    let e = 0;
    for (let k = 0; k < q.length; k++) {
      const p = FIT_PROBABILITIES[k];
      const r = logit(cdfAt(d, k)) - logit(p);
      e += r * r * n * p * (1 - p);
    }
    return e;
  };
  const spread = Math.log((q[4] - q[2]) / 1.349);
  const gauss = nelderMead(loss, [q[3], spread]);
  let best = gauss;
  for (const lnScale of [spread - 3, spread - 1, spread]) {
    const r = nelderMead(loss, [q[3], spread, lnScale]);
    if (r.f < best.f) best = r;
  }
  // The body tells a small exponential part from none only weakly (its skew grows as
  // scale³), yet the far tail depends on it: keep it only when it fits the body
  // significantly better than a plain Gaussian (Δχ² beyond SIGNIFICANCE), else Gaussian.
  if (!(gauss.f - best.f > SIGNIFICANCE)) best = gauss;
  const d = of(best.x);
  let misfit = 0;
  for (let k = 0; k < q.length; k++) {
    misfit = Math.max(misfit, Math.abs(cdfAt(d, k) - FIT_PROBABILITIES[k]));
  }
  return { ...d, misfit };
}

/**
 * Least improvement of the body's χ² for which the exponential part is kept
 * (the 99th percentile of χ² with one degree of freedom; the percentiles of
 * one sample are correlated, so this is a rule of thumb, measured in
 * docs/detection.md, not an exact test).
 */
export const SIGNIFICANCE = 6.63;

/**
 * A minimal Nelder–Mead (reflection, expansion, contraction, shrink); stops
 * after `iterations` or when the simplex's values are within `tolerance`.
 */
export function nelderMead(
  f: (x: readonly number[]) => number,
  x0: readonly number[],
  iterations = 400,
  tolerance = 1e-14,
): { x: number[]; f: number } {
  const n = x0.length;
  let pts = [x0.slice(), ...x0.map((_, i) => x0.map((v, j) => (j === i ? v + 0.5 : v)))]
    .map((x) => ({ x, f: f(x) }));
  for (let it = 0; it < iterations; it++) {
    pts.sort((a, b) => a.f - b.f);
    if (pts[n].f - pts[0].f < tolerance) break;
    const c = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[j] += pts[i].x[j] / n;
    const w = pts[n];
    const at = (t: number) => c.map((v, j) => v + t * (w.x[j] - v));
    const refl = at(-1);
    const fr = f(refl);
    if (fr < pts[0].f) {
      const ex = at(-2);
      const fe = f(ex);
      pts[n] = fe < fr ? { x: ex, f: fe } : { x: refl, f: fr };
    } else if (fr < pts[n - 1].f) {
      pts[n] = { x: refl, f: fr };
    } else {
      const con = at(0.5);
      const fc = f(con);
      if (fc < w.f) pts[n] = { x: con, f: fc };
      else {
        const b = pts[0].x;
        pts = pts.map((p, i) => {
          if (i === 0) return p;
          const x = p.x.map((v, j) => b[j] + 0.5 * (v - b[j]));
          return { x, f: f(x) };
        });
      }
    }
  }
  pts.sort((a, b) => a.f - b.f);
  return pts[0];
}
