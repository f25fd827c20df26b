/**
 * Manual Test (`/manual`): presets and sliders for the five features,
 * "Detect Anomaly" through `POST /predict`, the verdict with a severity
 * gauge, and a clear message while no model is active.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import ManualTest, { type ManualTestProps } from "../../islands/ManualTest.tsx";
import { type ModelInfo, type SystemStatus, waitingReason } from "../../islands/shared/api.ts";
import { V1 } from "../../islands/shared/paths.ts";

/** The Manual Test page. */
export const manualPage: DashboardPage<ManualTestProps> = {
  path: "/manual",
  title: "Manual Test",
  islands: ["ManualTest"],
  async load(pc) {
    const [model, status] = await Promise.all([
      pc.json<ModelInfo>(V1.modelInfo),
      pc.json<SystemStatus>(V1.systemStatus),
    ]);
    return {
      symbols: pc.ctx.config.symbols,
      model: model.ok
        ? { id: model.value.model_id, threshold: -model.value.offset, scaler: model.value.scaler }
        : null,
      waiting: model.ok ? null : (status.ok ? waitingReason(status.value) : null) ??
        (model.detail || model.error),
    };
  },
  render(data) {
    return (
      <>
        <p class="lede">
          Score a feature vector of your own with the active model. Manual predictions join the
          history (source <span class="mono">api</span>), so they also appear in the live feed.
        </p>
        <Island name="ManualTest" component={ManualTest} props={data} />
      </>
    );
  },
};
