/**
 * The API reference (`/docs`) inside the site: the navigation, the dark
 * theme, and Swagger UI over `/openapi.json` drawn by an island. A browser
 * asking for HTML gets this page (routes/app.ts `browserPages`, as for
 * `/incidents`); any other client gets the plain Swagger UI page that
 * routes/app.ts serves without the dashboard. Swagger UI's files come from
 * the `swagger-ui-dist` package through routes/pages/docs.ts, never a CDN.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import ApiDocs, { type ApiDocsProps } from "../../islands/ApiDocs.tsx";
import { SWAGGER_ASSETS_BASE } from "./docs.ts";
import { PAGE_PREFIX } from "./incidents.tsx";

/** The API reference page. */
export const apiDocsPage: DashboardPage<ApiDocsProps> = {
  path: "/docs",
  mountedAt: `${PAGE_PREFIX}/docs`,
  title: "API",
  islands: ["ApiDocs"],
  load() {
    return Promise.resolve({
      specUrl: "/openapi.json",
      assets: `${SWAGGER_ASSETS_BASE}/swagger-ui-dist`,
    });
  },
  render(data) {
    return (
      <>
        <p class="lede">
          Every endpoint with its parameters and answers, generated from the schemas that validate
          requests (<a href="/openapi.json">/openapi.json</a>). Errors are JSON{" "}
          <code>{"{error, detail}"}</code>; admin endpoints take the API key as a bearer token
          (Authorize).
        </p>
        <link rel="stylesheet" href={`${data.assets}/swagger-ui.css`} />
        <Island name="ApiDocs" component={ApiDocs} props={data} />
      </>
    );
  },
};
