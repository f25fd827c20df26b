import assert from "node:assert/strict";
import type { AnomalyType, MarketEvent } from "../lib/contracts.ts";
import { simulateEvents } from "./simulate.ts";
import { DEFAULT_EPISODE_WEIGHTS, EPISODE_TYPES, summariseEpisodes } from "./episodes.ts";

const T0 = 1_710_000_000_000;

/** Six hours of BTC-USDT with only episodes of `type`, frequent. */
function streamOf(type: AnomalyType, seed = 11): MarketEvent[] {
  const weights = Object.fromEntries(EPISODE_TYPES.map((t) => [t, t === type ? 1 : 0])) as Record<
    AnomalyType,
    number
  >;
  return [
    ...simulateEvents({
      profile: "realistic",
      seed,
      symbols: ["BTC-USDT"],
      startMs: T0,
      endMs: T0 + 6 * 3_600_000,
      anomalyProbability: 0.05,
      episodes: { weights, magnitude: 1 },
    }),
  ];
}

interface Around {
  /** the episode's trades */
  during: MarketEvent[];
  /** unlabelled trades in the `ms` before its first trade and after its last */
  before: MarketEvent[];
  after: MarketEvent[];
  /** median price before */
  p0: number;
  start: number;
  end: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * Each episode with the quiet trades around it (episodes without 5 s of quiet
 * before, or within 10 minutes of the stream's end, are skipped).
 */
function episodes(events: MarketEvent[], ms = 60_000): Around[] {
  const out: Around[] = [];
  let i = 0;
  while (i < events.length) {
    const id = events[i].episode_id;
    if (id === undefined) {
      i++;
      continue;
    }
    let j = i;
    while (j < events.length && events[j].episode_id === id) j++;
    const start = events[i].ts_ms!, end = events[j - 1].ts_ms!;
    const before: MarketEvent[] = [];
    for (let k = i - 1; k >= 0 && events[k].ts_ms! >= start - ms && !events[k].is_anomaly; k--) {
      before.unshift(events[k]);
    }
    const after: MarketEvent[] = [];
    for (
      let k = j;
      k < events.length && events[k].ts_ms! <= end + ms && !events[k].is_anomaly;
      k++
    ) {
      after.push(events[k]);
    }
    const recent = before.filter((e) => e.ts_ms! >= start - 5_000);
    // (the stream's last episode may be cut short by its end)
    if (recent.length >= 3 && end < events.at(-1)!.ts_ms! - 600_000) {
      out.push({
        during: events.slice(i, j),
        before,
        after,
        p0: median(recent.map((e) => e.price)),
        start,
        end,
      });
    }
    i = j;
  }
  return out;
}

const lr = (p: number, p0: number) => Math.log(p / p0);

Deno.test("episodes: PRICE_SPIKE jumps at once by 1–3 % and reverts within seconds", () => {
  const eps = episodes(streamOf("PRICE_SPIKE"));
  assert.ok(eps.length >= 30, `${eps.length} spikes`);
  let checkedAfter = 0;
  for (const ep of eps) {
    const first = lr(ep.during[0].price, ep.p0);
    assert.ok(Math.abs(first) >= 0.008 && Math.abs(first) <= 0.035, `first move ${first}`);
    assert.ok(ep.end - ep.start <= 10_000, `spike lasted ${ep.end - ep.start} ms`);
    // the move shrinks: a later order is much closer to p0 than the first
    const lastOrder = ep.during.filter((e) => e.ts_ms! > ep.start + 1_000).at(-1);
    if (lastOrder) {
      const last = lr(lastOrder.price, ep.p0);
      assert.ok(Math.abs(last) < 0.8 * Math.abs(first), `last ${last} vs first ${first}`);
    }
    const settled = ep.after.filter((e) => e.ts_ms! <= ep.end + 5_000);
    if (settled.length) {
      checkedAfter++;
      const post = lr(median(settled.map((e) => e.price)), ep.p0);
      assert.ok(Math.abs(post) < 0.004, `after the spike still ${post} off`);
    }
  }
  assert.ok(checkedAfter >= 20);
});

Deno.test("episodes: FLASH_CRASH falls over seconds with sellers, then recovers part of it over a minute", () => {
  const eps = episodes(streamOf("FLASH_CRASH"));
  assert.ok(eps.length >= 20, `${eps.length} crashes`);
  const left: number[] = [];
  let sells = 0, fallTrades = 0;
  for (const ep of eps) {
    // not one jump: the first trade is still near the old price
    assert.ok(Math.abs(lr(ep.during[0].price, ep.p0)) < 0.005, "crash began with a jump");
    let trough = 0, troughAt = ep.start;
    for (const e of ep.during) {
      const x = lr(e.price, ep.p0);
      if (x < trough) [trough, troughAt] = [x, e.ts_ms!];
    }
    assert.ok(trough <= -0.015, `trough ${trough}`);
    const fall = troughAt - ep.start;
    assert.ok(fall >= 1_000 && fall <= 10_500, `fell in ${fall} ms`);
    for (const e of ep.during) {
      if (e.ts_ms! < troughAt) {
        fallTrades++;
        if (e.side === "sell") sells++;
      }
    }
    const duration = ep.end - ep.start;
    assert.ok(duration >= 30_000 && duration <= 100_000, `lasted ${duration} ms`);
    const settled = ep.after.filter((e) => e.ts_ms! <= ep.end + 5_000);
    if (!settled.length) continue;
    const post = lr(median(settled.map((e) => e.price)), ep.p0);
    assert.ok(post - trough >= 0.5 * -trough, `recovered ${post - trough} of ${-trough}`);
    left.push(post);
  }
  assert.ok(left.length >= 10);
  assert.ok(sells / fallTrades > 0.65, `sell share while falling ${sells / fallTrades}`);
  // part, not all: the typical crash leaves the price below where it was
  assert.ok(median(left) < -0.001, `median left ${median(left)}`);
});

Deno.test("episodes: LEVEL_SHIFT jumps by 1–3 % and stays", () => {
  const eps = episodes(streamOf("LEVEL_SHIFT"));
  assert.ok(eps.length >= 30, `${eps.length} shifts`);
  let checked = 0;
  for (const ep of eps) {
    const jump = lr(ep.during[0].price, ep.p0);
    assert.ok(Math.abs(jump) >= 0.008 && Math.abs(jump) <= 0.035, `jump ${jump}`);
    assert.ok(ep.end - ep.start <= 2_000, `labelled for ${ep.end - ep.start} ms`);
    const later = ep.after.filter((e) =>
      e.ts_ms! >= ep.end + 10_000 && e.ts_ms! <= ep.end + 30_000
    );
    if (later.length < 10) continue;
    checked++;
    const post = lr(median(later.map((e) => e.price)), ep.p0);
    assert.equal(Math.sign(post), Math.sign(jump));
    assert.ok(Math.abs(post - jump) < 0.004, `after 10–30 s at ${post}, jumped to ${jump}`);
  }
  assert.ok(checked >= 20);
});

Deno.test("episodes: VOLUME_SPIKE is one trade about 8× the usual size", () => {
  const events = streamOf("VOLUME_SPIKE");
  const eps = episodes(events);
  assert.ok(eps.length >= 50, `${eps.length} spikes`);
  const ratios = eps.map((ep) => {
    assert.equal(ep.during.length, 1);
    return ep.during[0].volume / median(ep.before.map((e) => e.volume));
  });
  const m = median(ratios);
  assert.ok(m > 5 && m < 13, `median size ratio ${m}`);
});

Deno.test("episodes: VOLUME_BURST is many large trades over seconds", () => {
  const eps = episodes(streamOf("VOLUME_BURST"));
  assert.ok(eps.length >= 30, `${eps.length} bursts`);
  const rateRatios: number[] = [], sizeRatios: number[] = [];
  for (const ep of eps) {
    const seconds = (ep.end - ep.start) / 1000;
    assert.ok(seconds <= 15.5, `burst lasted ${seconds} s`);
    if (seconds < 2) continue;
    rateRatios.push((ep.during.length / seconds) / (ep.before.length / 60));
    sizeRatios.push(
      median(ep.during.map((e) => e.volume)) / median(ep.before.map((e) => e.volume)),
    );
  }
  assert.ok(median(rateRatios) >= 3, `trade rate ×${median(rateRatios)}`);
  assert.ok(median(sizeRatios) >= 2, `trade size ×${median(sizeRatios)}`);
});

Deno.test("episodes: PUMP_AND_DUMP ramps price and volume for minutes, then dumps in seconds", () => {
  const eps = episodes(streamOf("PUMP_AND_DUMP"), 120_000);
  assert.ok(eps.length >= 15, `${eps.length} pumps`);
  const rateRatios: number[] = [];
  for (const ep of eps) {
    const duration = ep.end - ep.start;
    assert.ok(duration >= 125_000 && duration <= 400_000, `lasted ${duration} ms`);
    let peak = -Infinity, peakAt = 0;
    for (const e of ep.during) {
      const x = lr(e.price, ep.p0);
      if (x > peak) [peak, peakAt] = [x, e.ts_ms!];
    }
    assert.ok(peak >= 0.025, `peak ${peak}`);
    assert.ok(peakAt - ep.start >= 100_000, `peaked after ${peakAt - ep.start} ms`);
    assert.ok(ep.end - peakAt <= 45_000, `dumped over ${ep.end - peakAt} ms`);
    const last = lr(ep.during.at(-1)!.price, ep.p0);
    assert.ok(last <= 0.4 * peak, `after the dump ${last}, peak ${peak}`);
    const beforePeak = ep.during.filter((e) => e.ts_ms! >= peakAt - 60_000 && e.ts_ms! < peakAt);
    if (ep.before.length >= 60) rateRatios.push(beforePeak.length / ep.before.length);
  }
  assert.ok(median(rateRatios) >= 2, `trade rate ×${median(rateRatios)} near the top`);
});

Deno.test("episodes: default weights cover every type, in the contract's order", () => {
  assert.deepEqual(Object.keys(DEFAULT_EPISODE_WEIGHTS).sort(), [...EPISODE_TYPES].sort());
  assert.ok(EPISODE_TYPES.every((t) => DEFAULT_EPISODE_WEIGHTS[t] > 0));
});

Deno.test("episodes: summariseEpisodes lists each labelled episode once, from its labels", () => {
  const events = streamOf("FLASH_CRASH");
  const eps = summariseEpisodes(events);
  const ids = new Set(events.map((e) => e.episode_id).filter((x) => x !== undefined));
  assert.equal(eps.length, ids.size);
  for (const s of eps) {
    const mine = events.filter((e) => e.episode_id === s.id);
    assert.equal(s.events, mine.length);
    assert.equal(s.firstMs, mine[0].ts_ms);
    assert.equal(s.lastMs, mine.at(-1)!.ts_ms);
    assert.equal(s.type, "FLASH_CRASH");
    assert.equal(s.symbol, "BTC-USDT");
  }
  // the seed's single-event anomalies carry no episode id: nothing to list
  assert.deepEqual(
    summariseEpisodes([{
      symbol: "BTC-USDT",
      anomaly_type: "PRICE_SPIKE",
      timestamp: 1,
      ts_ms: 1000,
    }]),
    [],
  );
});
