import assert from "node:assert/strict";
import { type SystemStatus, trainingProgress, waitingReason } from "./api.ts";

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
