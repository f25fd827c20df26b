import assert from "node:assert/strict";
import type { MarketEvent } from "../lib/contracts.ts";
import { simulateEvents } from "./simulate.ts";
import { eventJsonLine, writeSimulation } from "./simulate_file.ts";

const T0 = 1_704_067_200_000;

Deno.test("simulate_file: eventJsonLine writes JSON.stringify's bytes for every profile's events", () => {
  for (const profile of ["seed", "realistic", "busy", "thin"] as const) {
    let n = 0;
    for (
      const e of simulateEvents({
        profile,
        seed: 1,
        symbols: ["BTC-USDT", "ETH-USDT", "DOGE-USDT"],
        startMs: T0,
        endMs: T0 + (profile === "thin" ? 86_400_000 : 600_000),
        anomalyProbability: 0.3,
      })
    ) {
      assert.equal(eventJsonLine(e), JSON.stringify(e));
      n++;
    }
    assert.ok(n > 1000, profile);
  }
  // optional fields absent, odd numbers
  const bare: MarketEvent = {
    timestamp: 0,
    symbol: "X1-Y2",
    price: 1e-7,
    volume: 0,
    log_return: -1.5e-300,
    is_anomaly: true,
    anomaly_type: "LEVEL_SHIFT",
  };
  assert.equal(eventJsonLine(bare), JSON.stringify(bare));
  assert.equal(
    eventJsonLine({ ...bare, source: 'a"b\\' }),
    JSON.stringify({ ...bare, source: 'a"b\\' }),
  );
});

Deno.test("simulate_file: writeSimulation reports progress and ends at 100 %", async () => {
  const file = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    const seen: number[] = [];
    const done = await writeSimulation(
      {
        profile: "busy",
        seed: 1,
        symbols: ["BTC-USDT"],
        startMs: T0,
        endMs: T0 + 1_200_000,
        anomalyProbability: 0,
      },
      file,
      { onProgress: (p) => seen.push(p.fraction), progressEveryMs: 0 },
    );
    assert.ok(seen.length >= 3, `${seen.length} reports`);
    assert.deepEqual(seen, seen.slice().sort((a, b) => a - b));
    assert.equal(seen.at(-1), 1);
    assert.equal(done.bytes, (await Deno.stat(file)).size);
    const lines = (await Deno.readTextFile(file)).split("\n");
    assert.equal(lines.length - 1, done.events);
  } finally {
    await Deno.remove(file);
  }
});
