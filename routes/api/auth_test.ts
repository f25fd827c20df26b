import assert from "node:assert/strict";
import { bearerToken, tokensEqual } from "./auth.ts";

Deno.test("tokensEqual: equal only when identical, whatever the lengths", async () => {
  const key = "k".repeat(16) + "-secret";
  assert.equal(await tokensEqual(key, key), true);
  assert.equal(await tokensEqual(key + "x", key), false);
  assert.equal(await tokensEqual(key.slice(0, -1), key), false);
  assert.equal(await tokensEqual("", key), false);
  assert.equal(await tokensEqual(key.toUpperCase(), key), false);
});

Deno.test("bearerToken: the token of a Bearer header, else null", () => {
  assert.equal(bearerToken("Bearer abc.def"), "abc.def");
  assert.equal(bearerToken("bearer   abc "), "abc");
  assert.equal(bearerToken("Basic abc"), null);
  assert.equal(bearerToken("Bearer"), null);
  assert.equal(bearerToken("Bearer a b"), null);
  assert.equal(bearerToken(undefined), null);
});
