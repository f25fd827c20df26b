import assert from "node:assert/strict";
import { freshBeat } from "./healthcheck.ts";

Deno.test("healthcheck: a heartbeat counts when it is this host's and recent", () => {
  const now = 1_000_000;
  assert.equal(freshBeat("box-1:42", { at: now - 5_000 }, "box-1", now), true);
  assert.equal(freshBeat("box-1:42", { at: now - 31_000 }, "box-1", now), false, "stale");
  assert.equal(freshBeat("box-10:42", { at: now }, "box-1", now), false, "another host");
  assert.equal(freshBeat("box-1:42", { at: "soon" }, "box-1", now), false, "no time");
  assert.equal(freshBeat("box-1:42", null, "box-1", now), false);
});
