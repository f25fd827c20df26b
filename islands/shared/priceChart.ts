/**
 * The live page's price view: one small chart per symbol (prices differ by
 * orders of magnitude, so each symbol gets its own y scale) with the
 * stream's anomalies as red dots, incidents as bands (open ones stronger,
 * drawn to now) and a tooltip with price, volume and severity under the
 * pointer. Also how the page keeps its incidents from the `incident` events.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { LivePrediction } from "./api.ts";
import { fmtNum, fmtPrice, fmtTime, utcTickFormat } from "./format.ts";
import type { Incident } from "./incidents.ts";
import { gapSegments } from "./stats.ts";
import { ANOMALY, PALETTE, PLOT_STYLE, symbolColors } from "./theme.ts";

/** Height of one symbol's price chart, px. */
export const PRICE_HEIGHT = 150;
/** Incidents the live page keeps. */
export const MAX_LIVE_INCIDENTS = 100;

/**
 * The page's incidents after one `incident` event: the newest version of
 * each, newest first, at most {@linkcode MAX_LIVE_INCIDENTS}.
 *
 * @example
 * ```ts ignore
 * setIncidents((list) => applyIncident(list, JSON.parse(e.data).incident));
 * ```
 */
export function applyIncident(list: readonly Incident[], inc: Incident): Incident[] {
  const out = [inc, ...list.filter((i) => i.id !== inc.id)];
  out.sort((a, b) => b.start_ms - a.start_ms);
  return out.slice(0, MAX_LIVE_INCIDENTS);
}

function tip(p: LivePrediction): string {
  return `${p.symbol} ${fmtTime(p.ts_ms)}\nprice ${fmtPrice(p.price)}  volume ${
    fmtNum(p.volume, 4)
  }\nseverity ${fmtNum(p.severity, 2)}${p.is_anomaly ? "  ANOMALY" : ""}`;
}

/**
 * Price charts of `symbols` (stacked, one per symbol) for the predictions in
 * `view` that carry a price, with `incidents` over the same time span.
 */
export function livePriceChart(
  view: readonly LivePrediction[],
  symbols: readonly string[],
  all: readonly string[],
  incidents: readonly Incident[],
  nowMs: number,
  width: number,
): Element {
  const host = document.createElement("div");
  const colors = symbolColors(all);
  for (const s of symbols) {
    const pts = view.filter((p) => p.symbol === s && typeof p.price === "number");
    if (!pts.length) continue;
    const lo = pts[0].ts_ms, hi = pts[pts.length - 1].ts_ms;
    const bands = incidents.filter((i) =>
      i.symbol === s && (i.status === "open" ? nowMs : i.end_ms + 1000) >= lo && i.start_ms <= hi
    ).map((i) => ({
      x1: new Date(Math.max(lo, i.start_ms)),
      x2: new Date(Math.min(hi, i.status === "open" ? hi : Math.max(i.end_ms, i.start_ms + 1000))),
      open: i.status === "open",
      label: `${i.type.replace(/_/g, " ")} (${i.status})`,
    }));
    const stroke = colors.range[colors.domain.indexOf(s)] ?? PALETTE[0];
    const x = (p: LivePrediction) => new Date(p.ts_ms);
    const fig = Plot.plot({
      width,
      height: PRICE_HEIGHT,
      marginLeft: 72,
      marginRight: 12,
      style: PLOT_STYLE,
      x: {
        type: "utc",
        label: null,
        ticks: Math.max(2, Math.floor(width / 140)),
        tickFormat: utcTickFormat(hi - lo),
      },
      y: { label: s, grid: true, nice: true, ticks: 3, tickFormat: (v: number) => fmtPrice(v) },
      marks: [
        Plot.rect(bands, {
          x1: "x1",
          x2: "x2",
          fill: ANOMALY,
          fillOpacity: (b: { open: boolean }) => b.open ? 0.22 : 0.1,
          title: "label",
        }),
        Plot.lineY(pts, {
          x,
          y: "price",
          z: gapSegments(pts, 10_000),
          stroke,
          strokeWidth: 1.3,
        }),
        Plot.dot(pts.filter((p) => p.is_anomaly), {
          x,
          y: "price",
          r: 4,
          fill: ANOMALY,
          stroke: "#0d1117",
          strokeWidth: 1,
        }),
        Plot.tip(
          pts,
          Plot.pointerX({ x, y: "price", title: tip, fill: "#161b22", stroke: "#30363d" }),
        ),
      ],
    });
    fig.setAttribute("data-symbol", s);
    host.append(fig);
  }
  return host;
}
