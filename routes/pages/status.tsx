/**
 * System Status (`/`): a card per service, the pipeline flow with live
 * counts and rates, and the active model's parameters and training report.
 *
 * @module
 */
import type { DashboardPage } from "../../components/page.ts";
import { Island } from "../../components/Island.tsx";
import StatusBoard, { type StatusBoardProps } from "../../islands/StatusBoard.tsx";
import type { ModelInfo, StatsResponse, SystemStatus } from "../../islands/shared/api.ts";
import { flowSample } from "../../islands/shared/flow.ts";
import { V1 } from "../../islands/shared/paths.ts";
import type { WebhookStatus } from "../../islands/shared/WebhookPanel.tsx";

/** How often the board refreshes, ms. */
export const STATUS_POLL_MS = 3000;

/** The System Status page. */
export const statusPage: DashboardPage<StatusBoardProps> = {
  path: "/",
  title: "System Status",
  islands: ["StatusBoard"],
  async load(pc) {
    const [status, stats, metrics, model, webhooks] = await Promise.all([
      pc.json<SystemStatus>(V1.systemStatus),
      pc.json<StatsResponse>(V1.stats),
      pc.text("/metrics"),
      pc.json<ModelInfo>(V1.modelInfo),
      pc.ctx.config.alertWebhookUrls.length
        ? pc.json<WebhookStatus>(V1.webhooks)
        : Promise.resolve(null),
    ]);
    if (!status.ok) throw new Error(`${V1.systemStatus}: ${status.error}`);
    if (!stats.ok) throw new Error(`${V1.stats}: ${stats.error}`);
    const c = pc.ctx.config;
    return {
      status: status.value,
      sample: flowSample(
        Date.parse(status.value.checked_at),
        stats.value,
        metrics.ok ? metrics.value : "",
      ),
      model: model.ok ? model.value : null,
      modelMessage: model.ok ? null : model.detail || model.error,
      topology: {
        source: c.dataSource,
        symbols: c.symbols,
        windowSeconds: c.windowSeconds,
        kafka: c.kafkaBrokers ? { topic: c.kafkaTopic, brokers: c.kafkaBrokers } : null,
      },
      pollMs: STATUS_POLL_MS,
      webhooks: webhooks?.ok ? webhooks.value : null,
    };
  },
  render(data) {
    return (
      <>
        <p class="lede">
          What runs right now, how events flow from the source to this page, and which model scores
          them. Refreshes every {STATUS_POLL_MS / 1000} s.
        </p>
        <Island name="StatusBoard" component={StatusBoard} props={data} />
      </>
    );
  },
};
