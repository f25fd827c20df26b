/**
 * Embedded mode survives SIGKILL at any moment (issue 11, audit item 4): a
 * real `main.ts` process (simulated source and worker, no Kafka) is killed
 * with SIGKILL at 20 random moments, backfill and live alike, and restarted
 * on the same KV each time. Afterwards every symbol's trade ids in the stored
 * feature rows run 1, 2, 3, … with no gap and no duplicate: each batch's
 * simulator checkpoint is exactly its last event, even when the batch ends in
 * the middle of a tick or the source has already read ahead.
 */
import assert from "node:assert/strict";
import { Random } from "../lib/random.ts";
import { Store } from "../store/kv.ts";
import { childEnv, tempKvPath } from "./helpers.ts";

const KILLS = 20;
const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** Starts the process and resolves once it has begun producing (its first source log line). */
async function start(
  kvPath: string,
  profile: Record<string, string>,
): Promise<{ child: Deno.ChildProcess; log: string[] }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P", "--config", CONFIG, MAIN, "--role=source", "--role=worker"],
    // Only these variables: an exported KAFKA_BROKERS (CI has one) would make this Kafka mode.
    clearEnv: true,
    env: {
      ...childEnv(),
      KV_PATH: kvPath,
      SYMBOLS: SYMBOLS.join(","),
      RETRAIN_INTERVAL: "off",
      ...profile,
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let started!: () => void;
  const ready = new Promise<void>((r) => started = r);
  (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      log.push(value);
      if (/backfill:|simulator live|finishing the tick/.test(value)) started();
    }
    started();
  })();
  const timer = setTimeout(started, 20_000);
  await ready;
  clearTimeout(timer);
  return { child, log };
}

/**
 * The seed profile makes a whole tick (one event per symbol) at once, which a
 * batch can cut; the realistic profile emits one trade per step, in bursts.
 */
const PROFILES: [string, Record<string, string>, number][] = [
  ["seed", { SIM_PROFILE: "seed", EVENT_FREQUENCY_SECONDS: "0.002", BACKFILL_SECONDS: "20" }, 2000],
  ["realistic", { SIM_PROFILE: "realistic", BACKFILL_SECONDS: "3600" }, 2000],
];

for (const [name, profile, minRows] of PROFILES) {
  Deno.test({
    name:
      `embedded (${name} profile): 20 SIGKILLs at random moments leave no gap and no duplicate per symbol`,
    async fn() {
      const { path, cleanup } = await tempKvPath();
      const seed = Number(Deno.env.get("KILL_TEST_SEED") ?? Date.now() % 100_000);
      const rng = new Random(seed);
      console.error(`kill moments drawn with seed ${seed} (KILL_TEST_SEED to repeat)`);
      try {
        for (let k = 0; k < KILLS; k++) {
          const { child, log } = await start(path, profile);
          // Backfill takes a few hundred ms here; kills land in it and in the live phase.
          await new Promise((r) => setTimeout(r, rng.int(700)));
          child.kill("SIGKILL");
          const status = await child.status;
          assert.equal(status.signal, "SIGKILL", `run ${k} ended by itself: ${log.join("")}`);
        }
        const store = await Store.open(path, { retentionMs: 86_400_000 });
        try {
          const rows = await store.recentRows(Number.MAX_SAFE_INTEGER);
          // Not a speed check: enough batches for the kills to have fallen between and inside them.
          assert.ok(rows.length > minRows, `only ${rows.length} rows after ${KILLS} runs`);
          for (const symbol of SYMBOLS) {
            const ids = rows.filter((r) => r.symbol === symbol).map((r) => r.trade_id!)
              .sort((a, b) => a - b);
            const dup = ids.find((id, i) => i > 0 && id === ids[i - 1]);
            assert.equal(dup, undefined, `${symbol}: trade id ${dup} stored twice`);
            const gap = ids.findIndex((id, i) => id !== i + 1);
            assert.equal(
              gap,
              -1,
              `${symbol}: trade id ${gap + 1} missing (found ${ids[gap]}; ${ids.length} rows)`,
            );
          }
        } finally {
          store.close();
        }
      } finally {
        await cleanup();
      }
    },
  });
}
