/**
 * A fresh denokv (KV Connect server) per test or check, from the binary in DENOKV_BIN
 * (`cargo install denokv`; `.ci/run` builds it once): an empty SQLite file in
 * a temporary directory, a free port on 127.0.0.1, and this process's access
 * token, so every test starts from an empty database that separate
 * processes share over HTTP, as roles on separate machines would.
 *
 * @module
 */

/** One running denokv. */
export interface DenoKvServer {
  /** `http://127.0.0.1:<port>`: the KV_PATH of every process that shares it */
  url: string;
  /** the token it requires (DENO_KV_ACCESS_TOKEN) */
  token: string;
  /** stops the server and removes its database */
  stop(): Promise<void>;
}

/**
 * The access token of every denokv this test process starts. `Deno.openKv`
 * reads `DENO_KV_ACCESS_TOKEN` from the environment, so one process uses one
 * token for all its servers; it is set here the first time.
 */
export function testKvToken(): string {
  let t = Deno.env.get("DENO_KV_ACCESS_TOKEN");
  if (!t || t.length < 12) {
    t = `test-${crypto.randomUUID()}`;
    Deno.env.set("DENO_KV_ACCESS_TOKEN", t);
  }
  return t;
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts denokv on a fresh database and waits until it answers KV Connect
 * requests with this process's token.
 *
 * @example
 * ```ts ignore
 * const kv = await startDenoKv();
 * const store = await Store.open(kv.url, { retentionMs: 3_600_000 });
 * // ... spawn roles with { KV_PATH: kv.url, DENO_KV_ACCESS_TOKEN: kv.token }
 * store.close();
 * await kv.stop();
 * ```
 */
export async function startDenoKv(bin = Deno.env.get("DENOKV_BIN") ?? "denokv"): Promise<
  DenoKvServer
> {
  const token = testKvToken();
  const dir = await Deno.makeTempDir({ prefix: "sentinel-denokv-" });
  const port = freePort();
  const child = new Deno.Command(bin, {
    args: ["--sqlite-path", `${dir}/kv.sqlite`, "serve", "--addr", `127.0.0.1:${port}`],
    env: { DENO_KV_ACCESS_TOKEN: token },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await child.stderr.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const kv = await Deno.openKv(url);
      await kv.get(["ready"]);
      kv.close();
      return { url, token, stop };
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`denokv (${bin}) did not answer on ${url} within 20 s: ${e}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
