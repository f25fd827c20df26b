/**
 * The Binance connector against a fake Binance over real WebSockets on
 * 127.0.0.1: Deno's WebSocket client on one side, `ws` on the other.
 */
import assert from "node:assert/strict";
import type { MarketEvent } from "../lib/contracts.ts";
import { type BinanceOptions, BinanceSource } from "../ingest/binance.ts";
import { type FakeBinance, startFakeBinance } from "./fake_binance.ts";

interface Setup {
  fake: FakeBinance;
  source: BinanceSource;
  /** the next event, or a failure after a few seconds instead of a hung test */
  next(): Promise<MarketEvent>;
  warnings: string[];
}

/** Runs `body` with a fake server and a connected source, and tears both down whatever happens. */
async function withBinance(
  options: Partial<BinanceOptions>,
  body: (s: Setup) => Promise<void>,
): Promise<void> {
  const fake = await startFakeBinance();
  const warnings: string[] = [];
  const source = new BinanceSource({
    symbols: ["BTC-USDT", "ETH-USDT"],
    baseUrl: fake.url,
    backoffInitialMs: 20,
    backoffMaxMs: 50,
    // The recorded trades are from 2024; the clock-skew check has its own tests.
    maxClockSkewMs: Infinity,
    logger: { info() {}, warn: (m) => warnings.push(m) },
    ...options,
  });
  const reader = source.events().getReader();
  const next = async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hang = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("no event within 5 s")), 5_000);
    });
    try {
      const r = await Promise.race([reader.read(), hang]);
      if (r.done) throw new Error("stream ended");
      return r.value;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await fake.waitForConnections(1);
    await body({ fake, source, next, warnings });
  } finally {
    await source.close();
    reader.releaseLock();
    await fake.close();
  }
}

Deno.test("trades from Binance become MarketEvents, log returns per symbol", async () => {
  await withBinance({}, async ({ fake, source, next }) => {
    assert.deepEqual(fake.paths, ["/stream?streams=btcusdt@trade/ethusdt@trade"]);
    assert.equal(fake.rejected, 0);
    const T = 1_710_000_000_123;
    assert.equal(
      fake.sendTrade({ symbol: "BTCUSDT", id: 3391823, price: "43150.50", qty: "0.012", time: T }),
      1,
    );
    fake.sendTrade({ symbol: "ETHUSDT", id: 900, price: "2300.00000000", qty: "1.5", time: T + 5 });
    fake.sendTrade({ symbol: "BTCUSDT", price: "47465.55000000", qty: "0.2", time: T + 1000 });
    fake.sendTrade({ symbol: "ETHUSDT", price: "2070.00000000", qty: "3", time: T + 1001 });

    assert.deepEqual(await next(), {
      timestamp: 1_710_000_000,
      symbol: "BTC-USDT",
      price: 43150.5,
      volume: 0.012,
      log_return: 0,
      is_anomaly: false,
      anomaly_type: null,
      ts_ms: T,
      trade_id: 3391823,
      source: "binance",
    });
    const eth = await next();
    assert.deepEqual([eth.symbol, eth.price, eth.volume, eth.log_return], [
      "ETH-USDT",
      2300,
      1.5,
      0,
    ]);
    const btc2 = await next();
    assert.deepEqual([btc2.trade_id, btc2.timestamp, btc2.ts_ms], [
      3391824,
      1_710_000_001,
      T + 1000,
    ]);
    // 47465.55 = 43150.50 · 1.1 and 2070 = 2300 · 0.9: ln 1.1 and ln 0.9 from tables
    assert.ok(Math.abs(btc2.log_return - 0.0953101798043249) < 1e-12);
    const eth2 = await next();
    assert.ok(Math.abs(eth2.log_return - -0.1053605156578263) < 1e-12);

    const s = source.status();
    assert.equal(s.state, "connected");
    assert.equal(s.url, `${fake.url}/stream?streams=btcusdt@trade/ethusdt@trade`);
    assert.equal(s.messages, 4);
    assert.equal(s.trades, 4);
    assert.ok(s.connectedSince !== null && s.lastMessageAt !== null);
    assert.equal(s.lastMessageAt! >= s.connectedSince!, true);
  });
});

Deno.test("the client answers Binance's protocol pings", async () => {
  await withBinance({}, async ({ fake, source }) => {
    assert.equal(fake.ping("1710000000000"), 1);
    await fake.waitForPongs(1);
    fake.ping();
    fake.ping();
    await fake.waitForPongs(3);
    assert.equal(fake.pongs, 3);
    assert.equal(source.status().messages, 0, "pings are not messages");
    assert.equal(fake.connections, 1);
  });
});

Deno.test("reconnects after an abrupt drop and keeps flowing", async () => {
  await withBinance({}, async ({ fake, source, next }) => {
    fake.sendTrade({ symbol: "BTCUSDT", price: "100", qty: "1" });
    assert.equal((await next()).trade_id, 1);
    fake.drop();
    await fake.waitForConnections(2);
    await fake.waitForOpen(1);
    fake.sendTrade({ symbol: "BTCUSDT", price: "101", qty: "1" });
    const e = await next();
    assert.equal(e.trade_id, 2);
    assert.ok(Math.abs(e.log_return - Math.log(1.01)) < 1e-12, "last price kept across reconnects");
    const s = source.status();
    assert.equal(s.reconnects, 1);
    assert.equal(s.state, "connected");
    assert.equal(s.gaps, 0);
    assert.match(s.lastError ?? "", /code 1006|error/);
    assert.equal(fake.connections, 2);
  });
});

Deno.test("serverShutdown makes the client leave and come back", async () => {
  await withBinance({}, async ({ fake, source, next }) => {
    fake.sendTrade({ symbol: "ETHUSDT", price: "2300", qty: "1" });
    await next();
    assert.equal(fake.shutdownEvent(), 1);
    await fake.waitForConnections(2);
    await fake.waitForOpen(1); // the old connection was closed by the client, not left dangling
    fake.sendTrade({ symbol: "ETHUSDT", price: "2300", qty: "1" });
    assert.equal((await next()).trade_id, 2);
    const s = source.status();
    assert.equal(s.reconnects, 1);
    assert.equal(s.lastError, "serverShutdown received");
    assert.deepEqual(s.malformed, {});
    assert.equal(fake.connections, 2);
  });
});

Deno.test("a trade-id gap across a reconnect is counted exactly", async () => {
  await withBinance({}, async ({ fake, source, next }) => {
    for (let i = 0; i < 3; i++) fake.sendTrade({ symbol: "BTCUSDT", price: "100", qty: "1" });
    for (let i = 0; i < 3; i++) await next();
    fake.drop();
    fake.skipIds("BTCUSDT", 4); // trades 4..7 happened while we were away
    await fake.waitForConnections(2);
    await fake.waitForOpen(1);
    fake.sendTrade({ symbol: "BTCUSDT", price: "100", qty: "1" });
    fake.sendTrade({ symbol: "BTCUSDT", price: "100", qty: "1" });
    assert.equal((await next()).trade_id, 8);
    assert.equal((await next()).trade_id, 9);
    const s = source.status();
    assert.equal(s.gaps, 4);
    assert.equal(s.symbols["BTC-USDT"].gaps, 4);
    assert.equal(s.symbols["ETH-USDT"].gaps, 0);
    assert.equal(s.duplicates, 0);
  });
});

Deno.test("trades replayed after a reconnect are dropped as duplicates", async () => {
  await withBinance({}, async ({ fake, source, next }) => {
    for (const id of [1, 2, 3]) fake.sendTrade({ symbol: "BTCUSDT", id, price: "100", qty: "1" });
    for (let i = 0; i < 3; i++) await next();
    fake.drop();
    await fake.waitForConnections(2);
    await fake.waitForOpen(1);
    for (const id of [2, 3, 4]) fake.sendTrade({ symbol: "BTCUSDT", id, price: "100", qty: "1" });
    assert.equal((await next()).trade_id, 4);
    const s = source.status();
    assert.equal(s.duplicates, 2);
    assert.equal(s.gaps, 0);
    assert.equal(s.trades, 4);
    assert.equal(s.messages, 6);
  });
});

Deno.test("malformed frames are counted and logged once; the stream carries on", async () => {
  await withBinance({}, async ({ fake, source, next, warnings }) => {
    fake.sendRaw("{not json");
    fake.sendRaw("{not json either");
    fake.sendRaw(
      '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"0.00000000","q":"1","T":1,"m":true,"M":true}}',
    );
    fake.sendRaw(new Uint8Array([0x7b, 0x7d]));
    fake.sendTrade({ symbol: "BTCUSDT", id: 2, price: "100", qty: "1" });
    assert.equal((await next()).trade_id, 2);
    const s = source.status();
    assert.deepEqual(s.malformed, { invalid_json: 2, invalid_trade: 1, binary_frame: 1 });
    assert.equal(warnings.length, 3);
    assert.match(warnings.find((w) => w.includes("invalid_trade")) ?? "", /price must be positive/);
    assert.equal(s.state, "connected");
    assert.equal(fake.connections, 1, "a bad frame is no reason to reconnect");
  });
});

Deno.test("aggTrade mode subscribes to @aggTrade and uses aggregate ids", async () => {
  await withBinance({ kind: "aggTrade" }, async ({ fake, source, next }) => {
    assert.deepEqual(fake.paths, ["/stream?streams=btcusdt@aggTrade/ethusdt@aggTrade"]);
    const T = 1_710_000_000_500;
    fake.sendAggTrade({
      symbol: "BTCUSDT",
      id: 500,
      price: "43150.5",
      qty: "2.5",
      time: T,
      count: 3,
    });
    fake.sendAggTrade({ symbol: "BTCUSDT", id: 502, price: "43150.5", qty: "1", time: T });
    fake.sendTrade({ symbol: "BTCUSDT", id: 1, price: "1", qty: "1" }); // not subscribed: never sent
    const a = await next();
    assert.deepEqual(
      [a.symbol, a.trade_id, a.price, a.volume, a.ts_ms, a.timestamp],
      ["BTC-USDT", 500, 43150.5, 2.5, T, 1_710_000_000],
    );
    assert.equal((await next()).trade_id, 502);
    assert.equal(source.status().gaps, 1, "aggregate 501 is missing");
  });
});

Deno.test("a silent connection is abandoned after the idle timeout", async () => {
  await withBinance({ idleTimeoutMs: 200 }, async ({ fake, source, next }) => {
    await fake.waitForConnections(2);
    await fake.waitForOpen(1);
    assert.match(source.status().lastError ?? "", /^no message for \d+ ms$/);
    fake.sendTrade({ symbol: "BTCUSDT", price: "100", qty: "1" });
    assert.equal((await next()).trade_id, 1);
  });
});

Deno.test("a handshake that never completes is abandoned and retried", async () => {
  // A TCP listener that accepts and then says nothing: a stalled proxy or a half-dead host.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const second = Promise.withResolvers<void>();
  const accepting = (async () => {
    try {
      for await (const c of listener) {
        conns.push(c);
        if (conns.length === 2) second.resolve();
      }
    } catch {
      // the listener was closed
    }
  })();
  const source = new BinanceSource({
    symbols: ["BTC-USDT"],
    baseUrl: `ws://127.0.0.1:${listener.addr.port}`,
    idleTimeoutMs: 100,
    backoffInitialMs: 10,
    backoffMaxMs: 20,
    logger: { info() {}, warn() {} },
  });
  const reader = source.events().getReader();
  const guard = setTimeout(() => second.reject(new Error("no second connection attempt")), 5_000);
  try {
    await second.promise;
    const s = source.status();
    assert.equal(s.state === "connecting" || s.state === "reconnecting", true);
    assert.ok(s.reconnects >= 1);
    assert.match(s.lastError ?? "", /^handshake not finished after \d+ ms$/);
  } finally {
    clearTimeout(guard);
    await source.close();
    reader.releaseLock();
    for (const c of conns) c.close();
    listener.close();
    await accepting;
  }
});

Deno.test("the idle-timeout reconnect does not leave the old socket open on a peer that went silent", async () => {
  // A server that completes the WebSocket handshake and then never sends another byte, not even
  // the answer to our close frame: a dead path. The old TCP connection must still end.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ended: number[] = [];
  const firstEnded = Promise.withResolvers<void>();
  const conns: Deno.Conn[] = [];
  const serve = async (conn: Deno.Conn, i: number) => {
    const buf = new Uint8Array(8192);
    const n = await conn.read(buf);
    const key = /Sec-WebSocket-Key: *(.*)\r\n/i.exec(
      new TextDecoder().decode(buf.subarray(0, n!)),
    )![1]
      .trim();
    const d = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(d)));
    await conn.write(new TextEncoder().encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    try {
      while ((await conn.read(buf)) !== null) { /* swallow the close frame, never answer */ }
    } catch {
      // reset by the peer: ended as well
    }
    ended.push(i);
    if (i === 0) firstEnded.resolve();
  };
  const accepting = (async () => {
    try {
      for await (const c of listener) {
        conns.push(c);
        serve(c, conns.length - 1).catch(() => {});
      }
    } catch {
      // the listener was closed
    }
  })();
  const source = new BinanceSource({
    symbols: ["BTC-USDT"],
    baseUrl: `ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    idleTimeoutMs: 200,
    closeTimeoutMs: 300,
    backoffInitialMs: 10,
    backoffMaxMs: 20,
    logger: { info() {}, warn() {} },
  });
  const reader = source.events().getReader();
  const guard = setTimeout(
    () => firstEnded.reject(new Error("the first socket is still open")),
    5_000,
  );
  try {
    await firstEnded.promise;
    assert.ok(conns.length >= 2, "reconnected");
    assert.match(source.status().lastError ?? "", /^no message for \d+ ms$/);
  } finally {
    clearTimeout(guard);
    await source.close();
    reader.releaseLock();
    listener.close();
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await accepting;
  }
});
