/**
 * Binance's public trade stream as a source of {@linkcode MarketEvent}s
 * (DESIGN.md sections 4 and 12).
 *
 * One combined-stream WebSocket carries every configured symbol. Frames are
 * parsed by zod schemas; anything else is counted by reason and logged once.
 * The connection is kept alive across everything Binance does to it: the
 * 24-hour close, `serverShutdown` before maintenance, abrupt drops, and
 * silent network loss (an idle timeout, because a dead TCP path may never
 * close the socket). Reconnects use exponential backoff with full jitter.
 * Trade ids are sequential per symbol, so a reconnect's hole in the feed is
 * counted (`gaps`) and replayed trades are dropped (`duplicates`).
 *
 * The pure helpers (`parseBinanceFrame`, `toBinanceSymbol`, `streamUrl`,
 * `nextBackoffMs`) are exported for tests and for the replay source.
 *
 * @module
 */
import WsClient from "ws";
import { z } from "zod";
import { describeZodError, MarketEvent, SYMBOL_PATTERN } from "../lib/contracts.ts";
import { clockSkewReason, DEFAULT_MAX_CLOCK_SKEW_MS } from "./admission.ts";

/** Binance's public market-data endpoint (`BINANCE_WS_URL` overrides it). */
export const DEFAULT_BINANCE_WS_URL = "wss://stream.binance.com:9443";

/**
 * The largest trade-id step still read as missed trades (forward) or a replay
 * (backward). BTCUSDT's busiest seconds have a few thousand trades; a
 * reconnect after the longest backoff (30 s) misses well under 10⁶. A larger
 * step is a resync, never a reason to drop every later trade as a duplicate.
 */
export const MAX_TRADE_ID_JUMP = 1_000_000;

/** Binance accepts at most this many streams on one connection. */
export const MAX_STREAMS_PER_CONNECTION = 1024;

/** Which Binance stream carries the trades: every trade, or aggregated trades. */
export type BinanceStreamKind = "trade" | "aggTrade";

/**
 * Sentinel's `BASE-QUOTE` symbol as Binance spells it.
 *
 * @example
 * ```ts
 * import { toBinanceSymbol } from "./binance.ts";
 * console.log(toBinanceSymbol("BTC-USDT")); // "BTCUSDT"
 * ```
 */
export function toBinanceSymbol(symbol: string): string {
  if (!SYMBOL_PATTERN.test(symbol)) {
    throw new TypeError(`symbol must be BASE-QUOTE in upper case, e.g. BTC-USDT: ${symbol}`);
  }
  return symbol.replace("-", "");
}

/**
 * Binance symbol (`BTCUSDT`) → Sentinel symbol (`BTC-USDT`) for the configured
 * symbols. The way back needs the list: where the base ends cannot be guessed
 * from `ETHBTC` or `BTCFDUSD` alone. Two configured symbols that Binance would
 * spell the same (`AB-CDEF`, `ABCD-EF`) are a configuration error.
 *
 * @example
 * ```ts
 * import { binanceSymbolMap } from "./binance.ts";
 * const map = binanceSymbolMap(["BTC-USDT", "ETH-BTC"]);
 * console.log(map.get("ETHBTC")); // "ETH-BTC"
 * ```
 */
export function binanceSymbolMap(symbols: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const symbol of symbols) {
    const binance = toBinanceSymbol(symbol);
    const other = map.get(binance);
    if (other !== undefined && other !== symbol) {
      throw new TypeError(`symbols ${other} and ${symbol} are both ${binance} on Binance`);
    }
    map.set(binance, symbol);
  }
  return map;
}

/**
 * The combined-stream URL for the symbols, e.g.
 * `wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade`.
 * Stream names are lower case, the kind keeps Binance's spelling (`@aggTrade`).
 *
 * @example
 * ```ts
 * import { streamUrl } from "./binance.ts";
 * console.log(streamUrl("wss://stream.binance.com:9443", ["BTC-USDT", "ETH-USDT"]));
 * // "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/ethusdt@trade"
 * ```
 */
export function streamUrl(
  baseUrl: string,
  symbols: readonly string[],
  kind: BinanceStreamKind = "trade",
): string {
  const base = new URL(baseUrl);
  if (base.protocol !== "wss:" && base.protocol !== "ws:") {
    throw new TypeError(`Binance URL must be ws:// or wss://: ${baseUrl}`);
  }
  const names = [...binanceSymbolMap(symbols).keys()].map((s) => `${s.toLowerCase()}@${kind}`);
  if (names.length === 0) throw new TypeError("at least one symbol is needed");
  if (names.length > MAX_STREAMS_PER_CONNECTION) {
    throw new RangeError(
      `Binance allows ${MAX_STREAMS_PER_CONNECTION} streams per connection, got ${names.length}`,
    );
  }
  return `${baseUrl.replace(/\/+$/, "")}/stream?streams=${names.join("/")}`;
}

/** Backoff bounds for {@linkcode nextBackoffMs}. */
export interface BackoffOptions {
  /** the ceiling of the first delay */
  initialMs: number;
  /** the ceiling never grows beyond this */
  maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 for the first after a loss):
 * "full jitter", a uniform draw in [0, min(maxMs, initialMs·2^attempt)).
 * Full jitter spreads a crowd of clients that lost the same server, which a
 * plain doubling delay would bring back in lockstep.
 *
 * @example
 * ```ts
 * import { nextBackoffMs } from "./binance.ts";
 * console.log(nextBackoffMs(3, { initialMs: 500, maxMs: 30_000 }, () => 0.5)); // 2000
 * ```
 */
export function nextBackoffMs(
  attempt: number,
  { initialMs, maxMs }: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

// ---------------------------------------------------------------- frames

/** Binance's decimals are strings ("43150.50000000"); numbers would lose digits in transit. */
const decimal = (what: string) =>
  z.string({ message: `${what} must be a decimal string` })
    .regex(/^-?\d+(\.\d+)?$/, { message: `${what} must be a decimal string` })
    .transform(Number)
    .refine(Number.isFinite, { message: `${what} must be finite` });

const price = decimal("price").refine((p) => p > 0, { message: "price must be positive" });
const quantity = decimal("quantity").refine((q) => q >= 0, {
  message: "quantity must not be negative",
});
const id = z.number().int().nonnegative();
const ms = z.number().int().nonnegative();
const binanceSymbol = z.string().regex(/^[A-Z0-9]{4,30}$/, {
  message: "symbol must be like BTCUSDT",
});

const TradePayload = z.object({
  e: z.literal("trade"),
  E: ms,
  s: binanceSymbol,
  t: id,
  p: price,
  q: quantity,
  T: ms,
  m: z.boolean(),
  M: z.boolean().optional(),
});

const AggTradePayload = z.object({
  e: z.literal("aggTrade"),
  E: ms,
  s: binanceSymbol,
  a: id,
  p: price,
  q: quantity,
  f: id,
  l: id,
  T: ms,
  m: z.boolean(),
  M: z.boolean().optional(),
}).refine((a) => a.l >= a.f, { message: "last trade id before first", path: ["l"] });

/** One trade as Binance reported it, numbers parsed. */
export interface BinanceTrade {
  type: BinanceStreamKind;
  /** Binance's spelling, `BTCUSDT` */
  symbol: string;
  /** `t` (trade) or `a` (aggTrade): sequential per symbol */
  id: number;
  price: number;
  quantity: number;
  /** `T`, ms */
  tradeTime: number;
  /** `E`, ms */
  eventTime: number;
  buyerIsMaker: boolean;
  /** aggTrade only: the trades it aggregates */
  firstTradeId?: number;
  lastTradeId?: number;
}

/** Why a frame was not used; each is one counter in `status().malformed`. */
export type MalformedReason =
  | "invalid_json"
  | "binary_frame"
  | "unknown_shape"
  | "unknown_event"
  | "invalid_trade"
  | "invalid_aggTrade"
  | "stream_mismatch"
  | "unexpected_event"
  | "unknown_symbol"
  | "clock_skew";

/** What one WebSocket text frame means. */
export type BinanceFrame =
  | { kind: "trade"; stream: string | null; trade: BinanceTrade }
  | { kind: "shutdown"; eventTime: number | null }
  | { kind: "malformed"; reason: MalformedReason; detail: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Parses one text frame: a combined-stream wrapper `{"stream","data"}` or a
 * raw payload; `trade`, `aggTrade` and `serverShutdown` are understood,
 * everything else is `malformed` with a reason. Never throws.
 *
 * @example
 * ```ts
 * import { parseBinanceFrame } from "./binance.ts";
 * const f = parseBinanceFrame(
 *   '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,' +
 *     '"p":"43150.50","q":"0.012","T":1,"m":true,"M":true}}',
 * );
 * if (f.kind === "trade") console.log(f.trade.price); // 43150.5
 * ```
 */
export function parseBinanceFrame(text: string): BinanceFrame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { kind: "malformed", reason: "invalid_json", detail: String(e) };
  }
  if (!isRecord(json)) {
    return { kind: "malformed", reason: "unknown_shape", detail: "not a JSON object" };
  }
  let stream: string | null = null;
  let payload: Record<string, unknown> = json;
  if ("stream" in json || "data" in json) {
    if (typeof json.stream !== "string" || !isRecord(json.data)) {
      return {
        kind: "malformed",
        reason: "unknown_shape",
        detail: "combined-stream wrapper needs a string stream and an object data",
      };
    }
    stream = json.stream;
    payload = json.data;
  }
  const event = payload.e;
  if (typeof event !== "string") {
    return { kind: "malformed", reason: "unknown_shape", detail: "no event type (e)" };
  }
  if (event === "serverShutdown") {
    return { kind: "shutdown", eventTime: typeof payload.E === "number" ? payload.E : null };
  }
  let trade: BinanceTrade;
  if (event === "trade") {
    const r = TradePayload.safeParse(payload);
    if (!r.success) {
      return { kind: "malformed", reason: "invalid_trade", detail: describeZodError(r.error) };
    }
    const d = r.data;
    trade = {
      type: "trade",
      symbol: d.s,
      id: d.t,
      price: d.p,
      quantity: d.q,
      tradeTime: d.T,
      eventTime: d.E,
      buyerIsMaker: d.m,
    };
  } else if (event === "aggTrade") {
    const r = AggTradePayload.safeParse(payload);
    if (!r.success) {
      return { kind: "malformed", reason: "invalid_aggTrade", detail: describeZodError(r.error) };
    }
    const d = r.data;
    trade = {
      type: "aggTrade",
      symbol: d.s,
      id: d.a,
      price: d.p,
      quantity: d.q,
      tradeTime: d.T,
      eventTime: d.E,
      buyerIsMaker: d.m,
      firstTradeId: d.f,
      lastTradeId: d.l,
    };
  } else {
    return { kind: "malformed", reason: "unknown_event", detail: `event type ${event}` };
  }
  // A wrapper naming another stream than its payload means a broken relay: trust neither.
  if (stream !== null && stream.toLowerCase() !== `${trade.symbol}@${trade.type}`.toLowerCase()) {
    return {
      kind: "malformed",
      reason: "stream_mismatch",
      detail: `stream ${stream} carries ${trade.symbol} ${trade.type}`,
    };
  }
  return { kind: "trade", stream, trade };
}

// ---------------------------------------------------------------- source

/** The part of a WebSocket the source uses (Deno's `WebSocket` fits; tests pass a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  // The listener takes the least an event is, so that both the web's and Node's `Event` types fit.
  addEventListener(type: string, listener: (event: { readonly type: string }) => void): void;
  close(code?: number, reason?: string): void;
  /**
   * Drops the connection without the closing handshake. A peer that never
   * answers our close frame (a dead path: why the idle timeout fired) would
   * otherwise keep the old socket open for good.
   */
  terminate?(): void;
}

/**
 * The default client: the `ws` package's WebSocket, which can be
 * terminated (Deno's built-in WebSocket waits for the peer's close frame
 * forever). Text frames arrive as strings, as with the built-in one.
 */
function connectWs(url: string): WebSocketLike {
  return new WsClient(url) as unknown as WebSocketLike;
}

/** Timer functions, injectable so backoff and idle timeouts can be tested without waiting. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** Where the source reports connection changes and (once per reason) bad frames. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** Options of a {@linkcode BinanceSource}; only `symbols` is required. */
export interface BinanceOptions {
  /** Sentinel symbols, `BASE-QUOTE` */
  symbols: readonly string[];
  /** default {@linkcode DEFAULT_BINANCE_WS_URL} (config: `BINANCE_WS_URL`) */
  baseUrl?: string;
  /** default `"trade"` */
  kind?: BinanceStreamKind;
  /** ceiling of the first reconnect delay; default 500 ms */
  backoffInitialMs?: number;
  /** ceiling of any reconnect delay; default 30 000 ms */
  backoffMaxMs?: number;
  /**
   * A connection that lived this long and received data resets the backoff;
   * default 10 000 ms. Requiring both keeps a server that accepts and then
   * drops at once from being hammered at the initial delay.
   */
  stableAfterMs?: number;
  /**
   * Reconnect when nothing arrived for this long (also bounds a hanging
   * handshake); default 60 000 ms; 0 disables. Binance's pings are not visible
   * to a WebSocket client, so on a quiet symbol this must exceed its longest
   * pause between trades.
   */
  idleTimeoutMs?: number;
  /** events held for a slow consumer before new ones are dropped (`overflow`); default 10 000 */
  bufferSize?: number;
  /** how long `close()` waits for the socket's closing handshake; default 2 000 ms */
  closeTimeoutMs?: number;
  /**
   * MAX_CLOCK_SKEW, ms: a trade whose time `T` is further than this from
   * `now()`, either way, is refused (`clock_skew`); default
   * {@linkcode DEFAULT_MAX_CLOCK_SKEW_MS}
   */
  maxClockSkewMs?: number;
  /**
   * A trade id this far from the symbol's last one, either way, is not a gap
   * or a replay but a resync: counted (`resyncs`), and the symbol follows the
   * new ids. Default {@linkcode MAX_TRADE_ID_JUMP}.
   */
  maxTradeIdJump?: number;
  /** ms clock; default `Date.now` */
  now?: () => number;
  /** uniform [0, 1); default `Math.random` */
  random?: () => number;
  /** default the global timers */
  timers?: Timers;
  /** default `console` */
  logger?: Logger;
  /** default: the `ws` package's client (it can be terminated) */
  connect?: (url: string) => WebSocketLike;
}

/** Per-symbol counters in {@linkcode BinanceStatus}. */
export interface BinanceSymbolStatus {
  trades: number;
  gaps: number;
  duplicates: number;
  /** implausible trade-id jumps followed (see {@linkcode MAX_TRADE_ID_JUMP}) */
  resyncs: number;
  lastTradeId: number | null;
  lastPrice: number | null;
}

/** What `/system-status` shows about the Binance stream. */
export interface BinanceStatus {
  state: "connecting" | "connected" | "reconnecting" | "closed";
  url: string;
  /** ms time the current connection opened; null while not connected */
  connectedSince: number | null;
  lastMessageAt: number | null;
  /** frames received, of any kind */
  messages: number;
  /** valid, new (not duplicate) trades, including those dropped as `overflow` */
  trades: number;
  /** connection attempts after the first */
  reconnects: number;
  /** trades missing from the feed, by trade-id jumps (total over symbols) */
  gaps: number;
  /** replayed or older trade ids dropped */
  duplicates: number;
  /** implausible trade-id jumps followed instead of counted as gaps or duplicates */
  resyncs: number;
  /** trades dropped because the consumer was `bufferSize` events behind */
  overflow: number;
  malformed: Record<string, number>;
  lastError: string | null;
  /** keyed by Sentinel symbol */
  symbols: Record<string, BinanceSymbolStatus>;
}

interface Connection {
  ws: WebSocketLike;
  startedAt: number;
  openedAt: number | null;
  lastMessageAt: number | null;
  messages: number;
}

const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * A live Binance trade stream. `events()` connects and yields one
 * {@linkcode MarketEvent} per trade until `close()` (or the signal, or the
 * consumer cancelling); it reconnects by itself and never errors.
 *
 * @example
 * ```ts ignore
 * import { BinanceSource } from "./binance.ts";
 * const source = new BinanceSource({ symbols: ["BTC-USDT", "ETH-USDT"] });
 * for await (const event of source.events()) {
 *   console.log(event.symbol, event.price, source.status().gaps);
 * }
 * ```
 */
export class BinanceSource {
  /** the combined-stream URL this source connects to */
  readonly url: string;
  readonly #kind: BinanceStreamKind;
  readonly #symbolOf: Map<string, string>;
  readonly #backoff: BackoffOptions;
  readonly #stableAfterMs: number;
  readonly #idleTimeoutMs: number;
  readonly #bufferSize: number;
  readonly #closeTimeoutMs: number;
  readonly #maxSkewMs: number;
  readonly #maxJump: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #timers: Timers;
  readonly #logger: Logger;
  readonly #connect: (url: string) => WebSocketLike;

  #state: BinanceStatus["state"] = "connecting";
  #conn: Connection | null = null;
  #attempt = 0;
  #reconnectTimer: unknown = null;
  #idleTimer: unknown = null;
  #controller: ReadableStreamDefaultController<MarketEvent> | null = null;
  #started = false;
  #closed = false;
  #closing = new Set<Promise<void>>();
  #logged = new Set<string>();
  #abort: { signal: AbortSignal; onAbort: () => void } | null = null;

  #connectedSince: number | null = null;
  #lastMessageAt: number | null = null;
  #messages = 0;
  #trades = 0;
  #reconnects = 0;
  #gaps = 0;
  #duplicates = 0;
  #resyncs = 0;
  #overflow = 0;
  #malformed: Record<string, number> = {};
  #lastError: string | null = null;
  /** keyed by Binance symbol; survives reconnects so gaps and log returns span them */
  #perSymbol = new Map<string, BinanceSymbolStatus>();

  constructor(options: BinanceOptions) {
    this.#kind = options.kind ?? "trade";
    this.url = streamUrl(options.baseUrl ?? DEFAULT_BINANCE_WS_URL, options.symbols, this.#kind);
    this.#symbolOf = binanceSymbolMap(options.symbols);
    this.#backoff = {
      initialMs: options.backoffInitialMs ?? 500,
      maxMs: options.backoffMaxMs ?? 30_000,
    };
    this.#stableAfterMs = options.stableAfterMs ?? 10_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#bufferSize = options.bufferSize ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 2_000;
    this.#maxSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    this.#maxJump = options.maxTradeIdJump ?? MAX_TRADE_ID_JUMP;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#timers = options.timers ?? defaultTimers;
    this.#logger = options.logger ?? console;
    this.#connect = options.connect ?? connectWs;
    for (const binance of this.#symbolOf.keys()) {
      this.#perSymbol.set(binance, {
        trades: 0,
        gaps: 0,
        duplicates: 0,
        resyncs: 0,
        lastTradeId: null,
        lastPrice: null,
      });
    }
  }

  /**
   * The trades as a stream (async-iterable). Connects on the first call; one
   * consumer per source. Holds at most `bufferSize` undelivered events: the
   * exchange cannot be paused, so beyond that new trades are dropped and
   * counted as `overflow` rather than growing memory without bound.
   */
  events(signal?: AbortSignal): ReadableStream<MarketEvent> {
    if (this.#started) throw new Error("BinanceSource.events() may be called once");
    this.#started = true;
    return new ReadableStream<MarketEvent>({
      start: (controller) => {
        this.#controller = controller;
        if (this.#closed || signal?.aborted) {
          void this.close();
          return;
        }
        if (signal) {
          const onAbort = () => void this.close();
          signal.addEventListener("abort", onAbort, { once: true });
          this.#abort = { signal, onAbort };
        }
        this.#open();
      },
      cancel: () => this.close(),
    }, new CountQueuingStrategy({ highWaterMark: this.#bufferSize }));
  }

  /** A snapshot for `/system-status`. */
  status(): BinanceStatus {
    const symbols: Record<string, BinanceSymbolStatus> = {};
    for (const [binance, s] of this.#perSymbol) symbols[this.#symbolOf.get(binance)!] = { ...s };
    return {
      state: this.#state,
      url: this.url,
      connectedSince: this.#connectedSince,
      lastMessageAt: this.#lastMessageAt,
      messages: this.#messages,
      trades: this.#trades,
      reconnects: this.#reconnects,
      gaps: this.#gaps,
      duplicates: this.#duplicates,
      resyncs: this.#resyncs,
      overflow: this.#overflow,
      malformed: { ...this.#malformed },
      lastError: this.#lastError,
      symbols,
    };
  }

  /**
   * Stops for good: no more reconnects, the event stream ends. Resolves once
   * the socket finished its closing handshake (or `closeTimeoutMs` passed).
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#state = "closed";
      this.#connectedSince = null;
      this.#clearTimers();
      if (this.#abort) {
        this.#abort.signal.removeEventListener("abort", this.#abort.onAbort);
        this.#abort = null;
      }
      const conn = this.#conn;
      this.#conn = null;
      if (conn) this.#shut(conn, 1000);
      try {
        this.#controller?.close();
      } catch {
        // already closed or cancelled by the consumer
      }
    }
    if (this.#closing.size === 0) return;
    let timer: unknown;
    const timeout = new Promise<void>((resolve) => {
      timer = this.#timers.setTimeout(resolve, this.#closeTimeoutMs);
    });
    try {
      await Promise.race([Promise.all(this.#closing), timeout]);
    } finally {
      this.#timers.clearTimeout(timer);
    }
  }

  #open(): void {
    if (this.#closed) return;
    const startedAt = this.#now();
    let ws: WebSocketLike;
    try {
      ws = this.#connect(this.url);
    } catch (e) {
      this.#retry(`cannot connect: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const conn: Connection = { ws, startedAt, openedAt: null, lastMessageAt: null, messages: 0 };
    this.#conn = conn;
    const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
    this.#closing.add(closed);
    closed.then(() => this.#closing.delete(closed));

    ws.addEventListener("open", () => {
      if (this.#conn !== conn) return;
      conn.openedAt = this.#now();
      this.#connectedSince = conn.openedAt;
      this.#state = "connected";
      this.#logger.info(`binance: connected to ${this.url}`);
    });
    ws.addEventListener("message", (ev) => {
      if (this.#conn === conn) this.#onMessage(conn, (ev as MessageEvent).data);
    });
    ws.addEventListener("error", (ev) => {
      const message = (ev as ErrorEvent).message;
      this.#lost(conn, `websocket error${message ? `: ${message}` : ""}`);
    });
    ws.addEventListener("close", (ev) => {
      const { code, reason } = ev as CloseEvent;
      this.#lost(conn, `closed by server (code ${code}${reason ? `, ${reason}` : ""})`);
    });
    this.#armIdle(conn, this.#idleTimeoutMs);
  }

  /** Idle check by deadline, not re-armed per message: a timer per trade would cost more than the trade. */
  #armIdle(conn: Connection, delay: number): void {
    if (!(this.#idleTimeoutMs > 0) || !Number.isFinite(this.#idleTimeoutMs)) return;
    this.#idleTimer = this.#timers.setTimeout(() => {
      this.#idleTimer = null;
      if (this.#conn !== conn) return;
      const quietMs = this.#now() - (conn.lastMessageAt ?? conn.openedAt ?? conn.startedAt);
      if (quietMs >= this.#idleTimeoutMs) {
        this.#lost(
          conn,
          conn.openedAt === null
            ? `handshake not finished after ${quietMs} ms`
            : `no message for ${quietMs} ms`,
        );
      } else {
        this.#armIdle(conn, this.#idleTimeoutMs - quietMs);
      }
    }, delay);
  }

  #onMessage(conn: Connection, data: unknown): void {
    const now = this.#now();
    conn.messages++;
    conn.lastMessageAt = now;
    this.#lastMessageAt = now;
    this.#messages++;
    if (typeof data !== "string") {
      this.#reject("binary_frame", "Binance sends text frames only", "");
      return;
    }
    const frame = parseBinanceFrame(data);
    if (frame.kind === "malformed") {
      this.#reject(frame.reason, frame.detail, data);
    } else if (frame.kind === "shutdown") {
      // Binance is about to go away: leave now, on our terms, and come back through backoff.
      this.#lost(conn, "serverShutdown received");
    } else {
      this.#onTrade(frame.trade, data);
    }
  }

  #onTrade(trade: BinanceTrade, raw: string): void {
    if (trade.type !== this.#kind) {
      this.#reject("unexpected_event", `${trade.type} on a ${this.#kind} connection`, raw);
      return;
    }
    const symbol = this.#symbolOf.get(trade.symbol);
    const st = this.#perSymbol.get(trade.symbol);
    if (symbol === undefined || st === undefined) {
      this.#reject("unknown_symbol", `${trade.symbol} is not subscribed`, raw);
      return;
    }
    const skew = clockSkewReason(trade.tradeTime, this.#now(), this.#maxSkewMs, "both");
    if (skew) {
      this.#reject("clock_skew", `${trade.symbol} trade ${trade.id}: ${skew}`, raw);
      return;
    }
    // Relative to the last *delivered* price, so the consumer's series of returns telescopes.
    const logReturn = st.lastPrice === null ? 0 : Math.log(trade.price / st.lastPrice);
    const parsed = MarketEvent.safeParse({
      timestamp: Math.floor(trade.tradeTime / 1000),
      symbol,
      price: trade.price,
      volume: trade.quantity,
      log_return: logReturn,
      is_anomaly: false,
      anomaly_type: null,
      ts_ms: trade.tradeTime,
      trade_id: trade.id,
      source: "binance",
    });
    if (!parsed.success) {
      // e.g. a price of 10^300: a decimal string Binance's schema takes, no market has.
      this.#reject("invalid_trade", describeZodError(parsed.error), raw);
      return;
    }
    if (st.lastTradeId !== null) {
      const step = trade.id - st.lastTradeId;
      if (Math.abs(step) > this.#maxJump) {
        // Not a hole nor a replay: the ids moved elsewhere. Follow them, say so.
        st.resyncs++;
        this.#resyncs++;
        this.#logger.warn(
          `binance: ${trade.symbol} trade id jumped from ${st.lastTradeId} to ${trade.id}; ` +
            `resyncing on the new ids (${st.resyncs} resync(s) so far)`,
        );
      } else if (step <= 0) {
        st.duplicates++;
        this.#duplicates++;
        return;
      } else {
        st.gaps += step - 1;
        this.#gaps += step - 1;
      }
    }
    st.lastTradeId = trade.id;
    st.trades++;
    this.#trades++;

    const controller = this.#controller;
    if (controller === null || !((controller.desiredSize ?? 0) > 0)) {
      this.#overflow++;
      return;
    }
    st.lastPrice = trade.price;
    controller.enqueue(parsed.data);
  }

  #reject(reason: MalformedReason, detail: string, raw: string): void {
    this.#malformed[reason] = (this.#malformed[reason] ?? 0) + 1;
    if (this.#logged.has(reason)) return;
    this.#logged.add(reason);
    const sample = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
    this.#logger.warn(
      `binance: ignoring ${reason} frame (${detail}); further ones are only counted. frame: ${sample}`,
    );
  }

  /** The current connection is gone or given up on; idempotent per connection. */
  #lost(conn: Connection, reason: string): void {
    if (this.#conn !== conn || this.#closed) return;
    this.#conn = null;
    const now = this.#now();
    if (
      conn.openedAt !== null && conn.messages > 0 && now - conn.openedAt >= this.#stableAfterMs
    ) {
      this.#attempt = 0;
    }
    this.#connectedSince = null;
    this.#shut(conn, 1000);
    this.#retry(reason);
  }

  #retry(reason: string): void {
    this.#clearTimers();
    this.#lastError = reason;
    this.#state = "reconnecting";
    const delay = nextBackoffMs(this.#attempt++, this.#backoff, this.#random);
    this.#logger.info(`binance: ${reason}; reconnecting in ${delay} ms`);
    this.#reconnectTimer = this.#timers.setTimeout(() => {
      this.#reconnectTimer = null;
      this.#reconnects++;
      this.#open();
    }, delay);
  }

  #shut(conn: Connection, code: number): void {
    const ws = conn.ws;
    if (ws.readyState >= CLOSING) return;
    try {
      // A still-connecting socket takes no code (spec): closing it aborts the handshake.
      if (ws.readyState === OPEN) ws.close(code);
      else ws.close();
    } catch {
      // nothing left to close
    }
    // A peer that does not answer the close frame within closeTimeoutMs is cut off.
    if (ws.terminate && ws.readyState !== CLOSED) {
      this.#timers.setTimeout(() => {
        if (ws.readyState !== CLOSED) {
          try {
            ws.terminate!();
          } catch {
            // already gone
          }
        }
      }, this.#closeTimeoutMs);
    }
  }

  #clearTimers(): void {
    if (this.#reconnectTimer !== null) this.#timers.clearTimeout(this.#reconnectTimer);
    if (this.#idleTimer !== null) this.#timers.clearTimeout(this.#idleTimer);
    this.#reconnectTimer = null;
    this.#idleTimer = null;
  }
}
