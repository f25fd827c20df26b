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
export async function* batched<T>(
  source: AsyncIterable<T> | Iterable<T>,
  o: BatchOptions,
): AsyncGenerator<T[]> {
  const iter = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : toAsync((source as Iterable<T>)[Symbol.iterator]());
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

  const produce = async () => {
    let lastTurn = performance.now();
    let k = 0;
    try {
      while (!stopped) {
        const r = await iter.next();
        if (r.done || stopped) break;
        buf.push(r.value);
        if (buf.length === 1) timer = setTimeout(onDue, o.maxWaitMs);
        if (buf.length >= o.maxSize) {
          clearTimeout(timer);
          timer = undefined;
          due = false;
          ready.push(buf);
          buf = [];
          signalConsumer();
          while (ready.length > 0 && !stopped) {
            await new Promise<void>((r) => wakeProducer = r);
          }
        }
        if ((++k & 255) === 0 && performance.now() - lastTurn >= YIELD_EVERY_MS) {
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
