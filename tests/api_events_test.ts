/**
 * `GET /events` (Server-Sent Events): live delivery in order, alerts, the
 * symbol filter, heartbeats, `Last-Event-ID` resumption without gaps or
 * duplicates (also when batches are committed and published while the
 * replay runs), dropping a client that falls behind, and shutdown with
 * clients connected.
 *
 * Predictions reach the hub as the processor sends them: stored in KV first,
 * then published with their cursors (`predictionCursors`).
 */
import { utf8Decoder } from "../lib/streams.ts";
import assert from "node:assert/strict";
import type { Prediction } from "../lib/contracts.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { trainBundle } from "../model/train.ts";
import { Hub } from "../pipeline/hub.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { predictionCursors, Store } from "../store/kv.ts";
import type { WebContext } from "../routes/context.ts";
import { type AppOptions, createApp, startWebServer } from "../routes/app.ts";
import { tempKvPath, testConfig, testWebContext, waitFor } from "./helpers.ts";

const T0 = 1_710_000_000_000;

interface Env {
  ctx: WebContext;
  store: Store;
  hub: Hub;
  /** stores a batch like the processor does, then publishes it; returns its ids */
  commit(pageId: string, preds: Prediction[], publish?: boolean): Promise<string[]>;
  publish(pageId: string, preds: Prediction[]): void;
}

async function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 3_600_000 });
  const hub = new Hub();
  const ctx = testWebContext(store, testConfig({ KV_PATH: path }), { hub });
  const env: Env = {
    ctx,
    store,
    hub,
    publish(pageId, preds) {
      hub.publish({ pageId, predictions: preds, ids: predictionCursors(pageId, preds) });
    },
    async commit(pageId, preds, publish = true) {
      await store.commitBatch({
        stream: "embedded",
        partition: 0,
        nextOffset: 0,
        pageId,
        states: [],
        rows: [],
        predictions: preds,
        counters: [],
      });
      if (publish) env.publish(pageId, preds);
      return predictionCursors(pageId, preds);
    },
  };
  try {
    await fn(env);
  } finally {
    store.close();
    await cleanup();
  }
}

async function withServer(
  env: Env,
  app: Omit<AppOptions, "signal">,
  fn: (base: string) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const server = await startWebServer(env.ctx, {
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    app: { logger: memoryLogger(), ...app },
  });
  try {
    await fn(`http://127.0.0.1:${server.port}`);
  } finally {
    ac.abort();
    await server.finished;
  }
}

interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  retry?: string;
  comments: string[];
}

/** A minimal SSE parser (the EventSource rules we rely on: blocks end at a blank line). */
class SseReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buf = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(utf8Decoder()).getReader();
  }

  /** The next block, or null at the end of the stream. */
  async block(): Promise<SseEvent | null> {
    while (true) {
      const end = this.#buf.indexOf("\n\n");
      if (end >= 0) {
        const text = this.#buf.slice(0, end);
        this.#buf = this.#buf.slice(end + 2);
        const ev: SseEvent = { comments: [] };
        for (const line of text.split("\n")) {
          if (line.startsWith(":")) ev.comments.push(line.slice(1).trim());
          else {
            const i = line.indexOf(":");
            const field = line.slice(0, i) as "event" | "id" | "data" | "retry";
            ev[field] = line.slice(i + 1).replace(/^ /, "");
          }
        }
        return ev;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buf += value;
    }
  }

  /** The next `n` events (comment-only blocks skipped). */
  async events(n: number): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    while (out.length < n) {
      const b = await this.block();
      if (b === null) throw new Error(`stream ended after ${out.length} of ${n} events`);
      if (b.event) out.push(b);
    }
    return out;
  }

  close(): Promise<void> {
    return this.#reader.cancel().catch(() => {});
  }
}

function pred(i: number, over: Partial<Prediction> = {}): Prediction {
  return {
    symbol: ["BTC-USDT", "ETH-USDT", "BNB-USDT"][i % 3],
    ts_ms: T0 + i,
    z_score_price: i,
    z_score_log_return: 0,
    z_score_volume: 0,
    rolling_price_std: 0.01,
    rolling_volume_std: 0.5,
    anomaly_score: i % 7 === 0 ? -0.05 : 0.1,
    severity: 0.5,
    is_anomaly: i % 7 === 0,
    model_id: "m-1",
    label: null,
    ...over,
  };
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => pred(from + k));

/** What a client should see for `preds` with `ids`: each prediction, and an alert after an anomaly. */
function expected(preds: Prediction[], ids: string[]): [string, string, number][] {
  const out: [string, string, number][] = [];
  preds.forEach((p, i) => {
    out.push(["prediction", ids[i], p.z_score_price]);
    if (p.is_anomaly) out.push(["alert", ids[i], p.z_score_price]);
  });
  return out;
}

const seen = (evs: SseEvent[]) =>
  evs.map((e) =>
    [e.event!, e.id!, (JSON.parse(e.data!) as Prediction).z_score_price] as [
      string,
      string,
      number,
    ]
  );

async function connect(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const r = new SseReader(res.body!);
  const hello = await r.block();
  assert.deepEqual(hello, { retry: "2000", comments: ["connected"] });
  return r;
}

Deno.test("SSE: a client receives the predictions committed after it connected, in order, with alerts", async () => {
  await withEnv(async (env) => {
    await env.commit("before", range(0, 5)); // before the client: never sent
    await withServer(env, {}, async (base) => {
      const client = await connect(`${base}/events`);
      const a = range(5, 20), b = range(20, 23), c = range(23, 60);
      const ids = [
        ...await env.commit("b1", a),
        ...await env.commit("b2", b),
        ...await env.commit("b3", c),
      ];
      const all = [...a, ...b, ...c];
      const want = expected(all, ids);
      const got = await client.events(want.length);
      assert.deepEqual(seen(got), want);
      // The data is the Prediction as stored.
      assert.deepEqual(JSON.parse(got[0].data!), a[0]);
      await client.close();
      await waitFor("the hub to forget the client", () => env.hub.size === 0);
    });
  });
});

Deno.test("SSE: ?symbol= keeps one market", async () => {
  await withEnv(async (env) => {
    await withServer(env, {}, async (base) => {
      const client = await connect(`${base}/events?symbol=ETH-USDT`);
      const batch = range(0, 30);
      const ids = await env.commit("b", batch);
      const eth = batch.map((p, i) => [p, ids[i]] as const).filter(([p]) =>
        p.symbol === "ETH-USDT"
      );
      const want = expected(eth.map(([p]) => p), eth.map(([, id]) => id));
      assert.deepEqual(seen(await client.events(want.length)), want);
      await client.close();

      const bad = await fetch(`${base}/events?symbol=eth`);
      assert.equal(bad.status, 422);
      await bad.body?.cancel();
    });
  });
});

Deno.test("SSE: Last-Event-ID (header or query) resumes from KV, then continues live without gaps or duplicates", async () => {
  await withEnv(async (env) => {
    await withServer(env, {}, async (base) => {
      const first = await connect(`${base}/events`);
      const a = range(0, 10);
      const idsA = await env.commit("a", a);
      const gotA = await first.events(expected(a, idsA).length);
      const last = gotA.at(-1)!.id!;
      assert.equal(last, idsA[9]);
      await first.close();

      // Committed while the client is away (published to nobody).
      const b = range(10, 25), c = range(25, 31);
      const missed = [...await env.commit("b", b), ...await env.commit("c", c)];

      const again = await connect(`${base}/events`, { "Last-Event-ID": last });
      const replayed = expected([...b, ...c], missed);
      assert.deepEqual(seen(await again.events(replayed.length)), replayed);
      // Then live.
      const d = range(31, 40);
      const idsD = await env.commit("d", d);
      assert.deepEqual(seen(await again.events(expected(d, idsD).length)), expected(d, idsD));
      await again.close();

      // The query parameter does the same for clients that cannot set headers, with the symbol filter.
      const fromMiddle = missed[4];
      const q = await connect(
        `${base}/events?symbol=BTC-USDT&lastEventId=${encodeURIComponent(fromMiddle)}`,
      );
      const rest = [...b, ...c, ...d].map((p, i) => [p, [...missed, ...idsD][i]] as const)
        .slice(5).filter(([p]) => p.symbol === "BTC-USDT");
      const want = expected(rest.map(([p]) => p), rest.map(([, id]) => id));
      assert.deepEqual(seen(await q.events(want.length)), want);
      const e = range(40, 43);
      const idsE = await env.commit("e", e);
      const wantE = expected([e[2]], [idsE[2]]); // 42 is BTC-USDT
      assert.deepEqual(seen(await q.events(wantE.length)), wantE);
      await q.close();

      const bad = await fetch(`${base}/events`, { headers: { "Last-Event-ID": "nonsense" } });
      assert.equal(bad.status, 422);
      assert.deepEqual((await bad.json()).detail, [{
        field: "Last-Event-ID",
        message: "not an event id of this server",
      }]);
    });
  });
});

Deno.test("SSE: batches committed and published while a resumption replays are sent exactly once", async () => {
  await withEnv(async (env) => {
    // Enough history that the replay stops on backpressure (64 KiB) while the client does not read.
    const history = range(0, 2000);
    const ids: string[] = [];
    for (let i = 0; i < history.length; i += 400) {
      ids.push(...await env.commit(`h${i}`, history.slice(i, i + 400), false));
    }
    // X and W are committed (so the replay reads them) but published only later, as a batch in
    // flight between its commit and its publish is.
    const x = range(2000, 2010), w = range(2010, 2015);
    const idsX = await env.commit("x", x, false);
    const idsW = await env.commit("w", w, false);

    const app = createApp(env.ctx, { logger: memoryLogger() });
    const res = await app.request("/events", { headers: { "last-event-id": ids[99] } });
    assert.equal(res.status, 200);
    const client = new SseReader(res.body!);
    await waitFor("the subscription", () => env.hub.size === 1);

    // While the replay is paused: X is published (it is also ahead in the replay), and Y is
    // committed and published (the replay may or may not still see it in KV).
    env.publish("x", x);
    const y = range(2015, 2025);
    const idsY = await env.commit("y", y);

    const all = [...history.slice(100), ...x, ...w, ...y];
    const allIds = [...ids.slice(100), ...idsX, ...idsW, ...idsY];
    const want = expected(all, allIds);
    const got = seen(await client.events(want.length));
    // No duplicates, no gaps: exactly the same events (the replay's order is KV's key order).
    assert.equal(new Set(got.map((g) => g.join("|"))).size, got.length);
    const byValue = (p: [string, string, number], q: [string, string, number]) =>
      p[2] - q[2] || p[0].localeCompare(q[0]);
    assert.deepEqual(got.slice().sort(byValue), want.slice().sort(byValue));
    // The history part comes in key order.
    assert.deepEqual(
      got.slice(0, expected(history.slice(100), ids.slice(100)).length),
      expected(history.slice(100), ids.slice(100)),
    );

    // W's publish arrives after the replay sent it: ignored. Then Z is live, once.
    env.publish("w", w);
    const z = range(2025, 2030);
    const idsZ = await env.commit("z", z);
    assert.deepEqual(seen(await client.events(expected(z, idsZ).length)), expected(z, idsZ));
    await client.close();
  });
});

Deno.test("SSE: a page published long after a resumption replayed it is not sent again", async () => {
  await withEnv(async (env) => {
    // A web-only process's KV tail publishes a page committed out of key order up to minutes
    // late: here L is committed early in key order, then 10 000 more predictions are committed,
    // and L is published only after the replay has sent all of them (more than the 8 192 replayed
    // ids the stream used to remember).
    const before = range(0, 400);
    const idsBefore = await env.commit("a", before, false);
    const late = range(400, 410);
    const idsLate = await env.commit("l", late, false);
    const after = range(410, 10_410);
    const idsAfter: string[] = [];
    for (let i = 0; i < after.length; i += 400) {
      idsAfter.push(...await env.commit(`m${i}`, after.slice(i, i + 400), false));
    }
    const app = createApp(env.ctx, { logger: memoryLogger() });
    const res = await app.request("/events", { headers: { "last-event-id": idsBefore[399] } });
    assert.equal(res.status, 200);
    const client = new SseReader(res.body!);
    const want = expected([...late, ...after], [...idsLate, ...idsAfter]);
    assert.equal(seen(await client.events(want.length)).length, want.length);
    // Now the late publish of L, and a fresh page Z: only Z arrives.
    env.publish("l", late);
    const z = range(10_410, 10_415);
    const idsZ = await env.commit("z", z);
    assert.deepEqual(seen(await client.events(expected(z, idsZ).length)), expected(z, idsZ));
    await client.close();
  });
});

Deno.test("SSE: a POST /predict result is published with the id the response gives", async () => {
  await withEnv(async (env) => {
    // A small model is enough here: any verdict will do.
    const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 7, anomalyProbability: 0.01 });
    const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
    const rows = [...simulatedEvents(sim, { startMs: T0, stepMs: 200, endMs: T0 + 120_000 })]
      .map((e) => engine.update(e));
    const bundle = trainBundle(rows, {
      id: "m-small",
      createdAt: new Date(T0).toISOString(),
      nEstimators: 10,
      seed: 7,
    });
    await env.store.saveBundle(bundle);
    await env.store.activate(bundle.id, new Date(T0).toISOString());
    await withServer(env, {}, async (base) => {
      const client = await connect(`${base}/events?symbol=SOL-USDT`);
      const res = await fetch(`${base}/predict`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          symbol: "SOL-USDT",
          z_score_price: 9,
          z_score_log_return: 9,
          z_score_volume: 9,
          rolling_price_std: 0.5,
          rolling_volume_std: 30,
        }),
      });
      const answer = await res.json();
      assert.equal(res.status, 200);
      const [ev] = await client.events(1);
      assert.equal(ev.event, "prediction");
      assert.equal(ev.id, answer.id);
      const p = JSON.parse(ev.data!) as Prediction;
      assert.equal(p.source, "api");
      assert.equal(p.anomaly_score, answer.anomaly_score);
      assert.equal(p.is_anomaly, answer.is_anomaly);
      await client.close();
    });
  });
});

Deno.test("SSE: a client that does not read is dropped and counted; the hub is not blocked", async () => {
  await withEnv(async (env) => {
    const app = createApp(env.ctx, { logger: memoryLogger(), sse: { maxQueuedBytes: 32 * 1024 } });
    const slow = await app.request("/events");
    const fast = await app.request("/events");
    const fastReader = new SseReader(fast.body!);
    assert.equal(env.hub.size, 2);
    let sent = 0;
    for (let i = 0; i < 40 && env.hub.size === 2; i++) {
      const batch = range(i * 20, i * 20 + 20);
      await env.commit(`p${i}`, batch);
      sent += batch.length + batch.filter((p) => p.is_anomaly).length;
      // the fast client keeps up
      await fastReader.events(batch.length + batch.filter((p) => p.is_anomaly).length);
    }
    assert.equal(env.hub.size, 1, "the slow client was dropped, the fast one stays");
    assert.ok(sent < 40 * 23, "dropped well before the end");
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /sentinel_sse_dropped_clients_total\{reason="slow_client"\} 1\n/);
    assert.match(metrics, /sentinel_sse_clients 1\n/);
    // The slow client's stream ends in an error rather than delivering a huge backlog.
    await assert.rejects(slow.body!.pipeTo(new WritableStream()));
    await fastReader.close();
    assert.equal(env.hub.size, 0);
  });
});

Deno.test("SSE: heartbeat comments on an idle stream; shutdown closes open streams", async () => {
  await withEnv(async (env) => {
    const ac = new AbortController();
    const server = await startWebServer(env.ctx, {
      port: 0,
      hostname: "127.0.0.1",
      signal: ac.signal,
      app: { logger: memoryLogger(), sse: { heartbeatMs: 30 } },
    });
    const client = await connect(`http://127.0.0.1:${server.port}/events`);
    const beat = await client.block();
    assert.equal(beat?.event, undefined);
    assert.match(beat!.comments[0], /^heartbeat \d{4}-\d\d-\d\dT/);
    ac.abort();
    await server.finished;
    // The stream ends once the server stops (Deno cuts open response bodies on shutdown, so the
    // end may be an error; an EventSource reconnects either way).
    try {
      while (await client.block() !== null) { /* drain */ }
    } catch (e) {
      assert.match(String(e), /error reading a body/);
    }
    assert.equal(env.hub.size, 0);
  });
});

Deno.test("SSE: incident changes go out as event: incident, filtered by ?symbol=", async () => {
  await withEnv(async (env) => {
    await withServer(env, {}, async (base) => {
      const all = await connect(`${base}/events`);
      const eth = await connect(`${base}/events?symbol=ETH-USDT`);
      const incident = (symbol: string, status: "open" | "closed") => ({
        id: `${symbol}:1000`,
        symbol,
        status,
        type: "crash" as const,
        start_ms: 1000,
        end_ms: 1000,
        peak_ms: 1000,
        peak_severity: 0.8,
        drivers: { price_z: 1 },
        alerts: 1,
        trades: 1,
        ref_price: 100,
        peak_price: 90,
        last_price: 90,
        min_price: 90,
        max_price: 90,
        model_id: "m",
      });
      env.hub.publish({
        pageId: "",
        predictions: [],
        ids: [],
        incidents: [
          { kind: "opened", incident: incident("BTC-USDT", "open") },
          { kind: "closed", incident: incident("ETH-USDT", "closed") },
        ],
      });
      const got = await all.events(2);
      assert.deepEqual(got.map((e) => e.event), ["incident", "incident"]);
      assert.deepEqual(JSON.parse(got[0].data!), {
        kind: "opened",
        incident: incident("BTC-USDT", "open"),
      });
      const one = await eth.events(1);
      assert.equal(JSON.parse(one[0].data!).incident.symbol, "ETH-USDT");
      assert.equal(JSON.parse(one[0].data!).kind, "closed");
      await all.close();
      await eth.close();
    });
  });
});
