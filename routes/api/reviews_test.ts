import assert from "node:assert/strict";
import { keys, Store } from "../../store/kv.ts";
import type { Incident } from "../../model/incidents.ts";
import { tempKvPath, testConfig, testWebContext } from "../../tests/helpers.ts";
import { createApp } from "../app.ts";

const KEY = "an-api-key-of-some-length";
const INC: Incident = {
  id: "BTC-USDT:1710000000000",
  symbol: "BTC-USDT",
  status: "closed",
  type: "spike",
  start_ms: 1710000000000,
  end_ms: 1710000001000,
  peak_ms: 1710000000500,
  peak_severity: 0.9,
  drivers: { price_z: 2 },
  alerts: 2,
  trades: 5,
  ref_price: 100,
  peak_price: 110,
  last_price: 101,
  min_price: 100,
  max_price: 110,
  model_id: "m1",
};

async function withApp(
  env: Record<string, string>,
  fn: (req: (path: string, init?: RequestInit) => Promise<Response>, store: Store) => Promise<void>,
) {
  const { path, cleanup } = await tempKvPath();
  const store = await Store.open(path, { retentionMs: 3_600_000 });
  const t = 1_800_000_000_000;
  const ctx = testWebContext(store, testConfig({ KV_PATH: path, ...env }), { now: () => t });
  const app = createApp(ctx);
  try {
    await store.kv.set(keys.incident(INC.start_ms, INC.id), INC);
    await fn((p, init) => Promise.resolve(app.request(p, init)), store);
  } finally {
    store.close();
    await cleanup();
  }
}

const post = (body: unknown, key: string | null = KEY) => ({
  method: "POST",
  headers: {
    "content-type": "application/json",
    ...(key ? { authorization: `Bearer ${key}` } : {}),
  },
  body: JSON.stringify(body),
});

Deno.test("reviews: acknowledge, mark true/false positive, clear; the API key is required", async () => {
  await withApp({ SENTINEL_API_KEY: KEY }, async (req) => {
    const path = `/incidents/${encodeURIComponent(INC.id)}/review`;
    assert.equal(await (await req(path)).json(), null);
    assert.equal((await req(path, post({ acknowledged: true }, null))).status, 401);
    assert.equal(
      (await req(path, post({ acknowledged: true }, "wrong-key-wrong-key"))).status,
      401,
    );
    const a = await req(path, post({ acknowledged: true }));
    assert.equal(a.status, 200);
    assert.deepEqual(
      { ...(await a.json()), updated_at: "" },
      {
        incident_id: INC.id,
        acknowledged: true,
        verdict: null,
        note: null,
        updated_at: "",
      },
    );
    // A later change keeps what it does not touch.
    const fp = await (await req(path, post({ verdict: "false_positive", note: "tick glitch" })))
      .json();
    assert.equal(fp.acknowledged, true);
    assert.equal(fp.verdict, "false_positive");
    assert.equal(fp.note, "tick glitch");
    assert.equal((await (await req(path)).json()).verdict, "false_positive");
    // The list carries the reviews of the incidents it lists.
    const list = await (await req("/incidents", { headers: { accept: "application/json" } }))
      .json();
    assert.equal(list.reviews[INC.id].verdict, "false_positive");
    assert.equal(list.reviews[INC.id].acknowledged, true);
    assert.equal((await (await req(path, post({ verdict: "none" }))).json()).verdict, null);
    // Bad input names the field.
    const bad = await req(path, post({ verdict: "maybe" }));
    assert.equal(bad.status, 422);
    assert.match(await bad.text(), /verdict/);
    // An empty body changes nothing and answers the review as it is.
    const same = await req(path, post({}));
    assert.equal(same.status, 200);
    const unchanged = await same.json();
    assert.equal(unchanged.verdict, null);
    assert.equal(unchanged.acknowledged, true);
    assert.equal(
      (await req(path, post({ shout: true }))).status,
      422,
      "unknown fields are refused",
    );
    assert.equal(
      (await req(
        `/incidents/${encodeURIComponent("BTC-USDT:1")}/review`,
        post({ acknowledged: true }),
      ))
        .status,
      404,
    );
  });
});

Deno.test("reviews: without SENTINEL_API_KEY writing is disabled (403)", async () => {
  await withApp({}, async (req) => {
    const r = await req(
      `/incidents/${encodeURIComponent(INC.id)}/review`,
      post({ acknowledged: true }),
    );
    assert.equal(r.status, 403);
    assert.equal((await req("/mutes", post({ symbol: "BTC-USDT", minutes: 5 }))).status, 403);
  });
});

Deno.test("mutes: a symbol is muted for the minutes asked, listed, and lifted", async () => {
  await withApp({ SENTINEL_API_KEY: KEY }, async (req, store) => {
    assert.deepEqual(await (await req("/mutes")).json(), { mutes: [] });
    const m = await req("/mutes", post({ symbol: "ETH-USDT", minutes: 15 }));
    assert.equal(m.status, 200);
    const mute = await m.json();
    assert.equal(mute.until_ms, 1_800_000_000_000 + 15 * 60_000);
    assert.deepEqual(
      (await (await req("/mutes")).json()).mutes.map((x: { symbol: string }) => x.symbol),
      ["ETH-USDT"],
    );
    // Past its end a mute no longer counts, even before KV expires the key.
    assert.deepEqual(await store.mutes(1_800_000_000_000 + 15 * 60_000 + 1), []);
    for (
      const body of [{ symbol: "ETH-USDT", minutes: 0 }, { symbol: "ETH-USDT", minutes: 1441 }, {
        symbol: "eth",
        minutes: 5,
      }]
    ) {
      assert.equal((await req("/mutes", post(body))).status, 422, JSON.stringify(body));
    }
    const del = await req("/mutes/ETH-USDT", {
      method: "DELETE",
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { symbol: "ETH-USDT", muted: false });
    assert.deepEqual(await (await req("/mutes")).json(), { mutes: [] });
  });
});
