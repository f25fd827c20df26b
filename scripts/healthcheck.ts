/**
 * `deno task healthcheck <role>`: exit 0 when the role running on this host
 * is alive, 1 otherwise (compose.yaml's healthchecks). The web role answers
 * `GET /health` on PORT; the other roles have no port, so their liveness is
 * their heartbeat in KV (written every 5 s by sentinel.ts): one from this
 * host younger than 30 s.
 *
 * @module
 */
import { parseConfig } from "../config.ts";
import { Store } from "../store/kv.ts";

/** Whether a heartbeat `{ at }` from `instance` belongs to `host` and is fresh at `now`. */
export function freshBeat(
  instance: string,
  info: unknown,
  host: string,
  now: number,
  maxAgeMs = 30_000,
): boolean {
  const at = (info as { at?: unknown } | null)?.at;
  return instance.startsWith(`${host}:`) && typeof at === "number" && now - at <= maxAgeMs;
}

if (import.meta.main) {
  const role = Deno.args[0] ?? "";
  const config = parseConfig(Deno.env.toObject());
  let ok = false;
  if (role === "web") {
    const r = await fetch(`http://127.0.0.1:${config.port}/health`).catch(() => null);
    ok = r?.ok ?? false;
    await r?.body?.cancel();
  } else if (["source", "worker", "trainer"].includes(role)) {
    const store = await Store.open(config.kvPath, { retentionMs: config.retentionSeconds * 1000 });
    const host = Deno.hostname();
    ok = (await store.heartbeats()).some((b) =>
      b.role === role && freshBeat(b.instance, b.info, host, Date.now())
    );
    store.close();
  } else {
    console.error("usage: deno task healthcheck web|source|worker|trainer");
    Deno.exit(2);
  }
  if (!ok) console.error(`healthcheck: ${role} is not healthy on this host`);
  Deno.exit(ok ? 0 : 1);
}
