/**
 * Incidents (`/incidents` and `/incidents/{id}`): the analyst's list of
 * market events and one event's page. Both paths are also the API's
 * (`GET /incidents` answers JSON); a browser asking for HTML gets these
 * pages instead (routes/app.ts `browserPages`), mounted under
 * {@linkcode PAGE_PREFIX}. The pages read the same API in-process.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import Incidents, { type IncidentsProps } from "../../islands/Incidents.tsx";
import IncidentView, { type IncidentViewProps } from "../../islands/IncidentView.tsx";
import type { Prediction } from "../../islands/shared/api.ts";
import type { Review } from "../../islands/shared/ReviewPanel.tsx";
import {
  countByType,
  type Incident,
  incidentApiQuery,
  parseIncidentFilters,
} from "../../islands/shared/incidents.ts";

/** Where pages whose public path is also an API path are mounted. */
export const PAGE_PREFIX = "/ui";
/** The most incidents one list view shows (the API's maximum page). */
export const LIST_LIMIT = 500;

/** The incident list. */
export const incidentsPage: DashboardPage<IncidentsProps> = {
  path: "/incidents",
  mountedAt: `${PAGE_PREFIX}/incidents`,
  title: "Incidents",
  islands: ["Incidents"],
  async load(pc) {
    const symbols = pc.ctx.config.symbols;
    const filters = parseIncidentFilters(pc.url.searchParams, symbols);
    const now = pc.ctx.now();
    const [list, all] = await Promise.all([
      pc.json<{ incidents: Incident[]; reviews: Record<string, Review> }>(
        `/incidents?${incidentApiQuery(filters, now, LIST_LIMIT)}`,
      ),
      pc.json<{ incidents: Incident[] }>(
        `/incidents?${incidentApiQuery(filters, now, LIST_LIMIT, false)}`,
      ),
    ]);
    const bad = !list.ok ? list : !all.ok ? all : null;
    return {
      symbols,
      filters,
      incidents: list.ok ? list.value.incidents : [],
      reviews: list.ok ? list.value.reviews : {},
      counts: countByType(all.ok ? all.value.incidents : []),
      limit: LIST_LIMIT,
      nowMs: now,
      refreshMs: 5000,
      problem: bad && !bad.ok ? `${bad.error}: ${bad.detail}` : null,
    };
  },
  render(data) {
    return (
      <>
        <p class="lede">
          One market event makes one incident: the alerts of a symbol close together in time, typed
          by the shape of the move. Filter them (the filters stay in the address, to bookmark or
          share), then open one to see what happened around it.
        </p>
        <Island name="Incidents" component={Incidents} props={data} />
      </>
    );
  },
};

/** What the incident page renders: the incident, or which id was not found. */
export type IncidentPageData = { id: string; view: IncidentViewProps | null };

/** One incident. */
export const incidentPage: DashboardPage<IncidentPageData> = {
  path: "/incidents/:id",
  mountedAt: `${PAGE_PREFIX}/incidents/:id`,
  nav: "/incidents",
  title: "Incident",
  islands: ["IncidentView"],
  async load(pc) {
    const id = decodeURIComponent(pc.url.pathname.split("/").pop() ?? "");
    const [r, review, mutes] = await Promise.all([
      pc.json<{ incident: Incident; trades: Prediction[]; context_ms: number }>(
        `/incidents/${encodeURIComponent(id)}`,
      ),
      pc.json<Review | null>(`/incidents/${encodeURIComponent(id)}/review`),
      pc.json<{ mutes: { symbol: string; until_ms: number }[] }>("/mutes"),
    ]);
    if (!r.ok) {
      // Not kept, or not an incident id at all (422): the page says so.
      if (r.status === 404 || r.status === 422) return { id, view: null };
      throw new Error(`/incidents/${id}: ${r.error}`);
    }
    return {
      id,
      view: {
        incident: r.value.incident,
        trades: r.value.trades,
        contextMs: r.value.context_ms,
        nowMs: pc.ctx.now(),
        review: {
          incidentId: id,
          symbol: r.value.incident.symbol,
          review: review.ok ? review.value : null,
          mutedUntil: mutes.ok
            ? mutes.value.mutes.find((m) => m.symbol === r.value.incident.symbol)?.until_ms ?? null
            : null,
          adminEnabled: pc.ctx.config.apiKey !== null,
        },
      },
    };
  },
  render(data) {
    if (!data.view) {
      return (
        <p class="notice bad" data-missing>
          No incident {data.id} is kept (it may be older than the retention).{" "}
          <a href="/incidents">All incidents</a>
        </p>
      );
    }
    const i = data.view.incident;
    return (
      <>
        <p class="lede">
          <a href="/incidents">Incidents</a> › {i.symbol} {i.id.slice(i.symbol.length + 1)}
        </p>
        <Island name="IncidentView" component={IncidentView} props={data.view} />
      </>
    );
  },
};
