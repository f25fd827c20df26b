/**
 * One incident (`/incidents/{id}`): what it was (type, peak, move, duration,
 * drivers), the price of the minutes around it (a line, or candles per
 * second or minute) with the incident band and its alerting trades marked,
 * the volume under it, the robust features and the calibrated severity over
 * the same time axis, and the model's verdict on every alerting trade.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { useMemo, useState } from "preact/hooks";
import type { Prediction } from "./shared/api.ts";
import {
  fmtDateTime,
  fmtDuration,
  fmtInt,
  fmtNum,
  fmtPct,
  fmtPrice,
  fmtTime,
  utcTickFormat,
} from "./shared/format.ts";
import {
  type Candle,
  candles,
  type Incident,
  incidentSeconds,
  peakMove,
  typeLabel,
} from "./shared/incidents.ts";
import { PlotChart } from "./shared/PlotChart.tsx";
import { ReviewPanel, type ReviewPanelProps } from "./shared/ReviewPanel.tsx";
import { ANOMALY, MUTED, PALETTE, PLOT_STYLE } from "./shared/theme.ts";

/** Props of {@linkcode IncidentView}. */
export interface IncidentViewProps {
  incident: Incident;
  /** the symbol's scored trades around the incident, oldest first */
  trades: Prediction[];
  /** how far before and after the incident the trades reach, ms */
  contextMs: number;
  /** server time of the render (epoch ms) */
  nowMs: number;
  /** the review panel's state */
  review: ReviewPanelProps;
}

const VIEWS = [
  { value: "line", label: "line" },
  { value: "1s", label: "candles / second" },
  { value: "1m", label: "candles / minute" },
] as const;
type View = typeof VIEWS[number]["value"];

const FEATURES = ["price_z", "price_z_long", "volume_z", "flow_z"] as const;
const MARGIN_LEFT = 64;
/** Tooltips on the dark theme: a dark box, so the light chart text reads on it. */
const TIP = { fill: "#161b22", stroke: "#30363d" };

const date = (ms: number) => new Date(ms);

function band(inc: Incident) {
  // An incident of one alert still gets a visible band (a second wide).
  return [{ x1: date(inc.start_ms), x2: date(Math.max(inc.end_ms, inc.start_ms + 1000)) }];
}

function xScale(domain: [number, number], width: number) {
  return {
    type: "utc" as const,
    domain: [date(domain[0]), date(domain[1])],
    label: null,
    ticks: Math.max(2, Math.floor(width / 120)),
    tickFormat: utcTickFormat(domain[1] - domain[0]),
  };
}

function tradeTip(p: Prediction): string {
  return `${fmtTime(p.ts_ms)}  price ${fmtPrice(p.price)}  volume ${fmtNum(p.volume, 4)}\n` +
    `severity ${fmtNum(p.severity, 2)}${p.is_anomaly ? `  ALERT (${p.driver ?? "model"})` : ""}`;
}

function priceChart(
  inc: Incident,
  trades: Prediction[],
  view: View,
  domain: [number, number],
  width: number,
) {
  const priced = trades.filter((t) => t.price !== undefined);
  const alerts = priced.filter((t) => t.is_anomaly);
  const bucket = view === "1m" ? 60_000 : 1000;
  const cs: Candle[] = view === "line" ? [] : candles(priced, bucket);
  const candleMarks = view === "line" ? [] : [
    Plot.ruleX(cs, {
      x: (c: Candle) => date(c.t + bucket / 2),
      y1: "low",
      y2: "high",
      stroke: MUTED,
    }),
    Plot.ruleX(cs, {
      x: (c: Candle) => date(c.t + bucket / 2),
      y1: "open",
      y2: "close",
      stroke: (c: Candle) => c.close >= c.open ? "#3fb950" : ANOMALY,
      strokeWidth: Math.max(2, Math.min(12, (width - MARGIN_LEFT) / Math.max(1, cs.length) * 0.7)),
      title: (c: Candle) =>
        `${fmtTime(c.t, false)}  O ${fmtPrice(c.open)} H ${fmtPrice(c.high)} L ${
          fmtPrice(c.low)
        } C ${fmtPrice(c.close)}\n${fmtInt(c.trades)} trades, volume ${fmtNum(c.volume, 3)}`,
    }),
  ];
  return Plot.plot({
    width,
    height: 300,
    marginLeft: MARGIN_LEFT,
    style: PLOT_STYLE,
    x: xScale(domain, width),
    y: { label: "price", grid: true, nice: true, tickFormat: (v: number) => fmtPrice(v) },
    marks: [
      Plot.rect(band(inc), { x1: "x1", x2: "x2", fill: ANOMALY, fillOpacity: 0.12 }),
      Plot.ruleY([inc.ref_price], { stroke: MUTED, strokeDasharray: "4,3" }),
      ...(view === "line"
        ? [
          Plot.lineY(priced, {
            x: (p: Prediction) => date(p.ts_ms),
            y: "price",
            stroke: PALETTE[0],
            strokeWidth: 1.3,
          }),
        ]
        : candleMarks),
      Plot.dot(alerts, {
        x: (p: Prediction) => date(p.ts_ms),
        y: "price",
        r: 4.5,
        fill: ANOMALY,
        stroke: "#0d1117",
        strokeWidth: 1,
      }),
      Plot.tip(
        priced,
        Plot.pointerX({ x: (p: Prediction) => date(p.ts_ms), y: "price", title: tradeTip, ...TIP }),
      ),
    ],
  });
}

function volumeChart(inc: Incident, trades: Prediction[], domain: [number, number], width: number) {
  const cs = candles(trades, 1000);
  return Plot.plot({
    width,
    height: 110,
    marginLeft: MARGIN_LEFT,
    style: PLOT_STYLE,
    x: xScale(domain, width),
    y: { label: "volume / s", grid: true, ticks: 3 },
    marks: [
      Plot.rect(band(inc), { x1: "x1", x2: "x2", fill: ANOMALY, fillOpacity: 0.12 }),
      Plot.rectY(cs, {
        x1: (c: Candle) => date(c.t),
        x2: (c: Candle) => date(c.t + 1000),
        y: "volume",
        fill: PALETTE[1],
        insetLeft: 0.5,
        insetRight: 0.5,
        title: (c: Candle) =>
          `${fmtTime(c.t, false)}  volume ${fmtNum(c.volume, 3)} in ${fmtInt(c.trades)} trades`,
      }),
    ],
  });
}

function featureChart(
  inc: Incident,
  trades: Prediction[],
  domain: [number, number],
  width: number,
) {
  const long = trades.flatMap((p) =>
    FEATURES.filter((f) => typeof p[f] === "number").map((f) => ({
      ts_ms: p.ts_ms,
      feature: f,
      value: p[f] as number,
    }))
  );
  return Plot.plot({
    width,
    height: 200,
    marginLeft: MARGIN_LEFT,
    style: PLOT_STYLE,
    x: xScale(domain, width),
    y: { label: "robust z", grid: true, ticks: 4 },
    color: { domain: [...FEATURES], range: PALETTE.slice(0, FEATURES.length), legend: true },
    marks: [
      Plot.rect(band(inc), { x1: "x1", x2: "x2", fill: ANOMALY, fillOpacity: 0.12 }),
      Plot.ruleY([0], { stroke: MUTED, strokeOpacity: 0.5 }),
      Plot.lineY(long, {
        x: (r: { ts_ms: number }) => date(r.ts_ms),
        y: "value",
        z: "feature",
        stroke: "feature",
        strokeWidth: 1.2,
      }),
      Plot.tip(
        long,
        Plot.pointerX({
          x: (r: { ts_ms: number }) => date(r.ts_ms),
          y: "value",
          title: (r: { ts_ms: number; feature: string; value: number }) =>
            `${fmtTime(r.ts_ms)}  ${r.feature} ${fmtNum(r.value, 2)}`,
          ...TIP,
        }),
      ),
    ],
  });
}

function severityChart(
  inc: Incident,
  trades: Prediction[],
  domain: [number, number],
  width: number,
) {
  return Plot.plot({
    width,
    height: 150,
    marginLeft: MARGIN_LEFT,
    style: PLOT_STYLE,
    x: xScale(domain, width),
    y: { label: "severity", domain: [0, 1], grid: true, ticks: 4 },
    marks: [
      Plot.rect(band(inc), { x1: "x1", x2: "x2", fill: ANOMALY, fillOpacity: 0.12 }),
      Plot.ruleY([0.5], { stroke: ANOMALY, strokeDasharray: "4,3" }),
      Plot.dot(trades, {
        x: (p: Prediction) => date(p.ts_ms),
        y: (p: Prediction) => Math.min(1, Math.max(0, p.severity)),
        r: (p: Prediction) => p.is_anomaly ? 4 : 1.6,
        fill: (p: Prediction) => p.is_anomaly ? ANOMALY : PALETTE[0],
        title: tradeTip,
      }),
    ],
  });
}

function Fact(p: { id: string; label: string; value: string; sub?: string }) {
  return (
    <div class="card kpi" data-fact={p.id}>
      <span class="kpi-label">{p.label}</span>
      <span class="kpi-value">{p.value}</span>
      {p.sub ? <span class="kpi-sub">{p.sub}</span> : null}
    </div>
  );
}

/** One incident's page. */
export default function IncidentView(props: IncidentViewProps) {
  const inc = props.incident;
  const [view, setView] = useState<View>("line");
  const trades = props.trades;
  const domain = useMemo<[number, number]>(() => {
    const lo = trades.length ? trades[0].ts_ms : inc.start_ms - props.contextMs;
    const hi = trades.length ? trades[trades.length - 1].ts_ms : inc.end_ms + props.contextMs;
    return [Math.min(lo, inc.start_ms), Math.max(hi, inc.end_ms + 1000)];
  }, [trades]);
  const alerts = trades.filter((t) =>
    t.is_anomaly && t.ts_ms >= inc.start_ms &&
    t.ts_ms <= inc.end_ms
  );
  const move = peakMove(inc);
  const empty = trades.some((t) => t.price !== undefined)
    ? null
    : "The trades around this incident are no longer kept (older than the retention).";
  const drivers = Object.entries(inc.drivers).sort((a, b) => b[1] - a[1]);

  return (
    <div class="stack" data-incident-view={inc.id}>
      <div class="grid kpis">
        <Fact
          id="type"
          label="what it was"
          value={typeLabel(inc.type)}
          sub={`${inc.symbol} · ${inc.status}${inc.status === "open" ? " (type provisional)" : ""}`}
        />
        <Fact
          id="peak"
          label="peak"
          value={fmtPrice(inc.peak_price)}
          sub={`${move === null ? "" : `${move > 0 ? "+" : ""}${fmtPct(move, 2)} from `}${
            fmtPrice(inc.ref_price)
          } at ${fmtTime(inc.peak_ms)}`}
        />
        <Fact
          id="duration"
          label="duration"
          value={fmtDuration(incidentSeconds(inc, props.nowMs))}
          sub={`${fmtDateTime(inc.start_ms)} → ${fmtTime(inc.end_ms, false)}`}
        />
        <Fact
          id="severity"
          label="peak severity"
          value={fmtNum(inc.peak_severity, 2)}
          sub="0.5 is the alert line"
        />
        <Fact
          id="alerts"
          label="alerts"
          value={fmtInt(inc.alerts)}
          sub={`in ${fmtInt(inc.trades)} trades · model ${inc.model_id}`}
        />
        <Fact
          id="range"
          label="price range"
          value={`${fmtPrice(inc.min_price)} – ${fmtPrice(inc.max_price)}`}
          sub={`last ${fmtPrice(inc.last_price)}`}
        />
      </div>
      <ReviewPanel {...props.review} />
      <section class="card" aria-labelledby="price-h">
        <div class="section-head">
          <h3 id="price-h">Price around the incident</h3>
          <label class="muted small">
            show as{" "}
            <select
              data-view
              value={view}
              onChange={(e) => setView((e.target as HTMLSelectElement).value as View)}
            >
              {VIEWS.map((v) => <option key={v.value} value={v.value}>{v.label}</option>)}
            </select>
          </label>
        </div>
        <p class="muted small">
          The red band is the incident (first to last alert), red dots its alerting trades, the
          dashed line the price before it; hover for values.
        </p>
        <PlotChart
          id="price"
          label={`price of ${inc.symbol} around the incident`}
          height={300}
          empty={empty}
          deps={[trades, view]}
          draw={(w) => priceChart(inc, trades, view, domain, w)}
        />
        <PlotChart
          id="volume"
          label="volume per second"
          height={110}
          empty={empty}
          deps={[trades]}
          draw={(w) => volumeChart(inc, trades, domain, w)}
        />
      </section>
      <div class="grid two">
        <section class="card" aria-labelledby="features-h">
          <h3 id="features-h">Features over time</h3>
          <p class="muted small">
            Robust z-scores (median and MAD): how unusual price and volume were, trade by trade
          </p>
          <PlotChart
            id="features"
            label="robust features over time"
            height={200}
            empty={empty}
            deps={[trades]}
            draw={(w) => featureChart(inc, trades, domain, w)}
          />
        </section>
        <section class="card" aria-labelledby="severity-h">
          <h3 id="severity-h">The model's verdicts</h3>
          <p class="muted small">
            Calibrated severity of every trade; above the dashed line is an alert
          </p>
          <PlotChart
            id="severity"
            label="severity over time"
            height={150}
            empty={empty}
            deps={[trades]}
            draw={(w) => severityChart(inc, trades, domain, w)}
          />
          <p class="small" data-drivers>
            Drivers:{" "}
            {drivers.length ? drivers.map(([d, n]) => `${d} × ${fmtInt(n)}`).join(", ") : "–"}
          </p>
        </section>
      </div>
      <section class="card" aria-labelledby="verdicts-h">
        <h3 id="verdicts-h">Alerting trades</h3>
        <div class="table-scroll">
          <table class="table compact" data-verdicts>
            <thead>
              <tr>
                <th>time (UTC)</th>
                <th class="num">price</th>
                <th class="num">volume</th>
                <th class="num">severity</th>
                <th>driver</th>
                <th class="num">price z</th>
                <th class="num">volume z</th>
                <th class="num">flow z</th>
                <th>labelled</th>
              </tr>
            </thead>
            <tbody>
              {alerts.map((t) => (
                <tr key={`${t.ts_ms}-${t.trade_id ?? ""}`} class="anomaly">
                  <td>{fmtTime(t.ts_ms)}</td>
                  <td class="num">{fmtPrice(t.price)}</td>
                  <td class="num">{fmtNum(t.volume, 4)}</td>
                  <td class="num">{fmtNum(t.severity, 2)}</td>
                  <td>{t.driver ?? "–"}</td>
                  <td class="num">{fmtNum(t.price_z, 1)}</td>
                  <td class="num">{fmtNum(t.volume_z, 1)}</td>
                  <td class="num">{fmtNum(t.flow_z, 1)}</td>
                  <td>{t.anomaly_type ?? (t.label === null ? "–" : t.label ? "yes" : "no")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {alerts.length === 0
            ? <p class="chart-empty">No alerting trade of this incident is kept any more.</p>
            : null}
        </div>
      </section>
    </div>
  );
}
