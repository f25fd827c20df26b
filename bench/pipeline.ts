/**
 * End-to-end pipeline benchmark (`deno task bench:pipeline`): the real
 * Sentinel wiring (source → features → scoring → one KV atomic per batch)
 * on a temporary KV file, with a model active from the first event so every
 * event is scored and persisted.
 *
 *   deno task bench:pipeline                      # throughput (1M events), latency at 5 000 ev/s, Kafka (500k)
 *   deno task bench:pipeline --events=10000000    # the 10-million-event memory run
 *   deno task bench:pipeline --only=throughput|latency|kafka
 *   (the Kafka run needs KAFKA_BROKERS, e.g. $(bash tests/kafka/broker.sh start))
 *
 * Prints progress, then a JSON summary, also written to bench/results/pipeline.json.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseConfig } from "../config.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { Store } from "../store/kv.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { trainBundle } from "../model/train.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    events: { type: "string", default: "1000000" },
    rate: { type: "string", default: "5000" },
    seconds: { type: "string", default: "20" },
    "kafka-events": { type: "string", default: "500000" },
    only: { type: "string" },
  },
});

const SYMBOLS = ["BTC-USDT", "ETH-USDT", "BNB-USDT"];

async function prepare(path: string, env: Record<string, string>) {
  const config = parseConfig({
    KV_PATH: path,
    RETRAIN_INTERVAL: "off",
    BACKFILL_SECONDS: "0",
    SIM_PROFILE: "seed",
    ...env,
  });
  // A model trained on the default simulated stream, active before the first event.
  const sim = new Simulator({ symbols: SYMBOLS, seed: 1, anomalyProbability: 0.01 });
  const engine = new FeatureEngine(config);
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 3_600_000 })]
    .map((e) => engine.update(e));
  const bundle = trainBundle(rows, { id: "bench", createdAt: new Date().toISOString(), seed: 1 });
  const store = await Store.open(path, { retentionMs: config.retentionSeconds * 1000 });
  await store.saveBundle(bundle);
  await store.activate(bundle.id, new Date().toISOString());
  store.close();
  return config;
}

function fastClock(): Clock {
  let t = Date.now();
  return { now: () => t, sleep: (ms) => (t += ms, Promise.resolve()) };
}

const mb = (b: number) => Math.round(b / 1048576);

async function throughput(events: number, label: string, env: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-bench-" });
  try {
    const config = await prepare(`${dir}/kv.sqlite`, { EVENT_FREQUENCY_SECONDS: "0.01", ...env });
    const store = await Store.open(config.kvPath, { retentionMs: 86_400_000 });
    const clock = fastClock();
    const source = await SimulatedSource.open(config, store, memoryLogger(), clock);
    store.close();
    const t0 = performance.now();
    const s = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(),
      source,
      reportEveryMs: 0,
      clock,
    });
    let last = { n: 0, t: t0 };
    let peakRss = 0;
    while (true) {
      await new Promise((r) => setTimeout(r, 1000));
      const n = s.metrics.rows.total();
      const now = performance.now();
      const rss = Deno.memoryUsage().rss;
      peakRss = Math.max(peakRss, rss);
      if (now - last.t >= 5000 || n >= events) {
        console.error(
          `${label}: ${n.toLocaleString("en")} / ${events.toLocaleString("en")} events, ` +
            `${Math.round((n - last.n) / ((now - last.t) / 1000))}/s now, RSS ${mb(rss)} MB`,
        );
        last = { n, t: now };
      }
      if (n >= events) break;
    }
    const n = s.metrics.rows.total();
    const seconds = (performance.now() - t0) / 1000;
    const preds = s.metrics.predictions.total();
    const rss = Deno.memoryUsage().rss;
    await s.stop();
    const kvBytes = [...Deno.readDirSync(dir)].reduce(
      (a, f) => a + Deno.statSync(`${dir}/${f.name}`).size,
      0,
    );
    return {
      events: n,
      predictions_persisted: preds,
      seconds: +seconds.toFixed(2),
      events_per_second: Math.round(n / seconds),
      rss_mb_at_end: mb(rss),
      rss_mb_peak: mb(Math.max(peakRss, rss)),
      kv_file_mb: mb(kvBytes),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function latency(rate: number, seconds: number) {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-bench-" });
  try {
    // One tick emits one event per symbol: ticks every 3/rate s give `rate` events/s.
    const config = await prepare(`${dir}/kv.sqlite`, {
      EVENT_FREQUENCY_SECONDS: String(SYMBOLS.length / rate),
    });
    const store = await Store.open(config.kvPath, { retentionMs: 86_400_000 });
    const source = await SimulatedSource.open(config, store, memoryLogger(), systemClock);
    store.close();
    const s = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(),
      source,
      reportEveryMs: 0,
    });
    // Warm up for 2 s, then measure.
    await new Promise((r) => setTimeout(r, 2000));
    s.metrics.latencySamples = [];
    const n0 = s.metrics.rows.total();
    const t0 = performance.now();
    for (let i = 0; i < seconds; i += 5) {
      await new Promise((r) => setTimeout(r, Math.min(5, seconds - i) * 1000));
      console.error(`latency: ${Math.min(i + 5, seconds)}/${seconds} s`);
    }
    const samples = s.metrics.latencySamples.slice().sort((a, b) => a - b);
    const achieved = (s.metrics.rows.total() - n0) / ((performance.now() - t0) / 1000);
    await s.stop();
    const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
    return {
      target_rate: rate,
      achieved_rate: Math.round(achieved),
      samples: samples.length,
      p50_ms: q(0.5),
      p90_ms: q(0.9),
      p99_ms: q(0.99),
      max_ms: samples[samples.length - 1],
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Deno refuses to read /proc without --allow-all; ask grep instead. */
async function cpuModel(): Promise<string> {
  const out = await new Deno.Command("grep", { args: ["-m1", "model name", "/proc/cpuinfo"] })
    .output().catch(() => null);
  return out ? new TextDecoder().decode(out.stdout).replace(/^.*:\s*/, "").trim() : "unknown";
}

const machine = {
  cpus: navigator.hardwareConcurrency,
  cpu_model: await cpuModel(),
  memory_gb: Math.round(Deno.systemMemoryInfo().total / 1073741824),
  deno: Deno.version.deno,
};
const result: Record<string, unknown> = { machine, at: new Date().toISOString() };
if (!args.only || args.only === "throughput") {
  result.embedded_throughput = await throughput(Number(args.events), "embedded");
}
if (!args.only || args.only === "kafka") {
  const brokers = Deno.env.get("KAFKA_BROKERS");
  if (!brokers) {
    console.error("kafka: skipped (set KAFKA_BROKERS=$(bash tests/kafka/broker.sh start))");
  } else {
    // Source and worker in one process with the broker between them: every
    // event is produced, consumed, scored and persisted.
    result.kafka_throughput = await throughput(
      Math.min(Number(args.events), Number(args["kafka-events"])),
      "kafka",
      {
        KAFKA_BROKERS: brokers,
        KAFKA_TOPIC: `bench-${Date.now()}`,
        KAFKA_GROUP_ID: `bench-${Date.now()}`,
        KAFKA_PARTITIONS: "3",
      },
    );
  }
}
if (!args.only || args.only === "latency") {
  result.embedded_latency = await latency(Number(args.rate), Number(args.seconds));
}
const json = JSON.stringify(result, null, 2);
console.log(json);
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
const name = args.only ? `pipeline-${args.only}.json` : "pipeline.json";
await Deno.writeTextFile(new URL(`./results/${name}`, import.meta.url), json + "\n");
