import assert from "node:assert/strict";
import { FEATURE_NAMES as CONTRACT } from "../../lib/contracts.ts";
import { FEATURE_HELP, FEATURE_LABELS, FEATURE_NAMES } from "./features.ts";

Deno.test("the browser's feature names are the contract's, in order, each labelled", () => {
  assert.deepEqual([...FEATURE_NAMES], [...CONTRACT]);
  for (const f of FEATURE_NAMES) {
    assert.ok(FEATURE_LABELS[f]);
    assert.ok(FEATURE_HELP[f]);
  }
});
