/**
 * The island build: what it hashes, when it skips, and one real build of a
 * small island with `deno bundle` (the browser suite builds the real ones).
 */
import assert from "node:assert/strict";
import { buildIslands, islandNames, prebuiltIslands, sourceHash } from "./build.ts";

const REPO = new URL("..", import.meta.url).pathname;

async function tempRoot(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "sentinel-build-test-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  return root;
}

Deno.test("islands are the PascalCase .tsx files directly in islands/", async () => {
  const root = await tempRoot({
    "islands/LiveFeed.tsx": "",
    "islands/Status2.tsx": "",
    "islands/helper.tsx": "",
    "islands/LiveFeed_test.tsx": "",
    "islands/shared/Gauge.tsx": "",
  });
  try {
    assert.deepEqual(await islandNames(root), ["LiveFeed", "Status2"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("the source hash follows islands/, deno.json and deno.lock, not tests", async () => {
  const root = await tempRoot({
    "deno.json": "{}",
    "deno.lock": "{}",
    "islands/A.tsx": "a",
    "islands/shared/x.ts": "x",
    "islands/shared/x_test.ts": "t",
  });
  try {
    const h0 = await sourceHash(root);
    assert.match(h0, /^[0-9a-f]{16}$/);
    assert.equal(await sourceHash(root), h0, "stable");
    await Deno.writeTextFile(`${root}/islands/shared/x_test.ts`, "changed");
    assert.equal(await sourceHash(root), h0, "tests do not count");
    await Deno.writeTextFile(`${root}/islands/shared/x.ts`, "y");
    const h1 = await sourceHash(root);
    assert.notEqual(h1, h0, "a shared module counts");
    await Deno.writeTextFile(`${root}/deno.lock`, '{"v":2}');
    assert.notEqual(await sourceHash(root), h1, "the lock file counts");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an up-to-date build is not redone", async () => {
  // Not code: building it would fail, so success proves nothing was built.
  const root = await tempRoot({ "deno.json": "{}", "islands/A.tsx": "this is not code" });
  try {
    const hash = await sourceHash(root);
    await Deno.mkdir(`${root}/static/build/${hash}`, { recursive: true });
    await Deno.writeTextFile(`${root}/static/build/${hash}/manifest.json`, "{}");
    const r = await buildIslands({ root });
    assert.equal(r.built, false);
    assert.equal(r.urlPath, `/static/build/${hash}`);
    assert.deepEqual(r.islands, ["A"]);
    await assert.rejects(buildIslands({ root, force: true }), /deno bundle failed/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a build bundles each island with Preact and its hydration, and prunes old builds", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const root = await tempRoot({
    "deno.json": JSON.stringify({
      imports: { preact: config.imports.preact, "preact/": config.imports["preact/"] },
      compilerOptions: config.compilerOptions,
    }),
    "islands/Hello.tsx":
      'export default function Hello(p: { who: string }) {\n  return <p class="hello">{`hi ${p.who}`}</p>;\n}\n',
    "islands/shared/hydrate.ts": await Deno.readTextFile(`${REPO}/islands/shared/hydrate.ts`),
    "static/build/0000000000000000/manifest.json": "{}",
    "static/build/1111111111111111/manifest.json": "{}",
    "static/build/2222222222222222/manifest.json": "{}",
  });
  try {
    const r = await buildIslands({ root, minify: false, keep: 1 });
    assert.equal(r.built, true);
    const js = await Deno.readTextFile(`${r.dir}/Hello.js`);
    assert.match(js, /hydrateIslands\("Hello"/);
    assert.match(js, /data-island/);
    assert.match(js, /class: "hello"|class:"hello"/);
    const manifest = JSON.parse(await Deno.readTextFile(`${r.dir}/manifest.json`));
    assert.deepEqual(manifest.islands, ["Hello"]);
    const left = await Array.fromAsync(Deno.readDir(`${root}/static/build`), (e) => e.name);
    assert.equal(left.length, 2, `the new build and one older one: ${left}`);
    assert.ok(left.includes(r.hash));
    // The first bundle wrote this root's deno.lock, which is part of the hash: one more build,
    // then the sources are stable and the next call finds the build done.
    const again = await buildIslands({ root, minify: false, keep: 1 });
    assert.equal((await buildIslands({ root, minify: false })).built, false);
    assert.equal((await buildIslands({ root, minify: false })).hash, again.hash);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("prebuilt bundles are found by the sources' hash; a stale or missing build is refused", async () => {
  const root = await tempRoot({ "deno.json": "{}", "islands/A.tsx": "a" });
  try {
    await assert.rejects(prebuiltIslands({ root }), /run `deno task build` before deploying/);
    const hash = await sourceHash(root);
    await Deno.mkdir(`${root}/static/build/${hash}`, { recursive: true });
    await Deno.writeTextFile(`${root}/static/build/${hash}/manifest.json`, "{}");
    const r = await prebuiltIslands({ root });
    assert.equal(r.urlPath, `/static/build/${hash}`);
    assert.equal(r.built, false);
    assert.deepEqual(r.islands, ["A"]);
    // Sources changed after the build: that build no longer matches.
    await Deno.writeTextFile(`${root}/islands/A.tsx`, "b");
    await assert.rejects(prebuiltIslands({ root }), /no prebuilt island bundles/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
