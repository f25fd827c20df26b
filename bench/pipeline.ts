/**
 * End-to-end pipeline benchmark (`deno task bench:pipeline`): the real
 * Sentinel wiring (source → features → scoring → one KV atomic per batch)
 * on a temporary KV file, with a model active from the first event so every
 * event is scored and persisted.
 *
 *   deno task bench:pipeline --help               # the options
 *
 * Prints progress, then a JSON summary, also written to bench/results/pipeline.json.
 * The throughput run reports KV bytes per event (the KV files' size over
 * the events) and its speed against the no-KV ceiling: the same run with a
 * store whose commit writes nothing, so the gap is what persistence costs.
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { parseConfig } from "../config.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import { Sentinel } from "../sentinel.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { SimulatedSource } from "../pipeline/sources.ts";
import { type StagedBatch, Store } from "../store/kv.ts";
import { BENCH_SYMBOLS, trainBenchModelApart } from "./pipeline_model.ts";

const HELP = `deno task bench:pipeline [options]

The real Sentinel wiring (source -> features -> scoring -> one KV atomic per
batch) on a temporary KV file, every event scored and persisted.

Options:
  --events=N         throughput run: events to process (default 1000000;
                     10000000 is the memory run)
  --no-ceiling       skip the no-KV run (same events, commits that write
                     nothing) whose events/s the KV run is compared with
  --model=NAME       MODEL the benchmark's model is trained for (default robust, the
                     product's default; iforest scores every event with the forest)
  --batch=N          most events a batch (default: the product's, 1000)
  --rate=N           latency run: events/s (default 5000)
  --seconds=N        latency run: seconds measured after a 2 s warm-up (default 20)
  --kafka-events=N   Kafka run: events (default 500000; needs KAFKA_BROKERS,
                     e.g. $(bash tests/kafka/broker.sh start))
  --live-seconds=N   live run: wall seconds at --live-rate (default 600)
  --live-rate=N      live run: events/s (default 300)
  --only=RUN         one run: throughput, latency, kafka or live (live is
                     only run when asked for)
  --help             this text

Prints progress on stderr, then a JSON summary on stdout, also written to
bench/results/pipeline.json (pipeline-RUN.json with --only).`;

let args: {
  events: string;
  rate: string;
  batch?: string;
  model?: string;
  seconds: string;
  "kafka-events": string;
  "live-seconds": string;
  "live-rate": string;
  only?: string;
  help?: boolean;
  "no-ceiling"?: boolean;
};
try {
  args = parseArgs({
    args: Deno.args,
    options: {
      events: { type: "string", default: "1000000" },
      rate: { type: "string", default: "5000" },
      batch: { type: "string" },
      model: { type: "string" },
      seconds: { type: "string", default: "20" },
      "kafka-events": { type: "string", default: "500000" },
      "live-seconds": { type: "string", default: "600" },
      "live-rate": { type: "string", default: "300" },
      only: { type: "string" },
      help: { type: "boolean" },
      "no-ceiling": { type: "boolean" },
    },
  }).values;
} catch (e) {
  console.error(`${e instanceof Error ? e.message : e}\n\n${HELP}`);
  Deno.exit(2);
}
if (args.help) {
  console.log(HELP);
  Deno.exit(0);
}
if (args.only && !["throughput", "latency", "kafka", "live"].includes(args.only)) {
  console.error(`--only must be throughput, latency, kafka or live, not ${args.only}\n\n${HELP}`);
  Deno.exit(2);
}

const SYMBOLS = BENCH_SYMBOLS;

async function prepare(path: string, env: Record<string, string>) {
  const all = {
    KV_PATH: path,
    RETRAIN_INTERVAL: "off",
    BACKFILL_SECONDS: "0",
    SIM_PROFILE: "seed",
    ...(args.model ? { MODEL: args.model } : {}),
    ...env,
  };
  const config = parseConfig(all);
  // A model trained on the default simulated stream, active before the first event: fitted in a
  // process of its own, so the RSS figures are the pipeline's.
  await trainBenchModelApart(path, all);
  return config;
}

function fastClock(): Clock {
  let t = Date.now();
  return { now: () => t, sleep: (ms) => (t += ms, Promise.resolve()) };
}

const mb = (b: number) => Math.round(b / 1048576);

/** The 1-minute load average, 2 decimals (the machine is shared: every figure carries it). */
const load1 = () => +Deno.loadavg()[0].toFixed(2);

/** CPU seconds so far: this (the main) thread's and the whole process's, user + system. */
function cpuSeconds(): { main: number; process: number } {
  const t = (process as unknown as { threadCpuUsage(): { user: number; system: number } })
    .threadCpuUsage();
  const p = process.cpuUsage();
  return { main: (t.user + t.system) / 1e6, process: (p.user + p.system) / 1e6 };
}

/** Total size of the KV files in `dir` (the database and its write-ahead log). */
function dirBytes(dir: string): number {
  return [...Deno.readDirSync(dir)].reduce((a, f) => a + Deno.statSync(`${dir}/${f.name}`).size, 0);
}

/**
 * Makes every batch commit a no-op for the no-KV ceiling (no atomic built, no
 * page packed, nothing written); returns the undo.
 */
function withoutKvCommits(): () => void {
  const { stageBatch, commitStaged } = Store.prototype;
  Store.prototype.stageBatch = (b) =>
    ({ op: null, stream: b.stream, partition: b.partition }) as unknown as StagedBatch;
  Store.prototype.commitStaged = () => Promise.resolve("00000000000000000000");
  return () => Object.assign(Store.prototype, { stageBatch, commitStaged });
}

async function throughput(
  events: number,
  label: string,
  env: Record<string, string> = {},
  opts: { noKv?: boolean } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-bench-" });
  let restore = () => {};
  try {
    const config = await prepare(`${dir}/kv.sqlite`, { EVENT_FREQUENCY_SECONDS: "0.01", ...env });
    const store = await Store.open(config.kvPath, { retentionMs: 86_400_000 });
    const clock = fastClock();
    const source = await SimulatedSource.open(config, store, memoryLogger(), clock);
    store.close();
    if (opts.noKv) restore = withoutKvCommits();
    const load0 = load1();
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    const s = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(),
      source,
      reportEveryMs: 0,
      clock,
      ...(args.batch ? { batch: { maxSize: Number(args.batch), maxWaitMs: 10 } } : {}),
    });
    let last = { n: 0, t: t0 };
    let peakRss = 0, peakHeap = 0, peakExternal = 0;
    while (true) {
      // RSS sampled four times a second, so a peak between major collections is seen.
      await new Promise((r) => setTimeout(r, 250));
      const n = s.metrics.rows.total();
      const now = performance.now();
      const m = Deno.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapTotal);
      peakExternal = Math.max(peakExternal, m.external);
      if (now - last.t >= 5000 || n >= events) {
        console.error(
          `${label}: ${n.toLocaleString("en")} / ${events.toLocaleString("en")} events, ` +
            `${Math.round((n - last.n) / ((now - last.t) / 1000))}/s now, RSS ${mb(m.rss)} MB ` +
            `(V8 heap ${mb(m.heapTotal)} MB, external ${mb(m.external)} MB), load ${load1()}`,
        );
        last = { n, t: now };
      }
      if (n >= events) break;
    }
    const n = s.metrics.rows.total();
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuSeconds();
    const preds = s.metrics.predictions.total();
    const rss = Deno.memoryUsage().rss;
    await s.stop();
    restore();
    const kvBytes = dirBytes(dir);
    return {
      events: n,
      predictions_persisted: opts.noKv ? 0 : preds,
      seconds: +seconds.toFixed(2),
      events_per_second: Math.round(n / seconds),
      // CPU per event holds up on a shared machine better than events/s: the main thread's
      // is the wall (1e6 / it = events/s if it never waited), the process's adds KV and GC threads.
      main_thread_cpu_us_per_event: +((cpu1.main - cpu0.main) / n * 1e6).toFixed(2),
      process_cpu_us_per_event: +((cpu1.process - cpu0.process) / n * 1e6).toFixed(2),
      load_average: [load0, load1()],
      rss_mb_at_end: mb(rss),
      rss_mb_peak: mb(Math.max(peakRss, rss)),
      v8_heap_mb_peak: mb(peakHeap),
      external_mb_peak: mb(peakExternal),
      kv_file_mb: mb(kvBytes),
      kv_bytes_per_event: opts.noKv ? null : Math.round(kvBytes / n),
    };
  } finally {
    restore();
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The live run: the simulator in real time at `rate` events/s for `seconds`,
 * so batches are as small as live traffic makes them; reports KV bytes per
 * event (what a day of live traffic costs on disk).
 */
async function live(rate: number, seconds: number) {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-bench-" });
  try {
    const config = await prepare(`${dir}/kv.sqlite`, {
      EVENT_FREQUENCY_SECONDS: String(SYMBOLS.length / rate),
    });
    const store = await Store.open(config.kvPath, { retentionMs: 86_400_000 });
    const source = await SimulatedSource.open(config, store, memoryLogger(), systemClock);
    store.close();
    const bytes0 = dirBytes(dir);
    const s = await Sentinel.start(config, ["source", "worker"], {
      logger: () => memoryLogger(),
      source,
      reportEveryMs: 0,
    });
    let peakRss = 0;
    for (let i = 0; i < seconds; i += 10) {
      await new Promise((r) => setTimeout(r, Math.min(10, seconds - i) * 1000));
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      console.error(
        `live: ${Math.min(i + 10, seconds)}/${seconds} s, ${s.metrics.rows.total()} events, ` +
          `KV ${mb(dirBytes(dir))} MB`,
      );
    }
    const n = s.metrics.rows.total();
    await s.stop();
    const kvBytes = dirBytes(dir) - bytes0;
    return {
      rate,
      seconds,
      events: n,
      kv_file_mb: mb(kvBytes),
      kv_bytes_per_event: Math.round(kvBytes / n),
      rss_mb_peak: mb(peakRss),
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
  result.model = args.model ?? "robust";
  const kv = await throughput(Number(args.events), "embedded");
  result.embedded_throughput = kv;
  if (args["no-ceiling"]) {
    console.error(
      `embedded: ${kv.events_per_second} events/s with everything persisted, ` +
        `${kv.kv_bytes_per_event} KV bytes/event, main thread ${kv.main_thread_cpu_us_per_event} ` +
        `µs/event, RSS peak ${kv.rss_mb_peak} MB (end ${kv.rss_mb_at_end}); load ` +
        kv.load_average.join("→"),
    );
  }
  if (!args["no-ceiling"]) {
    const ceiling = await throughput(Number(args.events), "no-KV ceiling", {}, { noKv: true });
    result.embedded_no_kv_ceiling = ceiling;
    result.embedded_vs_ceiling = +(kv.events_per_second / ceiling.events_per_second).toFixed(3);
    console.error(
      `embedded: ${kv.events_per_second} events/s with everything persisted, ` +
        `${kv.kv_bytes_per_event} KV bytes/event, main thread ${kv.main_thread_cpu_us_per_event} ` +
        `µs/event, RSS peak ${kv.rss_mb_peak} MB (end ${kv.rss_mb_at_end}); no-KV ceiling ` +
        `${ceiling.events_per_second} events/s (ratio ${result.embedded_vs_ceiling}, main thread ` +
        `${ceiling.main_thread_cpu_us_per_event} µs/event); load ${kv.load_average.join("→")}`,
    );
  }
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
if (args.only === "live") {
  result.live = await live(Number(args["live-rate"]), Number(args["live-seconds"]));
}
const json = JSON.stringify(result, null, 2);
console.log(json);
await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
const name = args.only ? `pipeline-${args.only}.json` : "pipeline.json";
await Deno.writeTextFile(new URL(`./results/${name}`, import.meta.url), json + "\n");
