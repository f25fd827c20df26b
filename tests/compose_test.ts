/**
 * compose.yaml cannot be run here (no Docker engine), so it is checked
 * against what it depends on: every Sentinel service's command and
 * healthcheck is a deno.json task, every variable it sets is a configuration
 * variable that parses, images are pinned to exact versions (Kafka's the same
 * as the test broker's), nothing is mounted from the host checkout, Deno's
 * cache is on a volume, and the roles share the denokv service's KV.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { CONFIG_VARS, parseConfig } from "../config.ts";

const ROOT = new URL("..", import.meta.url);
const compose = parse(await Deno.readTextFile(new URL("compose.yaml", ROOT)), { merge: true });
const tasks: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
).tasks;
const dockerfile = await Deno.readTextFile(new URL("Dockerfile", ROOT));
// Variables Deno itself reads; everything else a Sentinel service sets must be Sentinel's.
const DENO_VARS = new Set(["DENO_DIR"]);
const KNOWN = new Set([...CONFIG_VARS.map((v) => v.name), "KAFKA_BOOTSTRAP_SERVERS", ...DENO_VARS]);

type Service = {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, unknown>;
};
const services = compose.services as Record<string, Service>;
const sentinel = Object.entries(services).filter(([, s]) => s.build !== undefined);

/** `${VAR:?message}` as compose would substitute it from a .env file. */
function substitute(value: string | number): string {
  return String(value).replace(
    /\$\{([A-Z_]+)(:[?-][^}]*)?\}/g,
    (_, name) => name === "DENO_KV_ACCESS_TOKEN" ? "a-token-of-enough-length" : "",
  );
}

Deno.test("compose: the Sentinel services are the four roles, each command a deno.json task", () => {
  assert.deepEqual(sentinel.map(([n]) => n).sort(), ["source", "trainer", "web", "worker"]);
  for (const [name, s] of sentinel) {
    const [verb, task, ...rest] = s.command ?? [];
    assert.equal(verb, "task", `${name}: runs a deno task`);
    assert.ok(task in tasks, `${name}: task ${task} is not in deno.json`);
    assert.match(tasks[task], new RegExp(`--role=${name}\\b`), `${name}: its task runs its role`);
    assert.deepEqual(rest, []);
  }
  assert.match(dockerfile, /^ENTRYPOINT \["deno"\]$/m, "commands are arguments of deno");
});

Deno.test("compose: every service has a healthcheck whose command exists", () => {
  for (const [name, s] of Object.entries(services)) {
    if (name === "denokv") continue; // a distroless image: nothing to run a check with
    assert.ok(s.healthcheck?.test?.length, `${name} has a healthcheck`);
  }
  for (const [name, s] of sentinel) {
    const test = s.healthcheck!.test;
    assert.deepEqual(test.slice(0, 4), ["CMD", "deno", "task", "-q"], name);
    assert.ok(test[4] in tasks, `${name}: healthcheck task ${test[4]} is in deno.json`);
    assert.deepEqual(test.slice(5), [name], `${name} checks its own role`);
  }
});

Deno.test("compose: every variable a Sentinel service sets is a configuration variable that parses", () => {
  for (const [name, s] of sentinel) {
    const env = Object.fromEntries(
      Object.entries(s.environment ?? {}).map(([k, v]) => [k, substitute(v)]),
    );
    for (const k of Object.keys(env)) {
      assert.ok(KNOWN.has(k), `${name}: ${k} is not a known variable`);
    }
    const config = parseConfig(env);
    assert.deepEqual(config.kafkaBrokers, ["kafka:9092"], name);
    assert.equal(config.kvPath, "http://denokv:4512", `${name} shares the denokv service's KV`);
  }
  const kvCommand = services.denokv.command!.join(" ");
  assert.match(kvCommand, /serve --addr 0\.0\.0\.0:4512$/);
  assert.equal(
    services.denokv.environment!.DENO_KV_ACCESS_TOKEN,
    sentinel[0][1].environment!.DENO_KV_ACCESS_TOKEN,
    "denokv requires the token the roles send",
  );
});

Deno.test("compose: images are pinned to exact versions; Kafka matches the test broker's", async () => {
  const exact = /:(\d+\.\d+\.\d+)$/;
  for (const [name, s] of Object.entries(services)) {
    if (s.build !== undefined) continue;
    assert.match(s.image ?? "", exact, `${name}: ${s.image} is pinned`);
  }
  assert.match(dockerfile, /^FROM denoland\/deno:2\.\d+\.\d+$/m, "Deno 2, exact");
  const pom = await Deno.readTextFile(new URL("tests/kafka/pom.xml", ROOT));
  const kafka = /<kafka\.version>(.*)<\/kafka\.version>/.exec(pom)![1];
  assert.equal(services.kafka.image, `apache/kafka:${kafka}`);
});

Deno.test("compose: nothing is mounted from the host checkout; Deno's cache is a volume", () => {
  for (const [name, s] of sentinel) {
    for (const v of s.volumes ?? []) {
      const [source] = v.split(":");
      assert.ok(!/^[./~]/.test(source), `${name}: ${v} mounts a host path`);
      assert.ok(source in (compose.volumes ?? {}), `${name}: ${source} is a named volume`);
    }
    const denoDir = String(s.environment?.DENO_DIR ?? "");
    assert.ok(
      (s.volumes ?? []).some((v) => v.split(":")[1] === denoDir),
      `${name}: DENO_DIR (${denoDir}) is on a volume`,
    );
  }
  assert.match(dockerfile, /^COPY \. \.$/m, "the image holds its own copy of the checkout");
});
