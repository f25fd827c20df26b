import assert from "node:assert/strict";
import { sourceProblem, type SystemStatus, trainingProgress, waitingReason } from "./api.ts";

const status = (scorer: "online" | "degraded", trainerDetail: string): SystemStatus => ({
  status: "degraded",
  checked_at: "2024-03-09T16:00:00.000Z",
  services: [
    { name: "scorer", status: scorer, latency_ms: null, detail: "waiting for model: …" },
    { name: "trainer", status: "online", latency_ms: null, detail: trainerDetail },
  ],
});

Deno.test("waitingReason: null once the scorer is online, else the trainer's own words", () => {
  assert.equal(waitingReason(status("online", "idle")), null);
  assert.equal(
    waitingReason(status("degraded", "waiting: waiting for 1000 feature rows, have 240; 0 run(s)")),
    "trainer waiting: waiting for 1000 feature rows, have 240",
  );
  assert.equal(waitingReason(null), null);
});

Deno.test("trainingProgress reads the trainer's counts, or nothing", () => {
  assert.deepEqual(trainingProgress("waiting: waiting for 1000 feature rows, have 240"), {
    need: 1000,
    have: 240,
  });
  assert.equal(trainingProgress("training (first model)"), null);
});

Deno.test("sourceProblem: the Binance stream's or the source's trouble, else null", () => {
  const svc = (name: string, status: "online" | "degraded" | "offline", detail = name) => ({
    name,
    status,
    latency_ms: null,
    detail,
  });
  const st = (...services: ReturnType<typeof svc>[]) => ({
    status: "degraded" as const,
    checked_at: "2026-12-04T21:00:00.000Z",
    services,
  });
  assert.equal(sourceProblem(st(svc("api", "online"), svc("source", "online"))), null);
  assert.equal(sourceProblem(null), null);
  // Something else degraded is not the source's problem.
  assert.equal(sourceProblem(st(svc("trainer", "degraded"), svc("source", "online"))), null);
  assert.deepEqual(
    sourceProblem(st(svc("source", "offline", "replay ended"))),
    { name: "source", status: "offline", detail: "replay ended" },
  );
  assert.deepEqual(
    sourceProblem(
      st(svc("source", "degraded", "binance reconnecting"), svc("binance", "offline", "closed")),
    ),
    { name: "binance", status: "offline", detail: "closed" },
  );
});
