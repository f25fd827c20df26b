import assert from "node:assert/strict";
import { MarketEvent } from "../lib/contracts.ts";
import { simulatedEvents, Simulator } from "./simulator.ts";
import {
  expectedRate,
  liveMarketEvents,
  openSimulation,
  simulateEvents,
  type SimulateOptions,
} from "./simulate.ts";
import { Market, type MarketState } from "./market.ts";
import { marketModel, type MarketProfile } from "./profiles.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const T0 = 1_710_000_000_000;
const HOUR = 3_600_000;

const opts = (o: Partial<SimulateOptions>): SimulateOptions => ({
  profile: "realistic",
  seed: 1,
  symbols: SYMBOLS,
  startMs: T0,
  endMs: T0 + HOUR,
  anomalyProbability: 0,
  ...o,
});

async function sha256(text: string): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  return [...d].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const jsonl = (events: Iterable<MarketEvent>) => {
  let s = "";
  for (const e of events) s += JSON.stringify(e) + "\n";
  return s;
};

// SHA-256 of the JSONL of one hour of today's simulator (ingest/simulator.ts at
// commit af8f9cd, before simulator v2): 3 symbols, 200 ms ticks from T0,
// ANOMALY_PROBABILITY 0.01, seeds 1–5. Computed from that commit's code, not from
// the code under test, so a change to the seed stream's bytes fails here.
const SEED_DIGESTS: Record<number, string> = {
  1: "60a10ea3ed816493c246c98364f7461970bfae67eacf337c5fe96bea4eb3b6b2",
  2: "a07f3f30a20bd50dc97b4517de65bb932edb5e04dfb3303cde79fa4242a7afd9",
  3: "d3958e2fc297b4935cd2f2500a4329d9112d3d510f070a3b0fe868efef413124",
  4: "18b8c6ce12b2d4064e4c65b0afa6f46419ea8732a8e1dda290e58dbf386606d4",
  5: "17f30bdf7475c6583002a74250d3cc49ca3da7026a040307d8cc674967285e3a",
};

Deno.test("simulate: SIM_PROFILE=seed is the seed simulator's stream, byte for byte (seeds 1–5)", async () => {
  for (const [seed, digest] of Object.entries(SEED_DIGESTS)) {
    const text = jsonl(
      simulateEvents(opts({ profile: "seed", seed: Number(seed), anomalyProbability: 0.01 })),
    );
    assert.equal(text.split("\n").length - 1, 3 * 18_000);
    assert.equal(await sha256(text), digest, `seed ${seed}`);
  }
  // and it is the simulator's own generator at any step
  const sim = new Simulator({ symbols: SYMBOLS, seed: 9, anomalyProbability: 0.05 });
  const direct = [...simulatedEvents(sim, { startMs: T0, stepMs: 500, endMs: T0 + 60_000 })];
  const viaProfile = [
    ...simulateEvents(opts({
      profile: "seed",
      seed: 9,
      anomalyProbability: 0.05,
      stepMs: 500,
      endMs: T0 + 60_000,
    })),
  ];
  assert.deepEqual(viaProfile, direct);
});

Deno.test("simulate: every profile is reproducible from its seed, and another seed differs", () => {
  for (const profile of ["realistic", "busy", "thin"] as const) {
    const endMs = T0 + (profile === "thin" ? 6 * HOUR : 10 * 60_000);
    const a = jsonl(simulateEvents(opts({ profile, endMs, anomalyProbability: 0.05 })));
    const b = jsonl(simulateEvents(opts({ profile, endMs, anomalyProbability: 0.05 })));
    const c = jsonl(simulateEvents(opts({ profile, endMs, anomalyProbability: 0.05, seed: 2 })));
    assert.ok(a.length > 1000, profile);
    assert.equal(a, b, profile);
    assert.notEqual(a, c, profile);
  }
});

Deno.test("simulate: events are valid, in time order, on the tick and lot grid, with consistent fields", () => {
  for (const profile of ["realistic", "busy", "thin"] as const) {
    const endMs = T0 + (profile === "thin" ? 24 * HOUR : 30 * 60_000);
    const last = new Map<string, { price: number; id: number }>();
    let prevTs = -Infinity, n = 0;
    for (const e of simulateEvents(opts({ profile, endMs, anomalyProbability: 0.05 }))) {
      n++;
      if (n % 97 === 0) MarketEvent.parse(e);
      assert.ok(e.ts_ms! >= prevTs, `${profile}: time went back at event ${n}`);
      assert.ok(e.ts_ms! >= T0 && e.ts_ms! < endMs);
      prevTs = e.ts_ms!;
      assert.equal(e.timestamp, Math.floor(e.ts_ms! / 1000));
      assert.equal(e.source, "simulated");
      assert.ok(e.side === "buy" || e.side === "sell");
      assert.equal(e.is_anomaly, e.anomaly_type !== null);
      assert.equal(e.is_anomaly, e.episode_id !== undefined);
      const m = marketModel(e.symbol);
      const ticks = e.price * m.ticksPerUnit;
      assert.ok(Math.abs(ticks - Math.round(ticks)) < 1e-6, `${e.price} off the tick grid`);
      const lots = e.volume * m.lotsPerUnit;
      assert.ok(lots >= 1 - 1e-9 && Math.abs(lots - Math.round(lots)) < 1e-6, `${e.volume}`);
      const prev = last.get(e.symbol);
      assert.equal(e.trade_id, (prev?.id ?? 0) + 1);
      const lr = prev ? Math.log(e.price / prev.price) : 0;
      assert.ok(Math.abs(e.log_return - lr) < 1e-12);
      last.set(e.symbol, { price: e.price, id: e.trade_id! });
    }
    assert.deepEqual([...last.keys()].sort(), [...SYMBOLS].sort(), profile);
  }
});

interface SymbolStats {
  n: number;
  repeats: number;
  lastPrice: number;
  /** last trade price at each 5-minute mark */
  marks: number[];
  nextMark: number;
  sameMs: number;
  maxSameMs: number;
  lastTs: number;
  gaps: number[];
  buys: number;
  sizes: number[];
}

function stats(o: SimulateOptions): Map<string, SymbolStats> {
  const out = new Map<string, SymbolStats>();
  for (const e of simulateEvents(o)) {
    let s = out.get(e.symbol);
    if (!s) {
      s = {
        n: 0,
        repeats: 0,
        lastPrice: NaN,
        marks: [marketModel(e.symbol).price],
        nextMark: o.startMs + 300_000,
        sameMs: 0,
        maxSameMs: 0,
        lastTs: NaN,
        gaps: [],
        buys: 0,
        sizes: [],
      };
      out.set(e.symbol, s);
    }
    const ts = e.ts_ms!;
    while (ts >= s.nextMark) {
      s.marks.push(s.lastPrice);
      s.nextMark += 300_000;
    }
    s.n++;
    if (e.price === s.lastPrice) s.repeats++;
    if (ts === s.lastTs) s.sameMs++;
    else {
      if (!Number.isNaN(s.lastTs)) s.gaps.push(ts - s.lastTs);
      s.sameMs = 1;
    }
    if (s.sameMs > s.maxSameMs) s.maxSameMs = s.sameMs;
    s.lastTs = ts;
    s.lastPrice = e.price;
    if (e.side === "buy") s.buys++;
    if (s.sizes.length < 200_000) s.sizes.push(e.volume / marketModel(e.symbol).medianSize);
  }
  return out;
}

Deno.test("simulate: realistic profile, 24 h: daily volatility, trade rate, repeated prices, bursts, sizes, sides", () => {
  const o = opts({ endMs: T0 + 24 * HOUR, seed: 3 });
  const all = stats(o);
  for (const sym of SYMBOLS) {
    const s = all.get(sym)!;
    const target = marketModel(sym).dailyVolatility;
    // Realised volatility from 5-minute returns (sampling this coarse keeps the
    // bid/ask bounce out of it): √Σr² over one day estimates the daily figure.
    let sum = 0;
    for (let i = 1; i < s.marks.length; i++) sum += Math.log(s.marks[i] / s.marks[i - 1]) ** 2;
    const rv = Math.sqrt(sum);
    assert.ok(Math.abs(rv / target - 1) <= 0.3, `${sym}: realised ${rv} vs ${target}`);
    const rate = s.n / 86_400;
    const want = marketModel(sym).tradesPerSecond;
    assert.ok(Math.abs(rate / want - 1) <= 0.2, `${sym}: ${rate} trades/s vs ${want}`);
    const repeat = s.repeats / s.n;
    assert.ok(repeat >= 0.2 && repeat <= 0.7, `${sym}: repeat share ${repeat}`);
    // Bursts: some market order sweeps a hundred resting orders in one millisecond.
    assert.ok(s.maxSameMs >= 100, `${sym}: at most ${s.maxSameMs} trades in one ms`);
    // Arrivals are clustered: gaps between milliseconds with trades are far more
    // dispersed than a Poisson process's (coefficient of variation 1).
    const mean = s.gaps.reduce((a, b) => a + b, 0) / s.gaps.length;
    const sd = Math.sqrt(s.gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / s.gaps.length);
    assert.ok(sd / mean > 1.3, `${sym}: gap CV ${sd / mean}`);
    const buys = s.buys / s.n;
    assert.ok(buys > 0.4 && buys < 0.6, `${sym}: buy share ${buys}`);
    // Heavy tail: the Hill estimate of the size tail index over the top 1 %
    // is near the Pareto factor's 1.7 (a lognormal alone would give ≫ 3).
    const sizes = s.sizes.slice().sort((a, b) => b - a);
    const k = Math.floor(sizes.length / 100);
    let hill = 0;
    for (let i = 0; i < k; i++) hill += Math.log(sizes[i] / sizes[k]);
    const alpha = k / hill;
    assert.ok(alpha > 1.2 && alpha < 2.5, `${sym}: tail index ${alpha}`);
  }
});

Deno.test("simulate: busy and thin profiles trade at their stated rates", () => {
  const busy = stats(opts({ profile: "busy", endMs: T0 + 4 * HOUR }));
  for (const [sym, s] of busy) {
    const rate = s.n / (4 * 3600);
    assert.ok(rate >= 50 && Math.abs(rate / 60 - 1) <= 0.2, `busy ${sym}: ${rate}/s`);
    assert.ok(s.maxSameMs >= 200, `busy ${sym}: biggest burst ${s.maxSameMs} trades in one ms`);
  }
  const thin = stats(opts({ profile: "thin", endMs: T0 + 24 * HOUR }));
  for (const [sym, s] of thin) {
    const rate = s.n / 86_400;
    assert.ok(Math.abs(rate * 30 - 1) <= 0.2, `thin ${sym}: one trade every ${1 / rate} s`);
    assert.ok(Math.max(...s.gaps) > 120_000, `thin ${sym}: no gap of minutes`);
  }
  assert.equal(expectedRate("busy", SYMBOLS), 180);
  assert.equal(expectedRate("seed", SYMBOLS, 200), 15);
});

Deno.test("simulate: ANOMALY_PROBABILITY 0.01 starts about 3.6 episodes per symbol-hour; labels are whole episodes", () => {
  const hours = 24;
  const episodes = new Map<number, { symbol: string; type: string; first: number; last: number }>();
  const lastIdOf = new Map<string, number>();
  let labelled = 0, n = 0;
  for (const e of simulateEvents(opts({ endMs: T0 + hours * HOUR, anomalyProbability: 0.01 }))) {
    n++;
    const prevId = lastIdOf.get(e.symbol);
    lastIdOf.set(e.symbol, e.episode_id ?? 0);
    if (e.episode_id === undefined) continue;
    labelled++;
    const ep = episodes.get(e.episode_id);
    if (!ep) {
      episodes.set(e.episode_id, {
        symbol: e.symbol,
        type: e.anomaly_type!,
        first: e.ts_ms!,
        last: e.ts_ms!,
      });
      continue;
    }
    // An episode's trades are consecutive on its symbol and keep one type.
    assert.equal(prevId, e.episode_id, `episode ${e.episode_id} interrupted`);
    assert.equal(ep.symbol, e.symbol);
    assert.equal(ep.type, e.anomaly_type);
    ep.last = e.ts_ms!;
  }
  const perSymbolHour = episodes.size / (SYMBOLS.length * hours);
  assert.ok(perSymbolHour > 2.8 && perSymbolHour < 4.4, `${perSymbolHour} episodes/symbol-hour`);
  // ids are 1, 2, 3, … in order of start
  const ids = [...episodes.keys()];
  assert.deepEqual(ids, ids.map((_, i) => i + 1));
  const types = new Set([...episodes.values()].map((e) => e.type));
  assert.equal(types.size, 6, `types seen: ${[...types]}`);
  assert.ok(labelled / n < 0.15, `labelled share ${labelled / n}`);
});

Deno.test("simulate: a market saved after any trade (even mid-sweep) continues the same stream", () => {
  for (const profile of ["realistic", "busy", "thin"] as const satisfies MarketProfile[]) {
    const o = { profile, seed: 4, symbols: SYMBOLS, startMs: T0, anomalyProbability: 0.2 };
    const whole = new Market(o);
    const expected = Array.from({ length: 6000 }, () => whole.next());
    for (const cut of [1, 777, 2500, 4321]) {
      const first = new Market(o);
      for (let i = 0; i < cut; i++) first.next();
      const saved: MarketState = JSON.parse(JSON.stringify(first.toJSON()));
      const second = Market.fromJSON(o, saved);
      const rest = Array.from({ length: 6000 - cut }, () => second.next());
      assert.deepEqual(rest, expected.slice(cut), `${profile} cut at ${cut}`);
    }
    assert.throws(
      () =>
        Market.fromJSON({ ...o, profile: profile === "busy" ? "thin" : "busy" }, whole.toJSON()),
      /profile/,
    );
  }
});

Deno.test("simulate: live market events are yielded when the clock reaches them, and are the simulated stream", async () => {
  let now = T0;
  const clock = {
    now: () => now,
    sleep: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
  };
  const o = {
    profile: "realistic" as const,
    seed: 5,
    symbols: SYMBOLS,
    startMs: T0,
    anomalyProbability: 0.05,
  };
  const ac = new AbortController();
  const live = [];
  for await (const e of liveMarketEvents(new Market(o), { clock, signal: ac.signal })) {
    assert.ok(now >= e.ts_ms!, `yielded ${e.ts_ms! - now} ms early`);
    assert.ok(now - e.ts_ms! < 1, "yielded late");
    live.push(e);
    if (live.length === 3000) ac.abort();
  }
  const simulated = [...simulateEvents({ ...o, endMs: live.at(-1)!.ts_ms! + 1 })];
  assert.deepEqual(live, simulated.slice(0, 3000));
});

Deno.test("simulate: openSimulation restores its own profile's state and refuses another's with a note", () => {
  const base = {
    seed: 3,
    symbols: SYMBOLS,
    anomalyProbability: 0.05,
    frequencySeconds: 0.2,
    startMs: T0,
  };
  const seedSim = openSimulation({ ...base, profile: "seed" }, null).simulation;
  const head = [...seedSim.backfill(T0, T0 + 10_000)];
  const savedSeed = seedSim.toJSON();
  // The seed profile's saved state is today's SimulatorState, unchanged.
  assert.deepEqual(
    Object.keys(savedSeed).sort(),
    Object.keys(new Simulator({ ...base }).toJSON()).sort(),
  );
  const again = openSimulation({ ...base, profile: "seed" }, savedSeed);
  assert.equal(again.restored, true);
  assert.equal(again.note, null);
  const tail = [...again.simulation.backfill(T0 + 10_000, T0 + 20_000)];
  const whole = [
    ...simulatedEvents(new Simulator(base), { startMs: T0, stepMs: 200, endMs: T0 + 20_000 }),
  ];
  assert.deepEqual([...head, ...tail], whole);

  const other = openSimulation({ ...base, profile: "realistic" }, savedSeed);
  assert.equal(other.restored, false);
  assert.match(other.note!, /profile seed.*fresh realistic/);
  const m = openSimulation({ ...base, profile: "realistic" }, null).simulation;
  const a = [...m.backfill(T0, T0 + 60_000)];
  const restored = openSimulation({ ...base, profile: "realistic" }, m.toJSON());
  assert.equal(restored.restored, true);
  const b = [...restored.simulation.backfill(T0 + 60_000, T0 + 120_000)];
  assert.deepEqual([...a, ...b], [
    ...simulateEvents({ ...base, profile: "realistic", startMs: T0, endMs: T0 + 120_000 }),
  ]);
});

Deno.test("simulate: a saved market that does not parse, or does not fit the symbols, gives a fresh market and says why", () => {
  const base = {
    profile: "busy" as const,
    seed: 3,
    symbols: SYMBOLS,
    anomalyProbability: 0,
    frequencySeconds: 0.2,
    startMs: T0,
  };
  const m = openSimulation(base, null).simulation;
  [...m.backfill(T0, T0 + 5_000)];
  const good = m.toJSON() as MarketState;
  const broken = JSON.parse(JSON.stringify(good));
  broken.symbols["ETH-USDT"].logPrice = "high";
  const r = openSimulation(base, broken);
  assert.equal(r.restored, false);
  assert.match(
    r.note!,
    /unreadable \(symbols\.ETH-USDT\.logPrice: .*\); starting a fresh busy market/,
  );
  const first = [...r.simulation.backfill(T0, T0 + 1_000)];
  assert.deepEqual(first, [...simulateEvents({ ...base, endMs: T0 + 1_000 })]);
  // filling a sweep of a symbol that is no longer configured
  const midSweep = { ...good, current: 0 };
  const other = openSimulation({ ...base, symbols: ["ETH-USDT"] }, midSweep);
  assert.equal(other.restored, false);
  assert.match(other.note!, /filling an order of BTC-USDT, not configured/);
});

/** A clock whose sleeps move time at once (live events as fast as they are pulled). */
function instantClock(t: number) {
  const c = {
    t,
    now: () => c.t,
    sleep: (ms: number) => {
      c.t += ms;
      return Promise.resolve();
    },
  };
  return c;
}

/** Live events of `sim` until market time `endMs`. */
async function liveUntil(
  sim: ReturnType<typeof openSimulation>["simulation"],
  t0: number,
  endMs: number,
): Promise<MarketEvent[]> {
  const ac = new AbortController();
  const out: MarketEvent[] = [];
  for await (const e of sim.live({ clock: instantClock(t0), signal: ac.signal })) {
    if (e.ts_ms! >= endMs) break;
    out.push(e);
  }
  ac.abort();
  return out;
}

Deno.test("simulate: SIM_FIRST_EPISODE puts a price spike on the first symbol of a fresh market, once", async () => {
  // No episode would start on its own in these two minutes (a tiny rate), so every label is the scheduled one.
  const base = {
    profile: "realistic" as const,
    seed: 42,
    symbols: SYMBOLS,
    anomalyProbability: 1e-6,
    frequencySeconds: 0.2,
    startMs: T0,
    firstEpisode: { afterMs: 20_000, type: "PRICE_SPIKE" as const },
  };
  const fresh = openSimulation(base, null).simulation;
  assert.match(fresh.describe(), /first PRICE_SPIKE on BTC-USDT 20 s after going live/);
  [...fresh.backfill(T0, T0 + 60_000)];
  const live = await liveUntil(fresh, T0 + 60_000, T0 + 180_000);
  const labelled = live.filter((e) => e.is_anomaly);
  assert.ok(labelled.length >= 1, "the episode touched trades");
  assert.deepEqual([...new Set(labelled.map((e) => `${e.symbol} ${e.anomaly_type}`))], [
    "BTC-USDT PRICE_SPIKE",
  ]);
  // It begins with BTC's first order at or after 20 s of live time: the price jumps by 1-3 %.
  const firstAfter = live.find((e) => e.symbol === "BTC-USDT" && e.ts_ms! >= T0 + 80_000)!;
  assert.equal(labelled[0].ts_ms, firstAfter.ts_ms);
  const before = live.findLast((e) => e.symbol === "BTC-USDT" && e.ts_ms! < T0 + 80_000)!;
  const jump = Math.abs(Math.log(labelled[0].price / before.price));
  assert.ok(jump > 0.009 && jump < 0.031, `jump ${jump}`);

  // A restored market (a restart) schedules nothing; anomalies off schedules nothing.
  const restored = openSimulation(base, fresh.toJSON()).simulation;
  assert.doesNotMatch(restored.describe(), /first/);
  const later = await liveUntil(restored, T0 + 180_000, T0 + 300_000);
  assert.equal(later.filter((e) => e.is_anomaly).length, 0);
  const off = openSimulation({ ...base, anomalyProbability: 0 }, null).simulation;
  [...off.backfill(T0, T0 + 60_000)];
  assert.equal(
    (await liveUntil(off, T0 + 60_000, T0 + 180_000)).filter((e) => e.is_anomaly).length,
    0,
  );
  // Without the option the same seed's live minutes have no episode.
  const none = openSimulation({ ...base, firstEpisode: null }, null).simulation;
  [...none.backfill(T0, T0 + 60_000)];
  assert.equal(
    (await liveUntil(none, T0 + 60_000, T0 + 180_000)).filter((e) => e.is_anomaly).length,
    0,
  );
});
