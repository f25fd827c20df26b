/**
 * Roles in separate processes: a web-only Sentinel streams, over SSE, the
 * predictions a worker elsewhere commits to the shared KV (through its KV tail).
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../pipeline/log.ts";
import { Sentinel } from "../sentinel.ts";
import { utf8Decoder } from "../lib/streams.ts";
import { activateIn, simulatedBundle, tempKvPath, testConfig } from "./helpers.ts";

Deno.test("web-only process: /events streams predictions committed by a worker elsewhere", async () => {
  const { path, cleanup } = await tempKvPath();
  await activateIn(
    path,
    simulatedBundle({
      id: "tail-model",
      seed: 2,
      seconds: 600,
      nEstimators: 30,
      symbols: ["BTC-USDT"],
    }),
  );
  const config = testConfig({ KV_PATH: path, EVENT_FREQUENCY_SECONDS: "0.02" });
  const opts = { logger: () => memoryLogger(), reportEveryMs: 0 };
  const web = await Sentinel.start(config, ["web"], {
    ...opts,
    port: 0,
    hostname: "127.0.0.1",
    tailPollMs: 50,
  });
  let worker: Sentinel | null = null;
  const ac = new AbortController();
  try {
    const res = await fetch(`http://127.0.0.1:${web.port}/events`, { signal: ac.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(utf8Decoder()).getReader();
    // The worker has its own store connection and hub, as another process would.
    worker = await Sentinel.start(config, ["source", "worker"], opts);
    let text = "";
    const deadline = Date.now() + 20_000;
    while ((text.match(/^event: prediction$/gm) ?? []).length < 30) {
      assert.ok(Date.now() < deadline, `only ${text.length} bytes of SSE in 20 s`);
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    // Predictions and alerts (incidents, `event: incident`, carry another shape).
    const data = [...text.matchAll(/^event: (?:prediction|alert)\nid: .*\ndata: (.*)$/gm)]
      .map((m) => JSON.parse(m[1]));
    assert.ok(data.length >= 30);
    assert.ok(data.every((p) => p.model_id === "tail-model" && p.source === "simulated"));
    // In order and never twice: per symbol, trade ids strictly increase along the
    // stream (an alert repeats its prediction with the same id, so skip repeats).
    for (const symbol of config.symbols) {
      const ofSym = data.filter((p) => p.symbol === symbol);
      const tids = ofSym.filter((p, i) => i === 0 || p.trade_id !== ofSym[i - 1].trade_id)
        .map((p) => p.trade_id);
      for (let i = 1; i < tids.length; i++) {
        assert.ok(tids[i] > tids[i - 1], `${symbol}: ${tids[i - 1]} then ${tids[i]}`);
      }
    }
    await reader.cancel();
  } finally {
    ac.abort();
    await worker?.stop();
    await web.stop();
    await cleanup();
  }
});
