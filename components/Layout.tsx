/**
 * The dashboard's page shell: document head (local stylesheet and icon, no
 * external fonts or CDNs), the navigation between the pages, and the
 * module scripts of the islands the page holds.
 *
 * @module
 */
import type { ComponentChildren } from "preact";
import { Island } from "./Island.tsx";
import IncidentAlerts from "../islands/IncidentAlerts.tsx";

/** The island every page carries in its topbar (its bundle is added to every page's scripts). */
export const LAYOUT_ISLANDS = ["IncidentAlerts"];
/** How often the topbar's incident alerts poll, ms. */
export const ALERTS_POLL_MS = 5000;

/** The pages, in navigation order. */
export const NAV = [
  { href: "/", label: "System Status" },
  { href: "/live", label: "Live Feed" },
  { href: "/incidents", label: "Incidents" },
  { href: "/analytics", label: "Analytics" },
  { href: "/manual", label: "Manual Test" },
  { href: "/models", label: "Models" },
] as const;

/** Props of {@linkcode Layout}. */
export interface LayoutProps {
  title: string;
  /** the current page's path, highlighted in the navigation */
  path: string;
  /** URL of each island bundle the page loads */
  scripts: string[];
  /** URL of the stylesheet (with its cache-busting query) */
  stylesheet: string;
  /** one line about the running system, shown in the footer */
  footer: string;
  /** a problem to show above the page (e.g. the bundles could not be built) */
  banner?: string | null;
  children: ComponentChildren;
}

/**
 * A whole HTML document around a page's content.
 *
 * @example
 * ```tsx ignore
 * <Layout title="Live Feed" path="/live" scripts={["/static/build/ab12/LiveFeed.js"]} …>…</Layout>
 * ```
 */
export function Layout(p: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="dark" />
        <title>{`${p.title} · Sentinel`}</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href={p.stylesheet} />
        {p.scripts.map((src) => <script key={src} type="module" src={src} />)}
      </head>
      <body>
        <header class="topbar">
          <a class="brand" href="/">
            <span class="brand-mark" aria-hidden="true">◆</span> Sentinel
          </a>
          <nav class="nav" aria-label="pages">
            {NAV.map((n) => (
              <a key={n.href} href={n.href} aria-current={n.href === p.path ? "page" : undefined}>
                {n.label}
              </a>
            ))}
            <a href="/docs" aria-current={p.path === "/docs" ? "page" : undefined}>API</a>
          </nav>
          <Island
            name="IncidentAlerts"
            component={IncidentAlerts}
            props={{ viewing: p.path === "/incidents", pollMs: ALERTS_POLL_MS }}
          />
        </header>
        {p.banner ? <div class="banner" role="alert">{p.banner}</div> : null}
        <main class="page">
          <h1 class="page-title">{p.title}</h1>
          {p.children}
        </main>
        <footer class="footer">{p.footer}</footer>
      </body>
    </html>
  );
}
