/**
 * The model registry page (`/models`; the API's `GET /models` at the same
 * path answers JSON to non-browsers, see routes/app.ts `browserPages`).
 * The list itself needs the API key, so the page renders the public part
 * (the active model's id) and the island asks for the key.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import ModelRegistry, { type ModelRegistryProps } from "../../islands/ModelRegistry.tsx";
import type { ModelInfo } from "../../islands/shared/api.ts";
import { V1 } from "../../islands/shared/paths.ts";
import { PAGE_PREFIX } from "./incidents.tsx";

/** The registry page. */
export const modelsPage: DashboardPage<ModelRegistryProps> = {
  path: "/models",
  mountedAt: `${PAGE_PREFIX}/models`,
  title: "Models",
  islands: ["ModelRegistry"],
  async load(pc) {
    const info = await pc.json<ModelInfo>(V1.modelInfo);
    return {
      activeId: info.ok ? info.value.model_id : null,
      adminEnabled: pc.ctx.config.apiKey !== null,
    };
  },
  render(data) {
    return (
      <>
        <p class="lede">
          Every model the trainer stored, newest first. Activating an older one rolls back; the
          scorers pick it up within a second. The full report of the active model is on System
          Status.
        </p>
        <Island name="ModelRegistry" component={ModelRegistry} props={data} />
      </>
    );
  },
};
