import assert from "node:assert/strict";
import { ANOMALY_TYPES, FeatureRow, type MarketEvent } from "../lib/contracts.ts";
import { Random } from "../lib/random.ts";
import { FeatureEngine, type FeatureEngineState } from "./features.ts";

// Tolerances against a two-pass brute-force reference, propagated from the
// window statistics' tolerances (justified in window_test.ts):
//   |Δmean| ≤ 256 ε (|m| + s),   |Δstd| ≤ 1e-12 s + 16 ε |m|
// with m, s the reference window's mean and std and ε = 2.2e-16. To first
// order z = (x − m)/s moves by Δm/s + z·Δs/s, and r = s/m by r·(Δs/s + Δm/m);
// 4 ε more covers the final division's own rounding. Both therefore scale
// with the window's condition number m/s: about 1e-12 relative on ordinary
// streams, about 1e-7 on BTC with a one-cent spread.
const EPS = Number.EPSILON;
const meanTol = (m: number, s: number) => 256 * EPS * (Math.abs(m) + s);
const stdTol = (m: number, s: number) => 1e-12 * s + 16 * EPS * Math.abs(m);
const zTol = (z: number, m: number, s: number) =>
  (meanTol(m, s) + Math.abs(z) * stdTol(m, s)) / s + 4 * EPS * Math.abs(z);
const ratioTol = (r: number, m: number, s: number) =>
  r * (stdTol(m, s) / s + meanTol(m, s) / Math.abs(m)) + 4 * EPS * r;

/** Two-pass sample mean and std. */
function twoPass(xs: number[]): { mean: number; std: number } {
  const n = xs.length;
  if (n === 0) return { mean: 0, std: 0 };
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) * (x - mean);
  return { mean, std: n < 2 ? 0 : Math.sqrt(ss / (n - 1)) };
}

/** A reference row plus the window statistics its tolerances need. */
interface Expected {
  row: FeatureRow;
  price: { mean: number; std: number };
  logReturn: { mean: number; std: number };
  volume: { mean: number; std: number };
}

/**
 * Brute force, from the definition in DESIGN.md section 5 at pane resolution:
 * per symbol keep every event with its clamped second (its own second, or the
 * symbol's latest earlier second if later); the window of an event is every
 * earlier event of its symbol whose clamped second lies in [S − w + 1, S].
 */
function reference(events: MarketEvent[], w: number, minWindowEvents: number): Expected[] {
  const history = new Map<string, { second: number; e: MarketEvent }[]>();
  return events.map((e) => {
    const t = e.ts_ms ?? e.timestamp * 1000;
    const past = history.get(e.symbol) ?? [];
    history.set(e.symbol, past);
    const latest = past.length ? past[past.length - 1].second : -Infinity;
    const second = Math.max(Math.floor(t / 1000), latest);
    const members = past.filter((h) => h.second >= second - w + 1 && h.second <= second);
    past.push({ second, e });
    const price = twoPass(members.map((h) => h.e.price));
    const logReturn = twoPass(members.map((h) => h.e.log_return));
    const volume = twoPass(members.map((h) => h.e.volume));
    const z = (x: number, s: { mean: number; std: number }) => s.std > 0 ? (x - s.mean) / s.std : 0;
    const ratio = (s: { mean: number; std: number }) => s.mean > 0 ? s.std / s.mean : 0;
    const row: FeatureRow = {
      symbol: e.symbol,
      ts_ms: t,
      z_score_price: z(e.price, price),
      z_score_log_return: z(e.log_return, logReturn),
      z_score_volume: z(e.volume, volume),
      rolling_price_std: ratio(price),
      rolling_volume_std: ratio(volume),
      window_count: members.length,
      warm_up: members.length < minWindowEvents,
      price: e.price,
      volume: e.volume,
      is_anomaly: e.is_anomaly,
      anomaly_type: e.anomaly_type,
    };
    if (e.trade_id !== undefined) row.trade_id = e.trade_id;
    if (e.source !== undefined) row.source = e.source;
    return { row, price, logReturn, volume };
  });
}

const NUMERIC = [
  "z_score_price",
  "z_score_log_return",
  "z_score_volume",
  "rolling_price_std",
  "rolling_volume_std",
] as const;

/** Asserts every row matches the reference: exact fields exactly, features within tolerance. */
function assertMatchesReference(rows: FeatureRow[], want: Expected[]): void {
  assert.equal(rows.length, want.length);
  for (let i = 0; i < rows.length; i++) {
    const got = rows[i], w = want[i];
    const exact = (r: FeatureRow) => {
      const copy: Record<string, unknown> = { ...r };
      for (const k of NUMERIC) delete copy[k];
      // detection v2's robust features have their own brute force (robust_test.ts)
      for (const k of ["price_z", "price_z_long", "volume_z", "flow_z", "robust_ready"]) {
        delete copy[k];
      }
      return copy;
    };
    assert.deepEqual(exact(got), exact(w.row), `row ${i}`);
    const checks: [number, number, number][] = [
      [
        got.z_score_price,
        w.row.z_score_price,
        zTol(w.row.z_score_price, w.price.mean, w.price.std),
      ],
      [
        got.z_score_log_return,
        w.row.z_score_log_return,
        zTol(w.row.z_score_log_return, w.logReturn.mean, w.logReturn.std),
      ],
      [
        got.z_score_volume,
        w.row.z_score_volume,
        zTol(w.row.z_score_volume, w.volume.mean, w.volume.std),
      ],
      [
        got.rolling_price_std,
        w.row.rolling_price_std,
        ratioTol(w.row.rolling_price_std, w.price.mean, w.price.std),
      ],
      [
        got.rolling_volume_std,
        w.row.rolling_volume_std,
        ratioTol(w.row.rolling_volume_std, w.volume.mean, w.volume.std),
      ],
    ];
    for (const [k, [g, e, tol]] of checks.entries()) {
      assert.ok(Number.isFinite(g), `row ${i} ${NUMERIC[k]} is ${g}`);
      // A reference std of 0 means the feature is defined as exactly 0.
      if (e === 0) assert.equal(g, 0, `row ${i} ${NUMERIC[k]}`);
      else assert.ok(Math.abs(g - e) <= tol, `row ${i} ${NUMERIC[k]}: ${g} vs ${e} (tol ${tol})`);
    }
  }
}

/** Options of {@linkcode randomStream}. */
interface StreamOptions {
  n: number;
  symbols: [string, number][]; // symbol, base price
  rel: number; // relative std of price around its base
  maxStepMs: number;
  startMs?: number;
  lateFraction?: number; // share of events moved up to 5 s into the past
}

/** A random multi-symbol stream with every optional field sometimes present. */
function randomStream(rng: Random, o: StreamOptions): MarketEvent[] {
  const last = new Map<string, number>();
  const out: MarketEvent[] = [];
  let t = o.startMs ?? 1_700_000_000_000;
  for (let i = 0; i < o.n; i++) {
    t += rng.int(o.maxStepMs + 1);
    const [symbol, base] = o.symbols[rng.int(o.symbols.length)];
    const price = base * (1 + o.rel * rng.normal());
    const prev = last.get(symbol);
    last.set(symbol, price);
    const anomalous = rng.float() < 0.02;
    const ts = o.lateFraction && rng.float() < o.lateFraction ? t - rng.int(5000) : t;
    const e: MarketEvent = {
      timestamp: Math.floor(ts / 1000),
      symbol,
      price,
      volume: rng.float() < 0.05 ? 0 : -Math.log(1 - rng.float()) * 2,
      log_return: prev === undefined ? 0 : Math.log(price / prev),
      is_anomaly: anomalous,
      anomaly_type: anomalous ? ANOMALY_TYPES[rng.int(3)] : null,
    };
    // Most events carry ms time (Binance); some only seconds (the seed's simulator).
    if (rng.float() < 0.9) e.ts_ms = ts;
    if (rng.float() < 0.5) e.trade_id = i;
    if (rng.float() < 0.5) e.source = "simulator";
    out.push(e);
  }
  return out;
}

const THREE: [string, number][] = [["BTC-USDT", 43_000], ["ETH-USDT", 2_300], ["BNB-USDT", 320]];

function event(
  symbol: string,
  tsMs: number,
  price: number,
  volume: number,
  logReturn = 0,
): MarketEvent {
  return {
    timestamp: Math.floor(tsMs / 1000),
    ts_ms: tsMs,
    symbol,
    price,
    volume,
    log_return: logReturn,
    is_anomaly: false,
    anomaly_type: null,
  };
}

Deno.test("FeatureEngine: hand-computed three-event example", () => {
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 2 });
  const lr2 = Math.log(102 / 100), lr3 = Math.log(98 / 102);
  const r1 = engine.update(event("BTC-USDT", 1_000, 100, 1));
  const r2 = engine.update(event("BTC-USDT", 1_500, 102, 3, lr2));
  const r3 = engine.update(event("BTC-USDT", 2_200, 98, 2, lr3));
  // Row 1: empty window; row 2: one event, no std yet. All features 0, warm-up.
  for (const [row, n] of [[r1, 0], [r2, 1]] as const) {
    assert.equal(row.window_count, n);
    assert.equal(row.warm_up, true);
    for (const k of NUMERIC) assert.equal(row[k], 0);
  }
  // Row 3: window {e1, e2}.
  //   price  {100, 102}: mean 101, M2 = 1 + 1 = 2, std = √(2/1) = √2
  //          z = (98 − 101)/√2 = −3/√2 ≈ −2.12132; rolling = √2/101 ≈ 0.0140021
  //   volume {1, 3}:     mean 2, std √2; z = (2 − 2)/√2 = 0; rolling = √2/2 ≈ 0.707107
  //   lr     {0, a} with a = ln 1.02 ≈ 0.0198026: mean a/2, std a/√2
  //          z = (ln(98/102) − a/2)/(a/√2) ≈ (−0.0400053 − 0.0099013)/0.0140025 ≈ −3.564106
  assert.equal(r3.window_count, 2);
  assert.equal(r3.warm_up, false);
  const close = (got: number, want: number) =>
    assert.ok(Math.abs(got - want) <= 1e-12 * Math.abs(want), `${got} vs ${want}`);
  close(r3.z_score_price, -3 / Math.SQRT2);
  close(r3.rolling_price_std, Math.SQRT2 / 101);
  assert.equal(r3.z_score_volume, 0);
  close(r3.rolling_volume_std, Math.SQRT2 / 2);
  close(r3.z_score_log_return, (lr3 - lr2 / 2) / (lr2 / Math.SQRT2));
  assert.ok(Math.abs(r3.z_score_log_return - -3.564106) < 1e-6);
  assert.equal(r3.price, 98);
  assert.equal(r3.ts_ms, 2_200);
});

Deno.test("FeatureEngine: matches brute force on random three-symbol streams", () => {
  const rng = new Random(42);
  for (const [w, maxStepMs] of [[60, 40], [5, 400], [2, 1500]]) {
    const events = randomStream(rng, { n: 3000, symbols: THREE, rel: 0.002, maxStepMs });
    const engine = new FeatureEngine({ windowSeconds: w, minWindowEvents: 10 });
    const rows = events.map((e) => engine.update(e));
    assertMatchesReference(rows, reference(events, w, 10));
    for (const row of rows) FeatureRow.parse(row); // the contract holds on every row
  }
});

Deno.test("FeatureEngine: BTC at 43 000 with a one-cent std stays accurate", () => {
  // std / price ≈ 2.3e-7 (variance ≈ 5.4e-14 of price²), ~100 events a second.
  // window_test.ts shows the naive Σx² − (Σx)²/n variance is >5% wrong here.
  const rng = new Random(8);
  const events = randomStream(rng, {
    n: 8000,
    symbols: [["BTC-USDT", 43_000]],
    rel: 0.01 / 43_000,
    maxStepMs: 20,
  });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = events.map((e) => engine.update(e));
  assertMatchesReference(rows, reference(events, 60, 10));
  // The features are of ordinary size: relative spread ≈ 2.3e-7, |z| of order 1.
  const last = rows[rows.length - 1];
  assert.ok(Math.abs(last.rolling_price_std - 0.01 / 43_000) < 0.1 * 0.01 / 43_000);
});

Deno.test("FeatureEngine: a burst of 1000 events in one second", () => {
  const rng = new Random(4);
  const before = randomStream(rng, { n: 300, symbols: THREE, rel: 0.002, maxStepMs: 300 });
  const start = Math.ceil((before[before.length - 1].ts_ms ?? 0) / 1000 + 1) * 1000;
  const burst = Array.from(
    { length: 1000 },
    (_, k) => event("ETH-USDT", start + k, 2_300 * (1 + 0.01 * rng.normal()), rng.float() * 10),
  );
  const after = randomStream(rng, {
    n: 300,
    symbols: THREE,
    rel: 0.002,
    maxStepMs: 300,
    startMs: start + 999,
  });
  const events = [...before, ...burst, ...after];
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = events.map((e) => engine.update(e));
  assertMatchesReference(rows, reference(events, 60, 10));
  const burstRows = rows.slice(before.length, before.length + 1000);
  for (let k = 1; k < 1000; k++) {
    assert.equal(burstRows[k].window_count, burstRows[k - 1].window_count + 1);
  }
});

Deno.test("FeatureEngine: a gap longer than the window empties it, then it refills", () => {
  const engine = new FeatureEngine({ windowSeconds: 10, minWindowEvents: 3 });
  for (let k = 0; k < 20; k++) engine.update(event("BNB-USDT", 100_000 + k * 400, 320 + k, 1 + k));
  // Last event at 107.6 s; at 117.0 s the window [108, 117] holds nothing.
  const after = engine.update(event("BNB-USDT", 117_000, 500, 50));
  assert.equal(after.window_count, 0);
  assert.equal(after.warm_up, true);
  for (const k of NUMERIC) assert.equal(after[k], 0);
  const second = engine.update(event("BNB-USDT", 117_500, 510, 60));
  assert.equal(second.window_count, 1);
  const third = engine.update(event("BNB-USDT", 118_000, 490, 40));
  // Window {500, 510}: mean 505, std √50; z = (490 − 505)/√50 = −15/√50.
  assert.equal(third.window_count, 2);
  assert.ok(Math.abs(third.z_score_price - -15 / Math.sqrt(50)) < 1e-12);
  // A much longer silence, hours, behaves the same.
  assert.equal(engine.update(event("BNB-USDT", 9_000_000, 1, 1)).window_count, 0);

  // At random: long silences between bursts, against brute force.
  const rng = new Random(13);
  const events: MarketEvent[] = [];
  let t = 1_000_000;
  for (let b = 0; b < 40; b++) {
    t += rng.float() < 0.5 ? 1000 * (10 + rng.int(50)) : rng.int(3000);
    const chunk = randomStream(rng, {
      n: 1 + rng.int(50),
      symbols: THREE,
      rel: 0.01,
      maxStepMs: 200,
      startMs: t,
    });
    events.push(...chunk);
    t = chunk[chunk.length - 1].ts_ms ?? chunk[chunk.length - 1].timestamp * 1000;
  }
  const e2 = new FeatureEngine({ windowSeconds: 10, minWindowEvents: 3 });
  const rows = events.map((e) => e2.update(e));
  assertMatchesReference(rows, reference(events, 10, 3));
  assert.ok(rows.filter((r) => r.window_count === 0).length > 20, "the stream must empty often");
});

Deno.test("FeatureEngine: late events are clamped, scored against the current window", () => {
  const engine = new FeatureEngine({ windowSeconds: 3, minWindowEvents: 0 });
  engine.update(event("ETH-USDT", 10_100, 100, 1));
  engine.update(event("ETH-USDT", 12_100, 102, 1));
  // Late by 3 s: second 9 is clamped to 12; the window [10, 12] holds both events.
  const late = engine.update({ ...event("ETH-USDT", 9_500, 104, 1), trade_id: 7 });
  assert.equal(late.ts_ms, 9_500); // the row keeps the event's own time
  assert.equal(late.trade_id, 7);
  assert.equal(late.window_count, 2);
  // (104 − 101)/√2: scored like an event at second 12.
  assert.ok(Math.abs(late.z_score_price - 3 / Math.SQRT2) < 1e-12);
  // At second 14 the window [12, 14] holds the event at 12 and the late one (added to pane 12).
  const next = engine.update(event("ETH-USDT", 14_000, 103, 1));
  assert.equal(next.window_count, 2);
  assert.equal(next.rolling_price_std, Math.SQRT2 / 103); // {102, 104}: mean 103, std √2

  const rng = new Random(21);
  const events = randomStream(rng, {
    n: 3000,
    symbols: THREE,
    rel: 0.002,
    maxStepMs: 300,
    lateFraction: 0.1,
  });
  for (const w of [4, 60]) {
    const e = new FeatureEngine({ windowSeconds: w, minWindowEvents: 5 });
    const rows = events.map((x) => e.update(x));
    assertMatchesReference(rows, reference(events, w, 5));
  }
});

Deno.test("FeatureEngine: zero-variance windows give 0, never NaN or Infinity", () => {
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 0 });
  for (let k = 0; k < 500; k++) {
    const row = engine.update(event("BTC-USDT", 1_000_000 + k * 50, 43_150.5, 0));
    for (const key of NUMERIC) assert.equal(row[key], 0, `${key} at ${k}`);
  }
  // A different price and volume against a constant window: still 0, not ±Infinity.
  const spike = engine.update(event("BTC-USDT", 1_030_000, 50_000, 100, 0.5));
  for (const key of NUMERIC) assert.equal(spike[key], 0, key);
  assert.equal(spike.window_count, 500);
  // Now the window has spread: the next spike gets a finite, large z.
  const next = engine.update(event("BTC-USDT", 1_030_001, 50_000, 100));
  assert.ok(next.z_score_price > 10 && Number.isFinite(next.z_score_price));
  // An all-zero volume window with spread in price: volume ratio 0 (mean 0), price ratio > 0.
  const e2 = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 0 });
  e2.update(event("BNB-USDT", 0, 320, 0));
  e2.update(event("BNB-USDT", 10, 321, 0));
  const row = e2.update(event("BNB-USDT", 20, 322, 0));
  assert.equal(row.rolling_volume_std, 0);
  assert.equal(row.z_score_volume, 0);
  assert.ok(row.rolling_price_std > 0);
});

Deno.test("FeatureEngine: warm-up flag boundaries", () => {
  for (const min of [0, 1, 3, 50]) {
    const engine = new FeatureEngine({ windowSeconds: 5, minWindowEvents: min });
    const rows = Array.from(
      { length: 60 },
      (_, k) => engine.update(event("ETH-USDT", k * 10, 2_300 + k, 1)),
    );
    rows.forEach((r, k) => {
      assert.equal(r.window_count, k);
      assert.equal(r.warm_up, k < min, `min ${min}, n ${k}`);
    });
    // The window empties after a long gap: warm-up again unless min is 0.
    const after = engine.update(event("ETH-USDT", 60_000, 2_300, 1));
    assert.equal(after.window_count, 0);
    assert.equal(after.warm_up, min > 0);
  }
});

Deno.test("FeatureEngine: JSON round trip mid-stream gives identical subsequent rows", () => {
  const rng = new Random(77);
  const events = randomStream(rng, {
    n: 6000,
    symbols: THREE,
    rel: 1e-4,
    maxStepMs: 30,
    lateFraction: 0.02,
  });
  const cut = 3210;
  const straight = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 20 });
  const first = events.slice(0, cut).map((e) => straight.update(e));
  assert.equal(first.length, cut);
  const text = JSON.stringify(straight);
  const saved = JSON.parse(text) as FeatureEngineState;
  assert.equal(saved.version, 1);
  assert.deepEqual(Object.keys(saved.symbols).sort(), THREE.map(([s]) => s).sort());

  // Whole-engine restore.
  const restored = FeatureEngine.fromJSON(saved);
  assert.equal(JSON.stringify(restored), text);
  // Per-symbol restore into a fresh engine, as a worker does from ["state", symbol].
  const perSymbol = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 20 });
  for (const symbol of straight.symbols()) {
    perSymbol.restoreSymbol(symbol, JSON.parse(JSON.stringify(straight.symbolState(symbol))));
  }
  const rest = events.slice(cut);
  const want = rest.map((e) => straight.update(e));
  assert.deepEqual(rest.map((e) => restored.update(e)), want);
  assert.deepEqual(rest.map((e) => perSymbol.update(e)), want);
  // And the states agree at the end too.
  assert.equal(JSON.stringify(restored), JSON.stringify(straight));
});

Deno.test("FeatureEngine: the binary symbol state (as Deno KV stores it) restores identical rows", () => {
  const rng = new Random(78);
  const events = randomStream(rng, { n: 5000, symbols: THREE, rel: 1e-4, maxStepMs: 30 });
  const cut = 2777;
  const straight = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 20 });
  events.slice(0, cut).forEach((e) => straight.update(e));
  const restored = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 20 });
  for (const symbol of straight.symbols()) {
    const bin = straight.symbolState(symbol, { binary: true })!;
    assert.ok(bin.robust!.vol.ring instanceof Uint16Array);
    // structuredClone is the V8 serialization Deno KV uses for values.
    restored.restoreSymbol(symbol, structuredClone(bin));
    assert.deepEqual(restored.symbolState(symbol), straight.symbolState(symbol));
  }
  const rest = events.slice(cut);
  const want = rest.map((e) => straight.update(e));
  assert.deepEqual(rest.map((e) => restored.update(e)), want);
});

Deno.test("FeatureEngine: state keeps lastPrice and lastSecond, a few KB per symbol", () => {
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 20 });
  assert.equal(engine.symbolState("BTC-USDT"), undefined);
  const rng = new Random(5);
  const events = randomStream(rng, {
    n: 30_000,
    symbols: THREE,
    rel: 1e-3,
    maxStepMs: 10,
  });
  for (const e of events) engine.update(e);
  for (const [symbol] of THREE) {
    const state = engine.symbolState(symbol)!;
    const mine = events.filter((e) => e.symbol === symbol);
    const lastEvent = mine[mine.length - 1];
    assert.equal(state.lastPrice, lastEvent.price);
    const maxSecond = Math.max(
      ...mine.map((e) => Math.floor((e.ts_ms ?? e.timestamp * 1000) / 1000)),
    );
    assert.equal(state.lastSecond, maxSecond);
    assert.equal(state.panes.length, 60);
    const { robust, ...seed } = state;
    assert.ok(JSON.stringify(seed).length < 10_000, "the seed window stays under 10 KB");
    // The robust sketches' windows (4 × ≤ 2000 values at 2 bytes, base64) keep the
    // whole state far below Deno KV's 64 KiB value limit.
    assert.ok(JSON.stringify(robust).length < 20_000, "the robust features stay under 20 KB");
  }
});

Deno.test("FeatureEngine: symbols do not mix", () => {
  const rng = new Random(3);
  const events = randomStream(rng, { n: 4000, symbols: THREE, rel: 0.003, maxStepMs: 50 });
  const shared = new FeatureEngine({ windowSeconds: 30, minWindowEvents: 5 });
  const rows = events.map((e) => shared.update(e));
  for (const [symbol] of THREE) {
    const alone = new FeatureEngine({ windowSeconds: 30, minWindowEvents: 5 });
    const mine = events.filter((e) => e.symbol === symbol).map((e) => alone.update(e));
    assert.deepEqual(rows.filter((r) => r.symbol === symbol), mine);
    assert.deepEqual(shared.symbolState(symbol), alone.symbolState(symbol));
  }
  assert.deepEqual(shared.symbols(), [...new Set(events.map((e) => e.symbol))]);
});

Deno.test("FeatureEngine: copies event fields, uses ts_ms or else timestamp seconds", () => {
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 0 });
  const withAll = engine.update({
    ...event("BTC-USDT", 1_710_000_000_123, 43_150.5, 12.5),
    is_anomaly: true,
    anomaly_type: "PRICE_SPIKE",
    trade_id: 3391823,
    source: "binance",
  });
  assert.equal(withAll.ts_ms, 1_710_000_000_123);
  assert.equal(withAll.is_anomaly, true);
  assert.equal(withAll.anomaly_type, "PRICE_SPIKE");
  assert.equal(withAll.trade_id, 3391823);
  assert.equal(withAll.source, "binance");
  assert.equal(withAll.price, 43_150.5);
  assert.equal(withAll.volume, 12.5);
  const secondsOnly = engine.update({
    timestamp: 1_710_000_001,
    symbol: "BTC-USDT",
    price: 43_151,
    volume: 1,
    log_return: 0,
    is_anomaly: false,
    anomaly_type: null,
  });
  assert.equal(secondsOnly.ts_ms, 1_710_000_001_000);
  assert.equal("trade_id" in secondsOnly, false);
  assert.equal("source" in secondsOnly, false);
  FeatureRow.parse(withAll);
  FeatureRow.parse(secondsOnly);
});

Deno.test("FeatureEngine: rejects bad options and bad or mismatched state", () => {
  assert.throws(() => new FeatureEngine({ windowSeconds: 0, minWindowEvents: 1 }), RangeError);
  assert.throws(() => new FeatureEngine({ windowSeconds: 60, minWindowEvents: -1 }), RangeError);
  assert.throws(() => new FeatureEngine({ windowSeconds: 1.5, minWindowEvents: 1 }), RangeError);
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 1 });
  engine.update(event("BTC-USDT", 5_000, 100, 1));
  const state = engine.symbolState("BTC-USDT")!;
  const narrow = new FeatureEngine({ windowSeconds: 30, minWindowEvents: 1 });
  assert.throws(() => narrow.restoreSymbol("BTC-USDT", state), RangeError);
  assert.throws(() => engine.restoreSymbol("BTC-USDT", { ...state, lastPrice: -1 }));
  assert.throws(() => engine.restoreSymbol("BTC-USDT", { ...state, lastPrice: undefined }));
  assert.throws(() =>
    engine.restoreSymbol("BTC-USDT", { ...state, panes: [[-100, 1, 1, 0, 0, 0, 1, 0]] })
  );
  assert.throws(() => FeatureEngine.fromJSON({ ...engine.toJSON(), version: 2 }));
  assert.throws(
    () => FeatureEngine.fromJSON({ ...engine.toJSON(), windowSeconds: 30 }),
    RangeError,
  );
  // A failed restore leaves the previous state in place.
  assert.deepEqual(engine.symbolState("BTC-USDT"), state);
});

Deno.test("features: winsorizing keeps a spike's own row raw and bounds its memory in the window", () => {
  const base = { windowSeconds: 60, minWindowEvents: 10 };
  const plain = new FeatureEngine(base);
  const clipped = new FeatureEngine({ ...base, winsorizeSigma: 3 });
  const r = new Random(12);
  const t0 = 1_710_000_000_000;
  const quiet: MarketEvent[] = Array.from({ length: 50 }, (_, i) => ({
    timestamp: Math.floor((t0 + i * 100) / 1000),
    ts_ms: t0 + i * 100,
    symbol: "BTC-USDT",
    // Uniform noise stays within √3 std of its mean, so no quiet event is clipped at 3 std.
    price: 100 + r.uniform(-0.1, 0.1),
    volume: 1 + r.uniform(-0.05, 0.05),
    log_return: r.uniform(-0.001, 0.001),
    is_anomaly: false,
    anomaly_type: null,
  }));
  const spike: MarketEvent = {
    ...quiet[49],
    ts_ms: t0 + 5000,
    price: 110,
    volume: 8,
    log_return: 0.09,
  };
  const after: MarketEvent = {
    ...quiet[49],
    ts_ms: t0 + 5100,
    price: 100.05,
    volume: 1,
    log_return: -0.09,
  };
  for (const e of quiet) assert.deepEqual(clipped.update(e), plain.update(e));
  // The spike's own row is computed from its raw values either way.
  assert.deepEqual(clipped.update(spike), plain.update(spike));
  // Independent reference for the next row: the window as the quiet events plus the
  // spike clipped to mean ± 3·std of the quiet window (two-pass statistics).
  const stats = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    return { mean, sd };
  };
  const prices = quiet.map((e) => e.price);
  const q = stats(prices);
  const kept = Math.min(q.mean + 3 * q.sd, 110);
  const w = stats([...prices, kept]);
  const row = clipped.update(after);
  assert.ok(Math.abs(row.z_score_price - (100.05 - w.mean) / w.sd) < 1e-9);
  // Unclipped, the spike inflates the window's price std about 15-fold.
  const raw = plain.update(after);
  assert.ok(raw.rolling_price_std > 10 * row.rolling_price_std);
  // The option survives a checkpoint.
  const copy = FeatureEngine.fromJSON(JSON.parse(JSON.stringify(clipped)));
  assert.equal(copy.winsorizeSigma, 3);
  assert.throws(() => new FeatureEngine({ ...base, winsorizeSigma: 0 }), RangeError);
});
