import assert from "node:assert/strict";
import { readEpisodes, readIncidents, renderTypes, typeConfusion } from "./incident_types.ts";
import { INCIDENT_COLUMNS, PREDICTION_COLUMNS } from "./eval_csv.ts";

Deno.test("incident types: each episode meets the first incident of its symbol that overlaps it", () => {
  const eps = [
    { type: "PRICE_SPIKE" as const, symbol: "A", first_ms: 1000, last_ms: 3000, events: 4 },
    { type: "FLASH_CRASH" as const, symbol: "A", first_ms: 60_000, last_ms: 70_000, events: 9 },
    { type: "LEVEL_SHIFT" as const, symbol: "B", first_ms: 1000, last_ms: 1000, events: 1 },
    { type: "VOLUME_BURST" as const, symbol: "B", first_ms: 90_000, last_ms: 95_000, events: 30 },
  ];
  const incidents = [
    // B's incident 2 s after the level shift's only trade: within the 5 s tolerance
    { symbol: "B", type: "volatility_regime", start_ms: 3000, end_ms: 4000 },
    { symbol: "A", type: "crash", start_ms: 2500, end_ms: 2600 }, // a down spike: as expected
    { symbol: "A", type: "level_shift", start_ms: 61_000, end_ms: 66_000 },
    { symbol: "A", type: "crash", start_ms: 65_000, end_ms: 67_000 }, // not the first one
    // an incident of another symbol at the burst's time does not count for B
    { symbol: "A", type: "volume_burst", start_ms: 91_000, end_ms: 92_000 },
  ];
  const r = typeConfusion(eps, incidents, 5000);
  assert.deepEqual(r.PRICE_SPIKE, {
    episodes: 1,
    detected: 1,
    typed_as_expected: 1,
    given: { crash: 1 },
  });
  assert.deepEqual(r.FLASH_CRASH.given, { level_shift: 1 });
  assert.equal(r.FLASH_CRASH.typed_as_expected, 0);
  assert.deepEqual(r.LEVEL_SHIFT.given, { volatility_regime: 1 });
  assert.deepEqual(r.VOLUME_BURST, {
    episodes: 1,
    detected: 0,
    typed_as_expected: 0,
    given: { "-": 1 },
  });
  assert.match(renderTypes(r), /\| PRICE_SPIKE \| 1 \| 1 \| 1 \(100 %\) \| crash 1 \|/);
  assert.match(renderTypes(r), /\| VOLUME_BURST \| 1 \| 0 \| 0 \| none 1 \|/);
});

Deno.test("incident types: reads the files deno task eval writes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = `${dir}/p.csv`;
    const i = `${dir}/i.csv`;
    const row = (ts: number, label: boolean, type: string, ep: string) =>
      [
        ts,
        new Date(ts).toISOString(),
        "BTC-USDT",
        100,
        1,
        0,
        0,
        0,
        0,
        true,
        0.1,
        false,
        "",
        label,
        type,
        ep,
      ]
        .join(",");
    await Deno.writeTextFile(
      p,
      [
        PREDICTION_COLUMNS.join(","),
        row(1000, false, "", ""),
        row(2000, true, "LEVEL_SHIFT", "7"),
        row(2500, true, "LEVEL_SHIFT", "7"),
        row(9000, true, "VOLUME_SPIKE", ""), // the seed profile: one event, no episode id
      ].join("\n") + "\n",
    );
    await Deno.writeTextFile(
      i,
      INCIDENT_COLUMNS.join(",") + "\n" +
        'BTC-USDT:2000,BTC-USDT,level_shift,2000,2400,x,y,2000,0.9,2,5,100,103,103,100,103,"price_z:2"\n',
    );
    const eps = await readEpisodes(p);
    assert.deepEqual(eps.map((e) => [e.type, e.first_ms, e.last_ms, e.events]), [
      ["LEVEL_SHIFT", 2000, 2500, 2],
      ["VOLUME_SPIKE", 9000, 9000, 1],
    ]);
    const inc = await readIncidents(i);
    assert.deepEqual(inc, [{
      symbol: "BTC-USDT",
      type: "level_shift",
      start_ms: 2000,
      end_ms: 2400,
    }]);
    const r = typeConfusion(eps, inc, 5000);
    assert.equal(r.LEVEL_SHIFT.typed_as_expected, 1);
    assert.equal(r.VOLUME_SPIKE.detected, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
