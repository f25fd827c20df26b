/**
 * Load on `POST /predict` (issue 4): the real web server on a temporary KV
 * with a model trained on the default simulated stream (200 trees), driven
 * by `wrk` (Debian's package: `apt-get install wrk`) over loopback with 50
 * connections for 20 s. Every request is scored, stored in the KV history
 * (group-committed) and published to the live hub, as in production.
 *
 *     deno run -P bench/api_load.ts [--connections=50] [--seconds=20] [--threads=1]
 *
 * Prints the figures and writes bench/results/api_load.json: requests per
 * second, latency p50/p90/p99/p99.9 (wrk's own histogram), the server
 * process's CPU (all its threads, in cores) and its event-loop lag sampled
 * every 20 ms (how close the one JavaScript thread is to saturation).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpus } from "node:os";
import process from "node:process";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { trainBundle } from "../model/train.ts";
import { Hub } from "../pipeline/hub.ts";
import { memoryLogger } from "../pipeline/log.ts";
import { PipelineMetrics } from "../pipeline/metrics.ts";
import { ModelHolder } from "../pipeline/models.ts";
import { parseConfig } from "../config.ts";
import { Store } from "../store/kv.ts";
import { startWebServer } from "../routes/app.ts";
import type { WebContext } from "../routes/context.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    connections: { type: "string", default: "50" },
    seconds: { type: "string", default: "20" },
    threads: { type: "string", default: "1" },
  },
});
const connections = Number(args.connections);
const seconds = Number(args.seconds);
const threads = Number(args.threads);

// wrk reports through this script: two request bodies alternate (the seed
// README's payload, an anomaly, and a quiet vector), and `done` prints the
// summary as one JSON line.
const WRK_SCRIPT = `
local bodies = {
  '{"symbol":"BTC-USDT","z_score_price":4.5,"z_score_log_return":3.8,"z_score_volume":1.5,"rolling_price_std":0.008,"rolling_volume_std":25}',
  '{"symbol":"ETH-USDT","z_score_price":-0.04,"z_score_log_return":0.0,"z_score_volume":-0.2,"rolling_price_std":0.013,"rolling_volume_std":0.57}'
}
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/predict", { ["Content-Type"] = "application/json" }, bodies[(n % 2) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
`;

async function wrkVersion(): Promise<string> {
  try {
    const out = await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    return (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)).split(
      "\n",
    )[0]
      .trim();
  } catch {
    throw new Error("wrk is not installed: apt-get install -y wrk");
  }
}

/**
 * CPU ticks per thread of this process, from /proc (read through `cat`:
 * Deno's permission model wants --allow-all for /proc files). The main
 * thread's share tells whether the one JavaScript event loop is the limit.
 */
async function threadTicks(): Promise<Map<string, { name: string; ticks: number }>> {
  const out = await new Deno.Command("sh", {
    args: ["-c", `cat /proc/${Deno.pid}/task/*/stat`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const threads = new Map<string, { name: string; ticks: number }>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^(\d+) \((.*)\) (.*)$/.exec(line);
    if (!m) continue;
    const f = m[3].split(" "); // fields from the 3rd on: utime is the 14th overall, stime the 15th
    threads.set(m[1], { name: m[2], ticks: Number(f[11]) + Number(f[12]) });
  }
  return threads;
}

async function clockTicks(): Promise<number> {
  const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).trim()) || 100;
}

const dir = await Deno.makeTempDir({ prefix: "sentinel-api-load-" });
const config = parseConfig({ KV_PATH: `${dir}/kv.sqlite`, RETRAIN_INTERVAL: "off" });
const store = await Store.open(config.kvPath, { retentionMs: config.retentionSeconds * 1000 });
const ac = new AbortController();
try {
  const wrkV = await wrkVersion();
  // The default stream (seed 42, 0.2 s ticks, three symbols, 600 s: the start-up backfill), 200 trees.
  const sim = new Simulator({
    symbols: config.symbols,
    seed: config.seed,
    anomalyProbability: config.anomalyProbability,
  });
  const engine = new FeatureEngine(config);
  const t0 = Date.now() - 600_000;
  const rows = [
    ...simulatedEvents(sim, {
      startMs: t0,
      stepMs: config.eventFrequencySeconds * 1000,
      endMs: t0 + 600_000,
    }),
  ].map((e) => engine.update(e));
  const bundle = trainBundle(rows, {
    id: "m-load",
    createdAt: new Date().toISOString(),
    nEstimators: config.nEstimators,
    contamination: config.contamination,
    seed: config.seed,
  });
  await store.saveBundle(bundle);
  await store.activate(bundle.id, new Date().toISOString());
  const models = new ModelHolder(store, memoryLogger());
  await models.refresh();

  const ctx: WebContext = {
    config,
    store,
    hub: new Hub(),
    metrics: new PipelineMetrics(),
    models,
    trainer: null,
    source: null,
    worker: null,
    kafka: null,
    startedAt: Date.now(),
    now: () => Date.now(),
  };
  const server = await startWebServer(ctx, {
    port: 0,
    hostname: "127.0.0.1",
    signal: ac.signal,
    app: { logger: memoryLogger() },
  });
  const url = `http://127.0.0.1:${server.port}/predict`;
  const script = `${dir}/predict.lua`;
  await Deno.writeTextFile(script, WRK_SCRIPT);

  // A short warm-up so the JIT and SQLite caches are hot before the measured run.
  await new Deno.Command("wrk", {
    args: ["-t1", "-c10", "-d2s", "-s", script, url],
    stdout: "null",
    stderr: "null",
  }).output();
  const storedBefore = (await store.counter("pred", "BTC-USDT")) +
    (await store.counter("pred", "ETH-USDT"));

  // Event-loop lag: how late a 20 ms timer fires while the server is loaded.
  const lags: number[] = [];
  let expectedAt = performance.now() + 20;
  const sampler = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - expectedAt));
    expectedAt = now + 20;
  }, 20);

  const argv = [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "10s",
    "-s",
    script,
    url,
  ];
  const command = `wrk ${argv.join(" ").replace(script, "predict.lua")}`;
  console.error(`running: ${command} (model ${bundle.id}, ${bundle.params.n_estimators} trees)`);
  const hz = await clockTicks();
  const threads0 = await threadTicks();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const out = await new Deno.Command("wrk", { args: argv, stdout: "piped", stderr: "piped" })
    .output();
  const wallMs = performance.now() - wall0;
  const cpu = process.cpuUsage(cpu0);
  const threads1 = await threadTicks();
  clearInterval(sampler);
  const perThread = [...threads1].map(([tid, t]) => ({
    tid,
    name: t.name,
    cores: Math.round(((t.ticks - (threads0.get(tid)?.ticks ?? 0)) / hz / (wallMs / 1000)) * 100) /
      100,
  })).filter((t) => t.cores > 0).sort((a, b) => b.cores - a.cores);
  const mainThread = perThread.find((t) => t.tid === String(Deno.pid))?.cores ?? 0;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  console.error(text);
  const line = text.split("\n").find((l) => l.startsWith('{"requests"'));
  if (!line) throw new Error("wrk printed no summary");
  const w = JSON.parse(line);

  const stored = (await store.counter("pred", "BTC-USDT")) +
    (await store.counter("pred", "ETH-USDT")) - storedBefore;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  lags.sort((a, b) => a - b);
  const q = (p: number) =>
    lags.length ? lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] : 0;
  const ms = (us: number) => Math.round(us / 10) / 100;
  const result = {
    machine: {
      cpus: navigator.hardwareConcurrency,
      cpu_model: cpus()[0]?.model ?? "unknown",
      deno: Deno.version.deno,
      wrk: wrkV,
    },
    at: new Date().toISOString(),
    command,
    endpoint: "POST /predict (score, KV history append, hub publish)",
    model: { id: bundle.id, trees: bundle.params.n_estimators },
    connections,
    seconds: w.duration_us / 1e6,
    requests: w.requests,
    requests_per_second: Math.round(w.requests / (w.duration_us / 1e6)),
    latency_ms: {
      mean: ms(w.latency_us.mean),
      p50: ms(w.latency_us.p50),
      p90: ms(w.latency_us.p90),
      p99: ms(w.latency_us.p99),
      p999: ms(w.latency_us.p999),
      max: ms(w.latency_us.max),
    },
    errors: { ...w.errors, non_2xx: non2xx },
    predictions_stored: stored,
    server_process: {
      cpu_cores_used: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 100) / 100,
      main_thread_cores: mainThread,
      threads: perThread.slice(0, 6),
      event_loop_lag_ms: {
        p50: Math.round(q(0.5) * 10) / 10,
        p99: Math.round(q(0.99) * 10) / 10,
        max: Math.round((lags.at(-1) ?? 0) * 10) / 10,
      },
    },
  };
  console.log(JSON.stringify(result, null, 2));
  await Deno.mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await Deno.writeTextFile(
    new URL("./results/api_load.json", import.meta.url),
    JSON.stringify(result, null, 2) + "\n",
  );
  ac.abort();
  await server.finished;
} finally {
  ac.abort();
  store.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
