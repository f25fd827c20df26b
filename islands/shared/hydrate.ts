/**
 * The browser half of islands: finds the server-rendered copies of one island
 * (`<div data-island="Name">`, props in the JSON script the server put beside
 * it, see components/Island.tsx) and hydrates each with Preact. The build
 * (scripts/build.ts) generates one entry per island that calls this.
 *
 * @module
 */
import { type ComponentType, h, hydrate } from "preact";

/** Attribute naming the island a server-rendered element holds. */
export const ISLAND_ATTR = "data-island";
/** Attribute naming the id of the `<script type="application/json">` holding its props. */
export const PROPS_ATTR = "data-props";
/** Attribute set once an island is hydrated (tests wait for it). */
export const HYDRATED_ATTR = "data-hydrated";

/**
 * Hydrates every server-rendered copy of island `name` with `component`.
 *
 * @example
 * ```ts ignore
 * import LiveFeed from "../LiveFeed.tsx";
 * hydrateIslands("LiveFeed", LiveFeed);
 * ```
 */
// deno-lint-ignore no-explicit-any
export function hydrateIslands(name: string, component: ComponentType<any>): void {
  for (const el of document.querySelectorAll<HTMLElement>(`[${ISLAND_ATTR}="${name}"]`)) {
    const script = document.getElementById(el.getAttribute(PROPS_ATTR) ?? "");
    const props = script?.textContent ? JSON.parse(script.textContent) : {};
    hydrate(h(component, props), el);
    el.setAttribute(HYDRATED_ATTR, "");
  }
}
