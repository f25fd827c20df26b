/**
 * A recorded file as a source of {@linkcode MarketEvent}s (DESIGN.md sections 4, 12, 13):
 * JSONL of MarketEvents, or Binance's public-data `trades` / `aggTrades` CSV
 * (plain, or zipped as Binance publishes them).
 *
 * The file is streamed, never loaded whole: `Deno.open` → (zip entry →
 * `DecompressionStream`) → `TextDecoderStream` → line splitter, all web
 * streams, so a multi-GB file replays in constant memory. Bad lines are
 * counted by reason, logged once per reason with their line number, and
 * skipped; they never stop the replay.
 *
 * Rules, spelled out once:
 * - **Records.** A record is one data line: blank lines and a CSV header are
 *   not records; good and rejected lines both are. Each event carries the
 *   0-based `offset` of its record; `startAt: offset + 1` resumes right after it.
 * - **Timestamps** (CSV): Binance spot files are in milliseconds before
 *   2025-01-01 and in microseconds from then on. Each value is classified by
 *   magnitude: `t ≥ 1e14` is microseconds (1e14 µs is 1973-03-03), anything
 *   smaller is milliseconds (1e14 ms is the year 5138), see
 *   {@linkcode normalizeTimestampMs}.
 * - **Symbol** (CSV): `REPLAY_SYMBOL`, else the file name's leading Binance
 *   symbol (`BTCUSDT-trades-2024-03-01.csv`) mapped through the configured
 *   `SYMBOLS` (the quote cannot be guessed), else an error naming REPLAY_SYMBOL.
 * - **Pace**: `"max"` yields as fast as the consumer pulls; a number `s`
 *   yields event i at wall time `start + (tᵢ − t₀)/s` on the injected clock.
 *
 * @module
 */
import { utf8Decoder } from "../lib/streams.ts";
import { describeZodError, eventTimeMs, MarketEvent, parseMarketEvent } from "../lib/contracts.ts";
import { clockSkewReason, DEFAULT_MAX_CLOCK_SKEW_MS, JumpFilter } from "./admission.ts";
import { binanceSymbolMap, type Logger, toBinanceSymbol } from "./binance.ts";
import { type Clock, systemClock } from "../lib/clock.ts";

/** What a replay file holds. */
export type ReplayFormat = "jsonl" | "trades" | "aggTrades";
/** The two Binance CSV kinds. */
export type CsvFormat = Exclude<ReplayFormat, "jsonl">;

/** Why a line was skipped; each is one counter in {@linkcode ReplayStats.rejected}. */
export type ReplayRejectReason =
  | "field_count"
  | "invalid_id"
  | "invalid_price"
  | "invalid_quantity"
  | "invalid_time"
  | "invalid_json"
  | "invalid_event"
  | "line_too_long"
  | "clock_skew";

/** Binance spot CSV layouts (public data, DESIGN.md section 12). Id, price, qty are columns 0-2. */
export const CSV_LAYOUTS: Readonly<
  Record<CsvFormat, { fields: number; time: number; header: string }>
> = {
  trades: {
    fields: 7,
    time: 4,
    header: "id,price,qty,quote_qty,time,is_buyer_maker,is_best_match",
  },
  aggTrades: {
    fields: 8,
    time: 5,
    header: "agg_id,price,qty,first_id,last_id,time,is_buyer_maker,is_best_match",
  },
};

/** A time at or above this is microseconds, below it milliseconds (see the module doc). */
export const MICROSECOND_THRESHOLD = 1e14;

/** A longer line is rejected (`line_too_long`) rather than buffered: a file without newlines must not eat the memory. */
export const MAX_LINE_CHARS = 1 << 20;

const CHUNK_BYTES = 256 * 1024;
const RATE_WINDOW_MS = 5_000;
const SAMPLE_EVERY_MS = 250;

/**
 * A Binance CSV timestamp in milliseconds (floored): values ≥ 1e14 are
 * microseconds (spot files from 2025-01-01 on), smaller ones milliseconds.
 *
 * @example
 * ```ts
 * import { normalizeTimestampMs } from "./replay.ts";
 * console.log(normalizeTimestampMs(1709251200012)); // 1709251200012 (ms, 2024)
 * console.log(normalizeTimestampMs(1735776000000123)); // 1735776000000 (µs, 2025)
 * ```
 */
export function normalizeTimestampMs(t: number): number {
  const whole = Math.floor(t);
  // Integer arithmetic: whole − (whole mod 1000) is an exact multiple of 1000, so the
  // division is exact even where t/1000 would round across an integer.
  return whole >= MICROSECOND_THRESHOLD ? (whole - (whole % 1000)) / 1000 : whole;
}

/** One CSV trade, numbers parsed, time in ms. */
export interface CsvTrade {
  /** `id` (trades) or `agg_id` (aggTrades) */
  id: number;
  price: number;
  quantity: number;
  timeMs: number;
}

/** Result of {@linkcode parseTradeCsvLine}: the trade, or a reason key and a detail. */
export type CsvParseResult =
  | { ok: true; value: CsvTrade }
  | { ok: false; reason: ReplayRejectReason; detail: string };

const DECIMAL = /^-?\d+(\.\d+)?$/;
const INTEGER = /^\d+$/;

const show = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

function decimal(s: string): number | null {
  if (!DECIMAL.test(s)) return null;
  const x = Number(s);
  return Number.isFinite(x) ? x : null;
}

function integer(s: string): number | null {
  if (!INTEGER.test(s)) return null;
  const x = Number(s);
  return Number.isSafeInteger(x) ? x : null;
}

/**
 * Parses one data line of a Binance spot `trades` or `aggTrades` CSV. Pure,
 * never throws. The `is_buyer_maker` / `is_best_match` flags (and
 * `quote_qty`, `first_id`, `last_id`) are not used by Sentinel and not checked.
 *
 * @example
 * ```ts
 * import { parseTradeCsvLine } from "./replay.ts";
 * const r = parseTradeCsvLine("7,61130.98,0.001,61.13098,1709251200012,True,True", "trades");
 * if (r.ok) console.log(r.value); // { id: 7, price: 61130.98, quantity: 0.001, timeMs: 1709251200012 }
 * ```
 */
export function parseTradeCsvLine(line: string, format: CsvFormat): CsvParseResult {
  const layout = CSV_LAYOUTS[format];
  const f = line.split(",");
  if (f.length !== layout.fields) {
    return {
      ok: false,
      reason: "field_count",
      detail: `expected ${layout.fields} fields (Binance ${format}), got ${f.length}`,
    };
  }
  const id = integer(f[0]);
  if (id === null) {
    return { ok: false, reason: "invalid_id", detail: `id ${show(f[0])} is not a whole number` };
  }
  const price = decimal(f[1]);
  if (price === null || !(price > 0)) {
    return {
      ok: false,
      reason: "invalid_price",
      detail: price === null
        ? `price ${show(f[1])} is not a decimal number`
        : `price ${f[1]} is not positive`,
    };
  }
  const quantity = decimal(f[2]);
  if (quantity === null || quantity < 0) {
    return {
      ok: false,
      reason: "invalid_quantity",
      detail: quantity === null
        ? `quantity ${show(f[2])} is not a decimal number`
        : `quantity ${f[2]} is negative`,
    };
  }
  const time = integer(f[layout.time]);
  if (time === null) {
    return {
      ok: false,
      reason: "invalid_time",
      detail: `time ${show(f[layout.time])} is not a whole number`,
    };
  }
  return { ok: true, value: { id, price, quantity, timeMs: normalizeTimestampMs(time) } };
}

// ---------------------------------------------------------------- names and formats

const baseName = (path: string) => path.split(/[\\/]/).pop() ?? path;

/** What a file name says about the format, if anything. */
function formatFromName(fileName: string): ReplayFormat | null {
  const base = baseName(fileName).replace(/\.zip$/i, "");
  if (/\.(jsonl|ndjson)$/i.test(base)) return "jsonl";
  // aggTrades first: "aggTrades" ends in "Trades".
  if (/(^|[-_.])aggtrades([-_.]|$)/i.test(base)) return "aggTrades";
  if (/(^|[-_.])trades([-_.]|$)/i.test(base)) return "trades";
  return null;
}

/** A CSV first line is a header when its first field holds a letter (data lines start with an id). */
function isHeader(line: string): boolean {
  return /[a-z]/i.test(line.split(",", 1)[0]);
}

function formatFromHeader(fields: readonly string[]): CsvFormat | null {
  const names = fields.map((s) => s.trim().toLowerCase());
  if (names.some((n) => n.includes("agg") || n.startsWith("first_"))) return "aggTrades";
  if (names.some((n) => n === "quote_qty" || n === "id" || n === "trade_id")) return "trades";
  return null;
}

function formatFromCount(n: number): CsvFormat | null {
  if (n === CSV_LAYOUTS.trades.fields) return "trades";
  if (n === CSV_LAYOUTS.aggTrades.fields) return "aggTrades";
  return null;
}

/**
 * Decides what a file holds from its name and its first non-blank line.
 * Precedence: a `.jsonl`/`.ndjson` name or a line starting with `{` is JSONL;
 * a CSV header's column names; the file name (`…-trades-…`, `…-aggTrades-…`);
 * the first line's column count (7 trades, 8 aggTrades). Throws when nothing
 * decides, when the header contradicts the name, or when a header has another
 * column count than Binance's spot layout (futures files differ and are not
 * supported). A data line that contradicts the name does not throw: the name
 * wins and the line is rejected like any malformed line.
 *
 * @example
 * ```ts
 * import { detectFormat } from "./replay.ts";
 * console.log(detectFormat("BTCUSDT-aggTrades-2025-01-02.csv", "1,2.5,1,1,1,1735776000000000,true,true"));
 * // "aggTrades"
 * console.log(detectFormat("recording.txt", '{"symbol":"BTC-USDT"}')); // "jsonl"
 * ```
 */
export function detectFormat(fileName: string, firstLine: string): ReplayFormat {
  const byName = formatFromName(fileName);
  const line = firstLine.trim();
  if (byName === "jsonl" || line.startsWith("{")) return "jsonl";
  const fields = line.split(",");
  const name = baseName(fileName);
  const expected =
    `expected JSONL of MarketEvents, a Binance trades CSV (${CSV_LAYOUTS.trades.header}) ` +
    `or aggTrades CSV (${CSV_LAYOUTS.aggTrades.header})`;
  if (isHeader(line)) {
    const byHeader = formatFromHeader(fields);
    if (byHeader !== null && byName !== null && byHeader !== byName) {
      throw new Error(
        `replay: ${name}: the file name says ${byName} but the header says ${byHeader}: ${line}`,
      );
    }
    const format = byHeader ?? byName ?? formatFromCount(fields.length);
    if (format === null) {
      throw new Error(
        `replay: ${name}: cannot tell the format from the header ${show(line)}; ${expected}`,
      );
    }
    if (fields.length !== CSV_LAYOUTS[format].fields) {
      throw new Error(
        `replay: ${name}: the header has ${fields.length} columns, Binance spot ${format} files have ` +
          `${CSV_LAYOUTS[format].fields} (${CSV_LAYOUTS[format].header}); other layouts ` +
          `(e.g. futures) are not supported`,
      );
    }
    return format;
  }
  const format = byName ?? formatFromCount(fields.length);
  if (format === null) {
    throw new Error(
      `replay: ${name}: cannot tell the format: the first line has ${fields.length} comma-separated ` +
        `fields and the file name does not say; ${expected}`,
    );
  }
  return format;
}

/** The Binance symbol a public-data file name starts with (`BTCUSDT-trades-…` → `BTCUSDT`). */
function symbolTokenOf(fileName: string): string | null {
  const m = /^([A-Za-z0-9]+)-(?:aggTrades|trades)-/i.exec(baseName(fileName));
  return m ? m[1].toUpperCase() : null;
}

/**
 * The Sentinel symbol of a Binance CSV: `override` (REPLAY_SYMBOL) when set,
 * else the file name's leading Binance symbol mapped through the configured
 * `symbols`. Throws an error naming REPLAY_SYMBOL when neither decides.
 *
 * @example
 * ```ts
 * import { resolveReplaySymbol } from "./replay.ts";
 * console.log(resolveReplaySymbol("BTCUSDT-trades-2024-03-01.csv", ["BTC-USDT", "ETH-BTC"]));
 * // "BTC-USDT"
 * console.log(resolveReplaySymbol("dump.csv", ["BTC-USDT"], "ETH-BTC")); // "ETH-BTC"
 * ```
 */
export function resolveReplaySymbol(
  fileName: string,
  symbols: readonly string[],
  override?: string | null,
): string {
  if (override) {
    toBinanceSymbol(override); // throws on anything but BASE-QUOTE
    return override;
  }
  const name = baseName(fileName);
  const token = symbolTokenOf(fileName);
  if (token === null) {
    throw new Error(
      `replay: the file name ${name} does not say the symbol (Binance names files like ` +
        `BTCUSDT-trades-2024-03-01.csv); set REPLAY_SYMBOL=BASE-QUOTE, e.g. REPLAY_SYMBOL=BTC-USDT`,
    );
  }
  const symbol = binanceSymbolMap(symbols).get(token);
  if (symbol === undefined) {
    throw new Error(
      `replay: ${name} holds ${token}, which is none of SYMBOLS (${symbols.join(", ")}), and ` +
        `where its base ends cannot be guessed; add it to SYMBOLS or set REPLAY_SYMBOL=BASE-QUOTE`,
    );
  }
  return symbol;
}

// ---------------------------------------------------------------- progress

/** A snapshot of a replay's progress. `records = skipped + events + rejected`. */
export interface ReplayProgress {
  /** data records consumed from the file so far, including the `skipped` ones */
  records: number;
  /** records passed over because of `startAt` */
  skipped: number;
  /** events yielded */
  events: number;
  /** lines rejected (after `startAt`) */
  rejected: number;
  /** bytes read from the file (read-ahead included, so it leads `records` by a chunk or so) */
  bytesRead: number;
  /** bytes the replay reads in all: the file's size, or the zip entry's compressed size */
  totalBytes: number;
  /** `bytesRead / totalBytes`, null when unknown */
  fraction: number | null;
  /** records per second over the last ~5 s of the clock */
  rate: number;
  /** seconds left at the recent byte rate; null when not measurable yet */
  etaSeconds: number | null;
  done: boolean;
}

/** Rejection counts and the first occurrence of each reason. */
export interface ReplayStats {
  format: ReplayFormat | null;
  /** the CSV's symbol; null for JSONL (events carry their own) */
  symbol: string | null;
  rejected: Partial<Record<ReplayRejectReason, number>>;
  firstRejected: Partial<Record<ReplayRejectReason, { line: number; detail: string }>>;
}

function compact(n: number): string {
  const scaled = (x: number, unit: string) => `${x.toFixed(x < 10 ? 1 : 0)}${unit}`;
  if (n >= 1e9) return scaled(n / 1e9, "G");
  if (n >= 1e6) return scaled(n / 1e6, "M");
  if (n >= 1e3) return scaled(n / 1e3, "k");
  return String(Math.round(n));
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * One terminal line for a progress snapshot.
 *
 * @example
 * ```ts
 * import { formatReplayProgress } from "./replay.ts";
 * console.log(formatReplayProgress({
 *   records: 1_200_000, skipped: 0, events: 1_199_990, rejected: 10, bytesRead: 45,
 *   totalBytes: 100, fraction: 0.45, rate: 310_000, etaSeconds: 12, done: false,
 * }));
 * // "replay: 1.2M records, 310k/s, 45%, ETA 12s, 10 rejected"
 * ```
 */
export function formatReplayProgress(p: ReplayProgress): string {
  const parts = [`${compact(p.records)} records`, `${compact(p.rate)}/s`];
  if (p.fraction !== null) parts.push(`${Math.floor(p.fraction * 100)}%`);
  if (!p.done) parts.push(p.etaSeconds === null ? "ETA ?" : `ETA ${duration(p.etaSeconds)}`);
  if (p.rejected > 0) parts.push(`${compact(p.rejected)} rejected`);
  return `replay: ${p.done ? "done, " : ""}${parts.join(", ")}`;
}

// ---------------------------------------------------------------- byte sources

/** A byte range of an open file as a stream; `dispose` closes the file once no read is in flight. */
interface FileSource {
  stream: ReadableStream<Uint8Array<ArrayBuffer>>;
  dispose(): Promise<void>;
}

function fileRange(
  file: Deno.FsFile,
  start: number,
  length: number | null,
  onRead: (n: number) => void,
): FileSource {
  let remaining = length;
  let positioned = start === 0;
  let disposed = false;
  let inflight: Promise<unknown> | null = null;
  const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull: async (controller) => {
      if (disposed) return controller.close();
      if (!positioned) {
        inflight = file.seek(start, Deno.SeekMode.Start);
        await inflight;
        positioned = true;
      }
      const want = remaining === null ? CHUNK_BYTES : Math.min(CHUNK_BYTES, remaining);
      if (want === 0) return controller.close();
      const buf = new Uint8Array(want);
      const read = file.read(buf);
      inflight = read;
      const n = await read;
      inflight = null;
      if (n === null) {
        if (remaining !== null && remaining > 0) {
          controller.error(new Error(`file ends ${remaining} bytes early (truncated?)`));
        } else {
          controller.close();
        }
        return;
      }
      onRead(n);
      if (remaining !== null) remaining -= n;
      controller.enqueue(n === want ? buf : buf.subarray(0, n));
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    dispose: async () => {
      if (disposed) return;
      disposed = true;
      // Closing under a pending read would leave the op dangling; let it land first.
      await inflight?.catch(() => {});
      file.close();
    },
  };
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) throw new Error(`unexpected end of file at byte ${offset + got}`);
    got += n;
  }
  return buf;
}

/** The one entry a replay reads from a zip archive. */
interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflate */
  method: number;
  compressedSize: number;
  /** where the entry's compressed bytes start */
  dataOffset: number;
  /** other file entries, ignored */
  ignored: string[];
}

const u64 = (v: DataView, at: number) => {
  const x = Number(v.getBigUint64(at, true));
  if (!Number.isSafeInteger(x)) throw new Error("zip offset beyond 2^53");
  return x;
};

/**
 * Finds the first file of a zip archive through its central directory, Zip64
 * included. The central directory, not the local header, because archives
 * written to a pipe (flag bit 3) carry their sizes only after the data, and
 * the decompressor must be handed exactly the entry's bytes.
 */
async function locateZipEntry(file: Deno.FsFile, size: number): Promise<ZipEntry> {
  const tailLength = Math.min(size, 22 + 0xffff);
  const tail = await readAt(file, size - tailLength, tailLength);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let p = tailLength - 22; p >= 0; p--) {
    // The comment length must reach the end exactly, or this is a signature inside a comment.
    if (
      tv.getUint32(p, true) === 0x06054b50 && p + 22 + tv.getUint16(p + 20, true) === tailLength
    ) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new Error("not a zip archive (no end-of-central-directory record)");
  let entries = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tv.getUint32(locator, true) !== 0x07064b50) {
      throw new Error("zip64 archive without its end-of-central-directory locator");
    }
    const record = new DataView((await readAt(file, u64(tv, locator + 8), 56)).buffer);
    if (record.getUint32(0, true) !== 0x06064b50) throw new Error("bad zip64 end record");
    entries = u64(record, 32);
    cdSize = u64(record, 40);
    cdOffset = u64(record, 48);
  }
  if (cdSize > 64 * 1024 * 1024) {
    throw new Error(
      `central directory of ${cdSize} bytes is beyond the 64 MiB this reader accepts`,
    );
  }
  const cd = await readAt(file, cdOffset, cdSize);
  const cv = new DataView(cd.buffer);
  const utf8 = new TextDecoder();
  let chosen: Omit<ZipEntry, "dataOffset" | "ignored"> & { flags: number; local: number } | null =
    null;
  const ignored: string[] = [];
  for (let k = 0, p = 0; k < entries; k++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== 0x02014b50) {
      throw new Error("corrupt zip central directory");
    }
    const nameLength = cv.getUint16(p + 28, true);
    const extraLength = cv.getUint16(p + 30, true);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLength));
    if (!name.endsWith("/")) {
      if (chosen !== null) {
        ignored.push(name);
      } else {
        const uncompressed32 = cv.getUint32(p + 24, true);
        let compressedSize = cv.getUint32(p + 20, true);
        let local = cv.getUint32(p + 42, true);
        // Zip64 extra field (0x0001): only the fields whose 32-bit slot is saturated, in this order.
        for (let e = p + 46 + nameLength; e + 4 <= p + 46 + nameLength + extraLength;) {
          const id = cv.getUint16(e, true);
          const length = cv.getUint16(e + 2, true);
          if (id === 0x0001) {
            let at = e + 4;
            if (uncompressed32 === 0xffffffff) at += 8;
            if (compressedSize === 0xffffffff) compressedSize = u64(cv, (at += 8) - 8);
            if (local === 0xffffffff) local = u64(cv, at);
          }
          e += 4 + length;
        }
        chosen = {
          name,
          flags: cv.getUint16(p + 8, true),
          method: cv.getUint16(p + 10, true),
          compressedSize,
          local,
        };
      }
    }
    p += 46 + nameLength + extraLength + cv.getUint16(p + 32, true);
  }
  if (chosen === null) throw new Error("zip archive holds no file");
  if (chosen.flags & 1) throw new Error(`zip entry ${chosen.name} is encrypted`);
  if (chosen.method !== 0 && chosen.method !== 8) {
    throw new Error(
      `zip entry ${chosen.name} uses compression method ${chosen.method}; only stored (0) and deflate (8) are supported`,
    );
  }
  const header = new DataView((await readAt(file, chosen.local, 30)).buffer);
  if (header.getUint32(0, true) !== 0x04034b50) throw new Error("corrupt zip local header");
  const dataOffset = chosen.local + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  if (dataOffset + chosen.compressedSize > size) {
    throw new Error(`zip entry ${chosen.name} runs past the end of the file (truncated?)`);
  }
  return {
    name: chosen.name,
    method: chosen.method,
    compressedSize: chosen.compressedSize,
    dataOffset,
    ignored,
  };
}

/** Text chunks → batches of lines (a batch per chunk keeps the per-line cost off the stream machinery); `null` marks an overlong line. */
function lineSplitter(): TransformStream<string, (string | null)[]> {
  let rest = "";
  let overlong = false;
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      const lines: (string | null)[] = parts;
      if (overlong && lines.length > 0) {
        lines[0] = null;
        overlong = false;
      }
      if (rest.length > MAX_LINE_CHARS) {
        rest = "";
        overlong = true;
      }
      if (lines.length > 0) controller.enqueue(lines);
    },
    flush(controller) {
      if (overlong) controller.enqueue([null]);
      else if (rest.length > 0) controller.enqueue([rest]);
    },
  });
}

// ---------------------------------------------------------------- source

/** Options of a {@linkcode ReplaySource}. */
export interface ReplayOptions {
  /** the file (REPLAY_FILE): `.jsonl`, `.csv`, or a `.zip` holding one of them */
  path: string;
  /** configured SYMBOLS; maps a CSV file name's `BTCUSDT` to `BTC-USDT` */
  symbols: readonly string[];
  /** REPLAY_SYMBOL: the symbol of a CSV file, overriding its name */
  symbol?: string | null;
  /** REPLAY_SPEED: `"max"`, or a multiple of real time > 0 */
  speed: number | "max";
  /** records to pass over before yielding (resume); default 0 */
  startAt?: number;
  /** default {@linkcode systemClock} */
  clock?: Clock;
  /** default `console` */
  logger?: Logger;
  /** called at most every `progressEveryMs` of the clock, and once at the end */
  onProgress?: (p: ReplayProgress) => void;
  /** default 1000 */
  progressEveryMs?: number;
  /**
   * MAX_CLOCK_SKEW, ms (default {@linkcode DEFAULT_MAX_CLOCK_SKEW_MS}): events
   * this far ahead of the clock, or lone events this far ahead of the file's
   * own stream, are rejected (`clock_skew`).
   */
  maxClockSkewMs?: number;
  /** the real time, for the clock-skew check (the pacing `clock` may be simulated); default `Date.now` */
  wallClock?: () => number;
}

/** One yielded event and the 0-based offset of its record (resume after it with `startAt: offset + 1`). */
export interface ReplayItem {
  offset: number;
  event: MarketEvent;
}

type LineResult =
  | { ok: true; event: MarketEvent }
  | { ok: false; reason: ReplayRejectReason; detail: string };

/**
 * A recorded file replayed as {@linkcode MarketEvent}s.
 *
 * @example
 * ```ts ignore
 * import { formatReplayProgress, ReplaySource } from "./replay.ts";
 * const replay = new ReplaySource({
 *   path: "data/BTCUSDT-aggTrades-2025-01-02.zip",
 *   symbols: ["BTC-USDT"],
 *   speed: "max",
 *   onProgress: (p) => console.log(formatReplayProgress(p)),
 * });
 * for await (const { offset, event } of replay.events()) {
 *   // publish event; checkpoint offset + 1 to resume after it
 * }
 * console.log(replay.stats().rejected);
 * ```
 */
export class ReplaySource {
  readonly #path: string;
  readonly #symbols: readonly string[];
  readonly #symbolOption: string | null;
  readonly #speed: number | "max";
  readonly #startAt: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #onProgress: ((p: ReplayProgress) => void) | null;
  readonly #progressEveryMs: number;
  readonly #maxSkewMs: number;
  readonly #wallClock: () => number;

  #started = false;
  #done = false;
  #format: ReplayFormat | null = null;
  #symbol: string | null = null;
  #records = 0;
  #skipped = 0;
  #events = 0;
  #rejected = 0;
  #bytesRead = 0;
  #totalBytes = 0;
  #rejectedBy: Partial<Record<ReplayRejectReason, number>> = {};
  #firstRejected: Partial<Record<ReplayRejectReason, { line: number; detail: string }>> = {};
  #samples: { t: number; records: number; bytes: number }[] = [];
  #lastReportAt = 0;
  /** CSV only: the previous good price, for log returns */
  #lastPrice: number | null = null;
  /** pacing origin: first yielded event's time and the wall time it was yielded */
  #t0: number | null = null;
  #wall0 = 0;

  constructor(options: ReplayOptions) {
    const { speed } = options;
    if (speed !== "max" && !(typeof speed === "number" && speed > 0 && Number.isFinite(speed))) {
      throw new RangeError(`replay speed must be "max" or a finite number > 0, got ${speed}`);
    }
    const startAt = options.startAt ?? 0;
    if (!(Number.isSafeInteger(startAt) && startAt >= 0)) {
      throw new RangeError(`startAt must be a whole number ≥ 0, got ${startAt}`);
    }
    if (options.symbol) toBinanceSymbol(options.symbol);
    this.#path = options.path;
    this.#symbols = options.symbols;
    this.#symbolOption = options.symbol ?? null;
    this.#speed = speed;
    this.#startAt = startAt;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? console;
    this.#onProgress = options.onProgress ?? null;
    this.#progressEveryMs = options.progressEveryMs ?? 1000;
    this.#maxSkewMs = options.maxClockSkewMs ?? DEFAULT_MAX_CLOCK_SKEW_MS;
    this.#wallClock = options.wallClock ?? Date.now;
  }

  /**
   * The events, in file order, each with its record offset. One call per
   * source. Ends at the end of the file, when `signal` aborts, or when the
   * consumer stops iterating (the file is closed in every case). Throws on
   * what no line-skipping can fix: missing file, unknown format, no symbol,
   * corrupt zip.
   */
  events(signal?: AbortSignal): AsyncGenerator<ReplayItem, void, undefined> {
    // Checked here, not in the generator body, which would only run at the first next().
    if (this.#started) throw new Error("ReplaySource.events() may be called once");
    this.#started = true;
    return this.#replay(signal);
  }

  async *#replay(signal: AbortSignal | undefined): AsyncGenerator<ReplayItem, void, undefined> {
    const file = await Deno.open(this.#path, { read: true });
    let source: FileSource | null = null;
    let reader: ReadableStreamDefaultReader<(string | null)[]> | null = null;
    try {
      const size = (await file.stat()).size;
      let name = baseName(this.#path);
      let bytes: ReadableStream<Uint8Array>;
      const onRead = (n: number) => void (this.#bytesRead += n);
      if (/\.zip$/i.test(name)) {
        const entry = await locateZipEntry(file, size).catch((e) => {
          throw new Error(`replay: ${name}: ${e instanceof Error ? e.message : e}`, { cause: e });
        });
        if (entry.ignored.length > 0) {
          this.#logger.warn(
            `replay: ${name}: reading ${entry.name}, ignoring ${entry.ignored.join(", ")}`,
          );
        }
        // The entry's own name is what Binance wrote; the archive's stem is the fallback.
        const stem = name.replace(/\.zip$/i, "");
        name = formatFromName(entry.name) !== null || symbolTokenOf(entry.name) !== null
          ? baseName(entry.name)
          : stem;
        this.#totalBytes = entry.compressedSize;
        source = fileRange(file, entry.dataOffset, entry.compressedSize, onRead);
        bytes = entry.method === 8
          ? source.stream.pipeThrough(new DecompressionStream("deflate-raw"))
          : source.stream;
      } else {
        this.#totalBytes = size;
        source = fileRange(file, 0, null, onRead);
        bytes = source.stream;
      }
      reader = bytes.pipeThrough(utf8Decoder()).pipeThrough(lineSplitter()).getReader();
      yield* this.#run(reader, name, signal);
    } finally {
      await reader?.cancel().catch(() => {});
      if (source) await source.dispose();
      else file.close();
    }
  }

  async *#run(
    reader: ReadableStreamDefaultReader<(string | null)[]>,
    name: string,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ReplayItem, void, undefined> {
    const clock = this.#clock;
    this.#lastReportAt = clock.now();
    this.#sample(this.#lastReportAt);
    let parse: ((line: string) => LineResult) | null = null;
    let lineNo = 0;
    type Held = { offset: number; event: MarketEvent; lineNo: number; line: string };
    const jumps = new JumpFilter<Held>(this.#maxSkewMs);
    for (;;) {
      if (signal?.aborted) return;
      let batch: ReadableStreamReadResult<(string | null)[]>;
      try {
        batch = await reader.read();
      } catch (e) {
        throw new Error(`replay: cannot read ${name}: ${e instanceof Error ? e.message : e}`, {
          cause: e,
        });
      }
      if (batch.done) break;
      for (let line of batch.value) {
        if (signal?.aborted) return;
        lineNo++;
        // The splitter bounds what it buffers; a long line that arrived whole is caught here.
        if (line !== null && line.length > MAX_LINE_CHARS) line = null;
        if (line !== null) {
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (line.trim() === "") continue;
          if (parse === null) {
            parse = this.#begin(name, line);
            if (this.#format !== "jsonl" && isHeader(line)) continue;
          }
        }
        const offset = this.#records++;
        if (offset < this.#startAt && this.#format === "jsonl") {
          // JSONL carries its own log returns: nothing to carry over, so no need to parse.
          this.#skipped++;
          this.#tick();
          continue;
        }
        const r: LineResult = line === null
          ? {
            ok: false,
            reason: "line_too_long",
            detail: `line longer than ${MAX_LINE_CHARS} characters`,
          }
          : parse!(line);
        if (offset < this.#startAt) {
          this.#skipped++;
        } else if (!r.ok) {
          this.#reject(name, lineNo, r.reason, r.detail, line ?? "");
        } else {
          const t = eventTimeMs(r.event);
          const skew = clockSkewReason(t, this.#wallClock(), this.#maxSkewMs, "ahead");
          if (skew) {
            this.#reject(name, lineNo, "clock_skew", skew, line ?? "");
          } else {
            const d = jumps.push({ offset, event: r.event, lineNo, line: line ?? "" }, t);
            for (const x of d.rejected) {
              this.#reject(name, x.item.lineNo, "clock_skew", x.reason, x.item.line);
            }
            if (d.emit.length === 0) this.#tick();
            for (const x of d.emit) {
              if (!(yield* this.#emit(x, signal))) return;
            }
            continue;
          }
        }
        this.#tick();
      }
    }
    for (const x of jumps.flush()) {
      if (!(yield* this.#emit(x, signal))) return;
    }
    this.#done = true;
    const p = this.progress();
    this.#logger.info(
      `replay: ${name} done: ${p.records} records, ${p.events} events, ${p.rejected} rejected` +
        (p.skipped > 0 ? `, ${p.skipped} skipped (startAt)` : "") +
        (p.rejected > 0 ? ` ${JSON.stringify(this.#rejectedBy)}` : ""),
    );
    this.#onProgress?.(p);
  }

  /** Decides format and symbol from the first non-blank line; returns the line parser. */
  #begin(name: string, firstLine: string): (line: string) => LineResult {
    const format = detectFormat(name, firstLine);
    this.#format = format;
    if (format === "jsonl") {
      this.#logger.info(`replay: ${name} as JSONL of MarketEvents, speed ${this.#speed}`);
      return parseJsonLine;
    }
    const symbol = resolveReplaySymbol(name, this.#symbols, this.#symbolOption);
    this.#symbol = symbol;
    const token = symbolTokenOf(name);
    if (this.#symbolOption && token !== null && token !== toBinanceSymbol(this.#symbolOption)) {
      this.#logger.warn(
        `replay: ${name} looks like ${token}, replaying it as ${symbol} (REPLAY_SYMBOL)`,
      );
    }
    this.#logger.info(
      `replay: ${name} as Binance ${format} of ${symbol}, speed ${this.#speed}` +
        (this.#startAt > 0 ? `, resuming after record ${this.#startAt}` : ""),
    );
    return (line) => {
      const r = parseTradeCsvLine(line, format);
      if (!r.ok) return r;
      const t = r.value;
      // Skipped records (startAt) go through here too, so a resumed replay's returns match an unbroken one's.
      const logReturn = this.#lastPrice === null ? 0 : Math.log(t.price / this.#lastPrice);
      // The event contract's bounds too (a price of 10^300 is a decimal, not a market).
      const checked = MarketEvent.safeParse({
        timestamp: Math.floor(t.timeMs / 1000),
        symbol,
        price: t.price,
        volume: t.quantity,
        log_return: logReturn,
        is_anomaly: false,
        anomaly_type: null,
        ts_ms: t.timeMs,
        trade_id: t.id,
        source: "replay",
      });
      if (!checked.success) {
        return { ok: false, reason: "invalid_event", detail: describeZodError(checked.error) };
      }
      this.#lastPrice = t.price;
      return { ok: true, event: checked.data };
    };
  }

  async #pace(t: number, speed: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#t0 === null) {
      this.#t0 = t;
      this.#wall0 = this.#clock.now();
      return;
    }
    // Due times are fixed from the first event, so a slow consumer catches up instead of drifting.
    const wait = this.#wall0 + (t - this.#t0) / speed - this.#clock.now();
    if (wait > 0) await this.#clock.sleep(wait, signal);
  }

  /** Paces, reports and yields one accepted event; false when `signal` aborted meanwhile. */
  async *#emit(
    x: { offset: number; event: MarketEvent },
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ReplayItem, boolean, undefined> {
    this.#events++;
    if (this.#speed !== "max") {
      await this.#pace(eventTimeMs(x.event), this.#speed, signal);
      if (signal?.aborted) return false;
    }
    this.#tick();
    yield { offset: x.offset, event: x.event };
    return true;
  }

  #reject(name: string, lineNo: number, reason: ReplayRejectReason, detail: string, line: string) {
    this.#rejected++;
    this.#rejectedBy[reason] = (this.#rejectedBy[reason] ?? 0) + 1;
    if (this.#firstRejected[reason] !== undefined) return;
    this.#firstRejected[reason] = { line: lineNo, detail };
    const sample = line.length > 200 ? `${line.slice(0, 200)}…` : line;
    this.#logger.warn(
      `replay: ${name} line ${lineNo}: skipping ${reason} (${detail}); further ${reason} lines ` +
        `are only counted. line: ${sample}`,
    );
  }

  #tick(): void {
    const now = this.#clock.now();
    this.#sample(now);
    if (this.#onProgress !== null && now - this.#lastReportAt >= this.#progressEveryMs) {
      this.#lastReportAt = now;
      this.#onProgress(this.#snapshot(now));
    }
  }

  #sample(now: number): void {
    const s = this.#samples;
    const last = s[s.length - 1];
    if (last === undefined || now - last.t >= SAMPLE_EVERY_MS) {
      s.push({ t: now, records: this.#records, bytes: this.#bytesRead });
    }
    // Keep the newest sample at least a window old as the base, so the rate spans ~5 s.
    while (s.length > 2 && now - s[1].t >= RATE_WINDOW_MS) s.shift();
  }

  #snapshot(now: number): ReplayProgress {
    const base = this.#samples[0];
    const dt = base === undefined ? 0 : now - base.t;
    const rate = dt > 0 ? ((this.#records - base.records) * 1000) / dt : 0;
    const byteRate = dt > 0 ? ((this.#bytesRead - base.bytes) * 1000) / dt : 0;
    const left = Math.max(0, this.#totalBytes - this.#bytesRead);
    return {
      records: this.#records,
      skipped: this.#skipped,
      events: this.#events,
      rejected: this.#rejected,
      bytesRead: this.#bytesRead,
      totalBytes: this.#totalBytes,
      fraction: this.#totalBytes > 0
        ? Math.min(1, this.#bytesRead / this.#totalBytes)
        : this.#done
        ? 1
        : null,
      rate,
      etaSeconds: this.#done ? 0 : byteRate > 0 ? left / byteRate : null,
      done: this.#done,
    };
  }

  /** The progress now (reads the clock). */
  progress(): ReplayProgress {
    return this.#snapshot(this.#clock.now());
  }

  /** Format, symbol, and rejections by reason with the first line of each. */
  stats(): ReplayStats {
    return {
      format: this.#format,
      symbol: this.#symbol,
      rejected: { ...this.#rejectedBy },
      firstRejected: { ...this.#firstRejected },
    };
  }
}

function parseJsonLine(line: string): LineResult {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    return {
      ok: false,
      reason: "invalid_json",
      detail: e instanceof Error ? e.message : String(e),
    };
  }
  const r = parseMarketEvent(json);
  if (!r.ok) return { ok: false, reason: "invalid_event", detail: r.reason };
  // A recording keeps the source it was made from (simulated, binance); unmarked ones are "replay".
  return { ok: true, event: { ...r.value, source: r.value.source ?? "replay" } };
}
