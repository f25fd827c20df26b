import assert from "node:assert/strict";
import { renderDocument } from "./html.ts";
import { Island, scriptJson } from "./Island.tsx";

function Greeting(p: { who: string; n: number }) {
  return <p class="greeting">{`hello ${p.who} ×${p.n}`}</p>;
}

Deno.test("scriptJson cannot end its <script> early and still parses to the same value", () => {
  const value = { s: "</script><script>alert(1)</script><!--", line: "a\u2028b" };
  const json = scriptJson(value);
  assert.ok(!json.includes("<"), json);
  assert.ok(!json.includes("\u2028"));
  assert.deepEqual(JSON.parse(json), value);
});

Deno.test("an island renders its HTML in a marked element and its props beside it", () => {
  const props = { who: "</script> & <b>", n: 3 };
  const html = renderDocument(<Island name="Greeting" component={Greeting} props={props} />);
  const m =
    /<div class="island" data-island="Greeting" data-props="([^"]+)"><p class="greeting">hello &lt;\/script> &amp; &lt;b> ×3<\/p><\/div><script type="application\/json" id="([^"]+)">(.*?)<\/script>/
      .exec(html);
  assert.ok(m, html);
  assert.equal(m[1], m[2], "the element names its props script");
  assert.deepEqual(JSON.parse(m[3]), props);
});

Deno.test("two islands on one page get distinct props scripts", () => {
  const html = renderDocument(
    <>
      <Island name="Greeting" component={Greeting} props={{ who: "a", n: 1 }} />
      <Island name="Greeting" component={Greeting} props={{ who: "b", n: 2 }} />
    </>,
  );
  const ids = [...html.matchAll(/data-props="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(ids.length, 2);
  assert.notEqual(ids[0], ids[1]);
});
