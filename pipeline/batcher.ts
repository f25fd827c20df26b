/**
 * Groups a stream of items into batches: a batch closes when it holds
 * `maxSize` items or `maxWaitMs` after its first item, whichever comes first,
 * so throughput comes from batching and latency stays bounded at low rates.
 *
 * @module
 */

/** Options of {@linkcode batched}. */
export interface BatchOptions {
  maxSize: number;
  maxWaitMs: number;
}

/**
 * @example
 * ```ts
 * import { batched } from "./batcher.ts";
 * async function* three() { yield 1; yield 2; yield 3; }
 * const out = [];
 * for await (const b of batched(three(), { maxSize: 2, maxWaitMs: 50 })) out.push(b);
 * console.log(out); // [[1, 2], [3]]
 * ```
 */
export async function* batched<T>(
  source: AsyncIterable<T> | Iterable<T>,
  o: BatchOptions,
): AsyncGenerator<T[]> {
  const iter = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : toAsync((source as Iterable<T>)[Symbol.iterator]());
  let pending: Promise<IteratorResult<T>> | null = null;
  let buf: T[] = [];
  let deadline = 0;
  try {
    while (true) {
      pending ??= iter.next();
      let r: IteratorResult<T> | "timeout";
      if (buf.length === 0) r = await pending;
      else {
        const remaining = deadline - Date.now();
        if (remaining <= 0) r = "timeout";
        else {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const timeout = new Promise<"timeout">((res) => {
            timer = setTimeout(() => res("timeout"), remaining);
          });
          r = await Promise.race([pending, timeout]);
          clearTimeout(timer);
        }
      }
      if (r === "timeout") {
        const out = buf;
        buf = [];
        yield out;
        continue;
      }
      pending = null;
      if (r.done) {
        if (buf.length) yield buf;
        return;
      }
      if (buf.length === 0) deadline = Date.now() + o.maxWaitMs;
      buf.push(r.value);
      if (buf.length >= o.maxSize) {
        const out = buf;
        buf = [];
        yield out;
      }
    }
  } finally {
    await iter.return?.();
  }
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return {
    next: () => Promise.resolve(it.next()),
    return: () => Promise.resolve(it.return?.() ?? { done: true, value: undefined }),
  };
}
