/**
 * The evaluation's event source: the simulator (the seed profile's
 * `Simulator`, or a realistic profile of ingest/simulate.ts) over a fixed
 * span from {@linkcode SIMULATED_START_MS}, or a recorded file through
 * `ReplaySource` at full speed. Either way every event goes to one callback,
 * in stream order, with progress on the sink.
 *
 * @module
 */
import type { MarketEvent } from "../lib/contracts.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { formatReplayProgress, ReplaySource } from "../ingest/replay.ts";
import { simulateEvents } from "../ingest/simulate.ts";
import { compact } from "./eval_markdown.ts";
import {
  type EvalOptions,
  HOUR_MS,
  type ProgressSink,
  SIMULATED_START_MS,
} from "./eval_options.ts";

/**
 * Streams the run's events into `push`: simulated when `o.file` is null
 * (`o.hours` from {@linkcode SIMULATED_START_MS}), else the recorded file.
 */
export async function streamEvents(
  o: EvalOptions,
  progress: ProgressSink,
  push: (e: MarketEvent) => void,
): Promise<void> {
  const passStart = performance.now();
  let events = 0;
  if (o.file === null) {
    const stepMs = o.frequencySeconds * 1000;
    const endMs = SIMULATED_START_MS + o.hours * HOUR_MS;
    const total = o.symbols.length * Math.ceil((endMs - SIMULATED_START_MS) / stepMs);
    const sim = new Simulator({
      symbols: o.symbols,
      seed: o.seed,
      anomalyProbability: o.anomalyProbability,
    });
    const profile = o.profile ?? "seed";
    const simulated = profile === "seed"
      ? simulatedEvents(sim, { startMs: SIMULATED_START_MS, stepMs, endMs })
      : simulateEvents({
        profile,
        seed: o.seed,
        symbols: o.symbols,
        startMs: SIMULATED_START_MS,
        endMs,
        anomalyProbability: o.anomalyProbability,
      });
    let nextReport = performance.now() + 1000;
    for (const e of simulated) {
      push(e);
      events++;
      if ((events & 0x3fff) === 0 && performance.now() >= nextReport) {
        const secs = (performance.now() - passStart) / 1000;
        const rate = events / secs;
        progress(
          profile === "seed"
            ? `eval: ${compact(events)}/${compact(total)} events, ${compact(rate)}/s, ` +
              `ETA ${Math.ceil((total - events) / rate)}s`
            : `eval: ${compact(events)} events (${profile}), ${compact(rate)}/s`,
        );
        nextReport = performance.now() + 1000;
      }
    }
  } else {
    const replay = new ReplaySource({
      path: o.file,
      symbols: o.symbols,
      symbol: o.fileSymbol,
      speed: "max",
      logger: { info: (m) => progress(m, true), warn: (m) => progress(`warning: ${m}`, true) },
      onProgress: (p) => progress(`eval: ${formatReplayProgress(p)}`, p.done),
    });
    for await (const { event } of replay.events()) push(event);
    const rejected = Object.values(replay.stats().rejected).reduce((a, b) => a + (b ?? 0), 0);
    if (rejected > 0) progress(`eval: ${rejected} malformed line(s) skipped`, true);
  }
}
