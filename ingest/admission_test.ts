import assert from "node:assert/strict";
import { MarketEvent } from "../lib/contracts.ts";
import { Admission, clockSkewReason, JumpFilter, sourceLabel } from "./admission.ts";

const NOW = 1_710_000_000_000;
const ev = (over: Record<string, unknown>) =>
  MarketEvent.parse({
    timestamp: Math.floor(NOW / 1000),
    ts_ms: NOW,
    symbol: "BTC-USDT",
    price: 1,
    volume: 1,
    log_return: 0,
    ...over,
  });

Deno.test("clockSkewReason: ahead always checked, behind only for live sources, bounds inclusive", () => {
  assert.equal(clockSkewReason(NOW + 300_000, NOW, 300_000, "ahead"), null);
  assert.match(
    clockSkewReason(NOW + 300_001, NOW, 300_000, "ahead")!,
    /^ts_ms: .* 300001 ms ahead/,
  );
  assert.equal(clockSkewReason(NOW - 86_400_000, NOW, 300_000, "ahead"), null);
  assert.match(clockSkewReason(NOW - 300_001, NOW, 300_000, "both")!, /300001 ms behind/);
  assert.match(clockSkewReason(9e15, NOW, 300_000, "both")!, /MAX_CLOCK_SKEW is 300 s/);
});

Deno.test("Admission: unconfigured symbols refused unless accepted; then the clock", () => {
  const policy = {
    symbols: ["BTC-USDT", "ETH-USDT"],
    maxClockSkewMs: 60_000,
    direction: "ahead" as const,
  };
  const strict = new Admission({ ...policy, unconfiguredSymbols: "reject" });
  assert.equal(strict.check(ev({}), NOW), null);
  assert.match(
    strict.check(ev({ symbol: "XRP-USDT" }), NOW)!,
    /^symbol: XRP-USDT is not in SYMBOLS \(BTC-USDT,ETH-USDT\)/,
  );
  assert.match(strict.check(ev({ ts_ms: NOW + 61_000 }), NOW)!, /^ts_ms: /);
  // Without ts_ms the seconds field is the time.
  assert.match(
    strict.check(ev({ ts_ms: undefined, timestamp: NOW / 1000 + 3600 }), NOW)!,
    /^ts_ms: /,
  );
  const lax = new Admission({ ...policy, unconfiguredSymbols: "accept" });
  assert.equal(lax.check(ev({ symbol: "XRP-USDT" }), NOW), null);
});

Deno.test("MarketEvent: source must be a short safe name; times must fit a Date", () => {
  for (const bad of ['=HYPERLINK("x")', "+1", "-x", "@a", "Binance", "a b", "x".repeat(33), ""]) {
    assert.equal(MarketEvent.safeParse({ ...ev({}), source: bad }).success, false, bad);
  }
  for (const ok of ["binance", "feed-7", "my_feed.v2"]) {
    assert.equal(MarketEvent.safeParse({ ...ev({}), source: ok }).success, true, ok);
  }
  assert.equal(MarketEvent.safeParse({ ...ev({}), ts_ms: 9e15 }).success, false);
  // Numbers no market has, whose squares would overflow the window's sums (found by fuzzing).
  for (const bad of [{ price: 1e300 }, { price: 1e-300 }, { volume: 1e300 }, { log_return: 700 }]) {
    assert.equal(MarketEvent.safeParse({ ...ev({}), ...bad }).success, false, JSON.stringify(bad));
  }
  assert.equal(MarketEvent.safeParse({ ...ev({}), price: 1e-9, volume: 1e12 }).success, true);
  assert.equal(MarketEvent.safeParse({ ...ev({}), timestamp: 9e12 }).success, false);
});

Deno.test("sourceLabel: known names kept, anything else bounded to other/unknown", () => {
  assert.equal(sourceLabel("binance"), "binance");
  assert.equal(sourceLabel("api"), "api");
  assert.equal(sourceLabel("feed-1"), "other");
  assert.equal(sourceLabel("feed-2"), "other");
  assert.equal(sourceLabel(undefined), "unknown");
});

Deno.test("JumpFilter: a lone outlier is refused, a genuine gap loses nothing", () => {
  const f = new JumpFilter<string>(60_000);
  const emitted: string[] = [];
  const rejected: string[] = [];
  const push = (x: string, t: number) => {
    const d = f.push(x, t);
    emitted.push(...d.emit);
    rejected.push(...d.rejected.map((r) => r.item));
  };
  push("a", 0);
  push("b", 1000);
  push("outlier", 9e12); // held
  assert.deepEqual(emitted, ["a", "b"]);
  push("c", 2000); // back near the stream: the outlier was alone
  assert.deepEqual(rejected, ["outlier"]);
  push("after-gap", 2000 + 600_000); // a real 10-minute gap: held...
  push("d", 2000 + 601_000); // ...and confirmed by the next event
  push("last-jump", 10_000_000); // held at the end of the stream...
  emitted.push(...f.flush()); // ...and passed on: nothing refutes it
  assert.deepEqual(emitted, ["a", "b", "c", "after-gap", "d", "last-jump"]);
  assert.deepEqual(rejected, ["outlier"]);
});
