/**
 * Builds the dashboard's browser bundles: one ES module per island
 * (`islands/*.tsx`), each of which hydrates the server-rendered copies of its
 * island, with shared code (Preact, Observable Plot, d3) split into common
 * chunks. `deno bundle` does the work (it is esbuild inside Deno: it reads
 * `deno.json`'s import map, JSX settings and lock file, and needs no extra
 * dependency).
 *
 * Bundles are content-addressed: `static/build/<hash>/` where the hash covers
 * every file a bundle is made from (`islands/**`, `deno.json`, `deno.lock`
 * and this script). A build whose hash directory already exists is skipped,
 * so the server can call {@linkcode buildIslands} on every boot for the cost
 * of hashing a few files, and browsers may cache the files forever. A build
 * writes into a temporary directory and renames it into place, so two
 * processes building at once cannot leave a half-written directory behind.
 *
 * Run it directly (`deno task build`) to build, or rebuild with `--force`.
 *
 * @module
 */

/** What a build produced. */
export interface BuildResult {
  /** the content hash naming the output directory */
  hash: string;
  /** directory holding the bundles, e.g. `/repo/static/build/3f2a…` */
  dir: string;
  /** URL path the server serves that directory under, e.g. `/static/build/3f2a…` */
  urlPath: string;
  /** the islands built, by name (`LiveFeed`, …) */
  islands: string[];
  /** false when an up-to-date build was found and nothing ran */
  built: boolean;
  /** milliseconds spent (hashing included) */
  ms: number;
}

/** Options of {@linkcode buildIslands}. */
export interface BuildOptions {
  /** the repository root (default: this script's parent directory) */
  root?: string;
  /** build even when an up-to-date build exists */
  force?: boolean;
  /** minify (default true) */
  minify?: boolean;
  /** how many older build directories to keep (default 2) */
  keep?: number;
}

const DEFAULT_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

async function* walk(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  entries.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(path);
    else if (e.isFile) yield path;
  }
}

/** The islands of `root`: every `islands/*.tsx` that is not a test, by name. */
export async function islandNames(root = DEFAULT_ROOT): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/islands`)) {
    const m = /^([A-Z][A-Za-z0-9]*)\.tsx$/.exec(e.name);
    if (e.isFile && m) out.push(m[1]);
  }
  return out.sort();
}

/**
 * The hash of everything the bundles are made from. Islands import only from
 * `islands/` and npm packages (pinned by `deno.json` and `deno.lock`), which
 * is what makes this list complete.
 */
export async function sourceHash(root = DEFAULT_ROOT): Promise<string> {
  const files = [`${root}/deno.json`, `${root}/deno.lock`, `${root}/scripts/build.ts`];
  for await (const f of walk(`${root}/islands`)) {
    if (/\.(tsx?|jsx?|json)$/.test(f) && !/_test\.tsx?$/.test(f)) files.push(f);
  }
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const f of files) {
    parts.push(enc.encode(`\0${f.slice(root.length)}\0`));
    try {
      parts.push(await Deno.readFile(f));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The entry module of one island: import it and hydrate its server-rendered copies. */
function entrySource(root: string, name: string): string {
  const url = (p: string) => JSON.stringify(new URL(`file://${root}/${p}`).href);
  return `import { hydrateIslands } from ${url("islands/shared/hydrate.ts")};\n` +
    `import Island from ${url(`islands/${name}.tsx`)};\n` +
    `hydrateIslands(${JSON.stringify(name)}, Island);\n`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * Removes all but the `keep` newest build directories other than `current`,
 * and temporary directories a crashed build left (a fresh one may be another
 * process's build in progress).
 */
async function prune(buildRoot: string, current: string, keep: number): Promise<void> {
  const builds: { path: string; mtime: number }[] = [];
  const now = Date.now();
  for await (const e of Deno.readDir(buildRoot)) {
    if (!e.isDirectory || e.name === current) continue;
    const path = `${buildRoot}/${e.name}`;
    const mtime = (await Deno.stat(path).catch(() => null))?.mtime?.getTime() ?? 0;
    if (!e.name.startsWith(".tmp-")) builds.push({ path, mtime });
    else if (now - mtime > 10 * 60_000) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
  builds.sort((a, b) => b.mtime - a.mtime);
  for (const d of builds.slice(keep)) {
    await Deno.remove(d.path, { recursive: true }).catch(() => {});
  }
}

/**
 * Builds the island bundles unless an up-to-date build exists.
 *
 * @example
 * ```ts ignore
 * const { urlPath, built } = await buildIslands();
 * console.log(`${urlPath}/LiveFeed.js`, built ? "built" : "up to date");
 * ```
 */
export async function buildIslands(opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const root = opts.root ?? DEFAULT_ROOT;
  const [hash, islands] = await Promise.all([sourceHash(root), islandNames(root)]);
  const buildRoot = `${root}/static/build`;
  const dir = `${buildRoot}/${hash}`;
  const result = (built: boolean): BuildResult => ({
    hash,
    dir,
    urlPath: `/static/build/${hash}`,
    islands,
    built,
    ms: Math.round(performance.now() - t0),
  });
  if (!opts.force && await exists(`${dir}/manifest.json`)) return result(false);

  await Deno.mkdir(buildRoot, { recursive: true });
  const entries = await Deno.makeTempDir({ prefix: "sentinel-islands-" });
  const out = await Deno.makeTempDir({ dir: buildRoot, prefix: ".tmp-" });
  try {
    const files = [];
    for (const name of islands) {
      const file = `${entries}/${name}.ts`;
      await Deno.writeTextFile(file, entrySource(root, name));
      files.push(file);
    }
    const args = [
      "bundle",
      "--quiet",
      `--config=${root}/deno.json`,
      "--platform=browser",
      "--format=esm",
      "--code-splitting",
      `--outdir=${out}`,
      ...(opts.minify === false ? [] : ["--minify"]),
      ...files,
    ];
    const { code, stderr, stdout } = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (code !== 0) {
      const dec = new TextDecoder();
      throw new Error(
        `deno bundle failed (exit ${code}):\n${dec.decode(stderr)}${dec.decode(stdout)}`.trim(),
      );
    }
    await Deno.writeTextFile(
      `${out}/manifest.json`,
      JSON.stringify({ hash, islands, builtAt: new Date().toISOString() }, null, 2) + "\n",
    );
    if (opts.force) await Deno.remove(dir, { recursive: true }).catch(() => {});
    // makeTempDir creates it private; a server running as another user must be able to read it.
    await Deno.chmod(out, 0o755);
    try {
      await Deno.rename(out, dir);
    } catch (e) {
      // Another process finished the same build first: its files are identical.
      if (!(await exists(`${dir}/manifest.json`))) throw e;
    }
    await prune(buildRoot, hash, opts.keep ?? 2);
    return result(true);
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    await Deno.remove(entries, { recursive: true }).catch(() => {});
  }
}

/**
 * The bundles `deno task build` made ahead of time for the current sources,
 * without building: reads only, runs nothing. For hosts where the server may
 * not spawn a build or write files (Deno Deploy, `deno task deploy:check`).
 * Rejects, saying to run `deno task build`, when no build matches the
 * sources' hash (the dashboard then serves its pages without scripts, under a
 * banner).
 *
 * @example
 * ```ts ignore
 * mountDashboard(app, ctx, { build: prebuiltIslands });
 * ```
 */
export async function prebuiltIslands(opts: { root?: string } = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const root = opts.root ?? DEFAULT_ROOT;
  const [hash, islands] = await Promise.all([sourceHash(root), islandNames(root)]);
  const dir = `${root}/static/build/${hash}`;
  if (!(await exists(`${dir}/manifest.json`))) {
    throw new Error(
      `no prebuilt island bundles for these sources (static/build/${hash}): ` +
        "run `deno task build` before deploying",
    );
  }
  return {
    hash,
    dir,
    urlPath: `/static/build/${hash}`,
    islands,
    built: false,
    ms: Math.round(performance.now() - t0),
  };
}

if (import.meta.main) {
  const force = Deno.args.includes("--force");
  try {
    const r = await buildIslands({ force });
    console.log(
      `${r.built ? "built" : "up to date:"} ${r.islands.length} island bundle(s) ` +
        `(${r.islands.join(", ")}) in static/build/${r.hash} (${r.ms} ms)`,
    );
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
