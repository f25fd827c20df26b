import assert from "node:assert/strict";
import { childEnv } from "../tests/helpers.ts";
import { KvOpenError, openKv } from "./open.ts";

/** A real KV file with some pages in it, as a worker leaves it. */
async function realKv(path: string): Promise<Uint8Array> {
  const kv = await Deno.openKv(path);
  for (let i = 0; i < 2000; i += 100) {
    const op = kv.atomic();
    for (let j = i; j < i + 100; j++) op.set(["k", j], "x".repeat(400));
    await op.commit();
  }
  kv.close();
  return await Deno.readFile(path);
}

async function expectOpenError(path: string, cause: RegExp): Promise<void> {
  await assert.rejects(() => openKv(path), (e: unknown) => {
    assert.ok(e instanceof KvOpenError, String(e));
    assert.ok(e.message.startsWith(`KV_PATH ${path}: `), e.message);
    assert.match(e.message, cause);
    assert.doesNotMatch(e.message, /\n/, "one line");
    return true;
  });
}

Deno.test("openKv: damaged, foreign, folder and unwritable paths fail at once with the path and the cause", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv-open-" });
  try {
    const good = await realKv(`${dir}/good.kv`);

    await Deno.writeTextFile(
      `${dir}/garbage.kv`,
      "this is not a database, just text\n".repeat(200),
    );
    await expectOpenError(`${dir}/garbage.kv`, /is not a Deno KV \(SQLite\) file/);

    await Deno.writeFile(`${dir}/truncated.kv`, good.slice(0, 20_000));
    await expectOpenError(`${dir}/truncated.kv`, /the file is damaged/);

    // Damage in the middle of the file: Deno KV alone opens it and fails only when that page is read.
    const mid = good.slice();
    const at = Math.floor(mid.length / 2 / 4096) * 4096;
    for (let i = 0; i < 8192; i++) mid[at + i] = (i * 7919 + 13) & 0xff;
    await Deno.writeFile(`${dir}/mid.kv`, mid);
    await expectOpenError(`${dir}/mid.kv`, /the file is damaged/);

    await Deno.mkdir(`${dir}/folder.kv`);
    await expectOpenError(`${dir}/folder.kv`, /is a folder, not a KV file/);

    // A file where the folder should be: the folder cannot be created.
    await Deno.writeTextFile(`${dir}/plain`, "x");
    await expectOpenError(`${dir}/plain/kv.sqlite`, /cannot create its folder .*plain\/: /);

    // A read-only folder (root ignores permissions, so only as another user).
    if (Deno.uid() !== 0) {
      await Deno.mkdir(`${dir}/ro`, { mode: 0o555 });
      await expectOpenError(`${dir}/ro/kv.sqlite`, /cannot open it: /);
      await Deno.chmod(`${dir}/ro`, 0o755);
    }

    // The intact file opens, and so does a new one.
    (await openKv(`${dir}/good.kv`)).close();
    (await openKv(`${dir}/new/sub/fresh.kv`)).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main.ts: a damaged KV_PATH ends with one line naming it, exit code 2, no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kv-open-main-" });
  try {
    const path = `${dir}/broken.kv`;
    await Deno.writeTextFile(path, "garbage ".repeat(1000));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        new URL("../main.ts", import.meta.url).pathname,
        "--role=source",
        "--role=worker",
      ],
      clearEnv: true,
      env: { ...childEnv(), KV_PATH: path, BACKFILL_SECONDS: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).split("\n")
      .filter((l) => l.trim() !== "" && !/Warning|experimental/.test(l));
    assert.equal(out.code, 2);
    assert.deepEqual(err, [`sentinel: KV_PATH ${path}: is not a Deno KV (SQLite) file`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
