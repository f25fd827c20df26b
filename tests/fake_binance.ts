/**
 * A local stand-in for Binance's combined trade stream, on 127.0.0.1, that
 * speaks Binance's exact frames (string prices, `{"stream","data"}` wrapper,
 * `serverShutdown`) and lets a test do what Binance does to a client: ping it,
 * drop it, announce maintenance, skip trade ids. Built on the `ws` package
 * because it sends real protocol ping frames and reports the pongs.
 *
 * @module
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
// Untyped on purpose: `@types/ws` drags npm's `@types/node` into every program that
// imports this file, and its `Event` clashes with the web's. The parts used are typed below.
import { WebSocketServer } from "ws";

/** The part of a `ws` server socket the fake uses. */
interface WsSocket {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: string | Uint8Array): void;
  ping(data?: string): void;
  terminate(): void;
  on(event: "pong" | "close" | "error", listener: () => void): void;
}

/** The part of a `ws` server the fake uses. */
interface WsServer {
  on(event: "connection", listener: (ws: WsSocket, req: IncomingMessage) => void): void;
  close(callback: () => void): void;
}

/** A trade to send; ids and times are filled in when left out. */
export interface FakeTrade {
  /** Binance's spelling, `BTCUSDT` */
  symbol: string;
  /** default: one after the symbol's previous id (see `skipIds`) */
  id?: number;
  /** a number is written as Binance does, with 8 decimals */
  price: string | number;
  qty: string | number;
  /** `T` in ms; default the fake's clock */
  time?: number;
  /** `E` in ms; default `time + 1` */
  eventTime?: number;
  buyerIsMaker?: boolean;
  /** aggTrade only: how many trades it aggregates (default 1) */
  count?: number;
}

/** Options of {@linkcode startFakeBinance}. */
export interface FakeBinanceOptions {
  /** default 0: any free port */
  port?: number;
  /** the first trade id of every symbol; default 1 */
  firstId?: number;
  /** how long `waitFor*` wait before failing, so a broken test fails instead of hanging; default 5 000 ms */
  waitTimeoutMs?: number;
}

/** A running fake Binance. */
export interface FakeBinance {
  /** base URL for the connector, `ws://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** connections accepted so far */
  readonly connections: number;
  /** connections open now */
  readonly open: number;
  /** pong frames received */
  readonly pongs: number;
  /** upgrade requests refused (bad path) */
  readonly rejected: number;
  /** every requested path, in order, accepted or not */
  readonly paths: readonly string[];
  /** sends a `trade` frame to the connections subscribed to it; returns how many */
  sendTrade(trade: FakeTrade): number;
  /** sends an `aggTrade` frame to the connections subscribed to it; returns how many */
  sendAggTrade(trade: FakeTrade): number;
  /** sends any text (or a binary frame) to every open connection; returns how many */
  sendRaw(data: string | Uint8Array): number;
  /** the next automatic id of `symbol` skips `n` ids */
  skipIds(symbol: string, n: number): void;
  /** a protocol ping to every open connection; returns how many */
  ping(payload?: string): number;
  /** the `serverShutdown` event Binance sends before maintenance; returns how many */
  shutdownEvent(): number;
  /** cuts every connection without a closing handshake (network loss, crash) */
  drop(): void;
  waitForConnections(n: number): Promise<void>;
  waitForPongs(n: number): Promise<void>;
  /** waits until exactly `n` connections are open */
  waitForOpen(n: number): Promise<void>;
  close(): Promise<void>;
}

const STREAM_NAME = /^[a-z0-9]+@(trade|aggTrade)$/;

/** The stream names of `/stream?streams=a@trade/b@trade`, or null when the path is not that. */
function requestedStreams(path: string): string[] | null {
  const url = new URL(path, "ws://127.0.0.1");
  if (url.pathname !== "/stream") return null;
  const streams = url.searchParams.get("streams");
  if (!streams) return null;
  const names = streams.split("/");
  return names.every((n) => STREAM_NAME.test(n)) ? names : null;
}

const decimal = (v: string | number) => typeof v === "string" ? v : v.toFixed(8);

/**
 * Starts the fake on 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * import { startFakeBinance } from "./fake_binance.ts";
 * const fake = await startFakeBinance();
 * // connect to `${fake.url}/stream?streams=btcusdt@trade`, then:
 * await fake.waitForConnections(1);
 * fake.sendTrade({ symbol: "BTCUSDT", price: "43150.50", qty: "0.012" });
 * await fake.close();
 * ```
 */
export async function startFakeBinance(options: FakeBinanceOptions = {}): Promise<FakeBinance> {
  const firstId = options.firstId ?? 1;
  const waitTimeoutMs = options.waitTimeoutMs ?? 5_000;
  const server = createServer();
  const streamsOf = new Map<WsSocket, Set<string>>();
  const nextId = new Map<string, number>();
  const nextTradeId = new Map<string, number>();
  const paths: string[] = [];
  let connections = 0;
  let pongs = 0;
  let rejected = 0;
  let closed = false;
  const waiters = new Set<{ check: () => boolean; done: (error?: Error) => void }>();

  const notify = () => {
    for (const w of waiters) if (w.check()) w.done();
  };
  const waitFor = (check: () => boolean, what: string): Promise<void> => {
    if (check()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => waiter.done(new Error(`fake Binance: no ${what}`)),
        waitTimeoutMs,
      );
      const waiter = {
        check,
        done: (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          if (error) reject(error);
          else resolve();
        },
      };
      waiters.add(waiter);
    });
  };

  const wss: WsServer = new WebSocketServer({
    server,
    verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, code?: number) => void) => {
      const path = info.req.url ?? "";
      paths.push(path);
      const ok = requestedStreams(path) !== null;
      if (!ok) rejected++;
      done(ok, 400);
    },
  });
  wss.on("connection", (ws: WsSocket, req: IncomingMessage) => {
    connections++;
    streamsOf.set(ws, new Set(requestedStreams(req.url ?? "")));
    ws.on("pong", () => {
      pongs++;
      notify();
    });
    ws.on("close", () => {
      streamsOf.delete(ws);
      notify();
    });
    ws.on("error", () => {}); // a client vanishing is part of the game
    notify();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const openSockets = () => [...streamsOf.keys()].filter((ws) => ws.readyState === ws.OPEN);
  const sendTo = (stream: string | null, text: string | Uint8Array) => {
    let sent = 0;
    for (const ws of openSockets()) {
      if (stream !== null && !streamsOf.get(ws)!.has(stream)) continue;
      ws.send(text);
      sent++;
    }
    return sent;
  };
  const takeId = (counters: Map<string, number>, symbol: string, id?: number, count = 1) => {
    const value = id ?? counters.get(symbol) ?? firstId;
    counters.set(symbol, value + count);
    return value;
  };

  return {
    url: `ws://127.0.0.1:${port}`,
    port,
    get connections() {
      return connections;
    },
    get open() {
      return openSockets().length;
    },
    get pongs() {
      return pongs;
    },
    get rejected() {
      return rejected;
    },
    paths,
    sendTrade(t) {
      const time = t.time ?? Date.now();
      // Key order and string decimals exactly as Binance sends them.
      const data = {
        e: "trade",
        E: t.eventTime ?? time + 1,
        s: t.symbol,
        t: takeId(nextId, t.symbol, t.id),
        p: decimal(t.price),
        q: decimal(t.qty),
        T: time,
        m: t.buyerIsMaker ?? true,
        M: true,
      };
      const stream = `${t.symbol.toLowerCase()}@trade`;
      return sendTo(stream, JSON.stringify({ stream, data }));
    },
    sendAggTrade(t) {
      const time = t.time ?? Date.now();
      const count = t.count ?? 1;
      const first = takeId(nextTradeId, t.symbol, undefined, count);
      const data = {
        e: "aggTrade",
        E: t.eventTime ?? time + 1,
        s: t.symbol,
        a: takeId(nextId, t.symbol, t.id),
        p: decimal(t.price),
        q: decimal(t.qty),
        f: first,
        l: first + count - 1,
        T: time,
        m: t.buyerIsMaker ?? true,
        M: true,
      };
      const stream = `${t.symbol.toLowerCase()}@aggTrade`;
      return sendTo(stream, JSON.stringify({ stream, data }));
    },
    sendRaw(data) {
      return sendTo(null, data);
    },
    skipIds(symbol, n) {
      nextId.set(symbol, (nextId.get(symbol) ?? firstId) + n);
    },
    ping(payload = "") {
      const sockets = openSockets();
      for (const ws of sockets) ws.ping(payload);
      return sockets.length;
    },
    shutdownEvent() {
      return sendTo(null, JSON.stringify({ e: "serverShutdown", E: Date.now() }));
    },
    drop() {
      for (const ws of streamsOf.keys()) ws.terminate();
    },
    waitForConnections(n) {
      return waitFor(() => connections >= n, `${n} connections (have ${connections})`);
    },
    waitForPongs(n) {
      return waitFor(() => pongs >= n, `${n} pongs (have ${pongs})`);
    },
    waitForOpen(n) {
      return waitFor(() => openSockets().length === n, `${n} open connections`);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of waiters) w.done(new Error("fake Binance closed"));
      for (const ws of streamsOf.keys()) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
