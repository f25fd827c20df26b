/**
 * Opening the KV file safely: a damaged, foreign or unwritable `KV_PATH`
 * must stop Sentinel at start with one line naming the path and the cause,
 * not with a stack trace, and not minutes later when a damaged page is first
 * read (a model load, an export). Deno KV is SQLite underneath, so the file
 * is checked with SQLite's own `PRAGMA quick_check` (every page's structure,
 * read-only) before Deno KV opens it, and a write is tried after.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** `KV_PATH` cannot be used; `message` is one line naming the path and the cause. */
export class KvOpenError extends Error {
  constructor(readonly path: string, cause: string) {
    super(`KV_PATH ${path}: ${cause}`);
    this.name = "KvOpenError";
  }
}

const oneLine = (e: unknown) =>
  (e instanceof Error ? e.message : String(e)).replace(/\s*[\r\n]+\s*/g, " ").trim();

/** True for KV Connect URLs and `:memory:`, which have no local file to check. */
export function isRemoteOrMemory(path: string): boolean {
  return /^https?:\/\//.test(path) || path === ":memory:";
}

/**
 * Checks a local KV path before it is opened: its folder can be created, the
 * path is not a folder, and an existing file is an intact SQLite database.
 * Throws {@linkcode KvOpenError}.
 */
export async function checkKvFile(path: string): Promise<void> {
  if (isRemoteOrMemory(path)) return;
  const dir = path.replace(/[^/]*$/, "");
  if (dir) {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new KvOpenError(path, `cannot create its folder ${dir}: ${oneLine(e)}`);
    }
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return; // a new store
    throw new KvOpenError(path, `cannot read it: ${oneLine(e)}`);
  }
  if (info.isDirectory) throw new KvOpenError(path, "is a folder, not a KV file");
  if (info.size === 0) return; // SQLite treats an empty file as a new database
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(path, { readOnly: true });
    const rows = db.prepare("PRAGMA quick_check").all() as Record<string, unknown>[];
    const problems = rows.map((r) => String(Object.values(r)[0])).filter((v) => v !== "ok");
    if (problems.length) {
      throw new KvOpenError(
        path,
        `the file is damaged (${problems.slice(0, 2).join("; ")}); restore a backup or move ` +
          `it away to start with an empty store`,
      );
    }
  } catch (e) {
    if (e instanceof KvOpenError) throw e;
    const m = oneLine(e);
    throw new KvOpenError(
      path,
      /not a database/i.test(m)
        ? "is not a Deno KV (SQLite) file"
        : /malformed|corrupt/i.test(m)
        ? `the file is damaged (${m}); restore a backup or move it away to start with an empty store`
        : `cannot be read as a KV file: ${m}`,
    );
  } finally {
    db?.close();
  }
}

/**
 * Opens Deno KV at `path` after {@linkcode checkKvFile}, and proves it
 * writable with one write (deleting a key that does not exist). Throws
 * {@linkcode KvOpenError}.
 */
export async function openKv(path: string): Promise<Deno.Kv> {
  await checkKvFile(path);
  let kv: Deno.Kv;
  try {
    kv = await Deno.openKv(path);
  } catch (e) {
    throw new KvOpenError(path, `cannot open it: ${oneLine(e)}`);
  }
  try {
    await kv.delete(["sentinel", "write-probe"]);
  } catch (e) {
    kv.close();
    throw new KvOpenError(path, `cannot write to it: ${oneLine(e)}`);
  }
  return kv;
}
