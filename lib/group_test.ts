import assert from "node:assert/strict";
import { groupBy } from "./group.ts";
import { Random } from "./random.ts";

Deno.test("groupBy: every item once, in input order within its key; keys in first-seen order", () => {
  const r = new Random(3);
  const items = Array.from({ length: 500 }, (_, i) => ({ i, k: `S${r.int(7)}` }));
  const g = groupBy(items, (x) => x.k);
  // against a direct reference: the keys by first index, each group by filtering
  const firstSeen = [...new Set(items.map((x) => x.k))];
  assert.deepEqual([...g.keys()], firstSeen);
  for (const k of firstSeen) assert.deepEqual(g.get(k), items.filter((x) => x.k === k));
  assert.equal([...g.values()].reduce((n, l) => n + l.length, 0), items.length);
  assert.equal(groupBy([], (x: number) => x).size, 0);
});
