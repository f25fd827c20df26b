import assert from "node:assert/strict";
import { batched, batchedChunks, sourceBatches } from "./batcher.ts";

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

Deno.test("batcher: a source and a consumer that never wait on I/O still let timers run", async () => {
  async function* endless() {
    for (let i = 0;; i++) yield i;
  }
  let fired = false;
  setTimeout(() => fired = true, 5);
  let batches = 0;
  // Without explicit yielding this loop would run to the cap with the timer starved.
  for await (const _ of batched(endless(), { maxSize: 100, maxWaitMs: 1000 })) {
    if (fired || ++batches >= 200_000) break;
  }
  assert.equal(fired, true);
  assert.ok(batches < 200_000);
});

Deno.test("batcher: reads ahead at most one full batch while the consumer is busy", async () => {
  let pulled = 0;
  async function* counted() {
    for (let i = 0; i < 10_000; i++) {
      pulled++;
      yield i;
    }
  }
  const got: number[] = [];
  for await (const b of batched(counted(), { maxSize: 10, maxWaitMs: 1000 })) {
    await new Promise((r) => setTimeout(r, 20));
    // the batch in hand, one full batch waiting, and the item that filled it at most
    assert.ok(pulled <= got.length + b.length + 10 + 1, `pulled ${pulled} after ${got.length}`);
    got.push(...b);
    if (got.length >= 50) break;
  }
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("batcher: a source error comes after the items read before it", async () => {
  async function* failing() {
    yield 1;
    yield 2;
    throw new Error("source broke");
  }
  const out: number[][] = [];
  await assert.rejects(async () => {
    for await (const b of batched(failing(), { maxSize: 10, maxWaitMs: 10 })) out.push(b);
  }, /source broke/);
  assert.deepEqual(out, [[1, 2]]);
});

Deno.test("batcher: a partial batch at a slow moment closes by time once", async () => {
  async function* bursty() {
    for (let i = 0; i < 5; i++) yield i;
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 5; i < 8; i++) yield i;
  }
  const out: number[][] = [];
  const t0 = performance.now();
  const at: number[] = [];
  for await (const b of batched(bursty(), { maxSize: 100, maxWaitMs: 20 })) {
    out.push(b);
    at.push(performance.now() - t0);
  }
  assert.deepEqual(out, [[0, 1, 2, 3, 4], [5, 6, 7]]);
  assert.ok(at[0] < 90, `first batch after ${at[0]} ms, before the source's pause ended`);
});

Deno.test("batcher: chunks are cut at batch boundaries, the items' order and count kept", async () => {
  // chunk lengths 0..6 in turn; batches of 4 cut across them
  const chunks: number[][] = [];
  let next = 0;
  for (let k = 0; k < 40; k++) chunks.push(Array.from({ length: k % 7 }, () => next++));
  async function* source() {
    for (const c of chunks) yield c;
  }
  const out: number[][] = [];
  for await (const b of batchedChunks(source(), { maxSize: 4, maxWaitMs: 1000 })) out.push(b);
  const all = Array.from({ length: next }, (_, i) => i);
  assert.deepEqual(out.flat(), all);
  assert.ok(out.slice(0, -1).every((b) => b.length === 4), "every batch but the last is full");
  assert.equal(out.at(-1)!.length, next % 4 || 4);
});

Deno.test("batcher: a source with chunks is read through them", async () => {
  let chunkCalls = 0;
  const source = {
    events: async function* () {
      yield* [1, 2, 3];
    },
    chunks: async function* () {
      chunkCalls++;
      yield [1, 2];
      yield [3];
    },
  };
  const out: number[][] = [];
  const it = sourceBatches(source, new AbortController().signal, 0, { maxSize: 10, maxWaitMs: 5 });
  for await (const b of it) out.push(b);
  assert.equal(chunkCalls, 1);
  assert.deepEqual(out.flat(), [1, 2, 3]);
});
