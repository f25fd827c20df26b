import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import type { Incident, IncidentChange } from "../model/incidents.ts";
import { memoryLogger } from "./log.ts";
import { backoffMs, Notifier, outboxEntries } from "./notifier.ts";
import { Store } from "../store/kv.ts";
import { tempKvPath } from "../tests/helpers.ts";

const SECRET = "a-shared-secret-of-some-length";

function incident(symbol: string, start: number, over: Partial<Incident> = {}): Incident {
  return {
    id: `${symbol}:${start}`,
    symbol,
    status: "open",
    type: "spike",
    start_ms: start,
    end_ms: start,
    peak_ms: start,
    peak_severity: 0.8,
    drivers: { price_z: 1 },
    alerts: 1,
    trades: 1,
    ref_price: 100,
    peak_price: 110,
    last_price: 110,
    min_price: 100,
    max_price: 110,
    model_id: "m1",
    ...over,
  };
}

/** A receiver on a free port: records every request, answers `status()`. */
function receiver(status: () => number) {
  const got: { headers: Headers; body: string }[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    got.push({ headers: req.headers, body: await req.text() });
    return new Response(null, { status: status() });
  });
  return { got, url: `http://127.0.0.1:${server.addr.port}/hook`, server };
}

async function withStore(fn: (store: Store) => Promise<void>) {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 3_600_000 });
  try {
    await fn(store);
  } finally {
    store.close();
    await cleanup();
  }
}

/** Commits `changes`' outbox entries the way the worker does: with a batch. */
async function commit(store: Store, changes: IncidentChange[], receivers: number, n = 0) {
  await store.commitBatch({
    stream: "test",
    partition: 0,
    nextOffset: n + 1,
    pageId: `p${n}`,
    states: [],
    rows: [],
    predictions: [],
    counters: [],
    incidents: changes.map((c) => c.incident),
    outbox: outboxEntries(changes, receivers, 1),
  });
}

Deno.test("outbox entries: opened and closed only, one per receiver, in the order they happened", () => {
  const a = incident("BTC-USDT", 5000);
  const closed = { ...a, status: "closed" as const, end_ms: 5000 };
  const b = incident("ETH-USDT", 3000);
  const entries = outboxEntries(
    [
      { kind: "opened", incident: a },
      { kind: "updated", incident: a },
      { kind: "closed", incident: closed },
      { kind: "opened", incident: b },
    ],
    2,
    42,
  );
  assert.equal(entries.length, 6);
  const sorted = entries.map((e) => e.id).sort();
  // ETH opened (3000) first; BTC opened before BTC closed although both are at 5000.
  assert.deepEqual(sorted.map((id) => id.split("|").slice(1, 3).join(" ")), [
    "ETH-USDT:3000 opened",
    "ETH-USDT:3000 opened",
    "BTC-USDT:5000 opened",
    "BTC-USDT:5000 opened",
    "BTC-USDT:5000 closed",
    "BTC-USDT:5000 closed",
  ]);
  assert.deepEqual(new Set(entries.map((e) => e.target)), new Set([0, 1]));
  assert.equal(outboxEntries([{ kind: "opened", incident: a }], 0, 1).length, 0);
  // Deterministic: the same changes give the same keys (a replayed batch rewrites them).
  assert.deepEqual(
    outboxEntries([{ kind: "opened", incident: a }], 1, 1).map((e) => e.id),
    outboxEntries([{ kind: "opened", incident: a }], 1, 999).map((e) => e.id),
  );
});

Deno.test("backoff doubles from the base up to the cap", () => {
  assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, 100, 1000)), [100, 200, 400, 800]);
  assert.equal(backoffMs(5, 100, 1000), 1000);
  assert.equal(backoffMs(60, 100, 1000), 1000);
});

Deno.test("signed JSON webhooks: HMAC of the exact body, delivery id, event, then deleted", async () => {
  await withStore(async (store) => {
    const r = receiver(() => 204);
    try {
      const a = incident("BTC-USDT", 1000);
      await commit(store, [{ kind: "opened", incident: a }], 1);
      await commit(
        store,
        [{ kind: "closed", incident: { ...a, status: "closed", end_ms: 4000 } }],
        1,
        1,
      );
      const n = new Notifier({
        store,
        urls: [r.url],
        secret: SECRET,
        format: "json",
        maxAttempts: 3,
        logger: memoryLogger(),
      });
      assert.equal(await n.tick(), 2);
      assert.equal(r.got.length, 2);
      for (const { headers, body } of r.got) {
        const expected = "sha256=" + createHmac("sha256", SECRET).update(body).digest("hex");
        assert.equal(headers.get("x-sentinel-signature"), expected);
        assert.equal(headers.get("content-type"), "application/json");
      }
      const [opened, closed] = r.got.map((g) => JSON.parse(g.body));
      assert.equal(opened.event, "incident.opened");
      assert.equal(closed.event, "incident.closed");
      assert.equal(opened.incident.id, a.id);
      assert.equal(closed.incident.status, "closed");
      assert.equal(r.got[0].headers.get("x-sentinel-delivery"), opened.delivery_id);
      // Delivered entries leave the outbox and are counted.
      const stats = await store.outboxStats();
      assert.equal(stats.pending, 0);
      assert.equal(stats.delivered, 2);
      assert.equal(await n.tick(), 0);
      assert.equal(r.got.length, 2);
    } finally {
      await r.server.shutdown();
    }
  });
});

Deno.test("Slack format: Slack's incoming-webhook shape (text and mrkdwn blocks), unsigned without a secret", async () => {
  await withStore(async (store) => {
    const r = receiver(() => 200);
    try {
      const a = incident("ETH-USDT", 1_710_000_000_000, { type: "crash", peak_price: 90 });
      await commit(store, [{ kind: "opened", incident: a }], 1);
      const n = new Notifier({
        store,
        urls: [r.url],
        secret: null,
        format: "slack",
        maxAttempts: 3,
        logger: memoryLogger(),
      });
      assert.equal(await n.tick(), 1);
      const body = JSON.parse(r.got[0].body);
      assert.equal(r.got[0].headers.get("x-sentinel-signature"), null);
      assert.equal(typeof body.text, "string");
      assert.match(body.text, /^Incident opened: ETH-USDT crash/);
      assert.match(body.text, /-10\.00 %/);
      assert.match(body.text, /2024-03-09 16:00:00 UTC/);
      assert.ok(Array.isArray(body.blocks));
      assert.equal(body.blocks[0].type, "section");
      assert.equal(body.blocks[0].text.type, "mrkdwn");
      assert.match(body.blocks[0].text.text, /^\*:rotating_light: Incident opened/);
      assert.equal(body.blocks[1].type, "context");
      // Nothing but Slack's fields.
      assert.deepEqual(Object.keys(body).sort(), ["blocks", "text"]);
    } finally {
      await r.server.shutdown();
    }
  });
});

Deno.test("a failing receiver: retried with backoff, order kept, dead-lettered after the limit", async () => {
  await withStore(async (store) => {
    let status = 500;
    const r = receiver(() => status);
    try {
      const a = incident("BTC-USDT", 1000);
      const b = incident("BTC-USDT", 9000);
      await commit(store, [{ kind: "opened", incident: a }, { kind: "opened", incident: b }], 1);
      let t = 1_000_000;
      const lines: string[] = [];
      const n = new Notifier({
        store,
        urls: [r.url],
        secret: SECRET,
        format: "json",
        maxAttempts: 3,
        logger: memoryLogger(lines),
        baseBackoffMs: 100,
        maxBackoffMs: 10_000,
        now: () => t,
      });
      assert.equal(await n.tick(), 0);
      // One attempt per pass for a receiver that fails: the second entry waits behind the first.
      assert.equal(r.got.length, 1);
      let [first, second] = (await store.outboxEntries(10)).map((e) => e.entry);
      assert.equal(first.attempts, 1);
      assert.equal(first.last_error, "HTTP 500");
      assert.equal(first.next_ms, t + 100);
      assert.equal(second.attempts, 0);
      // Not due yet: nothing is sent.
      assert.equal(await n.tick(), 0);
      assert.equal(r.got.length, 1);
      t += 100;
      await n.tick();
      [first] = (await store.outboxEntries(10)).map((e) => e.entry);
      assert.equal(first.attempts, 2);
      assert.equal(first.next_ms, t + 200);
      t += 200;
      await n.tick();
      // Third failure: the limit. The first entry is a dead letter; the second is tried next pass.
      const dead = await store.outboxDeadLetters(10);
      assert.equal(dead.length, 1);
      assert.equal(dead[0].incident.id, a.id);
      assert.equal(dead[0].attempts, 3);
      assert.ok(lines.some((l) => /dead-lettered after 3 attempts: HTTP 500/.test(l)));
      const stats = await store.outboxStats();
      assert.deepEqual(
        [stats.pending, stats.dead, stats.delivered, stats.failed_attempts],
        [1, 1, 0, 3],
      );
      // The receiver recovers: the queued entry arrives.
      status = 200;
      assert.equal(await n.tick(), 1);
      assert.equal(JSON.parse(r.got.at(-1)!.body).incident.id, b.id);
      assert.equal((await store.outboxStats()).pending, 0);
    } finally {
      await r.server.shutdown();
    }
  });
});

Deno.test("an unreachable receiver is a failed attempt that names no URL", async () => {
  await withStore(async (store) => {
    const r = receiver(() => 200);
    const url = r.url.replace("/hook", "/hook?token=very-secret");
    await r.server.shutdown(); // nothing listens there now
    await commit(store, [{ kind: "opened", incident: incident("BTC-USDT", 1) }], 1);
    const n = new Notifier({
      store,
      urls: [url],
      secret: null,
      format: "json",
      maxAttempts: 5,
      logger: memoryLogger(),
    });
    assert.equal(await n.tick(), 0);
    const [e] = (await store.outboxEntries(1)).map((x) => x.entry);
    assert.equal(e.attempts, 1);
    assert.ok(e.last_error && !e.last_error.includes("very-secret"), e.last_error ?? "");
  });
});

Deno.test("two senders on one KV do not post the same entry twice at once", async () => {
  await withStore(async (store) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => release = r);
    let calls = 0;
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async () => {
      calls++;
      await gate;
      return new Response(null, { status: 200 });
    });
    try {
      await commit(store, [{ kind: "opened", incident: incident("BTC-USDT", 1) }], 1);
      const make = () =>
        new Notifier({
          store,
          urls: [`http://127.0.0.1:${server.addr.port}/`],
          secret: null,
          format: "json",
          maxAttempts: 5,
          logger: memoryLogger(),
        });
      const p1 = make().tick();
      // Wait until the first sender holds the lease and is posting.
      while (calls === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await make().tick(), 0);
      release();
      assert.equal(await p1, 1);
      assert.equal(calls, 1);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("a muted symbol's notifications are dropped and counted, others still go", async () => {
  await withStore(async (store) => {
    const r = receiver(() => 200);
    try {
      await store.mute(
        { symbol: "ETH-USDT", until_ms: Date.now() + 60_000, created_at: "" },
        Date.now(),
      );
      await commit(store, [
        { kind: "opened", incident: incident("ETH-USDT", 1000) },
        { kind: "opened", incident: incident("BTC-USDT", 2000) },
      ], 1);
      const n = new Notifier({
        store,
        urls: [r.url],
        secret: null,
        format: "json",
        maxAttempts: 3,
        logger: memoryLogger(),
      });
      assert.equal(await n.tick(), 1);
      assert.deepEqual(r.got.map((g) => JSON.parse(g.body).incident.symbol), ["BTC-USDT"]);
      assert.equal((await store.outboxStats()).pending, 0);
      assert.equal(await store.counter("webhook", "muted"), 1);
    } finally {
      await r.server.shutdown();
    }
  });
});
