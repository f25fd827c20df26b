/**
 * A market with many symbols: every batch touches dozens of them, each with a
 * ~18 KB checkpoint, which one Deno KV atomic (800 KB at most) cannot hold;
 * the worker commits such a batch as consecutive parts (pipeline/split.ts)
 * and loses nothing.
 */
import assert from "node:assert/strict";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { Store } from "../store/kv.ts";
import { fastClock, tempKvPath, testConfig, waitFor } from "./helpers.ts";

Deno.test("many symbols: 150 symbols per batch are committed in parts, every event once", async () => {
  const { path, cleanup } = await tempKvPath();
  const symbols = Array.from({ length: 150 }, (_, i) => `S${i}-USDT`);
  const config = testConfig({
    KV_PATH: path,
    SYMBOLS: symbols.join(","),
    EVENT_FREQUENCY_SECONDS: "0.5",
    MIN_TRAINING_ROWS: "6000",
  });
  const clock = fastClock();
  const lines: string[] = [];
  const setup = await Store.open(path, { retentionMs: 86_400_000 });
  const source = await SimulatedSource.open(config, setup, memoryLogger(lines), clock);
  setup.close();
  const s = await Sentinel.start(config, ["source", "worker", "trainer"], {
    clock,
    logger: () => memoryLogger(lines),
    source,
    trainerPollMs: 50,
    modelPollMs: 100,
    reportEveryMs: 0,
    trainInWorker: false,
  });
  try {
    await waitFor("a model and 30 000 predictions", () => {
      return s.models.current !== null && s.metrics.predictions.total() > 30_000;
    }, 90_000);
  } finally {
    await s.stop();
  }
  assert.ok(
    !lines.some((l) => /mutation size too large|worker stopped/i.test(l)),
    lines.join("\n"),
  );
  const store = await Store.open(path, { retentionMs: 86_400_000 });
  try {
    const rows = await store.recentRows(Number.MAX_SAFE_INTEGER);
    for (const symbol of [symbols[0], symbols[149]]) {
      const ids = rows.filter((r) => r.symbol === symbol).map((r) => r.trade_id!).sort((a, b) =>
        a - b
      );
      assert.ok(ids.length > 100, `${symbol}: ${ids.length} rows`);
      assert.ok(
        ids.every((id, i) => id === i + 1),
        `${symbol}: trade ids with a gap or a duplicate`,
      );
    }
  } finally {
    store.close();
    await cleanup();
  }
});
