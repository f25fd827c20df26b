import assert from "node:assert/strict";
import { CliError, helpText, parseArgs, ROLES } from "./cli.ts";
import { CONFIG_VARS } from "./config.ts";

Deno.test("cli: no arguments runs every role", () => {
  assert.deepEqual(parseArgs([]), { help: false, roles: [...ROLES] });
  assert.deepEqual(parseArgs(["--role=all"]), { help: false, roles: [...ROLES] });
});

Deno.test("cli: roles by name, comma list or repeated flag, deduplicated", () => {
  assert.deepEqual(parseArgs(["--role=worker"]), { help: false, roles: ["worker"] });
  assert.deepEqual(parseArgs(["--role", "web,trainer", "--role=web"]), {
    help: false,
    roles: ["web", "trainer"],
  });
});

Deno.test("cli: unknown role or flag is an error that says what is accepted", () => {
  assert.throws(
    () => parseArgs(["--role=scorer"]),
    (e) => e instanceof CliError && /source, worker, web, trainer/.test(e.message),
  );
  assert.throws(() => parseArgs(["--verbose"]), CliError);
  assert.throws(() => parseArgs(["--role"]), CliError);
});

Deno.test("cli: --help lists every role and every config variable", () => {
  assert.deepEqual(parseArgs(["--role=web", "--help"]), { help: true });
  const text = helpText();
  for (const r of ROLES) assert.match(text, new RegExp(`^  ${r} `, "m"));
  for (const v of CONFIG_VARS) assert.ok(text.includes(v.name), v.name);
});
