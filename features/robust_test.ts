import assert from "node:assert/strict";
import { DEFAULT_ROBUST_OPTIONS, RobustSymbol } from "./robust.ts";
import { Random } from "../lib/random.ts";

interface Trade {
  price: number;
  volume: number;
  ts: number;
}

/** The q-quantile of the last `size` values. */
function windowQuantile(values: number[], size: number, q: number): number {
  const w = values.slice(-size).sort((a, b) => a - b);
  return w[Math.max(0, Math.ceil(q * w.length) - 1)];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

/**
 * Brute force of price_z and volume_z from the whole history, written from
 * the module's documentation: moments = distinct milliseconds; reference =
 * median of the last 5 moment closes before the trade's moment; spread =
 * q90 of the last `spreadMoments` moment-close deviations ÷ 1.645, floored.
 */
function bruteForce(trades: Trade[], i: number) {
  const o = DEFAULT_ROBUST_OPTIONS;
  const t = trades[i];
  const closes: number[] = []; // ln close of each moment before t's moment
  const devs: number[] = [];
  let tick = Infinity;
  for (let j = 0; j < i; j++) {
    if (j > 0) {
      const d = Math.abs(trades[j].price - trades[j - 1].price);
      if (d > 0 && d < tick) tick = d;
    }
    const closesMoment = j + 1 <= i && trades[j + 1].ts !== trades[j].ts;
    if (closesMoment) {
      const lp = Math.log(trades[j].price);
      if (closes.length >= o.shortMoments) devs.push(Math.abs(lp - median(closes.slice(-5))));
      closes.push(lp);
    }
  }
  if (i > 0) {
    const d = Math.abs(t.price - trades[i - 1].price);
    if (d > 0 && d < tick) tick = d;
  }
  const vols = trades.slice(0, i).map((x) => Math.log(x.volume));
  const floor = Math.max(o.minRelSpread, Number.isFinite(tick) ? tick / t.price : 0);
  const ready = closes.length >= 5 && devs.length >= 50 && vols.length >= 100;
  if (!ready) return null;
  const spread = Math.max(windowQuantile(devs, o.spreadMoments, 0.9), 1e-12) /
    1.6448536269514722;
  const priceZ = (Math.log(t.price) - median(closes.slice(-5))) / Math.max(spread, floor);
  const iqr = windowQuantile(vols, o.volumeTrades, 0.75) -
    windowQuantile(vols, o.volumeTrades, 0.25);
  const volSpread = Math.max(iqr / 1.3489795003921634, o.minLogVolumeSpread);
  const volMedian = windowQuantile(vols, o.volumeTrades, 0.5);
  const volumeZ = (Math.log(t.volume) - volMedian) / volSpread;
  // flow_z: median ln volume of the last flowTrades trades (t included) within flowMs of t
  const recent = trades.slice(Math.max(0, i + 1 - o.flowTrades), i + 1)
    .filter((x) => x.ts > t.ts - o.flowMs).map((x) => Math.log(x.volume));
  const flowZ = recent.length >= o.minFlowTrades
    ? (median(recent) - volMedian) / (1.2533141373155 * volSpread / Math.sqrt(recent.length))
    : 0;
  return { priceZ, volumeZ, flowZ };
}

/** A random stream with bursts (many trades in one ms), flat stretches and a tick grid. */
function stream(seed: number, n: number, flat = false): Trade[] {
  const r = new Random(seed);
  const out: Trade[] = [];
  let ts = 1_700_000_000_000;
  let p = 100;
  for (let i = 0; i < n; i++) {
    if (r.float() < 0.6) ts += 1 + r.int(400); // otherwise: same millisecond (burst)
    if (!flat && r.float() < 0.5) {
      p = Math.max(1, p + (r.float() < 0.5 ? -0.01 : 0.01) * (1 + r.int(3)));
    }
    out.push({ price: Math.round(p * 100) / 100, volume: Math.exp(r.normal() * 0.7), ts });
  }
  return out;
}

Deno.test("robust: price_z, volume_z and flow_z match a brute-force reference (bursts, tick grid)", () => {
  const trades = stream(11, 900);
  const s = new RobustSymbol();
  let compared = 0;
  for (let i = 0; i < trades.length; i++) {
    const f = s.update(trades[i].price, trades[i].volume, trades[i].ts);
    const b = bruteForce(trades, i);
    assert.equal(f.robust_ready, b !== null, `readiness at ${i}`);
    if (b === null) continue;
    compared++;
    // Bin width 0.01 in log10 (2.3 %) for spreads, 0.02 in ln volume.
    const tolP = 0.04 * Math.abs(b.priceZ) + 1e-6;
    assert.ok(
      Math.abs(f.price_z - b.priceZ) <= tolP,
      `price_z at ${i}: ${f.price_z} vs ${b.priceZ}`,
    );
    const tolV = 0.05 * Math.abs(b.volumeZ) + 0.05;
    assert.ok(
      Math.abs(f.volume_z - b.volumeZ) <= tolV,
      `volume_z at ${i}: ${f.volume_z} vs ${b.volumeZ}`,
    );
    const tolF = 0.06 * Math.abs(b.flowZ) + 0.15;
    assert.ok(Math.abs(f.flow_z - b.flowZ) <= tolF, `flow_z at ${i}: ${f.flow_z} vs ${b.flowZ}`);
  }
  assert.ok(compared > 500, `compared ${compared}`);
});

Deno.test("robust: a flat market cannot turn one tick into a huge z (spread floor)", () => {
  const s = new RobustSymbol();
  let ts = 0;
  for (let i = 0; i < 2000; i++) s.update(43000, 1, ts += 100);
  // One tick (0.01 on 43 000) after a perfectly flat hour.
  const f = s.update(43000.01, 1, ts += 100);
  assert.ok(f.robust_ready);
  // floor = 2e-5 relative: a tick of 2.3e-7 is ~0.01σ, not 20σ.
  assert.ok(Math.abs(f.price_z) < 0.1, `${f.price_z}`);
  // A real 13 bp move is large but finite and proportionate (13 bp / 0.2 bp = 65).
  const g = s.update(43000 * 1.0013, 1, ts += 100);
  assert.ok(g.price_z > 50 && g.price_z < 80, `${g.price_z}`);
});

Deno.test("robust: hundreds of trades in one millisecond are one moment for the reference", () => {
  const s = new RobustSymbol();
  const r = new Random(2);
  let ts = 0;
  let p = 100;
  for (let i = 0; i < 3000; i++) {
    p *= Math.exp(0.0005 * r.normal());
    s.update(p, 1, ts += 200);
  }
  // A sweep: 300 fills in one ms walking 30 bp down. The reference (median of
  // the moments before) does not move within the ms, so the deepest fill
  // shows the whole move, and the first fill is ordinary.
  const base = p;
  const first = s.update(base, 1, ts + 200);
  let last = first;
  for (let k = 1; k < 300; k++) last = s.update(base * (1 - 0.00001 * k), 1, ts + 200);
  assert.ok(Math.abs(first.price_z) < 3, `${first.price_z}`);
  assert.ok(last.price_z < first.price_z - 3, `${last.price_z} vs ${first.price_z}`);
});

Deno.test("robust: the trade after a transient spike is not anomalous (median reference)", () => {
  const s = new RobustSymbol();
  const r = new Random(5);
  let ts = 0;
  let p = 100;
  for (let i = 0; i < 3000; i++) {
    p *= Math.exp(0.001 * r.normal());
    s.update(p, 1, ts += 200);
  }
  const spike = s.update(p * 1.08, 1, ts += 200);
  const after = s.update(p, 1, ts += 200);
  assert.ok(spike.price_z > 10, `spike ${spike.price_z}`);
  assert.ok(Math.abs(after.price_z) < 3, `snap-back ${after.price_z}`);
});

Deno.test("robust: after a gap the price references restart (warm-up), sizes are remembered", () => {
  const s = new RobustSymbol();
  let ts = 0;
  for (let i = 0; i < 1000; i++) s.update(100 + (i % 3) * 0.01, 1 + (i % 4) * 0.1, ts += 200);
  ts += 10 * 60_000; // ten silent minutes; the price moved 3 % meanwhile
  const first = s.update(103, 1, ts);
  assert.equal(first.robust_ready, false);
  assert.equal(first.price_z, 0);
  let f = first;
  for (let k = 1; k <= 5; k++) f = s.update(103 + (k % 2) * 0.01, 1, ts += 200);
  assert.equal(f.robust_ready, true);
  assert.ok(Math.abs(f.price_z) < 5, `${f.price_z}`);
});

Deno.test("robust: a thin market (a trade every ~30 s) becomes ready and stays scored", () => {
  const s = new RobustSymbol();
  const r = new Random(9);
  let ts = 0;
  let ready = 0;
  const n = 400; // ~3.3 hours
  for (let i = 0; i < n; i++) {
    ts += 10_000 + r.int(50_000);
    const f = s.update(50 * Math.exp(0.002 * r.normal()), Math.exp(r.normal()), ts);
    if (f.robust_ready) ready++;
  }
  assert.ok(ready / n > 0.7, `ready share ${ready / n}`);
});

Deno.test("robust: toJSON/fromJSON continues bit for bit", () => {
  const trades = stream(4, 1500);
  const a = new RobustSymbol();
  for (let i = 0; i < 1000; i++) a.update(trades[i].price, trades[i].volume, trades[i].ts);
  const b = RobustSymbol.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  for (let i = 1000; i < 1500; i++) {
    const fa = a.update(trades[i].price, trades[i].volume, trades[i].ts);
    const fb = b.update(trades[i].price, trades[i].volume, trades[i].ts);
    assert.deepEqual(fb, fa, `${i}`);
  }
});

Deno.test("robust: flat volume and zero volume stay finite", () => {
  const s = new RobustSymbol();
  let f;
  for (let i = 0; i < 500; i++) f = s.update(10, i % 50 === 0 ? 0 : 2, i * 100);
  assert.ok(Number.isFinite(f!.volume_z) && Number.isFinite(f!.flow_z));
});

Deno.test("robust: a burst of large orders raises flow_z; one large trade raises only volume_z", () => {
  const r = new Random(21);
  const s = new RobustSymbol();
  let ts = 1_700_000_000_000;
  const size = () => 2 * Math.exp(0.5 * r.normal());
  for (let i = 0; i < 3000; i++) s.update(100 + 0.01 * (i % 3), size(), ts += 200);
  // one ×8 trade among ordinary ones
  const big = s.update(100, 8 * 2 * Math.exp(0.5 * r.normal()), ts += 200);
  assert.ok(big.volume_z > 2.5, `volume_z ${big.volume_z}`);
  assert.ok(big.flow_z < 2, `flow_z ${big.flow_z}`);
  for (let i = 0; i < 30; i++) s.update(100, size(), ts += 200);
  // a burst: 25 trades in 5 s, each ×4 the usual size (ln 4 = 2.8 σ of ln size each)
  let last = big;
  for (let i = 0; i < 25; i++) last = s.update(100, 4 * size(), ts += 200);
  assert.ok(last.flow_z > 6, `flow_z after the burst ${last.flow_z}`);
  // 10 s after it, ordinary trades bring flow_z back to the noise
  for (let i = 0; i < 50; i++) last = s.update(100, size(), ts += 200);
  assert.ok(Math.abs(last.flow_z) < 3, `flow_z after ${last.flow_z}`);
});

Deno.test("robust: lone trades of a thin pair give flow_z 0 (fewer than minFlowTrades in flowMs)", () => {
  const s = new RobustSymbol();
  let f;
  for (let i = 0; i < 400; i++) f = s.update(100 + (i % 2) * 0.01, 1 + (i % 7) / 10, i * 30_000);
  assert.equal(f!.robust_ready, true);
  assert.equal(f!.flow_z, 0);
});
