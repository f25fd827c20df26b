import assert from "node:assert/strict";
import { batched } from "./batcher.ts";

Deno.test("batcher: full batches by size, the rest at the end, nothing lost or reordered", async () => {
  const items = Array.from({ length: 2503 }, (_, i) => i);
  const out: number[][] = [];
  for await (const b of batched(items, { maxSize: 1000, maxWaitMs: 1000 })) out.push(b);
  assert.deepEqual(out.map((b) => b.length), [1000, 1000, 503]);
  assert.deepEqual(out.flat(), items);
});

Deno.test("batcher: a slow source is flushed by time, not held until the batch fills", async () => {
  async function* slow() {
    yield 1;
    yield 2;
    await new Promise((r) => setTimeout(r, 120));
    yield 3;
  }
  const out: number[][] = [];
  for await (const b of batched(slow(), { maxSize: 100, maxWaitMs: 30 })) out.push(b);
  assert.deepEqual(out, [[1, 2], [3]]);
});

Deno.test("batcher: stopping early closes the source", async () => {
  let closed = false;
  async function* endless() {
    try {
      for (let i = 0;; i++) yield i;
    } finally {
      closed = true;
    }
  }
  for await (const b of batched(endless(), { maxSize: 10, maxWaitMs: 10 })) {
    assert.equal(b.length, 10);
    break;
  }
  assert.equal(closed, true);
});
