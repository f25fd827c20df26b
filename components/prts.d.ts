/**
 * The part of preact-render-to-string's types Sentinel uses, declared
 * against the import map's `preact` (see components/html.ts for why).
 *
 * @module
 */
import type { VNode } from "preact";

/** Renders a Preact tree to an HTML string. */
export function render(vnode: VNode): string;
