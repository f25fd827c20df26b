/**
 * `deno task deploy:check`: runs the Deno Deploy entry (deploy.ts) locally
 * under Deploy's constraints and checks that it serves. Exits 0 when every
 * check passes, 1 with the reason otherwise.
 *
 * 1. The deploy step: `deno task build` (island bundles into static/build/).
 * 2. A fresh denokv (KV Connect server; DENOKV_BIN or `denokv` on PATH) with a
 *    model activated in it, and a source and worker in this process writing
 *    predictions to it, as workers on other machines would.
 * 3. deploy.ts in a subprocess with `--deny-write --deny-run --deny-ffi`, no
 *    sys access, reads limited to the repository, and Web Workers removed
 *    (scripts/deploy_constraints.ts), against that KV Connect server.
 * 4. `/health` (model loaded), `/` and its island bundle, `/live`, `POST
 *    /predict`, and `/events` streaming the worker's predictions from KV.
 *
 * @module
 */
import { parseConfig } from "../config.ts";
import { FeatureEngine } from "../features/features.ts";
import { simulatedEvents, Simulator } from "../ingest/simulator.ts";
import { utf8Decoder } from "../lib/streams.ts";
import { trainBundle } from "../model/train.ts";
import { Sentinel } from "../sentinel.ts";
import { Store } from "../store/kv.ts";
import { buildIslands } from "./build.ts";
import { freePort, startDenoKv } from "./denokv_server.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const MODEL_ID = "deploy-check-model";
const quiet = { info() {}, warn() {} };
const say = (msg: string) => console.error(`deploy:check: ${msg}`);

/** The flags that stand in for a Deploy isolate. */
export const DEPLOY_FLAGS = [
  "--no-prompt",
  "--deny-write",
  "--deny-run",
  "--deny-ffi",
  "--deny-sys",
  `--allow-read=${ROOT}`,
  "--allow-net",
  "--allow-env",
  `--preload=${ROOT}/scripts/deploy_constraints.ts`,
];

class CheckFailed extends Error {}

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new CheckFailed(what);
}

async function waitUntil<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe().catch(() => null);
    if (v !== null && v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new CheckFailed(`${what}: not within ${ms / 1000} s`);
}

async function seedModel(url: string): Promise<void> {
  const sim = new Simulator({ symbols: ["BTC-USDT"], seed: 3, anomalyProbability: 0.01 });
  const engine = new FeatureEngine({ windowSeconds: 60, minWindowEvents: 10 });
  const rows = [...simulatedEvents(sim, { startMs: 0, stepMs: 200, endMs: 600_000 })]
    .map((e) => engine.update(e));
  const bundle = trainBundle(rows, {
    id: MODEL_ID,
    createdAt: new Date().toISOString(),
    nEstimators: 30,
  });
  const store = await Store.open(url, { retentionMs: 3_600_000 });
  try {
    await store.saveBundle(bundle);
    await store.activate(bundle.id, new Date().toISOString());
  } finally {
    store.close();
  }
}

async function runChecks(base: string): Promise<void> {
  const health = await waitUntil("/health with the model loaded", 30_000, async () => {
    const r = await fetch(`${base}/health`);
    const body = await r.json();
    return r.status === 200 && body.model_loaded === true ? body : null;
  });
  say(`/health: ${JSON.stringify(health)}`);

  const home = await fetch(`${base}/`);
  const html = await home.text();
  check(home.status === 200, `/ answered ${home.status}`);
  const script = /<script[^>]+src="(\/static\/build\/[0-9a-f]+\/[A-Za-z]+\.js)"/.exec(html);
  check(script, "/ references no prebuilt island bundle (was `deno task build` run?)");
  check(
    !/bundles could not be built/.test(html),
    "/ shows the 'bundles could not be built' banner",
  );
  const js = await fetch(`${base}${script[1]}`);
  const jsText = await js.text();
  check(js.status === 200 && jsText.length > 1000, `${script[1]} answered ${js.status}`);
  say(`/: ${html.length} bytes of HTML; ${script[1]}: ${jsText.length} bytes`);

  const live = await fetch(`${base}/live`);
  const liveHtml = await live.text();
  check(live.status === 200 && /<html/i.test(liveHtml), `/live answered ${live.status}`);
  say(`/live: ${liveHtml.length} bytes of HTML`);

  const predict = await fetch(`${base}/predict`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      z_score_price: 4.5,
      z_score_log_return: 3.8,
      z_score_volume: 1.5,
      rolling_price_std: 0.008,
      rolling_volume_std: 25,
    }),
  });
  const p = await predict.json();
  check(predict.status === 200, `/predict answered ${predict.status}: ${JSON.stringify(p)}`);
  check(p.model_id === MODEL_ID, `/predict used model ${p.model_id}, not ${MODEL_ID}`);
  say(`/predict: is_anomaly ${p.is_anomaly}, score ${p.anomaly_score.toFixed(3)}`);

  const ac = new AbortController();
  const events = await fetch(`${base}/events`, { signal: ac.signal });
  check(events.status === 200, `/events answered ${events.status}`);
  let text = "";
  const reader = events.body!.pipeThrough(utf8Decoder()).getReader();
  const timer = setTimeout(() => ac.abort(), 30_000);
  try {
    while ((text.match(/^event: prediction$/gm) ?? []).length < 5) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } catch {
    // aborted: the count below says so
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  const preds = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]));
  check(preds.length >= 5, `/events streamed ${preds.length} predictions in 30 s, expected 5`);
  check(
    preds.some((x) => x.source === "simulated" && x.model_id === MODEL_ID),
    "/events streamed none of the worker's predictions",
  );
  say(`/events: ${preds.length} predictions streamed from KV`);
}

async function main(): Promise<number> {
  const t0 = performance.now();
  say("deno task build (the deploy step)");
  const build = await buildIslands();
  say(
    `${build.built ? "built" : "up to date:"} ${build.islands.length} bundles in ${build.urlPath}`,
  );

  const kv = await startDenoKv().catch((e) => {
    throw new CheckFailed(`${e.message} (cargo install denokv, or set DENOKV_BIN)`);
  });
  say(`denokv on ${kv.url}`);
  let worker: Sentinel | null = null;
  let entry: Deno.ChildProcess | null = null;
  let entryLog = "";
  try {
    await seedModel(kv.url);
    const env = {
      KV_PATH: kv.url,
      DENO_KV_ACCESS_TOKEN: kv.token,
      SYMBOLS: "BTC-USDT",
      RETRAIN_INTERVAL: "off",
      BACKFILL_SECONDS: "0",
      EVENT_FREQUENCY_SECONDS: "0.05",
    };
    // A source and worker elsewhere (here: this process) committing predictions to the KV.
    worker = await Sentinel.start(parseConfig(env), ["source", "worker"], {
      logger: () => quiet,
      reportEveryMs: 0,
    });
    const port = freePort();
    say(
      `deploy.ts with ${DEPLOY_FLAGS.filter((f) => f.startsWith("--deny")).join(" ")}, no Worker`,
    );
    entry = new Deno.Command(Deno.execPath(), {
      args: ["run", ...DEPLOY_FLAGS, "deploy.ts"],
      cwd: ROOT,
      clearEnv: true,
      env: { ...env, PORT: String(port), PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = (s: ReadableStream<Uint8Array>) =>
      s.pipeThrough(utf8Decoder()).pipeTo(
        new WritableStream({ write: (t) => void (entryLog += t) }),
      ).catch(() => {});
    const drained = Promise.all([collect(entry.stdout), collect(entry.stderr)]);
    const exited = entry.status.then((s) => {
      throw new CheckFailed(`deploy.ts exited (code ${s.code}) while being checked`);
    });
    exited.catch(() => {});
    await Promise.race([runChecks(`http://127.0.0.1:${port}`), exited]);
    check(
      !/NotCapable|PermissionDenied|Requires (write|run|sys)|Web Workers are not available/.test(
        entryLog,
      ),
      "deploy.ts needed something Deploy does not grant",
    );
    entry.kill("SIGTERM");
    const status = await entry.status;
    await drained;
    entry = null;
    check(status.code === 0, `deploy.ts exited with ${status.code} on SIGTERM`);
    say(`passed in ${Math.round(performance.now() - t0)} ms`);
    return 0;
  } catch (e) {
    say(`FAILED: ${e instanceof Error ? e.message : e}`);
    if (entryLog) console.error(`--- deploy.ts output ---\n${entryLog.trim()}\n---`);
    return 1;
  } finally {
    if (entry) {
      try {
        entry.kill("SIGKILL");
      } catch { /* gone */ }
      await entry.status;
    }
    await worker?.stop();
    await kv.stop();
  }
}

if (import.meta.main) {
  const code = await main().catch((e) => {
    say(`FAILED: ${e instanceof Error ? e.message : e}`);
    return 1;
  });
  Deno.exit(code);
}
