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

Deno.test("processor: small consecutive batches share an open page; ids, readers and a failed commit agree", async () => {
  const { Scorer } = await import("../model/bundle.ts");
  const { trainBundle } = await import("../model/train.ts");
  const { FeatureEngine } = await import("../features/features.ts");
  const { Hub } = await import("./hub.ts");
  const sim = new Simulator({ symbols: ["BTC-USDT", "ETH-USDT"], seed: 4, anomalyProbability: 0 });
  const engine = new FeatureEngine({ windowSeconds: 10, minWindowEvents: 2 });
  const train = [...simulatedEvents(sim, { startMs: 0, stepMs: 100, endMs: 120_000 })]
    .map((e) => engine.update(e));
  const scorer = Scorer.fromBundle(
    trainBundle(train, { id: "m", createdAt: "2026-01-01T00:00:00Z", nEstimators: 10 }),
  );
  const store = new Store(await Deno.openKv(":memory:"), { retentionMs: 3_600_000 });
  const hub = new Hub();
  const published: { id: string; ts: number; symbol: string }[] = [];
  hub.subscribe((b) =>
    b.predictions.forEach((p, i) => published.push({ id: b.ids[i], ts: p.ts_ms, symbol: p.symbol }))
  );
  try {
    const p = new Processor({
      store,
      windowSeconds: 10,
      minWindowEvents: 2,
      model: () => scorer,
      hub,
    });
    await p.claim("t", 0);
    const events = [
      ...simulatedEvents(
        new Simulator({ symbols: ["BTC-USDT", "ETH-USDT"], seed: 5, anomalyProbability: 0.01 }),
        {
          startMs: 200_000,
          stepMs: 20,
          endMs: 212_000,
        },
      ),
    ];
    const batch = (i: number, n: number): Batch => ({
      stream: "t",
      partition: 0,
      firstOffset: i,
      nextOffset: i + n,
      events: events.slice(i, i + n).map((event) => ({ event, receivedAt: 0 })),
    });
    let i = 0;
    for (; i < 600; i += 5) await p.process(batch(i, 5));
    // A batch whose commit fails (another writer took the partition) drops the open page
    // with the rest of the in-memory state; the next claim resumes after the last commit.
    await store.kv.set(keys.offset("t", 0), i);
    await assert.rejects(() => p.process(batch(i, 5)), PartitionLostError);
    await p.claim("t", 0);
    for (; i < events.length; i += 7) await p.process(batch(i, Math.min(7, events.length - i)));

    const pages: Deno.KvKey[] = [];
    for await (const e of store.kv.list({ prefix: ["pred"] })) pages.push(e.key);
    // ~128 rows a page instead of one page per 5- or 7-event batch.
    assert.ok(pages.length <= Math.ceil(events.length / 120) + 2, `${pages.length} pages`);
    const stored: { id: string; ts: number; symbol: string }[] = [];
    for await (const x of store.predictionsAfter(null)) {
      stored.push({ id: x.id, ts: x.prediction.ts_ms, symbol: x.prediction.symbol });
    }
    // Every event once, in order; every scored one with the id the hub gave the live stream.
    const rows = await store.recentRows(1e6);
    assert.deepEqual(rows.map((r) => r.ts_ms), events.map((e) => e.ts_ms));
    const scored = rows.filter((r) => !r.warm_up);
    assert.ok(scored.length > events.length - 10);
    assert.deepEqual(stored.map((x) => [x.ts, x.symbol]), scored.map((r) => [r.ts_ms, r.symbol]));
    assert.deepEqual(published, stored);
    // Resuming from a cursor in the middle of an open page gives what followed it.
    const mid = stored[333];
    const after = [];
    for await (const x of store.predictionsAfter(mid.id)) after.push(x.id);
    assert.deepEqual(after, stored.slice(334).map((x) => x.id));
  } finally {
    store.close();
  }
});
