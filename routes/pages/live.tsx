/**
 * Live Feed (`/live`): predictions and alerts pushed over SSE, with KPIs,
 * the price per symbol with anomalies and incidents, the score timeline per symbol, the anomaly-rate gauge and recent alerts
 * with the features that drove them.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import LiveFeed, { type LiveFeedProps } from "../../islands/LiveFeed.tsx";
import type { LivePrediction, ModelInfo, SystemStatus } from "../../islands/shared/api.ts";
import { V1 } from "../../islands/shared/paths.ts";
import type { Incident } from "../../islands/shared/incidents.ts";
import { MAX_LIVE_INCIDENTS } from "../../islands/shared/priceChart.ts";

/** History depths offered (points per view). */
export const DEPTHS = [100, 500, 2000];
/** Incidents the page starts with: those that started this recently. */
export const INCIDENT_LOOKBACK_MS = 30 * 60_000;
/** Predictions the page is rendered with (the island fetches up to 500 more once connected). */
export const INITIAL_POINTS = 300;

/** The Live Feed page. */
export const livePage: DashboardPage<LiveFeedProps> = {
  path: "/live",
  title: "Live Feed",
  islands: ["LiveFeed"],
  async load(pc) {
    const [status, latest, model, incidents] = await Promise.all([
      pc.json<SystemStatus>(V1.systemStatus),
      pc.json<{ predictions: LivePrediction[] }>(`${V1.latestPredictions}?limit=${INITIAL_POINTS}`),
      pc.json<ModelInfo>(V1.modelInfo),
      pc.json<{ incidents: Incident[] }>(
        `/incidents?limit=${MAX_LIVE_INCIDENTS}&from=${pc.ctx.now() - INCIDENT_LOOKBACK_MS}`,
      ),
    ]);
    if (!status.ok) throw new Error(`${V1.systemStatus}: ${status.error}`);
    const c = pc.ctx.config;
    return {
      symbols: c.symbols,
      initial: latest.ok ? latest.value.predictions.slice().reverse() : [],
      model: model.ok ? { id: model.value.model_id, scaler: model.value.scaler } : null,
      // With CONTAMINATION=auto the threshold does not target a share; 1 % is the seed's default.
      expectedRate: typeof c.contamination === "number" ? c.contamination : 0.01,
      status: status.value,
      depths: DEPTHS,
      defaultDepth: 500,
      statusPollMs: 5000,
      incidents: incidents.ok ? incidents.value.incidents : [],
    };
  },
  render(data) {
    return (
      <>
        <p class="lede">
          Every prediction as the worker commits it, pushed by the server (Server-Sent Events). Pick
          a symbol, how much history to keep in view, or pause to look closely.
        </p>
        <Island name="LiveFeed" component={LiveFeed} props={data} />
      </>
    );
  },
};
