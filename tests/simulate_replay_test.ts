/**
 * A file written by `deno task simulate` read back through DATA_SOURCE=replay
 * (the RecordedSource the pipeline runs) is the in-memory stream: the same
 * events, labels, episode ids and sides, in the same order.
 */
import assert from "node:assert/strict";
import type { MarketEvent } from "../lib/contracts.ts";
import { simulateEvents, type SimulateOptions } from "../ingest/simulate.ts";
import { writeSimulation } from "../ingest/simulate_file.ts";
import { RecordedSource } from "../pipeline/sources.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { testConfig } from "./helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const T0 = 1_704_067_200_000;

async function replayed(file: string): Promise<MarketEvent[]> {
  const config = testConfig({
    DATA_SOURCE: "replay",
    REPLAY_FILE: file,
    SYMBOLS: SYMBOLS.join(","),
  });
  const source = new RecordedSource(config, memoryLogger());
  const out: MarketEvent[] = [];
  for await (const { event } of source.events(new AbortController().signal, 0)) out.push(event);
  assert.equal(source.status().state, "ended");
  return out;
}

Deno.test("simulate → file → DATA_SOURCE=replay gives the in-memory events, labels and episode ids", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-sim-" });
  try {
    const cases: SimulateOptions[] = [
      // every episode type, many of them
      {
        profile: "realistic",
        seed: 6,
        symbols: SYMBOLS,
        startMs: T0,
        endMs: T0 + 40 * 60_000,
        anomalyProbability: 0.3,
      },
      {
        profile: "busy",
        seed: 2,
        symbols: ["BTC-USDT"],
        startMs: T0,
        endMs: T0 + 120_000,
        anomalyProbability: 0.3,
      },
      {
        profile: "thin",
        seed: 2,
        symbols: SYMBOLS,
        startMs: T0,
        endMs: T0 + 6 * 3_600_000,
        anomalyProbability: 0.3,
      },
      {
        profile: "seed",
        seed: 2,
        symbols: SYMBOLS,
        startMs: T0,
        endMs: T0 + 300_000,
        anomalyProbability: 0.05,
      },
    ];
    for (const o of cases) {
      const file = `${dir}/${o.profile}.jsonl`;
      const written = await writeSimulation(o, file);
      const memory = [...simulateEvents(o)];
      assert.equal(written.events, memory.length);
      const text = await Deno.readTextFile(file);
      assert.equal(text, memory.map((e) => JSON.stringify(e) + "\n").join(""), o.profile);
      const back = await replayed(file);
      assert.deepEqual(back, memory, o.profile);
      if (o.profile !== "seed") {
        const types = new Set(back.filter((e) => e.is_anomaly).map((e) => e.anomaly_type));
        const ids = new Set(back.map((e) => e.episode_id).filter((x) => x !== undefined));
        assert.ok(ids.size >= 3, `${o.profile}: ${ids.size} episodes`);
        if (o.profile === "realistic") assert.equal(types.size, 6, [...types].join());
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
