/**
 * Groups a stream of items into batches: a batch closes when it holds
 * `maxSize` items or `maxWaitMs` after its first item, whichever comes first,
 * so throughput comes from batching and latency stays bounded at low rates.
 *
 * Why a pump rather than racing each item against a timer: one `setTimeout`
 * + `Promise.race` + `clearTimeout` per item cost 16 % of the worker's main
 * thread at full speed (docs/decisions.md, "Throughput: batcher and
 * pipelining"). Here a producer loop pulls the source into the forming batch
 * with no per-item promise of its own, arms one timer per batch, and reads
 * ahead by at most one full batch while the consumer works on the previous
 * one. It also yields to the event loop explicitly (a macrotask every
 * {@linkcode YIELD_EVERY_MS} of busy pulling): a source and a consumer that
 * never wait for I/O would otherwise starve every timer of the process.
 * {@linkcode batchedChunks} takes a source that yields arrays (a tick of the
 * simulator, a slice of a backfill): one await per chunk rather than one per
 * item, which is most of what a fast source costs (docs/decisions.md,
 * "Throughput and memory, third round").
 *
 * @module
 */

/** Options of {@linkcode batched}. */
export interface BatchOptions {
  maxSize: number;
  maxWaitMs: number;
}

/** The longest the producer pulls without letting timers and I/O run, ms. */
export const YIELD_EVERY_MS = 20;

/** A macrotask turn: timers and I/O callbacks get to run. */
function nextTurn(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
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
export function batched<T>(
  source: AsyncIterable<T> | Iterable<T>,
  o: BatchOptions,
): AsyncGenerator<T[]> {
  const iter = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : toAsync((source as Iterable<T>)[Symbol.iterator]());
  return pump(iter, false, o);
}

/**
 * {@linkcode batched} for a source of chunks: each chunk's items join the
 * forming batch in order (a chunk may end one batch and start the next), so
 * the batches are exactly those of `batched` over the flattened items but
 * for the timing of time-closed ones.
 *
 * @example
 * ```ts
 * import { batchedChunks } from "./batcher.ts";
 * async function* chunks() { yield [1, 2, 3]; yield [4]; }
 * const out = [];
 * for await (const b of batchedChunks(chunks(), { maxSize: 2, maxWaitMs: 50 })) out.push(b);
 * console.log(out); // [[1, 2], [3, 4]]
 * ```
 */
export function batchedChunks<T>(
  source: AsyncIterable<readonly T[]>,
  o: BatchOptions,
): AsyncGenerator<T[]> {
  return pump(source[Symbol.asyncIterator](), true, o);
}

/**
 * A source's events in batches: through its chunks when it has them
 * ({@linkcode batchedChunks}), else one event at a time ({@linkcode batched}).
 */
export function sourceBatches<T>(
  source: {
    events(signal: AbortSignal, startOffset: number): AsyncIterable<T>;
    chunks?(signal: AbortSignal, startOffset: number): AsyncIterable<readonly T[]>;
  },
  signal: AbortSignal,
  startOffset: number,
  o: BatchOptions,
): AsyncGenerator<T[]> {
  return source.chunks
    ? batchedChunks(source.chunks(signal, startOffset), o)
    : batched(source.events(signal, startOffset), o);
}

async function* pump<T>(
  iter: AsyncIterator<T | readonly T[]>,
  chunked: boolean,
  o: BatchOptions,
): AsyncGenerator<T[]> {
  /** full batches waiting for the consumer (at most one before the producer waits) */
  const ready: T[][] = [];
  let buf: T[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let due = false;
  let ended = false;
  let failure: { error: unknown } | null = null;
  let stopped = false;
  let wakeConsumer: (() => void) | null = null;
  let wakeProducer: (() => void) | null = null;
  const signalConsumer = () => {
    const w = wakeConsumer;
    wakeConsumer = null;
    w?.();
  };
  const signalProducer = () => {
    const w = wakeProducer;
    wakeProducer = null;
    w?.();
  };
  const onDue = () => {
    timer = undefined;
    due = true;
    signalConsumer();
  };

  /** Adds one item; true when that filled the batch (handed over: wait for the consumer). */
  const push = (item: T): boolean => {
    buf.push(item);
    if (buf.length === 1) timer = setTimeout(onDue, o.maxWaitMs);
    if (buf.length < o.maxSize) return false;
    clearTimeout(timer);
    timer = undefined;
    due = false;
    ready.push(buf);
    buf = [];
    signalConsumer();
    return true;
  };
  const taken = async () => {
    while (ready.length > 0 && !stopped) await new Promise<void>((r) => wakeProducer = r);
  };

  const produce = async () => {
    let lastTurn = performance.now();
    let k = 0;
    try {
      while (!stopped) {
        const r = await iter.next();
        if (r.done || stopped) break;
        const before = k;
        if (chunked) {
          const chunk = r.value as readonly T[];
          for (let i = 0; i < chunk.length && !stopped; i++) if (push(chunk[i])) await taken();
          k += chunk.length;
        } else {
          if (push(r.value as T)) await taken();
          k++;
        }
        // every 256 items, a look at the clock
        if (k >>> 8 !== before >>> 8 && performance.now() - lastTurn >= YIELD_EVERY_MS) {
          await nextTurn();
          lastTurn = performance.now();
        }
      }
    } catch (e) {
      failure = { error: e };
    } finally {
      ended = true;
      signalConsumer();
    }
  };

  const take = (): T[] | null => {
    if (ready.length > 0) {
      const out = ready.shift()!;
      signalProducer();
      return out;
    }
    if (buf.length > 0 && (due || ended)) {
      const out = buf;
      buf = [];
      clearTimeout(timer);
      timer = undefined;
      due = false;
      return out;
    }
    return null;
  };

  const producing = produce();
  try {
    while (true) {
      const b = take();
      if (b) {
        yield b;
        continue;
      }
      if (ended) {
        if (failure) throw (failure as { error: unknown }).error;
        return;
      }
      await new Promise<void>((r) => wakeConsumer = r);
    }
  } finally {
    stopped = true;
    clearTimeout(timer);
    signalProducer();
    await iter.return?.();
    await producing;
  }
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return {
    next: () => Promise.resolve(it.next()),
    return: () => Promise.resolve(it.return?.() ?? { done: true, value: undefined }),
  };
}
