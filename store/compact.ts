/**
 * Batch pages: a worker batch's feature rows and their predictions in one
 * compact KV value (docs/decisions.md, "Compact batch pages"). The packed
 * pages of store/packed.ts keep every column at full width (~128 bytes an
 * event, most of it eleven float64 columns) and write rows and verdicts as
 * two KV entries; at live rates (a few events a batch) the entries' own cost
 * dominated. Here:
 *
 * - inputs stay exact: times, trade ids, window counts, prices and volumes
 *   are stored as scaled decimal integers (the fewest decimals that give the
 *   very same float64 back, at most {@linkcode MAX_DECIMALS}), each as a
 *   varint of its step from the symbol's previous value (or of the value,
 *   whichever is smaller), falling back to float64 when a value is not such a
 *   decimal (a NaN, an irrational simulated price);
 * - derived values (the nine feature columns, score and severity) are stored
 *   as float32: readers return the worker's values rounded to float32
 *   (relative error ≤ 2⁻²⁴, far below what the API prints or the model can
 *   tell apart);
 * - small integer columns (symbol, source, model, driver, flags) are varints,
 *   or one value when the whole column holds it;
 * - which rows have a prediction is a bitmap.
 *
 * Decoding gives the same in-memory {@linkcode Page} and
 * {@linkcode VerdictPage} objects as the other forms, so every reader joins
 * and decodes them the one way (store/pages.ts).
 *
 * @module
 */
import type { Page, VerdictPage } from "./pages.ts";

/** First byte of a batch page. */
export const BATCH_MAGIC = 0x42; // "B"
const FORMAT = 1;

/** Most decimals tried for an exact scaled-integer price or volume (Binance quotes ≤ 8). */
export const MAX_DECIMALS = 12;

const NONE = 0xffff;
const POW10 = Array.from({ length: MAX_DECIMALS + 1 }, (_, k) => 10 ** k);
/** Scaled integers stay below this, so their zigzag steps stay exact doubles. */
const MAX_SCALED = 2 ** 50;

/** A batch's rows and the verdicts on some of them (`ri` indexes `rows`; `rk` is empty). */
export interface BatchPage {
  v: 3;
  rows: Page;
  verdicts: VerdictPage | null;
}

/** Whether a stored value is a batch page's bytes. */
export function isBatchBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value[0] === BATCH_MAGIC;
}

// ---- bytes ------------------------------------------------------------------

/** A growable byte buffer with varints (shared by the compact encodings). */
export class Writer {
  buf: Uint8Array;
  view: DataView;
  o = 0;

  /** `size`: the bytes expected (a good guess saves the buffer's regrowths). */
  constructor(size = 1024) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  need(k: number): void {
    if (this.o + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.o + k) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.o));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.need(1);
    this.buf[this.o++] = b;
  }

  /** An unsigned integer below 2⁵³ as LEB128. */
  varint(n: number): void {
    this.need(8);
    if (n < 0x80000000) {
      // below 2³¹ the bit operators are exact (and far cheaper than % and floor)
      while (n >= 128) {
        this.buf[this.o++] = (n & 127) | 128;
        n >>>= 7;
      }
      this.buf[this.o++] = n;
      return;
    }
    while (n >= 128) {
      this.buf[this.o++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    this.buf[this.o++] = n;
  }

  bytes(b: Uint8Array): void {
    this.need(b.length);
    this.buf.set(b, this.o);
    this.o += b.length;
  }

  f64s(col: Float64Array): void {
    this.need(col.length * 8);
    for (let i = 0; i < col.length; i++) this.view.setFloat64(this.o + i * 8, col[i], true);
    this.o += col.length * 8;
  }

  f32s(col: Float64Array): void {
    this.need(col.length * 4);
    for (let i = 0; i < col.length; i++) this.view.setFloat32(this.o + i * 4, col[i], true);
    this.o += col.length * 4;
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.o);
  }
}

/** Reads what a {@linkcode Writer} wrote, refusing to read past the end. */
export class Reader {
  readonly view: DataView;
  o = 0;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  byte(): number {
    if (this.o >= this.buf.length) throw new RangeError("batch page truncated");
    return this.buf[this.o++];
  }

  varint(): number {
    let n = 0, mul = 1, b: number;
    do {
      b = this.byte();
      n += (b & 127) * mul;
      mul *= 128;
    } while (b & 128);
    return n;
  }

  /** Refuses to read past the end (a damaged value must not be misread). */
  need(k: number): void {
    if (this.o + k > this.buf.length) throw new RangeError("batch page truncated");
  }

  f64s(n: number): Float64Array {
    this.need(n * 8);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getFloat64(this.o + i * 8, true);
    this.o += n * 8;
    return out;
  }

  f32s(n: number): Float64Array {
    this.need(n * 4);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getFloat32(this.o + i * 4, true);
    this.o += n * 4;
    return out;
  }
}

/**
 * Each symbol's previous value for the step encodings, zero until set: an
 * array indexed by the symbol column's dictionary indices (small integers),
 * which costs a fraction of a `Map` lookup per value.
 */
function perSymbol(sym: ArrayLike<number>, n: number): Float64Array {
  let max = 0;
  for (let i = 0; i < n; i++) if (sym[i] > max) max = sym[i];
  return new Float64Array(max + 1);
}

const zigzag = (d: number) => d >= 0 ? d * 2 : -d * 2 - 1;
const unzigzag = (z: number) => z % 2 === 0 ? z / 2 : -(z + 1) / 2;
/** Bytes of `n` as a varint (n < 2⁵³): 7 bits a byte. */
function varintLength(n: number): number {
  if (n < 128) return 1;
  if (n < 16384) return 2;
  if (n < 2097152) return 3;
  if (n < 268435456) return 4;
  if (n < 34359738368) return 5;
  if (n < 4398046511104) return 6;
  if (n < 562949953421312) return 7;
  return 8;
}

// ---- integer columns (symbol, source, model, driver, flags, window count, row index) --------

const INT_CONST = 0, INT_EACH = 1, INT_STEP = 2, INT_BITMAP = 3, INT_RUNS = 4;

/**
 * Small non-negative integers: one value for the column, a varint each, or
 * (value, run length) pairs, whichever is smallest (flags are long runs: an
 * alert or a label breaks them now and then).
 */
function writeInts(w: Writer, col: ArrayLike<number>): void {
  let runs = 0, eachBytes = 0, runBytes = 0;
  for (let i = 0, run = 0; i < col.length; i++) {
    eachBytes += varintLength(col[i]);
    run++;
    if (i + 1 === col.length || col[i + 1] !== col[i]) {
      runs++;
      runBytes += varintLength(col[i]) + varintLength(run);
      run = 0;
    }
  }
  if (runs <= 1) {
    w.byte(INT_CONST);
    w.varint(col.length ? col[0] : 0);
    return;
  }
  if (eachBytes <= runBytes) {
    w.byte(INT_EACH);
    for (let i = 0; i < col.length; i++) w.varint(col[i]);
    return;
  }
  w.byte(INT_RUNS);
  for (let i = 0, run = 0; i < col.length; i++) {
    run++;
    if (i + 1 === col.length || col[i + 1] !== col[i]) {
      w.varint(col[i]);
      w.varint(run);
      run = 0;
    }
  }
}

/** Counters that grow per symbol (window counts): zigzag steps from the symbol's previous value. */
function writeSteps(w: Writer, col: ArrayLike<number>, sym: ArrayLike<number>): void {
  w.byte(INT_STEP);
  const prev = perSymbol(sym, col.length);
  for (let i = 0; i < col.length; i++) {
    w.varint(zigzag(col[i] - prev[sym[i]]));
    prev[sym[i]] = col[i];
  }
}

/** Increasing row indices (which rows were scored): a bitmap over the page's `n` rows. */
function writeRowIndex(w: Writer, ri: ArrayLike<number>, n: number): void {
  let increasing = true;
  for (let i = 0; i < ri.length; i++) {
    if (ri[i] >= n || (i > 0 && ri[i] <= ri[i - 1])) increasing = false;
  }
  if (!increasing) return writeInts(w, ri);
  w.byte(INT_BITMAP);
  const bits = new Uint8Array(Math.ceil(n / 8));
  for (let i = 0; i < ri.length; i++) bits[ri[i] >> 3] |= 1 << (ri[i] & 7);
  w.bytes(bits);
}

function readInts<T extends Uint8Array | Uint16Array | Uint32Array>(
  r: Reader,
  out: T,
  sym?: ArrayLike<number>,
): T {
  const tag = r.byte();
  if (tag === INT_CONST) out.fill(r.varint());
  else if (tag === INT_EACH) { for (let i = 0; i < out.length; i++) out[i] = r.varint(); }
  else if (tag === INT_RUNS) {
    for (let i = 0; i < out.length;) {
      const value = r.varint(), run = r.varint();
      if (run === 0 || i + run > out.length) throw new TypeError("batch page: bad run length");
      out.fill(value, i, i + run);
      i += run;
    }
  } else if (tag === INT_STEP && sym) {
    const prev = perSymbol(sym, out.length);
    for (let i = 0; i < out.length; i++) {
      out[i] = prev[sym[i]] + unzigzag(r.varint());
      prev[sym[i]] = out[i];
    }
  } else throw new TypeError(`batch page: integer column encoding ${tag}`);
  return out;
}

/** {@linkcode writeRowIndex}'s column back (`m` indices over `n` rows). */
function readRowIndex(r: Reader, m: number, n: number): Uint16Array {
  const tag = r.buf[r.o];
  if (tag !== INT_BITMAP) return readInts(r, new Uint16Array(m));
  r.o++;
  r.need(Math.ceil(n / 8));
  const out = new Uint16Array(m);
  let j = 0;
  for (let i = 0; i < n && j < m; i++) {
    if (r.buf[r.o + (i >> 3)] & (1 << (i & 7))) out[j++] = i;
  }
  r.o += Math.ceil(n / 8);
  if (j !== m) throw new TypeError("batch page: row bitmap does not match the predictions");
  return out;
}

// ---- exact number columns (times, trade ids, prices, volumes) ------------------------------

const NUM_F64 = 0, NUM_ABSENT = 1, NUM_STEPS = 2, NUM_VALUES = 3, NUM_STEP_RUNS = 4;

/**
 * The fewest decimals `k` such that every value is `m / 10^k` for an integer
 * `m` (the very same float64, sign of zero included), or -1.
 */
function decimalsOf(col: Float64Array): number {
  let k = 0;
  for (let i = 0; i < col.length; i++) {
    const x = col[i];
    if (!Number.isFinite(x)) return -1;
    while (!exactAt(x, k)) if (++k > MAX_DECIMALS) return -1;
  }
  return k;
}

function exactAt(x: number, k: number): boolean {
  if (Object.is(x, -0)) return false; // a varint has no −0
  const m = Math.round(x * POW10[k]);
  return Math.abs(m) < MAX_SCALED && Object.is(m / POW10[k], x);
}

/**
 * A float64 column that must come back bit for bit: scaled decimal integers
 * (varint steps from the symbol's previous value, the same as (step, run)
 * pairs, or varint values: the smallest), all absent (NaN), or float64 as
 * is. Runs pay off for regular steps: consecutive trade ids of a symbol,
 * a simulator's fixed tick.
 */
export function writeExact(w: Writer, col: Float64Array, sym: ArrayLike<number>): void {
  if (col.every((x) => Number.isNaN(x))) return w.byte(NUM_ABSENT);
  const k = decimalsOf(col);
  if (k < 0) {
    w.byte(NUM_F64);
    return w.f64s(col);
  }
  const scaled = new Float64Array(col.length);
  for (let i = 0; i < col.length; i++) scaled[i] = Math.round(col[i] * POW10[k]);
  const steps = new Float64Array(col.length);
  const prev = perSymbol(sym, col.length);
  let stepBytes = 0, valueBytes = 0, runBytes = 0;
  for (let i = 0; i < col.length; i++) {
    steps[i] = zigzag(scaled[i] - prev[sym[i]]);
    prev[sym[i]] = scaled[i];
    scaled[i] = zigzag(scaled[i]);
    stepBytes += varintLength(steps[i]);
    valueBytes += varintLength(scaled[i]);
  }
  for (let i = 0, run = 0; i < steps.length; i++) {
    run++;
    if (i === steps.length - 1 || steps[i + 1] !== steps[i]) {
      runBytes += varintLength(steps[i]) + varintLength(run);
      run = 0;
    }
  }
  if (runBytes < stepBytes && runBytes < valueBytes) {
    w.byte(NUM_STEP_RUNS);
    w.byte(k);
    for (let i = 0, run = 0; i < steps.length; i++) {
      run++;
      if (i === steps.length - 1 || steps[i + 1] !== steps[i]) {
        w.varint(steps[i]);
        w.varint(run);
        run = 0;
      }
    }
    return;
  }
  const useSteps = stepBytes < valueBytes;
  w.byte(useSteps ? NUM_STEPS : NUM_VALUES);
  w.byte(k);
  const out = useSteps ? steps : scaled;
  for (let i = 0; i < out.length; i++) w.varint(out[i]);
}

/** {@linkcode writeExact}'s column back. */
export function readExact(r: Reader, n: number, sym: ArrayLike<number>): Float64Array {
  const tag = r.byte();
  if (tag === NUM_F64) return r.f64s(n);
  const out = new Float64Array(n);
  if (tag === NUM_ABSENT) return out.fill(NaN);
  if (tag !== NUM_STEPS && tag !== NUM_VALUES && tag !== NUM_STEP_RUNS) {
    throw new TypeError(`batch page: number column encoding ${tag}`);
  }
  const p = POW10[r.byte()];
  const prev = perSymbol(sym, n);
  let runLeft = 0, runStep = 0;
  for (let i = 0; i < n; i++) {
    let m: number;
    if (tag === NUM_STEP_RUNS) {
      if (runLeft === 0) {
        runStep = r.varint();
        runLeft = r.varint();
        if (runLeft === 0 || i + runLeft > n) throw new TypeError("batch page: bad run length");
      }
      runLeft--;
      m = unzigzag(runStep);
    } else m = unzigzag(r.varint());
    if (tag !== NUM_VALUES) {
      m += prev[sym[i]];
      prev[sym[i]] = m;
    }
    out[i] = m / p;
  }
  return out;
}

// ---- pages ------------------------------------------------------------------

const HAS_RF = 1, HAS_VERDICTS = 2, ROBUST_VERDICTS = 4, HAS_DRIVER = 8;

/**
 * A batch's row page and the verdict page over it (`verdicts.ri` indexes
 * `rows`; its `rk` is ignored) → one value. Exact for every input column;
 * float32 for the derived ones (module doc).
 */
export function packBatch(rows: Page, verdicts: VerdictPage | null): Uint8Array {
  if (!rows.wc) throw new TypeError("not a page of feature rows");
  // ~48 bytes a row with verdicts (measured): one allocation in the common case
  const w = new Writer(256 + rows.n * 64);
  const v = verdicts && verdicts.n > 0 ? verdicts : null;
  // One dictionary: the rows', then the verdicts' strings they lack.
  const dict = [...rows.dict];
  const remap = (v?.dict ?? []).map((s) => {
    const i = dict.indexOf(s);
    return i >= 0 ? i : dict.push(s) - 1;
  });
  w.byte(BATCH_MAGIC);
  w.byte(FORMAT);
  w.varint(rows.n);
  w.varint(v?.n ?? 0);
  w.byte(
    (rows.rf ? HAS_RF : 0) | (v ? HAS_VERDICTS : 0) | (v?.robust ? ROBUST_VERDICTS : 0) |
      (v?.drv ? HAS_DRIVER : 0),
  );
  w.varint(dict.length);
  const enc = new TextEncoder();
  for (const s of dict) {
    const b = enc.encode(s);
    w.varint(b.length);
    w.bytes(b);
  }
  // loops, not TypedArray.from with a map function (several times slower in V8)
  const src = new Uint16Array(rows.n);
  for (let i = 0; i < rows.n; i++) src[i] = rows.src[i] === NONE ? 0 : rows.src[i] + 1;
  writeInts(w, rows.sym);
  writeInts(w, src);
  writeExact(w, rows.ts, rows.sym);
  writeExact(w, rows.trade, rows.sym);
  writeExact(w, rows.price, rows.sym);
  writeExact(w, rows.volume, rows.sym);
  writeSteps(w, rows.wc, rows.sym);
  writeInts(w, rows.flags);
  w.f32s(rows.f);
  if (rows.rf) w.f32s(rows.rf);
  if (v) {
    writeRowIndex(w, v.ri, rows.n);
    w.f32s(v.score);
    w.f32s(v.severity);
    const model = new Uint16Array(v.n);
    for (let i = 0; i < v.n; i++) model[i] = remap[v.model[i]];
    writeInts(w, model);
    if (v.drv) {
      const drv = new Uint16Array(v.n);
      for (let i = 0; i < v.n; i++) drv[i] = v.drv[i] === NONE ? 0 : remap[v.drv[i]] + 1;
      writeInts(w, drv);
    }
    writeInts(w, v.flags);
  }
  return w.done();
}

/** {@linkcode packBatch}'s bytes → the row page and the verdicts over it. */
export function unpackBatch(bytes: Uint8Array): BatchPage {
  const r = new Reader(bytes);
  if (r.byte() !== BATCH_MAGIC) throw new TypeError("not a batch page");
  const format = r.byte();
  if (format !== FORMAT) throw new TypeError(`batch page format ${format} is not known`);
  const n = r.varint();
  const m = r.varint();
  const bits = r.byte();
  const dec = new TextDecoder();
  const dict: string[] = new Array(r.varint());
  for (let i = 0; i < dict.length; i++) {
    const len = r.varint();
    r.need(len);
    dict[i] = dec.decode(bytes.subarray(r.o, r.o + len));
    r.o += len;
  }
  const sym = readInts(r, new Uint16Array(n));
  const src = readInts(r, new Uint16Array(n)).map((x) => x === 0 ? NONE : x - 1);
  const ts = readExact(r, n, sym);
  const trade = readExact(r, n, sym);
  const price = readExact(r, n, sym);
  const volume = readExact(r, n, sym);
  const wc = readInts(r, new Uint32Array(n), sym);
  const flags = readInts(r, new Uint8Array(n));
  const f = r.f32s(n * 5);
  const rows: Page = { v: 1, n, dict, sym, src, ts, price, volume, f, trade, flags, wc };
  if (bits & HAS_RF) rows.rf = r.f32s(n * 4);
  let verdicts: VerdictPage | null = null;
  if (bits & HAS_VERDICTS) {
    const ri = readRowIndex(r, m, n);
    const score = r.f32s(m);
    const severity = r.f32s(m);
    const model = readInts(r, new Uint16Array(m));
    const drv = bits & HAS_DRIVER
      ? readInts(r, new Uint16Array(m)).map((x) => x === 0 ? NONE : x - 1)
      : undefined;
    verdicts = {
      v: 2,
      n: m,
      dict,
      rk: [],
      ri,
      score,
      severity,
      model,
      flags: readInts(r, new Uint8Array(m)),
      robust: (bits & ROBUST_VERDICTS) !== 0,
    };
    if (drv) verdicts.drv = drv;
  }
  if (r.o !== bytes.length) throw new TypeError("batch page: trailing bytes");
  return { v: 3, rows, verdicts };
}
