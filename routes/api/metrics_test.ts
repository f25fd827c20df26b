import assert from "node:assert/strict";
import { routeLabel } from "./metrics.ts";

Deno.test("routeLabel: OpenAPI-style patterns; unmatched paths share one label", () => {
  assert.equal(routeLabel("/health"), "/health");
  assert.equal(routeLabel("/models/:id/activate"), "/models/{id}/activate");
  assert.equal(routeLabel("*"), "unmatched");
  assert.equal(routeLabel("/*"), "unmatched");
  assert.equal(routeLabel(""), "unmatched");
});
