/**
 * Gate for suites that need something outside the repo (a Kafka broker, a
 * browser). DESIGN.md section 14: such a suite runs when its environment
 * variable is set, otherwise it reports itself as ignored, by name, with how
 * to enable it; under `REQUIRE_ALL_SUITES=1` (set by CI, which provisions
 * everything) a missing suite fails instead, so CI cannot go green by
 * silently skipping it.
 *
 * @module
 */

/**
 * Decides whether an optional suite runs. When `envVar` is set (non-empty) it
 * returns `true` and registers nothing. When it is unset it returns `false`
 * and registers one placeholder test for the whole suite: ignored, named
 * `"<suite> (ignored: <howTo>)"` so the report says how to enable it; or, when
 * `REQUIRE_ALL_SUITES=1`, failing with a message naming `envVar` and `howTo`.
 *
 * Call it once at the top level of a test file and register the suite's real
 * tests only when it returns `true`.
 *
 * @example A browser suite (the Kafka smoke test uses it the same way)
 * ```ts
 * import { requireSuite } from "./suite_gate.ts";
 *
 * const howTo = "apt-get install chromium, then set CHROMIUM_PATH=/usr/bin/chromium";
 * if (requireSuite("browser", "CHROMIUM_PATH", howTo)) {
 *   Deno.test("browser: the live page renders", () => {
 *     const chromium = Deno.env.get("CHROMIUM_PATH")!;
 *     // launch playwright-core with executablePath: chromium ...
 *   });
 * }
 * ```
 *
 * @param suite Human name of the suite, the prefix of the placeholder test's name.
 * @param envVar The variable whose presence enables the suite (e.g. `KAFKA_BROKERS`, `CHROMIUM_PATH`).
 * @param howTo What to do to enable it, shown in the test name or failure.
 * @returns Whether the caller should register the suite's tests.
 */
export function requireSuite(suite: string, envVar: string, howTo: string): boolean {
  if ((Deno.env.get(envVar) ?? "") !== "") return true;
  if (Deno.env.get("REQUIRE_ALL_SUITES") === "1") {
    Deno.test(`${suite} (required by REQUIRE_ALL_SUITES=1, but ${envVar} is unset)`, () => {
      throw new Error(
        `suite "${suite}" cannot run: ${envVar} is unset and REQUIRE_ALL_SUITES=1 forbids ` +
          `skipping it. To enable it: ${howTo}`,
      );
    });
  } else {
    Deno.test({ name: `${suite} (ignored: ${howTo})`, ignore: true, fn() {} });
  }
  return false;
}
