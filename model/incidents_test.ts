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

function run(trades: ScoredTrade[], end?: number): IncidentChange[] {
  const t = new IncidentTracker({ gapMs: 5000 });
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
    60_000,
  );
  assert.equal(closed(cs).length, 2);
});

Deno.test("incidents: typed by shape — crash, level shift, volume burst, volatility regime", () => {
  const crash = closed(
    run([trade(0, 100), trade(1000, 90, true), trade(2000, 92, true), trade(3000, 99)], 20_000),
  );
  assert.equal(crash[0].type, "crash");
  const shift = closed(
    run([trade(0, 100), trade(1000, 110, true), trade(2000, 110.1), trade(3000, 109.9)], 20_000),
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
  const t = new IncidentTracker({ gapMs: 5000 });
  t.observe(trade(0, 100));
  t.observe(trade(1000, 110, true));
  t.observe(trade(1000, 50, true, { symbol: "ETH-USDT" }));
  assert.equal(t.open().length, 2);
  const copy = IncidentTracker.fromJSON({ gapMs: 5000 }, JSON.parse(JSON.stringify(t.toJSON())));
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
