import assert from "node:assert/strict";
import { Random } from "../lib/random.ts";
import {
  addValue,
  emptyMoments,
  mergeMoments,
  type Moments,
  PaneRing,
  sampleStd,
  type WindowMoments,
} from "./window.ts";

// Tolerances, against a two-pass reference (mean first, then Σ(x − mean)²).
// The reference's deviations x − mean are exact (Sterbenz) up to the mean's
// own rounding, whose effect on Σ(x − mean)² is second order, so it is
// accurate to a few ε (ε = 2.2e-16) and the tolerances below are all ours.
// - Means: 256 ε (|mean| + std). Every Welford step and merge rounds the
//   mean by about ε·|mean|; independent roundings grow like √k, so 256 ε
//   covers tens of thousands of steps (observed: under 20 ε) and still
//   catches any wrong weight or a missing value.
// - Standard deviations: 1e-12 · std + 16 ε |mean|. A float64 mean is only
//   known to about ε·|mean|, and an error e in a pane's mean moves the std by
//   about e (for two values a and b the std is |a − b|/√2, and Welford's M2
//   uses the rounded midpoint), so no single-pass method can beat an
//   absolute error of order ε·|mean|. On the hardest stream (BTC at 43 000
//   with a one-cent std, κ = mean/std ≈ 4.3e6) that is 1.5e-8 relative, still
//   six orders of magnitude below the naive formula's error on the same data.
//   Easier streams (κ ≤ 1e3) are held to about 1e-12 relative.
const MEAN_ULPS = 256;
const STD_REL = 1e-12;
const STD_ULPS = 16;

/** Whether a std is within the tolerance above of the reference. */
function stdError(got: number, want: RefSeries): number {
  return Math.abs(got - want.std) /
    (STD_REL * want.std + STD_ULPS * Number.EPSILON * Math.abs(want.mean));
}

/** One observation fed to a ring: time in ms and the three series. */
interface Obs {
  t: number;
  price: number;
  lr: number;
  vol: number;
}

interface RefSeries {
  mean: number;
  std: number;
}

interface RefWindow {
  count: number;
  price: RefSeries;
  logReturn: RefSeries;
  volume: RefSeries;
}

/** Two-pass sample statistics of a list of numbers. */
function twoPass(xs: number[]): RefSeries {
  const n = xs.length;
  if (n === 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { mean, std: n < 2 ? 0 : Math.sqrt(ss / (n - 1)) };
}

/**
 * Brute force, straight from the window definition: keep every observation
 * with its clamped second (its own second, or the latest second seen before
 * it if that is later); the window of observation i is every earlier
 * observation whose clamped second lies in [S_i − w + 1, S_i].
 */
function bruteForce(obs: Obs[], w: number): RefWindow[] {
  const seconds: number[] = [];
  const out: RefWindow[] = [];
  let latest = -Infinity;
  for (let i = 0; i < obs.length; i++) {
    const s = Math.max(Math.floor(obs[i].t / 1000), latest);
    latest = s;
    const members: Obs[] = [];
    for (let j = 0; j < i; j++) {
      if (seconds[j] >= s - w + 1 && seconds[j] <= s) members.push(obs[j]);
    }
    seconds.push(s);
    out.push({
      count: members.length,
      price: twoPass(members.map((o) => o.price)),
      logReturn: twoPass(members.map((o) => o.lr)),
      volume: twoPass(members.map((o) => o.vol)),
    });
  }
  return out;
}

/** The ring's view before each observation, copied out of the reused object. */
function ringWindows(obs: Obs[], w: number): WindowMoments[] {
  const ring = new PaneRing(w);
  return obs.map((o) => {
    ring.advanceTo(o.t);
    const m = structuredClone(ring.windowMoments());
    ring.add(o.price, o.lr, o.vol);
    return m;
  });
}

/** Worst errors seen, each as a fraction of its tolerance. */
interface Errors {
  mean: number;
  std: number;
}

function seriesErrors(got: Moments, want: RefSeries, errors: Errors): void {
  const meanErr = Math.abs(got.mean - want.mean) /
    (MEAN_ULPS * Number.EPSILON * (Math.abs(want.mean) + want.std) || 1);
  errors.mean = Math.max(errors.mean, meanErr);
  const std = sampleStd(got);
  if (want.std === 0) {
    assert.equal(std, 0, "a window without spread must have std exactly 0");
  } else {
    errors.std = Math.max(errors.std, stdError(std, want));
  }
}

/** Compares ring and reference on every observation; returns the worst errors seen. */
function compare(obs: Obs[], w: number, want = bruteForce(obs, w)): Errors {
  const got = ringWindows(obs, w);
  const errors = { mean: 0, std: 0 };
  for (let i = 0; i < obs.length; i++) {
    assert.equal(got[i].count, want[i].count, `count before observation ${i}`);
    for (const k of ["price", "logReturn", "volume"] as const) {
      assert.equal(got[i][k].count, want[i].count);
      seriesErrors(got[i][k], want[i][k], errors);
    }
  }
  assert.ok(errors.mean <= 1, `mean error ${errors.mean} times the tolerance`);
  assert.ok(errors.std <= 1, `std error ${errors.std} times the tolerance`);
  return errors;
}

/** A random stream: price around `base` with relative std `rel`, random time steps. */
function stream(
  rng: Random,
  n: number,
  opts: { base: number; rel: number; maxStepMs: number; startMs?: number },
): Obs[] {
  const out: Obs[] = [];
  let t = opts.startMs ?? 1_700_000_000_000;
  let prev = opts.base;
  for (let i = 0; i < n; i++) {
    t += rng.int(opts.maxStepMs + 1);
    const price = opts.base * (1 + opts.rel * rng.normal());
    out.push({ t, price, lr: Math.log(price / prev), vol: -Math.log(1 - rng.float()) * 3 });
    prev = price;
  }
  return out;
}

Deno.test("Moments: hand-computed values of 1, 2, 3, 4", () => {
  // mean = 10 / 4 = 2.5; M2 = 2.25 + 0.25 + 0.25 + 2.25 = 5; std = √(5 / 3).
  const m = [1, 2, 3, 4].reduce(addValue, emptyMoments());
  assert.deepEqual(m, { count: 4, mean: 2.5, m2: 5 });
  assert.equal(sampleStd(m), Math.sqrt(5 / 3));
  // {1, 2}: mean 1.5, M2 0.5; {3, 4}: mean 3.5, M2 0.5; δ = 2, δ²·2·2/4 = 4 → M2 = 5.
  const merged = mergeMoments({ count: 2, mean: 1.5, m2: 0.5 }, { count: 2, mean: 3.5, m2: 0.5 });
  assert.deepEqual(merged, { count: 4, mean: 2.5, m2: 5 });
  assert.equal(sampleStd(emptyMoments()), 0);
  assert.equal(sampleStd({ count: 1, mean: 7, m2: 0 }), 0);
});

Deno.test("Moments: addValue does not mutate, an empty merge side is the identity bit for bit", () => {
  const a = { count: 3, mean: 0.1 + 0.2, m2: 1 / 3 };
  const before = { ...a };
  addValue(a, 5);
  assert.deepEqual(a, before);
  assert.deepEqual(mergeMoments(a, emptyMoments()), a);
  assert.deepEqual(mergeMoments(emptyMoments(), a), a);
  assert.deepEqual(mergeMoments(emptyMoments(), emptyMoments()), emptyMoments());
});

Deno.test("Moments: Welford and random pairwise merges match two passes", () => {
  const rng = new Random(11);
  for (let trial = 0; trial < 200; trial++) {
    const n = 2 + rng.int(200);
    const xs = Array.from({ length: n }, () => 1000 + 5 * rng.normal());
    // Split into random consecutive chunks, Welford each, merge left to right.
    let merged = emptyMoments();
    let chunk = emptyMoments();
    for (const x of xs) {
      chunk = addValue(chunk, x);
      if (rng.float() < 0.1) {
        merged = mergeMoments(merged, chunk);
        chunk = emptyMoments();
      }
    }
    merged = mergeMoments(merged, chunk);
    const whole = xs.reduce(addValue, emptyMoments());
    const want = twoPass(xs);
    for (const m of [merged, whole]) {
      assert.equal(m.count, n);
      const meanTol = MEAN_ULPS * Number.EPSILON * (want.mean + want.std);
      assert.ok(Math.abs(m.mean - want.mean) <= meanTol);
      assert.ok(stdError(sampleStd(m), want) <= 1);
    }
  }
});

Deno.test("PaneRing: matches brute force on random streams (W = 5 and W = 60)", () => {
  const rng = new Random(2024);
  // Steps up to 300 ms: several events per pane, rotations every few events.
  compare(stream(rng, 1500, { base: 100, rel: 0.01, maxStepMs: 300 }), 5);
  compare(stream(rng, 3000, { base: 100, rel: 0.01, maxStepMs: 300 }), 60);
  // Steps up to 3 s: sparse panes, many empty ones, whole-window gaps at W = 5.
  compare(stream(rng, 1500, { base: 320, rel: 0.001, maxStepMs: 3000 }), 5);
  // W = 1: the window is only the current second.
  compare(stream(rng, 1500, { base: 2500, rel: 0.02, maxStepMs: 700 }), 1);
});

Deno.test("PaneRing: stable at BTC prices where the naive Σx² − (Σx)²/n formula fails", () => {
  // BTC at 43 000 with a price std of 0.01 (one cent, one tick): std / price ≈ 2.3e-7,
  // variance ≈ 5.4e-14 of price². About 100 events a second, so a full window holds
  // about 6000 events and Σx² ≈ 1.1e13, whose rounding unit (≈ 2e-3) is far above the
  // true M2 (≈ 0.6): the naive formula cancels catastrophically.
  const rng = new Random(7);
  const obs = stream(rng, 9000, { base: 43_000, rel: 0.01 / 43_000, maxStepMs: 20 });
  const w = 60;
  const want = bruteForce(obs, w);
  compare(obs, w, want);

  // The same windows with the naive one-pass formula, to prove the test can tell.
  const seconds: number[] = [];
  let latest = -Infinity;
  let worstNaive = 0;
  for (let i = 0; i < obs.length; i++) {
    const s = Math.max(Math.floor(obs[i].t / 1000), latest);
    latest = s;
    let n = 0, sum = 0, sumSq = 0;
    for (let j = 0; j < i; j++) {
      if (seconds[j] >= s - w + 1) {
        n++;
        sum += obs[j].price;
        sumSq += obs[j].price * obs[j].price;
      }
    }
    seconds.push(s);
    if (n < 1000) continue;
    const naiveVar = (sumSq - (sum * sum) / n) / (n - 1);
    const trueVar = want[i].price.std ** 2;
    worstNaive = Math.max(worstNaive, Math.abs(naiveVar - trueVar) / trueVar);
  }
  assert.ok(worstNaive > 0.05, `naive variance was only ${worstNaive} off: test not sensitive`);
});

Deno.test("PaneRing: a burst of 1000 events in one second", () => {
  const rng = new Random(3);
  const before = stream(rng, 200, { base: 100, rel: 0.01, maxStepMs: 500 });
  const last = before[before.length - 1].t;
  // 1000 events inside one second (the same pane), then ordinary traffic again.
  const burstStart = (Math.floor(last / 1000) + 1) * 1000;
  const burst = Array.from({ length: 1000 }, (_, k) => {
    const price = 100 * (1 + 0.05 * rng.normal());
    return { t: burstStart + k * 0.999, price, lr: rng.normal() * 0.01, vol: rng.float() * 50 };
  }).map((o) => ({ ...o, t: Math.floor(o.t) }));
  const after = stream(rng, 200, {
    base: 100,
    rel: 0.01,
    maxStepMs: 500,
    startMs: burstStart + 999,
  });
  const obs = [...before, ...burst, ...after];
  assert.ok(burst.every((o) => Math.floor(o.t / 1000) === burstStart / 1000));
  compare(obs, 60);
  compare(obs, 3);
  // Inside the burst the window grows one event at a time.
  const got = ringWindows(obs, 60);
  for (let k = 1; k < 1000; k++) {
    assert.equal(got[before.length + k].count, got[before.length + k - 1].count + 1);
  }
});

Deno.test("PaneRing: a gap longer than the window empties it, then it refills", () => {
  const w = 10;
  const ring = new PaneRing(w);
  for (let s = 0; s < 10; s++) {
    ring.advanceTo(s * 1000 + 500);
    ring.add(100 + s, 0.001 * s, s);
  }
  ring.advanceTo(9_999);
  assert.equal(ring.windowMoments().count, 10); // seconds 0..9
  ring.advanceTo(10_000);
  assert.equal(ring.windowMoments().count, 9); // seconds 1..9: second 0 fell out
  ring.advanceTo(18_000);
  assert.equal(ring.windowMoments().count, 1); // seconds 9..18: only second 9 left
  ring.advanceTo(19_000);
  const empty = ring.windowMoments();
  assert.equal(empty.count, 0);
  assert.deepEqual(empty.price, emptyMoments());
  // A jump of many windows, then refill: only the new events count.
  ring.add(50, 0, 1);
  ring.advanceTo(1_000_000_000);
  assert.equal(ring.windowMoments().count, 0);
  ring.add(60, 0, 2);
  ring.advanceTo(1_000_001_000);
  ring.add(62, 0, 4);
  const w2 = ring.windowMoments();
  assert.equal(w2.count, 2);
  assert.equal(w2.price.mean, 61);
  assert.equal(w2.price.m2, 2); // (60 − 61)² + (62 − 61)²
  assert.equal(w2.volume.mean, 3);

  // The same shape at random: long silences between bursts, against brute force.
  const rng = new Random(99);
  const obs: Obs[] = [];
  let t = 5_000_000;
  for (let burst = 0; burst < 30; burst++) {
    t += rng.float() < 0.5 ? 1000 * (w + rng.int(100)) : rng.int(3000);
    for (
      const o of stream(rng, 1 + rng.int(40), { base: 10, rel: 0.1, maxStepMs: 250, startMs: t })
    ) {
      obs.push(o);
      t = o.t;
    }
  }
  compare(obs, w);
});

Deno.test("PaneRing: late events are clamped to the latest second", () => {
  const ring = new PaneRing(3);
  ring.advanceTo(10_000);
  ring.add(1, 0, 1); // second 10
  ring.advanceTo(12_000);
  ring.add(2, 0, 1); // second 12
  assert.equal(ring.advanceTo(9_000), 12); // late: second 9 → 12
  assert.equal(ring.lastSecond, 12);
  // Scored against the current window [10, 12]: both earlier events.
  assert.equal(ring.windowMoments().count, 2);
  ring.add(3, 0, 1); // lands in pane 12, not in (long closed) second 9
  ring.advanceTo(14_000);
  // Window [12, 14]: the event at 12 and the late one, whose own second 9 is long gone.
  const w = ring.windowMoments();
  assert.equal(w.count, 2);
  assert.equal(w.price.mean, 2.5);
  ring.advanceTo(15_000);
  assert.equal(ring.windowMoments().count, 0); // both left with pane 12

  // Random streams with 10% of events up to 5 s late, against brute force.
  const rng = new Random(5);
  const obs = stream(rng, 2000, { base: 100, rel: 0.01, maxStepMs: 400 }).map((o) =>
    rng.float() < 0.1 ? { ...o, t: o.t - rng.int(5000) } : o
  );
  compare(obs, 4);
  compare(obs, 60);
});

Deno.test("PaneRing: constant values give exactly zero spread", () => {
  const ring = new PaneRing(60);
  for (let k = 0; k < 5000; k++) {
    ring.advanceTo(k * 37);
    const w = ring.windowMoments();
    if (w.count > 0) {
      assert.equal(w.price.mean, 43_150.5);
      assert.equal(w.price.m2, 0);
      assert.equal(w.volume.m2, 0);
      assert.equal(sampleStd(w.price), 0);
    }
    ring.add(43_150.5, 0, 0.25);
  }
});

Deno.test("PaneRing: JSON round trip continues bit for bit", () => {
  const rng = new Random(17);
  const obs = stream(rng, 4000, { base: 43_000, rel: 1e-4, maxStepMs: 60 });
  for (const w of [1, 7, 60]) {
    const a = new PaneRing(w);
    let b: PaneRing | null = null;
    for (let i = 0; i < obs.length; i++) {
      if (i === 1500) {
        const json = JSON.stringify(a);
        b = PaneRing.fromJSON(JSON.parse(json));
        assert.equal(JSON.stringify(b), json);
      }
      const o = obs[i];
      for (const ring of b ? [a, b] : [a]) ring.advanceTo(o.t);
      if (b) assert.deepEqual(b.windowMoments(), a.windowMoments());
      for (const ring of b ? [a, b] : [a]) ring.add(o.price, o.lr, o.vol);
    }
  }
  // An empty ring round-trips too.
  const empty = PaneRing.fromJSON(JSON.parse(JSON.stringify(new PaneRing(60))));
  assert.equal(empty.lastSecond, null);
  assert.equal(empty.windowMoments().count, 0);
});

Deno.test("PaneRing: state size at W = 60 with every pane full stays under 10 KB", () => {
  const rng = new Random(1);
  const ring = new PaneRing(60);
  for (const o of stream(rng, 20_000, { base: 43_123.45, rel: 1e-3, maxStepMs: 10 })) {
    ring.advanceTo(o.t);
    ring.add(o.price, o.lr, o.vol);
  }
  const state = ring.toJSON();
  assert.equal(state.panes.length, 60);
  assert.ok(JSON.stringify(state).length < 10_000);
});

Deno.test("PaneRing: rejects bad widths, adds before the first time, and malformed state", () => {
  assert.throws(() => new PaneRing(0), RangeError);
  assert.throws(() => new PaneRing(2.5), RangeError);
  assert.throws(() => new PaneRing(60).add(1, 0, 1), /before advanceTo/);
  const good = { windowSeconds: 3, lastSecond: 10, panes: [[9, 2, 1, 0.5, 0, 0, 1, 0]] };
  assert.equal(PaneRing.fromJSON(good).windowMoments().count, 2);
  const bad = [
    { ...good, panes: [[7, 2, 1, 0.5, 0, 0, 1, 0]] }, // outside [8, 10]
    { ...good, panes: [[11, 2, 1, 0.5, 0, 0, 1, 0]] }, // in the future
    { ...good, panes: [[9, 0, 1, 0.5, 0, 0, 1, 0]] }, // empty pane
    { ...good, panes: [[9, 2, 1, -0.5, 0, 0, 1, 0]] }, // negative M2
    { ...good, panes: [[9, 2, 1, 0.5, 0, 0, 1]] }, // short record
    { ...good, panes: [[9, 2, 1, 0.5, 0, 0, 1, 0], [9, 1, 1, 0, 0, 0, 1, 0]] }, // duplicate
    { ...good, lastSecond: null },
    { ...good, windowSeconds: 0 },
    null,
  ];
  for (const state of bad) {
    assert.throws(() => PaneRing.fromJSON(state), `accepted ${JSON.stringify(state)}`);
  }
});
