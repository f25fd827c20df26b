/**
 * The HTTP server binds where `HOST` says and the log names that address
 * (issue 11: it listened on 0.0.0.0 while logging "localhost").
 */
import assert from "node:assert/strict";
import { memoryLogger } from "../pipeline/log.ts";
import { listeningLine, Sentinel } from "../sentinel.ts";
import { tempKvPath, testConfig } from "./helpers.ts";

Deno.test("listeningLine: a wildcard bind says every interface; a loopback bind says this machine", () => {
  assert.match(listeningLine("0.0.0.0", 8000), /listening on 0\.0\.0\.0:8000, every interface/);
  assert.match(listeningLine("::", 8000), /listening on \[::\]:8000, every interface/);
  assert.equal(
    listeningLine("127.0.0.1", 8123),
    "dashboard and API on http://127.0.0.1:8123 (this machine only; API docs at /docs)",
  );
  assert.equal(
    listeningLine("10.0.0.5", 80),
    "dashboard and API on http://10.0.0.5:80 (API docs at /docs)",
  );
});

Deno.test("HOST: the server binds to it and logs the address it really listens on", async () => {
  const kv = await tempKvPath();
  const lines: string[] = [];
  const s = await Sentinel.start(testConfig({ KV_PATH: kv.path, HOST: "127.0.0.1" }), ["web"], {
    port: 0,
    logger: () => memoryLogger(lines),
    tailPollMs: 50,
  });
  try {
    assert.ok(
      lines.includes(
        `dashboard and API on http://127.0.0.1:${s.port} (this machine only; API docs at /docs)`,
      ),
      lines.join("\n"),
    );
    const res = await fetch(`http://127.0.0.1:${s.port}/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(testConfig({}).host, "0.0.0.0", "the default stays every interface");
  } finally {
    await s.stop();
    await kv.cleanup();
  }
});
