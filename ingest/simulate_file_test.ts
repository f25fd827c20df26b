import assert from "node:assert/strict";
import { writeSimulation } from "./simulate_file.ts";

const T0 = 1_704_067_200_000;

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
