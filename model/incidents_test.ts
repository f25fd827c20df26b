import assert from "node:assert/strict";
import { type IncidentChange, IncidentTracker, type ScoredTrade } from "./incidents.ts";

const trade = (
  ts_ms: number,
  price: number,
  alert = false,
  o: Partial<ScoredTrade> = {},
): ScoredTrade => ({
  symbol: "BTC-USDT",
  ts_ms,
  price,
  alert,
  severity: alert ? 0.8 : 0.1,
  driver: "price_z",
  price_z: alert ? (price >= 100 ? 15 : -15) : 0,
  model_id: "m",
  ...o,
});

function run(trades: ScoredTrade[], end?: number, settleMs?: number): IncidentChange[] {
  const t = new IncidentTracker({ gapMs: 5000, settleMs });
  const out = trades.flatMap((x) => t.observe(x));
  if (end !== undefined) out.push(...t.advance(end));
  return out;
}
const closed = (cs: IncidentChange[]) =>
  cs.filter((c) => c.kind === "closed").map((c) => c.incident);

Deno.test("incidents: a burst of alerts within the gap is one incident with its peak and counts", () => {
  const cs = run([
    trade(0, 100),
    trade(1000, 106, true, { severity: 0.6 }),
    trade(1500, 100.5), // a quiet trade inside the incident
    trade(2000, 108, true, { severity: 0.95 }),
    trade(4000, 104, true, { severity: 0.7 }),
    trade(12_000, 100.2), // 8 s of quiet: closes
  ]);
  const [inc, ...rest] = closed(cs);
  assert.equal(rest.length, 0);
  assert.equal(inc.id, "BTC-USDT:1000");
  assert.equal(inc.alerts, 3);
  assert.equal(inc.trades, 4);
  assert.equal(inc.start_ms, 1000);
  assert.equal(inc.end_ms, 4000);
  assert.equal(inc.peak_ms, 2000);
  assert.equal(inc.peak_severity, 0.95);
  assert.equal(inc.ref_price, 100);
  assert.equal(inc.peak_price, 108);
  assert.equal(inc.type, "spike"); // peak +8 %, closed back near the reference
  assert.equal(cs.filter((c) => c.kind === "opened").length, 1);
});

Deno.test("incidents: alerts further apart than the gap are two incidents", () => {
  const cs = run(
    [trade(0, 100), trade(1000, 110, true), trade(7000, 100), trade(8000, 111, true)],
    700_000, // the second, a would-be level shift with no trade after it, waits 10 settle times
  );
  assert.equal(closed(cs).length, 2);
});

Deno.test("incidents: typed by shape — crash, level shift, volume burst, volatility regime", () => {
  const crash = closed(
    run([trade(0, 100), trade(1000, 90, true), trade(2000, 92, true), trade(3000, 99)], 20_000),
  );
  assert.equal(crash[0].type, "crash");
  const shift = closed(
    run([trade(0, 100), trade(1000, 110, true), trade(2000, 110.1), trade(3000, 109.9)], 70_000),
  );
  assert.equal(shift[0].type, "level_shift");
  const burst = closed(run([
    trade(0, 100),
    trade(1000, 100, true, { driver: "volume_z", price_z: 0.2 }),
    trade(1200, 100.01, true, { driver: "flow_z", price_z: 0.1 }),
  ], 20_000));
  assert.equal(burst[0].type, "volume_burst");
  assert.deepEqual(burst[0].drivers, { volume_z: 1, flow_z: 1 });
  const regime = closed(run([
    trade(0, 100),
    trade(1000, 103, true),
    trade(2000, 97, true),
    trade(3000, 103, true),
    trade(4000, 97, true),
    trade(5000, 100),
  ], 20_000));
  assert.equal(regime[0].type, "volatility_regime");
});

Deno.test("incidents: a spike whose reversion alerts downwards is a spike, not a volatility regime", () => {
  // +3 % at once, then back to the old price while the short reference still sits up high:
  // the way down alerts with a negative price_z, but the price never went below its start
  const down = { price_z: -12 };
  const spike = closed(run([
    trade(0, 100),
    trade(1000, 103, true),
    trade(1500, 103.1, true),
    trade(2000, 101.5, true, down),
    trade(2500, 100.6, true, down),
    trade(3000, 100.1, true, down),
    trade(4000, 100),
  ], 20_000));
  assert.equal(spike[0].type, "spike");
  // the same fall from 103 that goes on to 97: both sides of the start, a regime
  const regime = closed(run([
    trade(0, 100),
    trade(1000, 103, true),
    trade(1500, 103.1, true),
    trade(2000, 100, true, down),
    trade(2500, 97, true, down),
    trade(4000, 99.5),
  ], 20_000));
  assert.equal(regime[0].type, "volatility_regime");
});

Deno.test("incidents: symbols are independent; advance() closes by time; state round-trips", () => {
  const t = new IncidentTracker({ gapMs: 5000, settleMs: 0 });
  t.observe(trade(0, 100));
  t.observe(trade(1000, 110, true));
  t.observe(trade(1000, 50, true, { symbol: "ETH-USDT" }));
  assert.equal(t.open().length, 2);
  const copy = IncidentTracker.fromJSON(
    { gapMs: 5000, settleMs: 0 },
    JSON.parse(JSON.stringify(t.toJSON())),
  );
  assert.equal(t.advance(5999).length, 0);
  const cs = copy.advance(6001);
  assert.deepEqual(cs.map((c) => c.incident.id).sort(), ["BTC-USDT:1000", "ETH-USDT:1000"]);
  assert.ok(cs.every((c) => c.kind === "closed" && c.incident.status === "closed"));
});

Deno.test("incidents: updated only when the peak grows or the type changes", () => {
  const cs = run([
    trade(0, 100),
    trade(1000, 110, true, { severity: 0.9 }),
    trade(1100, 109, true, { severity: 0.7 }), // lower: no update
    trade(1200, 112, true, { severity: 0.99 }), // higher: update
  ]);
  assert.deepEqual(cs.map((c) => c.kind), ["opened", "updated"]);
});

// A flash crash as the realistic profile draws it (ingest/episodes.ts): −6 % over 3 s with alerts,
// then a recovery of most of it over a minute, slower than the incident gap.
function flashCrash(): ScoredTrade[] {
  const out = [trade(0, 100)];
  for (let k = 1; k <= 6; k++) out.push(trade(k * 500, 100 - k, true)); // 99 … 94 by 3 s
  for (let s = 4; s <= 64; s++) out.push(trade(s * 1000, 94 + (4.5 * (s - 3)) / 60)); // → 98.5
  return out;
}

Deno.test("incidents settle: a flash crash whose recovery outlasts the gap closes as a crash", () => {
  const cs = run(flashCrash());
  const [inc, ...rest] = closed(cs);
  assert.equal(rest.length, 0);
  assert.equal(inc.type, "crash");
  // It closed once the price had given back more than 30 % of the fall in log terms
  // (above 100 · 0.94^0.7 = 95.76), not at the end of the settle time:
  // 94 + 4.5 (s − 3) / 60 passes 95.76 first at s = 27, with 95.8.
  assert.equal(inc.last_price, 94 + (4.5 * 24) / 60);
  assert.equal(inc.end_ms, 3000);
  // trades are counted up to the gap after the last alert (3 s … 8 s), not while settling
  assert.equal(inc.trades, 6 + 5);
  assert.equal(inc.min_price, 94);
  // Without settling, the same trades close at the gap with the price still near the bottom.
  const [atGap] = closed(run(flashCrash(), undefined, 0));
  assert.equal(atGap.type, "level_shift");
});

Deno.test("incidents settle: a level shift stays open for the settle time, then closes as one", () => {
  const trades = [trade(0, 100), trade(1000, 103, true), trade(1500, 103.2, true)];
  for (let s = 2; s <= 90; s++) trades.push(trade(s * 1000, 103 + 0.05 * Math.sin(s)));
  const t = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
  const changes = trades.map((x) => ({ at: x.ts_ms, cs: t.observe(x) }));
  const closing = changes.filter((c) => c.cs.some((x) => x.kind === "closed"));
  assert.equal(closing.length, 1);
  // the first trade more than 60 s after the last alert (1.5 s) closes it
  assert.equal(closing[0].at, 62_000);
  const inc = closing[0].cs[0].incident;
  assert.equal(inc.type, "level_shift");
  assert.equal(inc.status, "closed");
  // while settling it was open, provisionally a spike (upwards)
  assert.equal(changes.find((c) => c.at === 30_000)!.cs.length, 0);
});

Deno.test("incidents settle: advance() closes a settled level shift by time; an alert extends it", () => {
  const t = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
  t.observe(trade(0, 100));
  t.observe(trade(1000, 110, true));
  t.observe(trade(2000, 110.2));
  assert.equal(t.advance(30_000).length, 0); // past the gap, settling
  assert.equal(t.open().length, 1);
  const [c] = t.advance(61_001);
  assert.equal(c.incident.type, "level_shift");
  // An alert while settling (here the way back) belongs to the same incident; without settling
  // it opens a second one.
  const alerts = [trade(0, 100), trade(1000, 110, true), trade(20_000, 104, true, { price_z: 9 })];
  for (const settleMs of [60_000, 0]) {
    const u = new IncidentTracker({ gapMs: 5000, settleMs });
    const cs = alerts.flatMap((x) => u.observe(x));
    cs.push(...u.advance(100_000));
    const incs = closed(cs);
    if (settleMs === 0) {
      assert.deepEqual(incs.map((i) => [i.id, i.type]), [
        ["BTC-USDT:1000", "level_shift"],
        ["BTC-USDT:20000", "level_shift"], // a fall from 110 to 104 that stayed: wrong, and twice
      ]);
    } else {
      assert.equal(incs.length, 1);
      assert.equal(incs[0].alerts, 2);
      assert.equal(incs[0].end_ms, 20_000);
      assert.equal(incs[0].type, "spike"); // +10 % that gave back 60 % of it
    }
  }
});

Deno.test("incidents settle: on a thin pair the first trade after the settle time decides", () => {
  // A lone spike trade, then nothing for 80 s (a pair trading every 30 s or more): the settle
  // time passes with no price to judge by, so the incident waits for the next trade.
  for (const [next, type] of [[100.2, "spike"], [104.9, "level_shift"]] as const) {
    const t = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
    t.observe(trade(0, 100));
    t.observe(trade(10_000, 105, true));
    assert.deepEqual(t.advance(75_000), []); // past the settle time, no trade seen: still open
    const cs = t.observe(trade(90_000, next));
    assert.deepEqual(cs.map((c) => [c.kind, c.incident.type]), [["closed", type]]);
    assert.equal(cs[0].incident.last_price, next);
    assert.equal(cs[0].incident.trades, 1);
  }
  // With a trade inside the gap the settle time is enough, as on a busy pair.
  const u = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
  u.observe(trade(0, 100));
  u.observe(trade(10_000, 105, true));
  u.observe(trade(12_000, 105.1));
  assert.deepEqual(u.advance(70_001).map((c) => c.incident.type), ["level_shift"]);
  // A dead market does not hold an incident open for ever: 10 settle times at most.
  const d = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
  d.observe(trade(0, 100));
  d.observe(trade(10_000, 105, true));
  assert.deepEqual(d.advance(600_000), []);
  assert.deepEqual(d.advance(610_001).map((c) => c.incident.type), ["level_shift"]);
});

Deno.test("incidents settle: the trades seen since the last alert survive a checkpoint", () => {
  const t = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
  t.observe(trade(0, 100));
  t.observe(trade(10_000, 105, true));
  t.observe(trade(12_000, 105.1));
  const copy = new IncidentTracker({ gapMs: 5000, settleMs: 60_000 });
  copy.restoreSymbol("BTC-USDT", JSON.parse(JSON.stringify(t.symbolState("BTC-USDT"))));
  // had the restored copy forgotten the trade at 12 s, it would wait for another one
  assert.deepEqual(copy.advance(70_001).map((c) => c.incident.type), ["level_shift"]);
});
