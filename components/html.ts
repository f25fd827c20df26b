/**
 * Renders a page to an HTML document string.
 *
 * preact-render-to-string is imported with local types (`@ts-types`):
 * Preact 11 declares it as an optional peer dependency and it declares Preact
 * as one, and with both in Deno 2.9's type graph `deno check` resolves
 * `preact/jsx-runtime` to a peer-suffixed copy of Preact whose types it then
 * cannot find, failing every JSX file. The runtime is unaffected.
 *
 * @module
 */
import type { VNode } from "preact";
// @ts-types="./prts.d.ts"
import { render } from "preact-render-to-string";

/**
 * `<!DOCTYPE html>` and the rendered tree.
 *
 * @example
 * ```tsx ignore
 * renderDocument(<html><body>hi</body></html>); // "<!DOCTYPE html><html><body>hi</body></html>"
 * ```
 */
export function renderDocument(vnode: VNode): string {
  return "<!DOCTYPE html>" + render(vnode);
}
