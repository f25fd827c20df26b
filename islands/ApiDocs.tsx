/**
 * Swagger UI inside the site's layout (`/docs`): loads Swagger UI's bundle
 * from this server (a classic script, so no inline code and the pages' CSP
 * holds), switches it to its dark mode and draws `/openapi.json` into the
 * page. Until the bundle has loaded, or if it cannot, the page says so.
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";

/** Props of {@linkcode ApiDocs}. */
export interface ApiDocsProps {
  /** the OpenAPI document */
  specUrl: string;
  /** where `swagger-ui-bundle.js` and `swagger-ui.css` are served */
  assets: string;
}

type SwaggerBundle = (o: Record<string, unknown>) => unknown;

/** Loads the classic script once; resolves with Swagger UI's global. */
function loadBundle(src: string): Promise<SwaggerBundle> {
  const have = (globalThis as { SwaggerUIBundle?: SwaggerBundle }).SwaggerUIBundle;
  if (have) return Promise.resolve(have);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => {
      const b = (globalThis as { SwaggerUIBundle?: SwaggerBundle }).SwaggerUIBundle;
      if (b) resolve(b);
      else reject(new Error("the bundle defined no SwaggerUIBundle"));
    };
    s.onerror = () => reject(new Error(`${src} could not be loaded`));
    document.head.appendChild(s);
  });
}

/** The API reference. */
export default function ApiDocs(props: ApiDocsProps) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<"loading" | "ready" | string>("loading");

  useEffect(() => {
    // Swagger UI's own dark theme (its stylesheet keys it on this class); styles.css matches the colours.
    document.documentElement.classList.add("dark-mode");
    let gone = false;
    loadBundle(`${props.assets}/swagger-ui-bundle.js`).then((SwaggerUIBundle) => {
      if (gone || !host.current) return;
      SwaggerUIBundle({
        url: props.specUrl,
        domNode: host.current,
        deepLinking: true,
        tryItOutEnabled: false,
      });
      setState("ready");
    }, (e: Error) => !gone && setState(e.message));
    return () => {
      gone = true;
    };
  }, []);

  return (
    <div class="api-docs" data-docs={state === "loading" || state === "ready" ? state : "failed"}>
      {state === "loading" ? <p class="muted small">Loading the API reference…</p> : null}
      {state !== "loading" && state !== "ready"
        ? <p class="notice bad">The API reference could not load: {state}</p>
        : null}
      <div ref={host} />
    </div>
  );
}
