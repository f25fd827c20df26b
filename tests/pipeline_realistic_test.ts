/**
 * The embedded pipeline on the realistic profile: the simulator's new
 * episode types go through features, scoring and KV pages with their labels
 * intact (stored pages encode a type by its index in ANOMALY_TYPES).
 */
import assert from "node:assert/strict";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { Store } from "../store/kv.ts";
import { simulateEvents } from "../ingest/simulate.ts";
import {
  activateIn,
  allPredictions,
  fastClock,
  simulatedBundle,
  tempKvPath,
  testConfig,
  waitFor,
} from "./helpers.ts";

const SYMBOLS = ["BTC-USDT", "ETH-USDT"];
const T0 = 1_710_000_000_000;

Deno.test("embedded, realistic profile: every prediction keeps its trade's episode label", async () => {
  const { path, cleanup } = await tempKvPath();
  try {
    await activateIn(path, simulatedBundle({ id: "m", seed: 2, seconds: 600, nEstimators: 20 }));
    const env = {
      KV_PATH: path,
      SYMBOLS: SYMBOLS.join(","),
      SIM_PROFILE: "realistic",
      SEED: "4",
      ANOMALY_PROBABILITY: "0.5",
      SIM_EPISODE_WEIGHTS: "LEVEL_SHIFT=1,VOLUME_BURST=1,PUMP_AND_DUMP=1",
    };
    const config = testConfig(env);
    const clock = fastClock(T0);
    const store = await Store.open(path, { retentionMs: 86_400_000 });
    const source = await SimulatedSource.open(config, store, memoryLogger(), clock);
    store.close();
    const s = await Sentinel.start(config, ["source", "worker"], {
      clock,
      logger: () => memoryLogger(),
      source,
      reportEveryMs: 0,
    });
    try {
      await waitFor("20 000 predictions", () => s.metrics.predictions.total() > 20_000, 60_000);
    } finally {
      await s.stop();
    }
    const reopened = await Store.open(path, { retentionMs: 86_400_000 });
    try {
      const preds = await allPredictions(reopened);
      const last = Math.max(...preds.map((p) => p.ts_ms));
      const truth = new Map<string, { label: boolean; type: string | null }>();
      for (
        const e of simulateEvents({
          profile: "realistic",
          seed: 4,
          symbols: SYMBOLS,
          startMs: T0,
          endMs: last + 1,
          anomalyProbability: 0.5,
          episodes: { weights: config.simEpisodeWeights, magnitude: 1 },
        })
      ) truth.set(`${e.symbol}/${e.trade_id}`, { label: e.is_anomaly, type: e.anomaly_type });
      const types = new Set<string>();
      for (const p of preds) {
        const t = truth.get(`${p.symbol}/${p.trade_id}`);
        assert.ok(t, `no simulated trade ${p.symbol}/${p.trade_id}`);
        assert.equal(p.label, t.label);
        assert.equal(p.anomaly_type ?? null, t.type);
        if (t.type) types.add(t.type);
      }
      assert.deepEqual([...types].sort(), ["LEVEL_SHIFT", "PUMP_AND_DUMP", "VOLUME_BURST"]);
    } finally {
      reopened.close();
    }
  } finally {
    await cleanup();
  }
});
