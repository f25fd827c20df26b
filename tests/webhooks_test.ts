/**
 * Incident webhooks end to end: the embedded pipeline on the seed stream
 * opens and closes incidents, their notifications reach a local HTTP
 * receiver signed with ALERT_WEBHOOK_SECRET (checked with node:crypto's
 * HMAC); while the receiver is down they queue in the KV outbox, survive a
 * restart of Sentinel, and arrive once it is back. System Status and
 * `/metrics` show the outbox.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { Store } from "../store/kv.ts";
import { createApp } from "../routes/app.ts";
import type { Config } from "../config.ts";
import { fastClock, tempKvPath, testConfig, testWebContext, waitFor } from "./helpers.ts";

const SECRET = "webhook-test-secret-0123456789";

interface Received {
  delivery: string;
  event: string;
  body: string;
  signature: string | null;
}

/** An HTTP receiver on `port` (0: any) that records what it gets. */
function receiver(got: Received[], port = 0) {
  return Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    got.push({
      delivery: req.headers.get("x-sentinel-delivery") ?? "",
      event: req.headers.get("x-sentinel-event") ?? "",
      body: await req.text(),
      signature: req.headers.get("x-sentinel-signature"),
    });
    return new Response("ok");
  });
}

/**
 * Sentinel on a clock that never sleeps, starting at `fromMs`: a restart
 * continues from the first run's time, as a real restart would (the fast
 * clock runs far ahead of the wall clock).
 */
async function start(config: Config, fromMs: number) {
  const clock = fastClock(fromMs);
  const setup = await Store.open(config.kvPath, { retentionMs: 86_400_000 });
  const source = await SimulatedSource.open(config, setup, memoryLogger(), clock);
  setup.close();
  const sentinel = await Sentinel.start(config, ["source", "worker", "trainer"], {
    clock,
    logger: () => memoryLogger(),
    source,
    trainerPollMs: 50,
    modelPollMs: 100,
    reportEveryMs: 0,
    trainInWorker: false,
    notifier: { pollMs: 50, baseBackoffMs: 100, maxBackoffMs: 400 },
  });
  return { sentinel, clock };
}

Deno.test({
  name:
    "webhooks: signed incident notifications; queued while the receiver is down, across a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { path, cleanup } = await tempKvPath();
    const got: Received[] = [];
    let server = receiver(got);
    const port = server.addr.port;
    const config = testConfig({
      KV_PATH: path,
      EVENT_FREQUENCY_SECONDS: "0.2",
      MIN_TRAINING_ROWS: "3000",
      // Fewer incidents than the default: the fast clock makes hundreds per wall second otherwise.
      ANOMALY_PROBABILITY: "0.003",
      ALERT_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
      ALERT_WEBHOOK_SECRET: SECRET,
      ALERT_WEBHOOK_MAX_ATTEMPTS: "100",
    });
    let run = await start(config, Date.now());
    let s = run.sentinel;
    try {
      // 1. Up: opened and closed notifications arrive, signed.
      await waitFor(
        "an opened and a closed notification",
        () =>
          got.some((g) => g.event === "incident.opened") &&
          got.some((g) => g.event === "incident.closed"),
        90_000,
      );
      for (const g of got) {
        const expected = "sha256=" + createHmac("sha256", SECRET).update(g.body).digest("hex");
        assert.equal(g.signature, expected);
        const body = JSON.parse(g.body);
        assert.equal(body.event, g.event);
        assert.equal(body.delivery_id, g.delivery);
      }
      // A closed notification is about an incident stored closed, with its batch.
      const closed = JSON.parse(got.find((g) => g.event === "incident.closed")!.body).incident;
      assert.deepEqual(await s.store.incident(closed.id), closed);

      // 2. Down: notifications queue in the outbox and fail with backoff.
      await server.shutdown();
      const seenBefore = new Set(got.map((g) => g.delivery));
      const queued = await waitFor("notifications queued and retried", async () => {
        const entries = (await s.store.outboxEntries(500)).map((e) => e.entry);
        return entries.length >= 3 && entries.some((e) => e.attempts >= 2) ? entries : null;
      }, 60_000);
      // Mostly new ones; one the receiver took but could not acknowledge as it went down may be
      // queued again (at least once).
      assert.ok(queued.filter((e) => !seenBefore.has(e.id)).length >= 2);
      assert.ok(queued.some((e) => e.last_error !== null));
      const status = createApp(testWebContext(s.store, config));
      const sys = await (await status.request("/api/v1/system-status")).json();
      const card = sys.services.find((x: { name: string }) => x.name === "webhooks");
      assert.equal(card.status, "degraded");
      assert.match(card.detail, /\d+ pending/);
      const metrics = await (await status.request("/metrics")).text();
      const pending = Number(/^sentinel_webhook_pending (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(pending >= 3, metrics);
      assert.match(metrics, /^sentinel_webhook_failed_attempts_total [1-9]\d*$/m);

      // 3. Restart while it is down: the outbox is in KV, not in memory.
      await s.stop();
      const store = await Store.open(path, { retentionMs: 86_400_000 });
      const afterStop = (await store.outboxEntries(1000)).map((e) => e.entry.id);
      store.close();
      assert.ok(afterStop.length >= queued.length);
      server = receiver(got, port);
      run = await start(config, run.clock.t + 1000);
      s = run.sentinel;
      // 4. Back up: every queued notification arrives, signed.
      // The restarted Sentinel trains again while it delivers; on a loaded 2-core CI machine
      // this step once took over 60 s in CI.
      await waitFor("every queued notification delivered", () => {
        const delivered = new Set(got.map((g) => g.delivery));
        return afterStop.every((id) => delivered.has(id));
      }, 150_000);
      for (const g of got) {
        assert.equal(
          g.signature,
          "sha256=" + createHmac("sha256", SECRET).update(g.body).digest("hex"),
        );
      }
      // In order per receiver: an incident's opened arrives before its closed.
      const order = got.map((g) => JSON.parse(g.body)).map((b) => `${b.incident.id} ${b.event}`);
      for (const [i, line] of order.entries()) {
        if (!line.endsWith("closed")) continue;
        const opened = order.indexOf(line.replace("closed", "opened"));
        assert.ok(opened === -1 || opened < i, `${line} before its opening`);
      }
    } finally {
      await s.stop();
      await server.shutdown().catch(() => {});
      await cleanup();
    }
  },
});
