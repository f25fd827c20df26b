/**
 * Analytics: a sample of the newest predictions, read from `/export.csv`
 * with the page's filters (so the table shows exactly what the export link
 * downloads), as a per-symbol breakdown, a feature correlation matrix, a
 * score trend and a sortable table. Filters live in the URL, so a filtered
 * view can be bookmarked.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { apiText, type StatsResponse } from "./shared/api.ts";
import { type ExportRow, parseExport } from "./shared/csv.ts";
import { FEATURE_LABELS, FEATURE_NAMES, type FeatureName } from "./shared/features.ts";
import {
  type AnalyticsFilters,
  filterQuery,
  minuteInput,
  minuteText,
  SINCE,
} from "./shared/filters.ts";
import {
  fmtDuration,
  fmtInt,
  fmtNum,
  fmtPct,
  fmtPrice,
  fmtTime,
  utcTickFormat,
} from "./shared/format.ts";
import { PlotChart } from "./shared/PlotChart.tsx";
import { correlationMatrix, gapSegments } from "./shared/stats.ts";
import { ANOMALY, MUTED, PLOT_STYLE, symbolColors } from "./shared/theme.ts";

/** Props of {@linkcode Analytics} (plain JSON). */
export interface AnalyticsProps {
  symbols: string[];
  filters: AnalyticsFilters;
  /** the sample for `filters`, newest first */
  rows: ExportRow[];
  /** sample sizes offered */
  limits: number[];
  /** all-time counts per symbol (`/stats`) */
  bySymbol: StatsResponse["by_symbol"];
  /** why there are no predictions yet, if that is the case */
  waiting: string | null;
}

type SortKey =
  | "ts_ms"
  | "symbol"
  | "price"
  | "volume"
  | FeatureName
  | "anomaly_score"
  | "severity"
  | "is_anomaly";

const COLUMNS: { key: SortKey; label: string; num: boolean }[] = [
  { key: "ts_ms", label: "time (UTC)", num: false },
  { key: "symbol", label: "symbol", num: false },
  { key: "price", label: "price", num: true },
  { key: "volume", label: "volume", num: true },
  ...FEATURE_NAMES.map((f) => ({ key: f, label: FEATURE_LABELS[f], num: true })),
  { key: "anomaly_score", label: "score", num: true },
  { key: "severity", label: "severity", num: true },
  { key: "is_anomaly", label: "verdict", num: false },
];

const PAGE_ROWS = 100;
/** A symbol silent for longer than this breaks its trend line. */
const GAP_MS = 60_000;

function compare(a: ExportRow, b: ExportRow, key: SortKey): number {
  const x = a[key], y = b[key];
  if (x === y) return 0;
  if (x === null || x === undefined) return 1;
  if (y === null || y === undefined) return -1;
  return x < y ? -1 : 1;
}

function breakdownChart(rows: ExportRow[], symbols: string[], width: number) {
  const counts = symbols.map((symbol) => {
    const mine = rows.filter((r) => r.symbol === symbol);
    const anomalies = mine.filter((r) => r.is_anomaly).length;
    return { symbol, normal: mine.length - anomalies, anomalies, total: mine.length };
  }).filter((c) => c.total > 0);
  const long = counts.flatMap((c) => [
    { symbol: c.symbol, kind: "normal", n: c.normal },
    { symbol: c.symbol, kind: "anomaly", n: c.anomalies },
  ]);
  return Plot.plot({
    width,
    height: 50 + 40 * counts.length,
    marginLeft: 84,
    marginRight: 110,
    style: PLOT_STYLE,
    x: { label: "predictions in the sample", grid: true },
    y: { label: null, domain: counts.map((c) => c.symbol) },
    color: { domain: ["normal", "anomaly"], range: ["#388bfd", ANOMALY], legend: true },
    marks: [
      Plot.barX(long, { y: "symbol", x: "n", fill: "kind", inset: 0.5 }),
      Plot.text(counts, {
        y: "symbol",
        x: "total",
        text: (c: { anomalies: number; total: number }) =>
          `${fmtInt(c.anomalies)} (${fmtPct(c.anomalies / c.total, 1)})`,
        textAnchor: "start",
        dx: 6,
        fill: "#c9d1d9",
      }),
      Plot.ruleX([0]),
    ],
  });
}

const MATRIX_KEYS = [...FEATURE_NAMES, "anomaly_score"] as const;
const MATRIX_LABELS: Record<string, string> = { ...FEATURE_LABELS, anomaly_score: "score" };

function correlationChart(rows: ExportRow[], width: number) {
  const cells = correlationMatrix(rows, MATRIX_KEYS).map((c) => ({
    ...c,
    x: MATRIX_LABELS[c.x],
    y: MATRIX_LABELS[c.y],
  }));
  const order = MATRIX_KEYS.map((k) => MATRIX_LABELS[k]);
  const size = Math.min(width, 520);
  const narrow = size < 420;
  return Plot.plot({
    width: size,
    height: size - (narrow ? 20 : 80),
    marginLeft: 78,
    marginBottom: narrow ? 56 : 30,
    style: PLOT_STYLE,
    x: { domain: order, label: null, tickRotate: narrow ? -40 : 0, axis: "bottom" },
    y: { domain: order, label: null },
    // Red: the two move in opposite directions; blue: together (the values are in the cells).
    color: { type: "linear", scheme: "rdbu", domain: [-1, 1] },
    marks: [
      Plot.cell(cells, {
        x: "x",
        y: "y",
        fill: (c: { r: number }) => Number.isNaN(c.r) ? null : c.r,
        inset: 1,
      }),
      Plot.text(cells, {
        x: "x",
        y: "y",
        text: (c: { r: number }) => Number.isNaN(c.r) ? "n/a" : c.r.toFixed(2),
        // The scheme is pale in the middle and dark at both ends.
        fill: (c: { r: number }) => Math.abs(c.r) >= 0.5 ? "#ffffff" : "#0d1117",
        fontSize: 12,
        fontWeight: 600,
      }),
    ],
  });
}

function trendChart(rows: ExportRow[], symbols: string[], all: string[], width: number) {
  const asc = rows.slice().sort((a, b) => a.ts_ms - b.ts_ms);
  const x = (r: ExportRow) => new Date(r.ts_ms);
  // Lines break where a symbol fell silent (a restart, an outage) instead of bridging the gap.
  const z = gapSegments(asc, GAP_MS);
  const k = Math.max(3, Math.min(50, Math.floor(asc.length / (symbols.length * 20)) || 3));
  return Plot.plot({
    width,
    height: 300,
    marginLeft: 52,
    style: PLOT_STYLE,
    x: {
      type: "utc",
      label: null,
      ticks: Math.max(2, Math.floor(width / 110)),
      tickFormat: utcTickFormat(asc.length ? asc[asc.length - 1].ts_ms - asc[0].ts_ms : 0),
    },
    y: { label: "anomaly score", grid: true, nice: true },
    color: { ...symbolColors(all), legend: true },
    marks: [
      Plot.ruleY([0], { stroke: ANOMALY, strokeDasharray: "4,3", strokeOpacity: 0.8 }),
      Plot.lineY(asc, { x, y: "anomaly_score", z, stroke: MUTED, strokeOpacity: 0.25 }),
      Plot.lineY(
        asc,
        Plot.windowY(
          { k, anchor: "end" },
          { x, y: "anomaly_score", z, stroke: "symbol", strokeWidth: 2 },
        ),
      ),
      Plot.dot(asc.filter((r) => r.is_anomaly), {
        x,
        y: "anomaly_score",
        r: 3.5,
        fill: ANOMALY,
        stroke: "#0d1117",
        strokeWidth: 0.8,
      }),
    ],
  });
}

/** The analytics view. */
/**
 * A custom range's end as 24-hour UTC text (`YYYY-MM-DD HH:MM`): applied when
 * committed (Enter or leaving the field) if it is a real minute, else marked
 * invalid and left unapplied.
 */
function MinuteField(p: { name: string; value?: string; onValue: (v: string) => void }) {
  // The field keeps what was typed (a refused time stays visible, marked) until the filter changes.
  const [text, setText] = useState(minuteText(p.value));
  const [bad, setBad] = useState(false);
  useEffect(() => {
    setText(minuteText(p.value));
    setBad(false);
  }, [p.value]);
  return (
    <input
      type="text"
      name={p.name}
      inputMode="numeric"
      placeholder="YYYY-MM-DD HH:MM"
      size={16}
      aria-invalid={bad}
      title="UTC, 24-hour: YYYY-MM-DD HH:MM"
      value={text}
      onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
      onChange={(e) => {
        const v = minuteInput((e.currentTarget as HTMLInputElement).value);
        setBad(v === null);
        if (v !== null) p.onValue(v);
      }}
    />
  );
}

export default function Analytics(props: AnalyticsProps) {
  const [filters, setFilters] = useState(props.filters);
  const [rows, setRows] = useState(props.rows);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [sort, setSort] = useState<{ key: SortKey; dir: 1 | -1 }>({ key: "ts_ms", dir: -1 });
  const [shown, setShown] = useState(PAGE_ROWS);
  const request = useRef(0);
  const first = useRef(true);

  const load = async (f: AnalyticsFilters) => {
    const id = ++request.current;
    setLoading(true);
    const r = await apiText(`/export.csv?${filterQuery(f, true)}`);
    if (id !== request.current) return; // a newer request has superseded this one
    setLoading(false);
    if (!r.ok) {
      setProblem(`could not load predictions: ${r.error}${r.detail ? ` (${r.detail})` : ""}`);
      return;
    }
    setProblem(null);
    setRows(parseExport(r.value));
    setShown(PAGE_ROWS);
  };

  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const q = filterQuery(filters, filters.limit !== props.limits[0]);
    history.replaceState(null, "", q ? `?${q}` : location.pathname);
    load(filters);
  }, [
    filters.symbol,
    filters.anomaliesOnly,
    filters.limit,
    filters.since,
    filters.from,
    filters.to,
  ]);

  const sorted = useMemo(
    () => rows.slice().sort((a, b) => compare(a, b, sort.key) * sort.dir),
    [rows, sort.key, sort.dir],
  );
  const symbolsInView = filters.symbol ? [filters.symbol] : props.symbols;
  const anomalies = rows.filter((r) => r.is_anomaly).length;
  const span = rows.length ? (rows[0].ts_ms - rows[rows.length - 1].ts_ms) / 1000 : 0;
  const exportHref = `/export.csv${
    filterQuery(filters, false) ? `?${filterQuery(filters, false)}` : ""
  }`;
  const empty = rows.length
    ? null
    : props.waiting
    ? `No predictions yet: ${props.waiting}.`
    : "No predictions match these filters yet.";
  const set = (patch: Partial<AnalyticsFilters>) => setFilters({ ...filters, ...patch });
  const sortBy = (key: SortKey) =>
    setSort(sort.key === key ? { key, dir: sort.dir === 1 ? -1 : 1 } : { key, dir: -1 });

  return (
    <div class="stack">
      <div class="controls" role="group" aria-label="filters">
        <label>
          symbol
          <select
            name="symbol"
            value={filters.symbol}
            onChange={(e) => set({ symbol: (e.currentTarget as HTMLSelectElement).value })}
          >
            <option value="">all symbols</option>
            {props.symbols.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>
          <input
            type="checkbox"
            name="anomalies_only"
            checked={filters.anomaliesOnly}
            onChange={(e) => set({ anomaliesOnly: (e.currentTarget as HTMLInputElement).checked })}
          />
          anomalies only
        </label>
        <label>
          time
          <select
            name="since"
            value={filters.since}
            onChange={(e) => set({ since: (e.currentTarget as HTMLSelectElement).value })}
          >
            <option value="">all kept</option>
            {SINCE.map((s) => <option key={s.value} value={s.value}>{s.label}</option>)}
            <option value="custom">custom (UTC)</option>
          </select>
        </label>
        {filters.since === "custom"
          ? (
            <>
              <label>
                from
                <MinuteField name="from" value={filters.from} onValue={(from) => set({ from })} />
              </label>
              <label>
                to
                <MinuteField name="to" value={filters.to} onValue={(to) => set({ to })} />
              </label>
            </>
          )
          : null}
        <label>
          sample
          <select
            name="limit"
            value={String(filters.limit)}
            onChange={(e) => set({ limit: Number((e.currentTarget as HTMLSelectElement).value) })}
          >
            {props.limits.map((n) => (
              <option key={n} value={String(n)}>{`newest ${fmtInt(n)}`}</option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => load(filters)} disabled={loading}>
          {loading ? "Loading…" : "Refresh"}
        </button>
        <a class="button-link" href={exportHref} download data-export>
          Export CSV
        </a>
        <span class="muted small" data-summary>
          {`${fmtInt(rows.length)} predictions · ${fmtInt(anomalies)} anomalies (${
            fmtPct(rows.length ? anomalies / rows.length : null, 1)
          }) · ${span > 0 ? `over ${fmtDuration(span)}` : "–"}`}
        </span>
      </div>
      {problem ? <p class="notice bad">{problem}</p> : null}
      <div class="grid two">
        <section class="card" aria-labelledby="breakdown-h">
          <h3 id="breakdown-h">Per symbol</h3>
          <PlotChart
            id="breakdown"
            label="predictions and anomalies per symbol"
            height={50 + 40 * symbolsInView.length}
            empty={empty}
            deps={[rows, symbolsInView.join()]}
            draw={(w) => breakdownChart(rows, symbolsInView, w)}
          />
          <div class="table-scroll">
            <table class="table compact">
              <caption>since the store was created (every prediction)</caption>
              <thead>
                <tr>
                  <th>symbol</th>
                  <th class="num">predictions</th>
                  <th class="num">anomalies</th>
                  <th class="num">rate</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(props.bySymbol).map(([s, c]) => (
                  <tr key={s}>
                    <td>{s}</td>
                    <td class="num">{fmtInt(c.predictions)}</td>
                    <td class="num">{fmtInt(c.anomalies)}</td>
                    <td class="num">{fmtPct(c.anomaly_rate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section class="card" aria-labelledby="corr-h">
          <h3 id="corr-h">Feature correlation</h3>
          <p class="muted small">
            Pearson r over the sample: blue moves together, red moves opposite, pale is unrelated
          </p>
          <PlotChart
            id="correlation"
            label="Pearson correlation between the features and the score"
            height={440}
            empty={rows.length >= 3 ? null : empty ?? "Too few predictions for correlations."}
            deps={[rows]}
            draw={(w) => correlationChart(rows, w)}
          />
        </section>
      </div>
      <section class="card" aria-labelledby="trend-h">
        <h3 id="trend-h">Score trend</h3>
        <p class="muted small">
          thin: every prediction; thick: moving average per symbol; red: anomalies; dashed: the
          threshold
        </p>
        <PlotChart
          id="trend"
          label="anomaly score over time"
          height={300}
          empty={empty}
          deps={[rows, symbolsInView.join()]}
          draw={(w) => trendChart(rows, symbolsInView, props.symbols, w)}
        />
      </section>
      <section aria-labelledby="table-h">
        <div class="section-head">
          <h2 id="table-h">Predictions</h2>
          <span class="muted small">click a column to sort</span>
        </div>
        {rows.length
          ? (
            <div class="table-wrap">
              <table class="table" data-table>
                <thead>
                  <tr>
                    {COLUMNS.map((c) => (
                      <th
                        key={c.key}
                        class={`sortable${c.num ? " num" : ""}`}
                        aria-sort={sort.key === c.key
                          ? (sort.dir === 1 ? "ascending" : "descending")
                          : undefined}
                        onClick={() => sortBy(c.key)}
                        data-sort={c.key}
                      >
                        {c.label}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {sorted.slice(0, shown).map((r) => (
                    <tr
                      key={`${r.symbol}|${r.ts_ms}|${r.anomaly_score}`}
                      class={r.is_anomaly ? "anomaly" : ""}
                      data-row
                      data-symbol={r.symbol}
                      data-anomaly={String(r.is_anomaly)}
                      data-score={String(r.anomaly_score)}
                    >
                      <td>{fmtTime(r.ts_ms)}</td>
                      <td>{r.symbol}</td>
                      <td class="num">{fmtPrice(r.price)}</td>
                      <td class="num">{fmtPrice(r.volume)}</td>
                      {FEATURE_NAMES.map((f) => (
                        <td key={f} class="num">{fmtNum(r[f], f.startsWith("z_") ? 2 : 4)}</td>
                      ))}
                      <td class="num">{fmtNum(r.anomaly_score, 3)}</td>
                      <td class="num">{fmtNum(r.severity, 3)}</td>
                      <td>
                        {r.is_anomaly
                          ? <span class="pill anomaly">anomaly</span>
                          : <span class="muted">normal</span>}
                        {r.anomaly_type ? <span class="tag labelled">{r.anomaly_type}</span> : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )
          : <p class="chart-empty">{empty}</p>}
        {sorted.length > shown
          ? (
            <p>
              <button type="button" onClick={() => setShown(shown + PAGE_ROWS * 2)}>
                {`Show more (${fmtInt(shown)} of ${fmtInt(sorted.length)} shown)`}
              </button>
            </p>
          )
          : null}
      </section>
    </div>
  );
}
