/**
 * A small, fast, seeded random source (xoshiro128** seeded by splitmix32).
 * Everything random in Sentinel (the simulator, the forest) takes one of
 * these, so the same seed gives the same stream and the same model.
 *
 * @module
 */

/** A generator's state: four 32-bit words and a cached normal deviate. */
export interface RandomState {
  s: [number, number, number, number];
  spare: number | null;
}

/** A seeded random number generator. */
export class Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spareNormal: number | null = null;

  /**
   * @example
   * ```ts
   * import { Random } from "./random.ts";
   * const a = new Random(42), b = new Random(42);
   * console.log(a.float() === b.float()); // true
   * ```
   */
  constructor(seed: number) {
    let x = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    const next = () => {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** The generator's whole state, to persist a stream and continue it later. */
  state(): RandomState {
    return { s: [this.#s0, this.#s1, this.#s2, this.#s3], spare: this.#spareNormal };
  }

  /**
   * A generator that continues exactly where {@linkcode Random.state} was taken.
   *
   * @example
   * ```ts
   * import { Random } from "./random.ts";
   * const a = new Random(1);
   * a.float();
   * const b = Random.fromState(a.state());
   * console.log(a.float() === b.float()); // true
   * ```
   */
  static fromState(state: RandomState): Random {
    const r = new Random(0);
    const [s0, s1, s2, s3] = state.s.map((x) => x >>> 0);
    if ((s0 | s1 | s2 | s3) === 0) throw new RangeError("random state must not be all zero");
    r.#s0 = s0;
    r.#s1 = s1;
    r.#s2 = s2;
    r.#s3 = s3;
    r.#spareNormal = state.spare;
    return r;
  }

  /** Next 32 random bits as an unsigned integer. */
  uint32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const r = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    let n2 = (s2 ^ s0) >>> 0;
    let n3 = (s3 ^ s1) >>> 0;
    const n1 = (s1 ^ n2) >>> 0;
    const n0 = (s0 ^ n3) >>> 0;
    n2 = (n2 ^ t) >>> 0;
    n3 = rotl(n3, 11);
    this.#s0 = n0;
    this.#s1 = n1;
    this.#s2 = n2;
    this.#s3 = n3;
    return r;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  float(): number {
    const hi = this.uint32() >>> 5; // 27 bits
    const lo = this.uint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Box–Muller, the spare value cached). */
  normal(): number {
    if (this.#spareNormal !== null) {
      const v = this.#spareNormal;
      this.#spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.float();
    const v = this.float();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles an array in place (Fisher–Yates) and returns it. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
