import assert from "node:assert/strict";
import { z } from "zod";
import { fieldErrors } from "./errors.ts";

Deno.test("fieldErrors: one entry per bad field, unknown keys each, whole-value errors named by part", () => {
  const schema = z.strictObject({ a: z.number(), b: z.object({ c: z.string() }) });
  const r = schema.safeParse({ a: "x", b: { c: 1 }, d: 1, e: 2 });
  assert.ok(!r.success);
  const errs = fieldErrors(r.error.issues, "json");
  assert.deepEqual(errs.map((e) => e.field).sort(), ["a", "b.c", "d", "e"]);
  assert.equal(errs.find((e) => e.field === "d")?.message, "unknown field");

  const whole = schema.safeParse([1]);
  assert.ok(!whole.success);
  assert.deepEqual(fieldErrors(whole.error.issues, "json").map((e) => e.field), ["(body)"]);
  const q = z.object({ n: z.number() }).safeParse(null);
  assert.ok(!q.success);
  assert.deepEqual(fieldErrors(q.error.issues, "query").map((e) => e.field), ["(query)"]);
});
