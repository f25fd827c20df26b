import assert from "node:assert/strict";
import { DEFAULT_START_MS, parseSimulateArgs } from "./simulate.ts";
import { simulateEvents } from "../ingest/simulate.ts";

Deno.test("simulate args: flags override the environment's configuration, which overrides defaults", () => {
  const r = parseSimulateArgs(["--out=x.jsonl"], {
    SIM_PROFILE: "busy",
    SEED: "9",
    SYMBOLS: "ETH-USDT",
  });
  assert.equal(r.help, false);
  if (r.help) return;
  assert.equal(r.out, "x.jsonl");
  assert.equal(r.options.profile, "busy");
  assert.equal(r.options.seed, 9);
  assert.deepEqual(r.options.symbols, ["ETH-USDT"]);
  assert.equal(r.options.startMs, DEFAULT_START_MS);
  assert.equal(r.options.endMs - r.options.startMs, 3_600_000);
  const f = parseSimulateArgs([
    "--profile=thin",
    "--hours=0.5",
    "--seed=3",
    "--symbols=btc-usdt,SOL-USDT",
    "--anomaly-probability=0.2",
    "--start=2024-03-01T00:00:00Z",
    "--out=y.jsonl",
  ], { SIM_PROFILE: "busy", SEED: "9" });
  if (f.help) throw new Error("help");
  assert.equal(f.options.profile, "thin");
  assert.equal(f.options.seed, 3);
  assert.deepEqual(f.options.symbols, ["BTC-USDT", "SOL-USDT"]);
  assert.equal(f.options.anomalyProbability, 0.2);
  assert.equal(f.options.startMs, Date.UTC(2024, 2, 1));
  assert.equal(f.options.endMs - f.options.startMs, 1_800_000);
});

Deno.test("simulate args: a bad value names its flag", () => {
  const bad: [string[], RegExp][] = [
    [["--profile=wild", "--out=x"], /--profile: expected one of seed, realistic, busy, thin/],
    [["--hours=0", "--out=x"], /--hours: expected a number > 0/],
    [["--seed=1.5", "--out=x"], /--seed: expected an integer/],
    [["--symbols=BTCUSDT", "--out=x"], /--symbols.*BASE-QUOTE/],
    [
      ["--anomaly-probability=2", "--out=x"],
      /--anomaly-probability: expected a number in \[0, 1\]/,
    ],
    [["--start=yesterday", "--out=x"], /--start: got "yesterday"/],
    [[], /--out: is required/],
  ];
  for (const [argv, message] of bad) {
    assert.throws(() => parseSimulateArgs(argv, {}), message, argv.join(" "));
  }
  assert.throws(() => parseSimulateArgs(["--nope"], {}), /nope/);
  assert.throws(() => parseSimulateArgs(["--out=x"], { SIM_PROFILE: "wild" }), /SIM_PROFILE/);
});

Deno.test("deno task simulate writes the in-memory stream and shows progress on stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sentinel-simulate-" });
  try {
    const out = `${dir}/thin.jsonl`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P",
        "scripts/simulate.ts",
        "--profile=thin",
        "--hours=12",
        "--seed=4",
        "--symbols=BTC-USDT,ETH-USDT",
        `--out=${out}`,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      env: { ANOMALY_PROBABILITY: "0.1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, stderr);
    assert.match(stderr, /simulate: 100\.0% \d+ events/);
    const expected = [
      ...simulateEvents({
        profile: "thin",
        seed: 4,
        symbols: ["BTC-USDT", "ETH-USDT"],
        startMs: DEFAULT_START_MS,
        endMs: DEFAULT_START_MS + 12 * 3_600_000,
        anomalyProbability: 0.1,
      }),
    ].map((e) => JSON.stringify(e) + "\n").join("");
    assert.equal(await Deno.readTextFile(out), expected);
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-P", "scripts/simulate.ts", "--hours=-1", `--out=${out}`],
      cwd: new URL("..", import.meta.url).pathname,
      stderr: "piped",
    }).output();
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /--hours: expected a number > 0/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
