/**
 * Grouping by key, the one loop the evaluation, the calibration stages and
 * the incident reports all need (per symbol, mostly). Pure.
 *
 * @module
 */

/**
 * The items of each key, in input order; the keys in first-seen order.
 *
 * @example
 * ```ts
 * import { groupBy } from "./group.ts";
 * const g = groupBy([{ s: "B", t: 1 }, { s: "A", t: 2 }, { s: "B", t: 3 }], (x) => x.s);
 * console.log([...g.keys()], g.get("B")!.map((x) => x.t)); // ["B", "A"] [1, 3]
 * ```
 */
export function groupBy<T, K>(items: Iterable<T>, key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const l = out.get(k);
    if (l === undefined) out.set(k, [item]);
    else l.push(item);
  }
  return out;
}
