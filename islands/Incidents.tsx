/**
 * The incident list (`/incidents`): filters by symbol, type, status and time
 * range that live in the URL (a plain GET form, so it works before the
 * script loads and every view can be bookmarked), counts per type, and one
 * row per incident linking to its page. Once hydrated it refreshes itself
 * every few seconds, so open incidents close and new ones appear in place.
 *
 * @module
 */
import { useEffect, useState } from "preact/hooks";
import { apiJson } from "./shared/api.ts";
import type { Review } from "./shared/ReviewPanel.tsx";
import { fmtDateTime, fmtDuration, fmtInt, fmtNum, fmtPct, fmtPrice } from "./shared/format.ts";
import {
  countByType,
  type Incident,
  incidentApiQuery,
  type IncidentFilters,
  incidentSeconds,
  mainDriver,
  peakMove,
  RANGES,
  typeLabel,
  TYPES,
} from "./shared/incidents.ts";

/** Props of {@linkcode Incidents}. */
export interface IncidentsProps {
  symbols: string[];
  filters: IncidentFilters;
  /** the filtered incidents, newest first */
  incidents: Incident[];
  /** analysts' reviews of the listed incidents, by id */
  reviews: Record<string, Review>;
  /** per type, over the other filters (symbol, status, range) */
  counts: Record<string, number>;
  /** the most incidents fetched per view */
  limit: number;
  /** server time of the render (epoch ms) */
  nowMs: number;
  /** ms between refreshes (0: never) */
  refreshMs: number;
  /** why the list could not be loaded, if it could not */
  problem: string | null;
}

function reviewLabel(r: Review | undefined): string {
  if (!r) return "–";
  const verdict = r.verdict === "true_positive"
    ? "true positive"
    : r.verdict === "false_positive"
    ? "false positive"
    : "";
  return [r.acknowledged ? "acknowledged" : "", verdict].filter(Boolean).join(", ") || "–";
}

function Row(p: { inc: Incident; nowMs: number; review?: Review }) {
  const i = p.inc;
  const move = peakMove(i);
  return (
    <tr data-incident={i.id} data-type={i.type} data-status={i.status}>
      <td>
        <a href={`/incidents/${encodeURIComponent(i.id)}`}>{fmtDateTime(i.start_ms)}</a>
      </td>
      <td>{i.symbol}</td>
      <td>{typeLabel(i.type)}</td>
      <td>
        <span class={`pill ${i.status === "open" ? "anomaly" : "normal"}`}>{i.status}</span>
      </td>
      <td class="num">{fmtDuration(incidentSeconds(i, p.nowMs))}</td>
      <td class="num">{fmtNum(i.peak_severity, 2)}</td>
      <td class="num">{fmtPrice(i.peak_price)}</td>
      <td class="num">{move === null ? "–" : `${move > 0 ? "+" : ""}${fmtPct(move, 1)}`}</td>
      <td class="num">{fmtInt(i.alerts)}</td>
      <td>{mainDriver(i.drivers) ?? "–"}</td>
      <td data-review={p.review?.verdict ?? (p.review?.acknowledged ? "acknowledged" : "")}>
        {reviewLabel(p.review)}
      </td>
    </tr>
  );
}

/** The incident list. */
export default function Incidents(props: IncidentsProps) {
  const [list, setList] = useState(props.incidents);
  const [reviews, setReviews] = useState(props.reviews);
  const [counts, setCounts] = useState(props.counts);
  const [now, setNow] = useState(props.nowMs);
  const [problem, setProblem] = useState(props.problem);
  const f = props.filters;

  useEffect(() => {
    if (!props.refreshMs) return;
    let stop = false;
    const tick = async () => {
      const t = Date.now();
      const [one, all] = await Promise.all([
        apiJson<{ incidents: Incident[]; reviews: Record<string, Review> }>(
          `/incidents?${incidentApiQuery(f, t, props.limit)}`,
        ),
        apiJson<{ incidents: Incident[] }>(
          `/incidents?${incidentApiQuery(f, t, props.limit, false)}`,
        ),
      ]);
      if (stop) return;
      if (one.ok && all.ok) {
        setList(one.value.incidents);
        setReviews(one.value.reviews ?? {});
        setCounts(countByType(all.value.incidents));
        setNow(t);
        setProblem(null);
      } else {
        const bad = one.ok ? all : one;
        if (!bad.ok) setProblem(`${bad.error}${bad.detail ? `: ${bad.detail}` : ""}`);
      }
    };
    const id = setInterval(tick, props.refreshMs);
    return () => {
      stop = true;
      clearInterval(id);
    };
  }, []);

  return (
    <div class="stack">
      <form class="controls card" method="get" action="/incidents" data-filters>
        <label>
          symbol
          <select name="symbol">
            <option value="" selected={!f.symbol}>all</option>
            {props.symbols.map((s) => (
              <option key={s} value={s} selected={f.symbol === s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          type
          <select name="type">
            <option value="" selected={!f.type}>all</option>
            {TYPES.map((t) => (
              <option key={t} value={t} selected={f.type === t}>{typeLabel(t)}</option>
            ))}
          </select>
        </label>
        <label>
          status
          <select name="status">
            <option value="" selected={!f.status}>all</option>
            <option value="open" selected={f.status === "open"}>open</option>
            <option value="closed" selected={f.status === "closed"}>closed</option>
          </select>
        </label>
        <label>
          started within
          <select name="range">
            {RANGES.map((r) => (
              <option key={r.value} value={r.value} selected={f.range === r.value}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Apply</button>
      </form>
      {problem ? <p class="notice bad">{problem}</p> : null}
      <div class="grid kpis" data-counts>
        {TYPES.map((t) => (
          <a
            key={t}
            class="card kpi"
            data-count={t}
            href={`/incidents?${new URLSearchParams({
              ...(f.symbol ? { symbol: f.symbol } : {}),
              type: t,
              ...(f.status ? { status: f.status } : {}),
              ...(f.range !== "all" ? { range: f.range } : {}),
            })}`}
            aria-current={f.type === t ? "true" : undefined}
          >
            <span class="kpi-label">{typeLabel(t)}</span>
            <span class="kpi-value">{fmtInt(counts[t] ?? 0)}</span>
            <span class="kpi-sub">incidents</span>
          </a>
        ))}
      </div>
      <section class="card" aria-labelledby="incidents-h">
        <h3 id="incidents-h">
          {list.length === props.limit
            ? `The newest ${fmtInt(list.length)} incidents`
            : `${fmtInt(list.length)} incident${list.length === 1 ? "" : "s"}`}
        </h3>
        {list.length === 0
          ? (
            <p class="chart-empty" data-empty>
              No incident matches these filters yet. Incidents appear once a model is calibrated and
              its alerts group into market events.
            </p>
          )
          : (
            <div class="table-wrap">
              <table class="table" data-table>
                <thead>
                  <tr>
                    <th>started (UTC)</th>
                    <th>symbol</th>
                    <th>type</th>
                    <th>status</th>
                    <th class="num">duration</th>
                    <th class="num">peak severity</th>
                    <th class="num">peak price</th>
                    <th class="num">move</th>
                    <th class="num">alerts</th>
                    <th>main driver</th>
                    <th>review</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((i) => <Row key={i.id} inc={i} nowMs={now} review={reviews[i.id]} />)}
                </tbody>
              </table>
            </div>
          )}
      </section>
    </div>
  );
}
