/**
 * Server-renders an island: the component's HTML inside
 * `<div data-island="Name">`, and its props as JSON in a
 * `<script type="application/json">` beside it, which the island's bundle
 * reads to hydrate it (islands/shared/hydrate.ts). Props must be plain JSON.
 *
 * @module
 */
import type { ComponentType, JSX } from "preact";
import { ISLAND_ATTR, PROPS_ATTR } from "../islands/shared/hydrate.ts";

let counter = 0;

/**
 * JSON safe inside a `<script>` element: `<` is escaped so that no
 * `</script>` or `<!--` in a string can end the element early.
 *
 * @example
 * ```ts
 * import { scriptJson } from "./Island.tsx";
 * console.log(scriptJson({ s: "</script>" })); // {"s":"\u003c/script>"}
 * ```
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** Props of {@linkcode Island}. */
export interface IslandProps<P> {
  /** the island's file name in islands/ (without `.tsx`): its bundle is `<name>.js` */
  name: string;
  component: ComponentType<P>;
  props: P;
}

/**
 * An island rendered on the server, ready to hydrate.
 *
 * @example
 * ```tsx ignore
 * <Island name="LiveFeed" component={LiveFeed} props={{ symbols, initial }} />
 * ```
 */
export function Island<P>({ name, component: C, props }: IslandProps<P>) {
  const id = `island-props-${++counter}`;
  const attrs = { [ISLAND_ATTR]: name, [PROPS_ATTR]: id };
  return (
    <>
      <div class="island" {...attrs}>
        <C {...(props as P & JSX.IntrinsicAttributes)} />
      </div>
      <script
        type="application/json"
        id={id}
        dangerouslySetInnerHTML={{ __html: scriptJson(props) }}
      />
    </>
  );
}
