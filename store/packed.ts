/**
 * Pages as bytes: how row and prediction pages are stored in Deno KV. A page
 * object of typed arrays costs ~100 bytes of V8 serialization overhead
 * (property names, typed-array headers); one `Uint8Array` with a small header
 * does not, which matters for live traffic's few-event batches
 * (docs/decisions.md, "Storage and throughput").
 *
 * @module
 */
import { isVerdictPage, type Page, type VerdictPage } from "./pages.ts";

type Column = readonly [
  name: string,
  make:
    | Float64ArrayConstructor
    | Uint32ArrayConstructor
    | Uint16ArrayConstructor
    | Uint8ArrayConstructor,
  perRecord: number,
];

/** Every column a page may have, in their packed order. */
const COLUMNS: readonly Column[] = [
  ["ts", Float64Array, 1],
  ["price", Float64Array, 1],
  ["volume", Float64Array, 1],
  ["f", Float64Array, 5],
  ["trade", Float64Array, 1],
  ["rf", Float64Array, 4],
  ["score", Float64Array, 1],
  ["severity", Float64Array, 1],
  ["wc", Uint32Array, 1],
  ["sym", Uint16Array, 1],
  ["src", Uint16Array, 1],
  ["drv", Uint16Array, 1],
  ["model", Uint16Array, 1],
  ["ri", Uint16Array, 1],
  ["flags", Uint8Array, 1],
];

const PACKED = 0x53; // "S"

/**
 * A page as one `Uint8Array`: a small header (kind, record count, a bitmask
 * of the columns present, the dictionary, a verdict page's row keys), then
 * the columns' bytes, each aligned to its element size. The values are the
 * page's own, bit for bit; what goes away is the V8 serialization's
 * per-property and per-typed-array overhead (~300 bytes a page), which
 * dominated live traffic's small batches (docs/decisions.md).
 */
export function packPage(p: Page | VerdictPage): Uint8Array {
  const enc = new TextEncoder();
  const rec = p as unknown as Record<string, ArrayBufferView | undefined>;
  let mask = 0;
  COLUMNS.forEach(([name], i) => {
    if (rec[name] !== undefined) mask |= 1 << i;
  });
  // Times and trade ids are integers close to each other: stored as int32 steps from the first.
  const deltas = DELTA_COLUMNS.map((name) => deltaBase(rec[name] as Float64Array | undefined));
  const strings = [...p.dict, ...(isVerdictPage(p) ? p.rk.map((k) => JSON.stringify(k)) : [])]
    .map((s) => enc.encode(s));
  let head = 1 + 1 + 4 + 4 + 2 + 1 + 1 + 1; // magic, kind, n, mask, dict count, rk count, robust, delta bits
  for (const d of deltas) if (d !== null) head += 8;
  for (const s of strings) head += 4 + s.length;
  let size = head;
  for (const [name, make] of COLUMNS) {
    const col = rec[name];
    if (col === undefined) continue;
    const k = DELTA_COLUMNS.indexOf(name);
    if (k >= 0 && deltas[k] !== null) size = align(size, 4) + 4 * p.n;
    else size = align(size, make.BYTES_PER_ELEMENT) + col.byteLength;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let o = 0;
  out[o++] = PACKED;
  out[o++] = isVerdictPage(p) ? 2 : 1;
  view.setUint32(o, p.n, true);
  view.setUint32(o + 4, mask, true);
  view.setUint16(o + 8, p.dict.length, true);
  o += 10;
  out[o++] = isVerdictPage(p) ? p.rk.length : 0;
  out[o++] = isVerdictPage(p) && p.robust ? 1 : 0;
  out[o++] = deltas.reduce((bits: number, d, k) => d === null ? bits : bits | (1 << k), 0);
  for (const d of deltas) {
    if (d === null) continue;
    view.setFloat64(o, d, true);
    o += 8;
  }
  for (const s of strings) {
    view.setUint32(o, s.length, true);
    out.set(s, o + 4);
    o += 4 + s.length;
  }
  for (const [name, make] of COLUMNS) {
    const col = rec[name];
    if (col === undefined) continue;
    const k = DELTA_COLUMNS.indexOf(name);
    if (k >= 0 && deltas[k] !== null) {
      o = align(o, 4);
      const src = col as Float64Array;
      for (let i = 0; i < p.n; i++) view.setInt32(o + 4 * i, src[i] - deltas[k]!, true);
      o += 4 * p.n;
      continue;
    }
    o = align(o, make.BYTES_PER_ELEMENT);
    out.set(new Uint8Array(col.buffer, col.byteOffset, col.byteLength), o);
    o += col.byteLength;
  }
  return out;
}

/** Columns stored as int32 steps from their first value when they can be, exactly. */
const DELTA_COLUMNS = ["ts", "trade"];

/** The first value when every value is an integer within ±2³¹ of it (null: store as is). */
function deltaBase(col: Float64Array | undefined): number | null {
  if (col === undefined || col.length === 0) return null;
  const base = col[0];
  if (!Number.isInteger(base)) return null;
  for (let i = 0; i < col.length; i++) {
    const d = col[i] - base;
    if (!Number.isInteger(col[i]) || Object.is(col[i], -0) || d < -0x80000000 || d > 0x7fffffff) {
      return null;
    }
  }
  return base;
}

/** {@linkcode packPage}'s bytes → the page (its columns are views of a copy of the bytes). */
export function unpackPage(bytes: Uint8Array): Page | VerdictPage {
  if (bytes[0] !== PACKED) throw new TypeError("not a packed page");
  const buf = bytes.slice(); // aligned, and independent of the caller's buffer
  const view = new DataView(buf.buffer);
  const dec = new TextDecoder();
  const kind = buf[1];
  const n = view.getUint32(2, true);
  const mask = view.getUint32(6, true);
  const dictCount = view.getUint16(10, true);
  const rkCount = buf[12];
  const robust = buf[13] === 1;
  const deltaBits = buf[14];
  let o = 15;
  const bases: (number | null)[] = DELTA_COLUMNS.map((_, k) => {
    if ((deltaBits & (1 << k)) === 0) return null;
    const b = view.getFloat64(o, true);
    o += 8;
    return b;
  });
  const strings: string[] = [];
  for (let i = 0; i < dictCount + rkCount; i++) {
    const len = view.getUint32(o, true);
    strings.push(dec.decode(buf.subarray(o + 4, o + 4 + len)));
    o += 4 + len;
  }
  const page: Record<string, unknown> = {
    v: kind === 2 ? 2 : 1,
    n,
    dict: strings.slice(0, dictCount),
  };
  if (kind === 2) {
    page.rk = strings.slice(dictCount).map((s) => JSON.parse(s));
    page.robust = robust;
  }
  COLUMNS.forEach(([name, make, per], i) => {
    if ((mask & (1 << i)) === 0) return;
    const k = DELTA_COLUMNS.indexOf(name);
    const base = k >= 0 ? bases[k] : null;
    if (base !== null) {
      o = align(o, 4);
      const col = new Float64Array(n);
      for (let j = 0; j < n; j++) col[j] = base + view.getInt32(o + 4 * j, true);
      page[name] = col;
      o += 4 * n;
      return;
    }
    o = align(o, make.BYTES_PER_ELEMENT);
    page[name] = new make(buf.buffer, o, n * per);
    o += n * per * make.BYTES_PER_ELEMENT;
  });
  return page as unknown as Page | VerdictPage;
}

/** A stored page value, packed or not (pages written before packing are objects). */
export function pageOf(value: Page | VerdictPage | Uint8Array): Page | VerdictPage {
  return value instanceof Uint8Array ? unpackPage(value) : value;
}

function align(o: number, k: number): number {
  return Math.ceil(o / k) * k;
}
