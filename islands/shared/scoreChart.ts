/**
 * The live page's score timeline: one band per symbol, the anomaly score
 * over time with anomalies as red dots and the decision threshold (0)
 * dashed. Moved out of islands/LiveFeed.tsx when the price view joined it.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import type { LivePrediction } from "./api.ts";
import { fmtNum, fmtTime, utcTickFormat } from "./format.ts";
import { gapSegments } from "./stats.ts";
import { ANOMALY, PLOT_STYLE, symbolColors } from "./theme.ts";

/** Height of one symbol's band in the timeline, px. */
export const FACET_HEIGHT = 118;
/** A symbol silent for longer than this (a restart, an outage) breaks its line. */
const GAP_MS = 10_000;

/** The score timeline of `symbols` (colours by their place in `all`) at `width` px. */
export function scoreChart(
  view: LivePrediction[],
  symbols: string[],
  all: string[],
  width: number,
) {
  const anomalies = view.filter((p) => p.is_anomaly);
  const x = (p: LivePrediction) => new Date(p.ts_ms);
  return Plot.plot({
    width,
    height: 40 + FACET_HEIGHT * symbols.length,
    marginLeft: 52,
    marginRight: width < 500 ? 12 : 90,
    style: PLOT_STYLE,
    x: {
      type: "utc",
      label: null,
      ticks: Math.max(2, Math.floor(width / 110)),
      tickFormat: utcTickFormat(view.length ? view[view.length - 1].ts_ms - view[0].ts_ms : 0),
    },
    y: { label: "score", grid: true, nice: true, ticks: 3 },
    fy: {
      domain: symbols,
      label: null,
      padding: 0.2,
      axis: width < 500 ? null : "right",
    },
    color: symbolColors(all),
    marks: [
      Plot.ruleY([0], { stroke: ANOMALY, strokeDasharray: "4,3", strokeOpacity: 0.8 }),
      Plot.lineY(view, {
        x,
        y: "anomaly_score",
        fy: "symbol",
        z: gapSegments(view, GAP_MS),
        stroke: "symbol",
        strokeWidth: 1.3,
      }),
      Plot.dot(anomalies, {
        x,
        y: "anomaly_score",
        fy: "symbol",
        r: 4.5,
        fill: ANOMALY,
        stroke: "#0d1117",
        strokeWidth: 1,
        title: (p: LivePrediction) =>
          `${p.symbol} ${fmtTime(p.ts_ms)} score ${fmtNum(p.anomaly_score, 3)}`,
      }),
      width < 500
        ? Plot.text(symbols, {
          fy: (s: string) => s,
          text: (s: string) => s,
          frameAnchor: "top-left",
          dx: 4,
          dy: 4,
          fill: "#c9d1d9",
        })
        : null,
    ],
  });
}
