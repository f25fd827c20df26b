import assert from "node:assert/strict";
import { Processor } from "./processor.ts";
import { keys, PartitionLostError, Store } from "../store/kv.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { tempKvPath } from "../tests/helpers.ts";
import type { Batch } from "./processor.ts";

function batches(): Batch[] {
  const sim = new Simulator({ symbols: ["BTC-USDT", "ETH-USDT"], seed: 3, anomalyProbability: 0 });
  const events = [...simulatedEvents(sim, { startMs: 0, stepMs: 100, endMs: 30_000 })];
  const out: Batch[] = [];
  for (let i = 0; i < events.length; i += 100) {
    const part = events.slice(i, i + 100);
    out.push({
      stream: "t",
      partition: 0,
      firstOffset: i,
      nextOffset: i + part.length,
      events: part.map((event) => ({ event, receivedAt: 0 })),
    });
  }
  return out;
}

function processor(store: Store): Processor {
  return new Processor({ store, windowSeconds: 10, minWindowEvents: 2, model: () => null });
}

Deno.test("processor: batch N+1 prepared while N commits gives the same rows and state as in turn", async () => {
  const a = await tempKvPath(), b = await tempKvPath();
  const sa = await Store.open(a.path, { retentionMs: 3_600_000 });
  const sb = await Store.open(b.path, { retentionMs: 3_600_000 });
  try {
    const bs = batches();
    const serial = processor(sa);
    await serial.claim("t", 0);
    const rowsSerial = [];
    for (const x of bs) rowsSerial.push(...(await serial.process(x)).rows);
    const piped = processor(sb);
    await piped.claim("t", 0);
    const rowsPiped = [];
    let committing: Promise<{ rows: unknown[] }> | null = null;
    for (const x of bs) {
      const p = await piped.prepare(x);
      if (committing) rowsPiped.push(...(await committing).rows);
      committing = piped.commit(p);
    }
    rowsPiped.push(...(await committing!).rows);
    assert.deepEqual(rowsPiped, rowsSerial);
    assert.equal(await sb.loadOffset("t", 0), bs[bs.length - 1].nextOffset);
    assert.deepEqual(
      (await sb.kv.get(keys.state("BTC-USDT"))).value,
      (await sa.kv.get(keys.state("BTC-USDT"))).value,
    );
  } finally {
    sa.close();
    sb.close();
    await a.cleanup();
    await b.cleanup();
  }
});

Deno.test("processor: a failed commit drops the state later batches advanced; they cannot commit", async () => {
  const a = await tempKvPath();
  const store = await Store.open(a.path, { retentionMs: 3_600_000 });
  try {
    const bs = batches();
    const p = processor(store);
    await p.claim("t", 0);
    await p.process(bs[0]);
    const n1 = await p.prepare(bs[1]);
    const n2 = await p.prepare(bs[2]);
    // another writer takes the partition over between the prepare and the commit
    await store.kv.set(keys.offset("t", 0), bs[1].firstOffset);
    await assert.rejects(p.commit(n1), PartitionLostError);
    await assert.rejects(p.commit(n2), /cannot commit/);
    assert.equal(await store.loadOffset("t", 0), bs[1].firstOffset);
    // Reloaded from KV, batch 1 gives the rows a processor that only committed batch 0 gives.
    await p.claim("t", 0);
    const again = await p.process(bs[1]);
    const b = await tempKvPath();
    const other = await Store.open(b.path, { retentionMs: 3_600_000 });
    try {
      const q = processor(other);
      await q.process(bs[0]);
      assert.deepEqual(again.rows, (await q.process(bs[1])).rows);
    } finally {
      other.close();
      await b.cleanup();
    }
  } finally {
    store.close();
    await a.cleanup();
  }
});
