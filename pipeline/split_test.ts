import assert from "node:assert/strict";
import { splitBySymbols } from "./split.ts";
import type { Batch, IncomingEvent } from "./processor.ts";

const ev = (symbol: string, offset?: number, checkpoint?: unknown): IncomingEvent => {
  const e: IncomingEvent = {
    event: {
      timestamp: 0,
      symbol,
      price: 1,
      volume: 1,
      log_return: 0,
      is_anomaly: false,
      anomaly_type: null,
    },
    receivedAt: 0,
  };
  if (offset !== undefined) e.offset = offset;
  if (checkpoint !== undefined) e.checkpoint = [["source", "x"], checkpoint];
  return e;
};

Deno.test("split: a batch within the limit is committed as it is", () => {
  const b: Batch = {
    stream: "s",
    partition: 0,
    firstOffset: 0,
    nextOffset: 3,
    events: [ev("A-B"), ev("C-D"), ev("A-B")],
  };
  assert.equal(splitBySymbols(b, 2)[0], b);
});

Deno.test("split: many symbols become consecutive sub-batches whose offsets chain exactly", () => {
  const symbols = Array.from({ length: 30 }, (_, i) => `S${i}-USDT`);
  // Kafka-like offsets with a gap (a rejected record at 105).
  const events = symbols.map((s, i) => ev(s, 100 + i + (i >= 5 ? 1 : 0), { at: i }));
  const b: Batch = {
    stream: "t",
    partition: 2,
    firstOffset: 100,
    nextOffset: 131,
    events,
    rejected: [{ source: "x", reason: "bad" }],
    extra: [[["source", "x"], { at: 29 }]],
  };
  const parts = splitBySymbols(b, 8);
  assert.deepEqual(parts.map((p) => p.events.length), [8, 8, 8, 6]);
  assert.equal(parts[0].firstOffset, 100);
  for (let k = 1; k < parts.length; k++) {
    assert.equal(parts[k].firstOffset, parts[k - 1].nextOffset);
  }
  assert.equal(parts.at(-1)!.nextOffset, 131);
  assert.deepEqual(parts.flatMap((p) => p.events), events, "every event once, in order");
  assert.deepEqual(parts[0].rejected, b.rejected);
  assert.ok(parts.slice(1).every((p) => p.rejected === undefined));
  // Each sub-batch resumes right after its own last event.
  assert.deepEqual(parts.map((p) => (p.extra![0][1] as { at: number }).at), [7, 15, 23, 29]);
  for (const p of parts) assert.ok(new Set(p.events.map((e) => e.event.symbol)).size <= 8);
});

Deno.test("split: events without offsets count from the batch's first offset", () => {
  const events = ["A-B", "C-D", "E-F", "A-B", "G-H"].map((s) => ev(s));
  const parts = splitBySymbols({
    stream: "e",
    partition: 0,
    firstOffset: 50,
    nextOffset: 55,
    events,
  }, 2);
  assert.deepEqual(parts.map((p) => [p.firstOffset, p.nextOffset]), [[50, 52], [52, 54], [54, 55]]);
});
