import assert from "node:assert/strict";
import type { ServiceStatus } from "../schemas.ts";
import { assessServices, overallStatus, type StatusSnapshot } from "./status.ts";

const NOW = 1_710_000_100_000;

function snapshot(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    now: NOW,
    startedAt: NOW - 60_000,
    sseClients: 2,
    kv: { ok: true, latencyMs: 0.4 },
    model: { activeId: "m-1", loadedId: "m-1", waiting: "" },
    worker: {
      batches: 5,
      events: 500,
      predictions: 450,
      lastCommitAt: NOW - 1000,
      lastEventTs: NOW - 1000,
      lastLatencyMs: 3,
    },
    trainer: {
      state: "idle",
      detail: "last model m-1",
      lastRunAt: NOW - 50_000,
      nextRunAt: null,
      lastModelId: "m-1",
      lastDurationMs: 800,
      runs: 1,
      drift: "no drift over 5000 rows (largest shift 0.12)",
    },
    source: { name: "simulated", state: "live", events: 500, lastEventAt: NOW - 1000, detail: "" },
    heartbeats: {},
    kafka: null,
    ...over,
  };
}

const get = (list: ServiceStatus[], name: string) => {
  const s = list.find((x) => x.name === name);
  assert.ok(s, `no service ${name}`);
  return s;
};

Deno.test("assessServices: an embedded system running normally is online everywhere", () => {
  const list = assessServices(snapshot());
  assert.deepEqual(list.map((s) => s.name), [
    "api",
    "kv",
    "scorer",
    "feature-worker",
    "trainer",
    "source",
  ]);
  assert.ok(list.every((s) => s.status === "online"), JSON.stringify(list));
  assert.equal(overallStatus(list), "online");
  assert.equal(get(list, "kv").latency_ms, 0.4);
});

Deno.test("assessServices: the degraded and offline rules", () => {
  // The worker's last commit is 11 s old while the source is live.
  let l = assessServices(snapshot({
    worker: { ...snapshot().worker!, lastCommitAt: NOW - 11_000 },
  }));
  assert.equal(get(l, "feature-worker").status, "degraded");
  assert.equal(overallStatus(l), "degraded");
  // ... but an ended replay leaves the worker idle, not stalled.
  l = assessServices(snapshot({
    worker: { ...snapshot().worker!, lastCommitAt: NOW - 11_000 },
    source: { ...snapshot().source!, state: "ended" },
  }));
  assert.equal(get(l, "feature-worker").status, "online");
  assert.equal(get(l, "source").status, "offline");
  // No model anywhere yet.
  l = assessServices(
    snapshot({ model: { activeId: null, loadedId: null, waiting: "trainer waiting" } }),
  );
  assert.equal(get(l, "scorer").status, "degraded");
  assert.match(get(l, "scorer").detail, /waiting for model: trainer waiting/);
  // KV slow, KV down.
  assert.equal(
    get(assessServices(snapshot({ kv: { ok: true, latencyMs: 900 } })), "kv").status,
    "degraded",
  );
  assert.equal(
    get(assessServices(snapshot({ kv: { ok: false, latencyMs: 2, error: "closed" } })), "kv")
      .status,
    "offline",
  );
  // A failed trainer is degraded.
  l = assessServices(
    snapshot({ trainer: { ...snapshot().trainer!, state: "failed", detail: "cannot train" } }),
  );
  assert.equal(get(l, "trainer").status, "degraded");
  // Roles elsewhere: online with a heartbeat, offline without.
  l = assessServices(snapshot({
    worker: null,
    trainer: null,
    source: null,
    heartbeats: { worker: [{ instance: "w-1", info: { at: NOW - 3000 } }] },
  }));
  assert.equal(get(l, "feature-worker").status, "online");
  assert.match(get(l, "feature-worker").detail, /\(w-1\), last heartbeat 3\.0 s ago/);
  assert.equal(get(l, "trainer").status, "offline");
  assert.equal(get(l, "source").status, "offline");
  // Kafka: probe failure offline, producer error degraded.
  const kafka = (
    probe: NonNullable<StatusSnapshot["kafka"]>["probe"],
    lastError: string | null,
  ) => ({
    topic: "crypto-market",
    probe,
    producer: { state: "connected", sent: 10, lastError },
  });
  assert.equal(
    get(
      assessServices(
        snapshot({ kafka: kafka({ ok: false, latencyMs: 3000, error: "timeout" }, null) }),
      ),
      "kafka",
    )
      .status,
    "offline",
  );
  assert.equal(
    get(
      assessServices(
        snapshot({ kafka: kafka({ ok: true, latencyMs: 2, brokers: 1, partitions: 3 }, "boom") }),
      ),
      "kafka",
    ).status,
    "degraded",
  );
});

Deno.test("assessServices: a connected Binance stream silent for over a minute is degraded", () => {
  const binance = {
    state: "connected" as const,
    url: "wss://x",
    connectedSince: NOW - 600_000,
    lastMessageAt: NOW - 61_000,
    messages: 1,
    trades: 1,
    reconnects: 0,
    gaps: 0,
    duplicates: 0,
    resyncs: 0,
    overflow: 0,
    malformed: {},
    lastError: null,
    symbols: {},
  };
  const src = {
    name: "binance",
    state: "connected" as const,
    events: 1,
    lastEventAt: null,
    detail: "",
  };
  let l = assessServices(snapshot({ source: { ...src, binance } }));
  assert.equal(get(l, "binance").status, "degraded");
  l = assessServices(
    snapshot({ source: { ...src, binance: { ...binance, lastMessageAt: NOW - 5000 } } }),
  );
  assert.equal(get(l, "binance").status, "online");
  assert.match(get(l, "binance").detail, /last message 5\.0 s ago/);
});
